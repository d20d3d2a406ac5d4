//! The model-free tasks: `text` scores a file of samples against the configured corpus
//! (every §4 metric that needs no model, §7.1) and `theory` computes the §2.6 tables.
use super::config::{EntropyConfig, When};
use super::metrics::MetricOptions;
use super::textfile::{self, TextOptions};
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
    let report = textfile::analyse(&samples, &corpus.text, &opts)?;
    report.write_csv(&run.path("metrics.csv"))?;
    run.write_summary(&serde_json::json!({
        "samples_file": path.display().to_string(),
        "samples": report.samples,
        "sample_chars": report.sample_chars,
        "reference": cfg.data.corpus.kind(),
    }))
}
