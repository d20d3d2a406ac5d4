//! The model-free tasks: `text` scores a file of samples against the configured corpus
//! (every §4 metric that needs no model, §7.1) and `theory` computes the §2.6 tables.
use super::config::{EntropyConfig, When};
use super::fit;
use super::metrics::MetricOptions;
use super::setup;
use super::textfile::{self, TextOptions};
use super::theory;
use crate::error::usage;
use crate::run::Run;
use anyhow::Result;

pub fn text(cfg: &EntropyConfig, run: &mut Run) -> Result<()> {
    let path = cfg
        .text
        .samples
        .as_deref()
        .ok_or_else(|| usage("task text needs text.samples (a file of samples)"))?;
    let samples = textfile::read_samples(path)?;
    let corpus = cfg.data.corpus.load()?;
    let opts = TextOptions {
        split: cfg.data.split.train_frac,
        ref_order: cfg.eval.ref_ngram_order,
        ref_delta: 0.01,
        metrics: MetricOptions {
            self_bleu: cfg.eval.self_bleu != When::Off,
            mauve: cfg.eval.mauve,
            mauve_seed: cfg.seed,
        },
    };
    fit::text_reference(cfg, &corpus.text)?;
    let report = textfile::analyse(&samples, &corpus.text, &opts)?;
    report.write_csv(&run.path("metrics.csv"))?;
    run.write_summary(&serde_json::json!({
        "samples_file": path.display().to_string(),
        "samples": report.samples,
        "sample_chars": report.sample_chars,
        "reference": cfg.data.corpus.kind(),
    }))
}

/// `theory.csv` and `theory.md` for the configured corpus (§2.6; H7's checks), with the §2.4
/// and §2.5 toys when `theory.toys`. The tables use the whole training split unless
/// `theory.whole_split` is false (then `data.split.train_tokens` caps it as in training).
pub fn theory(cfg: &EntropyConfig, run: &mut Run) -> Result<()> {
    let data = setup::load(&fit::task_data(cfg))?;
    fit::check(cfg, &data)?;
    let rows = theory::theory_rows(
        cfg.data.corpus.kind(),
        &data.splits.train,
        &data.splits.val,
        data.vocab(),
        &cfg.theory.orders,
        cfg.theory.delta,
        data.true_rate,
    )?;
    theory::write_theory(&run.path(""), &rows, cfg.theory.toys)?;
    let checks = theory::h7_checks(&rows);
    for c in &checks {
        match &c.not_testable {
            Some(why) => eprintln!("H7 not testable on {}: {why}", c.corpus),
            None => eprintln!(
                "H7 {} on {}: H_k decreasing in k: {}; below the true rate from k = {}; \
                 val CE lowest at k = {} and rising after: {}",
                c.outcome().as_str(),
                c.corpus,
                c.decreasing,
                c.below_from.map_or("-".to_string(), |k| k.to_string()),
                c.val_min_k,
                c.val_rises
            ),
        }
    }
    let (h7, h7_pass, reason) = h7_summary(&checks);
    run.write_summary(&serde_json::json!({
        "corpus": cfg.data.corpus.kind(),
        "train_tokens": data.splits.train.len(),
        "val_tokens": data.splits.val.len(),
        "true_rate": data.true_rate,
        "h7": h7,
        "h7_pass": h7_pass,
        "h7_not_testable": reason,
    }))
}

/// `summary.json`'s H7 fields: the outcome (`pass`, `fail`, `not testable`), whether it passed
/// (null when no corpus could test it: not a failure), and why it could not be tested.
fn h7_summary(checks: &[theory::H7Check]) -> (&'static str, Option<bool>, Option<String>) {
    use theory::H7Outcome::{Fail, Pass};
    let outcomes: Vec<_> = checks.iter().map(|c| c.outcome()).collect();
    let reason = checks.iter().find_map(|c| c.not_testable.clone());
    if outcomes.contains(&Fail) {
        ("fail", Some(false), reason)
    } else if outcomes.contains(&Pass) {
        ("pass", Some(true), reason)
    } else {
        ("not testable", None, reason)
    }
}
