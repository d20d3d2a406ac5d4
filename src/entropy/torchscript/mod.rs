//! `task: probe` of a TorchScript module (spec §7.1 (b)): a researcher's own LM exported with
//! `torch.jit.trace`, scored with every model metric of §4 on the configured corpus, exactly
//! as `probe.rs` scores a lab checkpoint (same protocol, prompts, decoding and columns).
//!
//! Reading order: `vocab.rs` (the vocabulary file → lab's tokenizer and the id map), `lm.rs`
//! (the module behind the `LanguageModel` trait: no KV cache, the whole prefix each step),
//! then `run` below. Everything is loaded and checked (vocabulary, corpus coverage, windows,
//! module, logits shape) before the first file is written.
pub mod lm;
pub mod vocab;

use super::config::EntropyConfig;
use super::eval::Protocol;
use super::measure::{summary_of, Evaluator, Scene};
use super::setup::Data;
use crate::data::Tokenizer;
use crate::error::usage;
use crate::experiment::Ctx;
use crate::run::Run;
use anyhow::{Context, Result};
use lm::{Shape, TorchScriptLm};
use serde_json::{json, Value};
use std::path::Path;

pub fn run(cfg: &EntropyConfig, module: &Path, run: &mut Run, ctx: &Ctx) -> Result<()> {
    let c = &cfg.checkpoint;
    let vocab_path = c.vocab.as_deref().ok_or_else(|| {
        usage("checkpoint.torchscript needs checkpoint.vocab (a JSON list or tokenizer.json)")
    })?;
    lm::check_file(module)?;
    let vocab = vocab::load(vocab_path)?;
    let shape = Shape {
        vocab: vocab.tokenizer.vocab_size() as i64,
        context: c.context as i64,
        fixed_width: c.fixed_width,
        fixed_batch: c.fixed_batch.map(|n| n as i64),
    };
    let data = load_data(cfg, vocab.tokenizer, vocab_path)?;
    // Before the module runs: a checkpoint.context longer than the scored text is refused
    // here, not by a module call (with fixed_width) at that length.
    let proto = Protocol::new(
        &cfg.eval,
        &data.splits.train,
        &data.splits.val,
        data.vocab(),
        c.context,
    )?;
    let model = TorchScriptLm::load(module, ctx.device, shape, vocab.to_module)?;
    let mut eval = Evaluator::new(proto, &data, run, &cfg.eval)?;
    let scene = Scene {
        cfg,
        model: &model,
        tokenizer: &data.tokenizer,
        train_len: data.splits.train.len(),
    };
    let row = eval.score(&scene, 0, true)?;
    let mut out = summary_of(&row);
    out.insert("checkpoint".into(), json!(module.display().to_string()));
    out.insert("vocab".into(), json!(vocab_path.display().to_string()));
    out.insert("arch".into(), json!("torchscript"));
    out.insert("seed".into(), json!(cfg.seed));
    out.insert("h_ref".into(), json!(eval.h_ref()));
    eval.write(row)?;
    run.write_summary(&Value::Object(out))
}

/// The configured corpus and split, tokenized with the module's vocabulary.
fn load_data(cfg: &EntropyConfig, tokenizer: Tokenizer, vocab_path: &Path) -> Result<Data> {
    let d = &cfg.data;
    let corpus = d.corpus.load()?;
    if corpus.text.is_empty() {
        return Err(usage(format!(
            "data.corpus ({}) is empty: there is no text to score on",
            d.corpus.kind()
        )));
    }
    let splits = d.split.split_corpus(&corpus, &tokenizer).map_err(|e| {
        usage(format!(
            "checkpoint.vocab: {} does not cover data.corpus ({}): {e:#}; score the module on \
             text its vocabulary covers (data.corpus) or give the vocabulary it was trained with",
            vocab_path.display(),
            d.corpus.kind()
        ))
    })?;
    // A word vocabulary on a corpus without spaces makes the whole corpus one token: say which
    // vocabulary the split was made with.
    let read_as = format!(
        "data.corpus as tokenized by checkpoint.vocab ({}, a {} vocabulary, {} tokens in all)",
        vocab_path.display(),
        tokenizer.kind(),
        splits.train_available + splits.val.len() + splits.test.len()
    );
    Data::new(d, tokenizer, splits).context(read_as)
}
