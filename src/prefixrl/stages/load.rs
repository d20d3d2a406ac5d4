//! What the stages share: the problem files gen-data writes ([`Split`]), the token codec of a
//! task ([`Codec`]: `<bos>` prompt, completions ending on `<eos>`), the base model directory
//! pretrain writes and the later stages load ([`save_base`], [`load_base`]), scoring a sampled
//! completion after a prefix ([`score`], §2.4: the checker sees prefix ⊕ completion) and the
//! training set D of §2.6 ([`train_set`]).
use super::super::jsonl::{self, TraceRecord};
use super::super::task::{Problem, Task, Verdict, SPECIALS};
use crate::data::tokenizer::Tokenizer;
use crate::error::usage;
use crate::nn::{self, checkpoint, LanguageModel, ModelConfig};
use anyhow::{Context, Result};
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

/// The training set D (§2.6): the problems of the first `n` distinct problem ids of
/// `traces_dir/traces.jsonl` (their first trace each), in file order. Every trace's problem
/// must be in `pool` (an error names it).
pub fn train_set(
    traces_dir: &Path,
    pool: &[Problem],
    n: usize,
) -> Result<Vec<(Problem, TraceRecord)>> {
    let path = traces_path(traces_dir);
    let traces = jsonl::read_traces(&path)?;
    let by_id: HashMap<&str, &Problem> = pool.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in traces {
        let Some(p) = by_id.get(t.problem_id.as_str()) else {
            return Err(usage(format!(
                "{}: problem `{}` is not in the problem pool",
                path.display(),
                t.problem_id
            )));
        };
        if out.len() < n && seen.insert(t.problem_id.clone()) {
            out.push(((*p).clone(), t));
        }
    }
    Ok(out)
}
