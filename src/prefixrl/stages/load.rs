//! What the stages share: the problem files gen-data writes ([`Split`]), the token codec of a
//! task ([`Codec`]: `<bos>` prompt, completions ending on `<eos>`), the base model directory
//! pretrain writes and the later stages load ([`save_base`], [`load_base`]), scoring a sampled
//! completion after a prefix ([`score`], §2.4: the checker sees prefix ⊕ completion) and the
//! training set D of §2.6 ([`train_set`]); and the plumbing of the sampling stages: the
//! per-stage seeded RNG ([`stage_rng`]), batched sampling in bounded chunks
//! ([`sample_chunks`]), sampling FLOPs per row (§5.1, [`row_flops`]) and one summary.json
//! shared by the stages of a run ([`update_summary`]: one key per stage).
use super::super::algo::FlopsModel;
use super::super::config::{PrefixrlConfig, Stage};
use super::super::inputs::{self, Artifact};
use super::super::jsonl::{self, TraceRecord};
use super::super::policy::{self, Context, Rollouts, SampleOptions};
use super::super::task::{Problem, Task, Verdict, SPECIALS};
use crate::data::tokenizer::Tokenizer;
use crate::error::usage;
use crate::nn::{self, checkpoint, LanguageModel, ModelConfig};
use crate::run::Run;
use anyhow::{Context as _, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use tch::Device;

/// The problem files of a gen-data run (§7.4–§7.6), all in one run directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Oracle-solved easy problems (data.easy_levels / easy_mix) the base model is trained on.
    Pretrain,
    /// The hard pool (data.hard_level) traces are collected for.
    Pool,
    /// Held-out hard problems, prompts disjoint from the pool.
    Heldout,
    /// Out-of-distribution problems, level hard_level + 1.
    Ood,
    /// Easy problems for `easy_pass1` (forgetting).
    Easy,
}

impl Split {
    pub const ALL: [Split; 5] = [
        Split::Pretrain,
        Split::Pool,
        Split::Heldout,
        Split::Ood,
        Split::Easy,
    ];

    /// Its file name in the gen-data run directory.
    pub fn file(self) -> &'static str {
        match self {
            Split::Pretrain => "pretrain.jsonl",
            Split::Pool => "problems.jsonl",
            Split::Heldout => "heldout.jsonl",
            Split::Ood => "ood.jsonl",
            Split::Easy => "easy.jsonl",
        }
    }
}

/// The problems of `split` in the gen-data run directory `data_dir`.
pub fn read_split(data_dir: &Path, split: Split) -> Result<Vec<Problem>> {
    jsonl::read_problems(&data_dir.join(split.file()))
}

/// Write `rows` as `split`'s file in `run_dir` (atomically).
pub fn write_split(run_dir: &Path, split: Split, rows: &[Problem]) -> Result<()> {
    jsonl::write_jsonl(&run_dir.join(split.file()), rows)
}

/// Token codec of a task: `<bos>` prompt → ids; text → ids; ids → (text without `<eos>`,
/// ended on `<eos>`).
#[derive(Clone, Debug)]
pub struct Codec {
    pub tokenizer: Tokenizer,
    pub bos: i64,
    pub eos: i64,
    pub pad: i64,
}

impl Codec {
    /// The tokenizer must have the specials `<bos>`, `<eos>` and `<pad>`.
    pub fn new(tokenizer: Tokenizer) -> Result<Codec> {
        let id = |name: &str| -> Result<i64> {
            tokenizer.special(name).map(i64::from).ok_or_else(|| {
                usage(format!(
                    "the tokenizer lacks the special token {name} (prefixrl needs {})",
                    SPECIALS.join(" ")
                ))
            })
        };
        Ok(Codec {
            bos: id("<bos>")?,
            eos: id("<eos>")?,
            pad: id("<pad>")?,
            tokenizer,
        })
    }

    /// The tokenizer of `task` ([`super::super::task::tokenizer`]).
    pub fn for_task(task: &dyn Task) -> Result<Codec> {
        Codec::new(super::super::task::tokenizer(task)?)
    }

    pub fn vocab(&self) -> i64 {
        self.tokenizer.vocab_size() as i64
    }

    /// `[<bos>] + encode(p.prompt)`; an error names the problem.
    pub fn prompt(&self, p: &Problem) -> Result<Vec<i64>> {
        let mut ids = vec![self.bos];
        let text = self
            .text(&p.prompt)
            .with_context(|| format!("problem `{}`: prompt", p.id))?;
        ids.extend(text);
        Ok(ids)
    }

    /// `encode(s)`, no specials.
    pub fn text(&self, s: &str) -> Result<Vec<i64>> {
        Ok(self
            .tokenizer
            .encode(s)?
            .into_iter()
            .map(i64::from)
            .collect())
    }

    /// `encode(solution) + [<eos>]`.
    pub fn completion(&self, solution: &str) -> Result<Vec<i64>> {
        let mut ids = self.text(solution)?;
        ids.push(self.eos);
        Ok(ids)
    }

    /// Stops at the first `<eos>`: (text before it, true), or (all of it, false).
    pub fn decode(&self, ids: &[i64]) -> Result<(String, bool)> {
        let end = ids.iter().position(|&t| t == self.eos);
        let body = &ids[..end.unwrap_or(ids.len())];
        let body: Vec<u32> = body
            .iter()
            .map(|&t| u32::try_from(t).map_err(|_| anyhow::anyhow!("negative token id {t}")))
            .collect::<Result<_>>()?;
        Ok((self.tokenizer.decode(&body)?, end.is_some()))
    }
}

/// A base model with its codec and config (what pretrain saves).
pub struct Base {
    pub model: Box<dyn LanguageModel>,
    pub codec: Codec,
    pub config: ModelConfig,
}

/// The base model's directory inside a run directory.
pub const BASE_DIR: &str = "base";
pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const MODEL_FILE: &str = "model.yaml";

/// Write `<dir>/base/`: the weights, the tokenizer and the model config.
pub fn save_base(dir: &Path, model: &dyn LanguageModel, codec: &Codec) -> Result<()> {
    let base = dir.join(BASE_DIR);
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let mut config = model.config().clone();
    config.vocab_size = Some(model.vocab_size());
    let yaml = serde_yaml_ng::to_string(&config).context("serializing the model config")?;
    crate::run::write_atomic(&base.join(MODEL_FILE), yaml.as_bytes())?;
    codec.tokenizer.save(&base.join(TOKENIZER_FILE))?;
    checkpoint::save_weights(&base.join(WEIGHTS_FILE), model.var_store())
}

/// Read `<run_dir>/base/` (written by [`save_base`]) onto `device`.
pub fn load_base(run_dir: &Path, device: Device) -> Result<Base> {
    let base = run_dir.join(BASE_DIR);
    let model_path = base.join(MODEL_FILE);
    let text = std::fs::read_to_string(&model_path)
        .map_err(|e| usage(format!("reading {}: {e}", model_path.display())))?;
    let config: ModelConfig = serde_yaml_ng::from_str(&text)
        .map_err(|e| usage(format!("{}: {e}", model_path.display())))?;
    let tokenizer = Tokenizer::load(&base.join(TOKENIZER_FILE))?;
    let codec = Codec::new(tokenizer)?;
    let model = nn::build(&config, codec.vocab(), device)
        .with_context(|| format!("building the model of {}", model_path.display()))?;
    checkpoint::load_weights(&base.join(WEIGHTS_FILE), model.var_store())?;
    Ok(Base {
        model,
        codec,
        config,
    })
}

/// Score a completion after `prefix`: decode it and check `prefix + text` (§2.4).
pub fn score(
    task: &mut dyn Task,
    p: &Problem,
    prefix: &str,
    completion_ids: &[i64],
    codec: &Codec,
) -> Result<Verdict> {
    let (text, ended) = codec.decode(completion_ids)?;
    let solution = format!("{prefix}{text}");
    Ok(task.check(p, &solution, ended))
}

/// The traces file of a collect run directory.
pub fn traces_path(traces_dir: &Path) -> PathBuf {
    traces_dir.join("traces.jsonl")
}

/// The first trace of each of the first `n` distinct problems of `traces`, in file order
/// (the training set D of §2.6 is the first `train.n_problems` problems of traces.jsonl).
pub fn first_per_problem(traces: Vec<TraceRecord>, n: usize) -> Vec<TraceRecord> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in traces {
        if out.len() == n {
            break;
        }
        if seen.insert(t.problem_id.clone()) {
            out.push(t);
        }
    }
    out
}

/// The training set D (§2.6): the problems of [`first_per_problem`] of
/// `traces_dir/traces.jsonl` with their trace. Every trace's problem must be in `pool` (an
/// error names it).
pub fn train_set(
    traces_dir: &Path,
    pool: &[Problem],
    n: usize,
) -> Result<Vec<(Problem, TraceRecord)>> {
    let path = traces_path(traces_dir);
    let traces = jsonl::read_traces(&path)?;
    let by_id: HashMap<&str, &Problem> = pool.iter().map(|p| (p.id.as_str(), p)).collect();
    if let Some(t) = traces
        .iter()
        .find(|t| !by_id.contains_key(t.problem_id.as_str()))
    {
        return Err(usage(format!(
            "{}: problem `{}` is not in the problem pool",
            path.display(),
            t.problem_id
        )));
    }
    let kept = first_per_problem(traces, n);
    Ok(kept
        .into_iter()
        .map(|t| ((*by_id[t.problem_id.as_str()]).clone(), t))
        .collect())
}

/// The RNG of `stage` at `step`: a function of (seed, stage, step) only, so a stage draws the
/// same numbers run alone or under `stage: all` (§7.7; wave-2 determinism rule).
pub fn stage_rng(seed: u64, stage: Stage, step: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(checkpoint::step_seed(seed, step) as u64);
    rng.set_stream(stage as u64 + 1);
    rng
}

/// The run directory that holds `art` for this stage (its own under `stage: all`).
pub fn input_dir(cfg: &PrefixrlConfig, run: &Run, art: Artifact) -> Result<PathBuf> {
    let path = inputs::path(cfg, run, art)?;
    Ok(path.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// Set `summary.json[key] = value`, keeping what earlier stages of the run wrote there.
pub fn update_summary(run: &Run, key: &str, value: serde_json::Value) -> Result<()> {
    let mut one = serde_json::Map::new();
    one.insert(key.to_string(), value);
    merge_summary(run, one)
}

/// Set each of `fields` in summary.json, keeping the other keys earlier stages wrote there.
pub fn merge_summary(run: &Run, fields: serde_json::Map<String, serde_json::Value>) -> Result<()> {
    let path = run.path("summary.json");
    let mut summary = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter(|v| v.is_object())
        .unwrap_or_else(|| serde_json::json!({}));
    for (key, value) in fields {
        summary[key] = value;
    }
    run.write_summary(&summary)
}

/// Rows per batched sampling call of the stages (memory stays bounded).
pub const SAMPLE_ROWS: usize = 2048;

/// The most new tokens a context of `context_len` leaves room for (generation needs
/// `context + max_new − 1 ≤ block_size`), at most `want`; an error when none fit.
pub fn room(model: &dyn LanguageModel, context_len: usize, want: usize) -> Result<i64> {
    let want = want as i64;
    let Some(block) = model.block_size() else {
        return Ok(want);
    };
    let room = (block - context_len as i64 + 1).min(want);
    if room < 1 {
        return Err(usage(format!(
            "a context of {context_len} tokens leaves no room to generate in model.block_size = \
             {block}: raise model.block_size or use shorter problems"
        )));
    }
    Ok(room)
}

/// [`room`] for a batch of contexts: what its longest one leaves (left padding makes every row
/// as long as it).
pub fn room_for(model: &dyn LanguageModel, contexts: &[Context], want: usize) -> Result<i64> {
    let longest = contexts.iter().map(Context::len).max().unwrap_or(1);
    room(model, longest, want)
}

/// Sample `n` completions of every context, at most [`SAMPLE_ROWS`] rows per call, handing each
/// chunk's rollouts to `each` with the index of its first context. `max_new` is `want`,
/// cut to what the chunk's longest context leaves room for.
pub fn sample_chunks(
    model: &dyn LanguageModel,
    codec: &Codec,
    contexts: &[Context],
    sampling: (usize, usize, f64),
    rng: &mut ChaCha8Rng,
    mut each: impl FnMut(usize, &Rollouts) -> Result<()>,
) -> Result<()> {
    let (n, want, temperature) = sampling;
    let per_call = (SAMPLE_ROWS / n.max(1)).max(1);
    for (i, chunk) in contexts.chunks(per_call).enumerate() {
        // Long sampling stages (probe, rejection, calibration) stop between chunks on a signal.
        if crate::run::interrupted() {
            return Err(crate::error::Interrupted.into());
        }
        let mut opts = SampleOptions::new(n, room_for(model, chunk, want)?, codec.eos, codec.pad);
        opts.temperature = temperature;
        let rollouts = policy::sample(model, chunk, &opts, rng)?;
        each(i * per_call, &rollouts)?;
    }
    Ok(())
}

/// Sample `sampling.0` completions after each context with the base model and score each row
/// as the solution of its owner (problem, prefix text): the successes per context and the
/// sampling FLOPs (§5.1). Rows are scored in context order.
pub fn successes(
    base: &Base,
    task: &mut dyn Task,
    contexts: &[Context],
    owners: &[(&Problem, &str)],
    sampling: (usize, usize, f64),
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<usize>, f64)> {
    anyhow::ensure!(
        owners.len() == contexts.len(),
        "internal: {} owners for {} contexts",
        owners.len(),
        contexts.len()
    );
    let fm = flops_model(base)?;
    let (mut wins, mut flops) = (vec![0usize; contexts.len()], 0.0);
    let model = base.model.as_ref();
    sample_chunks(model, &base.codec, contexts, sampling, rng, |first, ro| {
        for r in 0..ro.rows() {
            let i = first + r / ro.n;
            flops += row_flops(&fm, ro, r);
            let (problem, prefix) = owners[i];
            let v = score(task, problem, prefix, &ro.completions[r], &base.codec)?;
            wins[i] += usize::from(v.reward == 1.0);
        }
        Ok(())
    })?;
    Ok((wins, flops))
}

/// The FLOPs model of a base model (§5.1).
pub fn flops_model(base: &Base) -> Result<FlopsModel> {
    FlopsModel::new(&base.config, base.codec.vocab())
}

/// Sampling FLOPs of row `r` of `rollouts` (§5.1: context plus generated tokens).
pub fn row_flops(fm: &FlopsModel, rollouts: &Rollouts, r: usize) -> f64 {
    let context = rollouts.context_of(r).len() as u64;
    fm.sampling(context, rollouts.completions[r].len() as u64)
}
