//! What the train stage checks of its data before the first step, so that a record the model
//! cannot take is refused (exit 2, naming the file and record) before any row is written,
//! instead of failing the step that first draws it (a prefix drawn at step 40 discarded the
//! 39 steps before it; a trace too long for the block failed an off-policy step with a
//! position error naming no file):
//! - every context a step or an evaluation samples after (prompt, prompt ⊕ prefix, prompt ⊕
//!   the panel's cuts of a trace) must leave room to generate: at most `model.block_size`
//!   tokens ([`super::load::room`]);
//! - where the trace is trained on as a completion (`sft-rl`, `offpolicy-is`, `luffy`),
//!   prompt ⊕ trace ⊕ `<eos>` must fit the block (its inputs are one token shorter);
//! - where the behaviour log-probs are read (`offpolicy-is`, `luffy`), a trace that has them
//!   has one per token of the trace ⊕ `<eos>`.
use super::evaluate_parts::panel_cut;
use super::train_rollout::Env;
use crate::error::usage;
use crate::prefixrl::config::{Method, PrefixrlConfig};
use anyhow::Result;

/// The checks of the module doc for `env` under `cfg`, for a model of `block` positions (None:
/// no limit).
pub fn check(env: &Env, cfg: &PrefixrlConfig, block: Option<i64>) -> Result<()> {
    let method = cfg.rl.method;
    let trains_on_trace = matches!(method, Method::SftRl | Method::OffpolicyIs | Method::Luffy);
    let reads_behaviour = matches!(method, Method::OffpolicyIs | Method::Luffy);
    let max_panel = cfg
        .eval
        .panel_fracs
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, f| Some(m.map_or(f, |m| m.max(f))));
    let too_long = |what: String, len: usize, why: &str| {
        let block = block.unwrap_or(i64::MAX);
        usage(format!(
            "{what}: {len} tokens {why} (the base model's model.block_size is {block}): \
             shorten it or pretrain a base with a larger model.block_size"
        ))
    };
    let fits = |len: usize| block.is_none_or(|b| len as i64 <= b);
    for (i, (problem, trace)) in env.data.problems.iter().enumerate() {
        let id = &problem.id;
        let prompt = env.prompts[i].len();
        if !fits(prompt) {
            let what = format!("problems.jsonl: the prompt of `{id}`");
            return Err(too_long(
                what,
                prompt,
                "(with <bos>) leave no room to generate",
            ));
        }
        for (v, ids) in env.data.variants[i].iter().zip(&env.prefixes[i]) {
            if !fits(prompt + ids.len()) {
                let what = format!("prefixes.jsonl: prefix {} of `{id}`", v.prefix_id);
                let why = "of prompt and prefix leave no room to generate";
                return Err(too_long(what, prompt + ids.len(), why));
            }
        }
        let completion = &env.traces[i];
        if let (true, Some(f)) = (i < cfg.eval.panel, max_panel) {
            let cut = panel_cut(completion.len() - 1, f);
            if !fits(prompt + cut) {
                let what = format!("traces.jsonl: the trace of `{id}`");
                let why = format!(
                    "of prompt and the trace cut at eval.panel_fracs {f} (the prefix panel) \
                     leave no room to generate"
                );
                return Err(too_long(what, prompt + cut, &why));
            }
        }
        if trains_on_trace && !fits(prompt + completion.len() - 1) {
            let what = format!("traces.jsonl: the trace of `{id}`");
            let why = "of prompt and trace (with <eos>, less the last) do not fit: rl.method \
                       trains on the trace";
            return Err(too_long(what, prompt + completion.len() - 1, why));
        }
        match &trace.behaviour_logprobs {
            Some(lp) if reads_behaviour && lp.len() != completion.len() => {
                return Err(usage(format!(
                    "traces.jsonl: the trace of `{id}` has {} behaviour_logprobs for {} tokens \
                     (with <eos>): give one per token, or none (log mu = 0)",
                    lp.len(),
                    completion.len()
                )))
            }
            _ => {}
        }
    }
    Ok(())
}
