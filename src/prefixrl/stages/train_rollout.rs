//! One step's batch (§2.6 step 5): sample `n` completions per slot's context (prompt ⊕
//! prefix), score prefix ⊕ completion with the task's checker (§2.4), add the stored trace to
//! each group for the off-policy baselines (§3 rows 4–5: reward 1, behaviour log-probs from
//! collection), then group advantages keyed by (problem id, prefix id).
use super::load::{score, Codec};
use super::train_data::{form_groups, row_advantages, GroupKey, Slot, TrainData};
use crate::nn::LanguageModel;
use crate::prefixrl::algo::{FlopsModel, GroupStats};
use crate::prefixrl::config::{Method, PrefixrlConfig};
use crate::prefixrl::jsonl::PrefixRecord;
use crate::prefixrl::policy::{sample, Context, SampleOptions};
use crate::prefixrl::task::Task;
use anyhow::{bail, Context as _, Result};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// What a step trains on, token ids precomputed once per problem.
pub struct Env {
    pub task: Box<dyn Task>,
    pub codec: Codec,
    pub data: TrainData,
    /// Per problem of D: `<bos>` ⊕ prompt.
    pub prompts: Vec<Vec<i64>>,
    /// Per problem, per variant: the prefix's ids.
    pub prefixes: Vec<Vec<Vec<i64>>>,
    /// Per problem: the stored trace as a completion (⊕ `<eos>`).
    pub traces: Vec<Vec<i64>>,
    pub flops: FlopsModel,
}

impl Env {
    pub fn new(
        task: Box<dyn Task>,
        codec: Codec,
        data: TrainData,
        flops: FlopsModel,
    ) -> Result<Env> {
        let mut prompts = Vec::with_capacity(data.problems.len());
        let mut traces = Vec::with_capacity(data.problems.len());
        // A hand-made file's text outside the vocabulary is named by file and record.
        for (p, t) in &data.problems {
            let id = &p.id;
            prompts.push(
                codec
                    .prompt(p)
                    .with_context(|| format!("problems.jsonl: the prompt of `{id}`"))?,
            );
            traces.push(
                codec
                    .completion(&t.trace)
                    .with_context(|| format!("traces.jsonl: the trace of `{id}`"))?,
            );
        }
        let prefix = |v: &PrefixRecord| {
            codec.text(&v.prefix).with_context(|| {
                let (id, n) = (&v.problem_id, v.prefix_id);
                format!("prefixes.jsonl: prefix {n} of `{id}`")
            })
        };
        let prefixes = data
            .variants
            .iter()
            .map(|vs| vs.iter().map(prefix).collect())
            .collect::<Result<Vec<Vec<Vec<i64>>>>>()?;
        Ok(Env {
            task,
            codec,
            data,
            prompts,
            prefixes,
            traces,
            flops,
        })
    }

    fn context(&self, slot: Slot) -> Context {
        let prefix = slot
            .variant
            .map(|v| self.prefixes[slot.problem][v].clone())
            .unwrap_or_default();
        Context::new(self.prompts[slot.problem].clone(), prefix)
    }
}

/// The rows of one step (on-policy rows first, `n` per slot; then the off-policy traces).
#[derive(Default)]
pub struct Batch {
    pub slots: Vec<Slot>,
    /// (context ids, completion ids) per row.
    pub rows: Vec<(Vec<i64>, Vec<i64>)>,
    pub keys: Vec<GroupKey>,
    pub slot_of: Vec<usize>,
    pub off_policy: Vec<bool>,
    pub rewards: Vec<f64>,
    pub advantages: Vec<f64>,
    /// Per completion token: the sampling log-prob (on-policy) or the stored behaviour
    /// log-prob (off-policy; 0 = `log μ` unknown).
    pub old_logp: Vec<Vec<f64>>,
    /// Per completion token entropy (on-policy rows; empty for off-policy ones).
    pub entropies: Vec<Vec<f64>>,
    /// Decoded completion text per row (rollouts.jsonl).
    pub texts: Vec<String>,
    pub groups: GroupStats,
    pub checker_errors: u64,
    /// `checker_fail_<reason>` counts of this step.
    pub fails: BTreeMap<String, u64>,
    pub sample_flops: f64,
    /// Off-policy rows trained with `log μ = 0` (their traces carry no behaviour log-probs).
    pub missing_behaviour: usize,
}

impl Batch {
    /// Whether row `r` is a prefixed on-policy row.
    pub fn prefixed(&self, r: usize) -> bool {
        self.slots[self.slot_of[r]].variant.is_some()
    }
}

/// Sample, score and group the rows of `slots` (module doc).
pub fn build(
    env: &mut Env,
    model: &dyn LanguageModel,
    cfg: &PrefixrlConfig,
    slots: &[Slot],
    rng: &mut ChaCha8Rng,
) -> Result<Batch> {
    let contexts: Vec<Context> = slots.iter().map(|&s| env.context(s)).collect();
    // A long prefix leaves fewer positions of the block: the batch's budget is cut to what its
    // longest context leaves room for (a row that runs out ends unfinished, reward 0).
    let max_new = super::load::room_for(model, &contexts, cfg.rl.max_new_tokens)?;
    let mut opts = SampleOptions::new(cfg.rl.n, max_new, env.codec.eos, env.codec.pad);
    opts.temperature = cfg.rl.temperature;
    let ro = sample(model, &contexts, &opts, rng)?;
    let mut b = Batch {
        slots: slots.to_vec(),
        ..Batch::default()
    };
    for r in 0..ro.rows() {
        let slot = slots[r / ro.n];
        let (problem, _) = &env.data.problems[slot.problem];
        let prefix_text = env.data.prefix(slot).map_or("", |p| p.prefix.as_str());
        let v = score(
            env.task.as_mut(),
            problem,
            prefix_text,
            &ro.completions[r],
            &env.codec,
        )?;
        b.checker_errors += u64::from(v.error);
        if let Some(reason) = v.reason {
            *b.fails.entry(reason.to_string()).or_default() += 1;
        }
        let ctx = ro.context_of(r);
        b.sample_flops += env
            .flops
            .sampling(ctx.len() as u64, ro.completions[r].len() as u64);
        b.texts.push(env.codec.decode(&ro.completions[r])?.0);
        b.rows.push((ctx.ids(), ro.completions[r].clone()));
        b.keys.push(env.data.key(slot));
        b.slot_of.push(r / ro.n);
        b.off_policy.push(false);
        b.rewards.push(v.reward);
        b.old_logp.push(ro.sample_logprobs[r].clone());
        b.entropies.push(ro.entropies[r].clone());
    }
    if matches!(cfg.rl.method, Method::OffpolicyIs | Method::Luffy) {
        add_traces(env, &mut b)?;
    }
    let groups = form_groups(&b.keys);
    let (adv, stats) = row_advantages(&b.rewards, &groups, cfg.rl.adv, cfg.rl.adv_eps);
    b.advantages = adv;
    b.groups = stats;
    Ok(b)
}

/// §3 row 4: each (unprefixed) slot's group gets its stored trace, reward 1, with the
/// behaviour log-probs collected with it (`log μ = 0` when the trace has none).
fn add_traces(env: &Env, b: &mut Batch) -> Result<()> {
    for (i, &slot) in b.slots.clone().iter().enumerate() {
        let (problem, trace) = &env.data.problems[slot.problem];
        let completion = env.traces[slot.problem].clone();
        let behaviour = match &trace.behaviour_logprobs {
            Some(lp) if lp.len() == completion.len() => lp.clone(),
            Some(lp) => bail!(
                "traces.jsonl: problem {}: {} behaviour log-probs for a trace of {} tokens \
                 (with <eos>)",
                problem.id,
                lp.len(),
                completion.len()
            ),
            None => {
                b.missing_behaviour += 1;
                vec![0.0; completion.len()]
            }
        };
        b.rows.push((env.prompts[slot.problem].clone(), completion));
        b.keys.push(env.data.key(Slot {
            problem: slot.problem,
            variant: None,
        }));
        b.slot_of.push(i);
        b.off_policy.push(true);
        b.rewards.push(1.0);
        b.old_logp.push(behaviour);
        b.entropies.push(Vec::new());
        b.texts.push(trace.trace.clone());
    }
    Ok(())
}
