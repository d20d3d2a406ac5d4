//! The train stage's offline charge before any SFT (§5.1 `flops_offline`): rejection sampling
//! and, for prefix methods, the prefixes' calibration, when `rl.charge_offline` charges this
//! method.
//!
//! Rejection sampling (§2.2) is charged in full, every attempt: the FLOPs of the records in
//! traces.jsonl plus `collect.flops_failed` of the summary.json beside it (the attempts of the
//! problems that found no trace). Traces without that number — a `jsonl:` source, a file from
//! another tool or an older lab with no collect record — are charged their records' FLOPs
//! only, and the train summary's `rejection_sampling.note` says so; nothing is invented.
use super::train::charged;
use crate::error::usage;
use crate::prefixrl::config::{PrefixrlConfig, Stage};
use crate::prefixrl::inputs::{self, Artifact};
use crate::prefixrl::jsonl;
use crate::run::Run;
use anyhow::Result;
use serde_json::{json, Value};
use std::path::Path;

/// The offline charge before any SFT and, when charged, the `rejection_sampling` record of
/// the train summary (what the rejection-sampling part consists of).
pub struct Offline {
    pub flops: f64,
    pub record: Option<Value>,
}

/// The rejection-sampling FLOPs (records plus failed problems when known) and, for prefix
/// methods, the calibration FLOPs, when this method is charged.
pub fn offline(cfg: &PrefixrlConfig, run: &Run, traces: &Path) -> Result<Offline> {
    if !charged(cfg) {
        return Ok(Offline {
            flops: 0.0,
            record: None,
        });
    }
    let records: f64 = jsonl::read_traces(traces)?.iter().map(|t| t.flops).sum();
    let summary = beside(traces).join("summary.json");
    // Under `stage: all` the run's own summary.json: named so, the same in a resumed run.
    let shown = match cfg.stage {
        Stage::All => "this run's summary.json".to_string(),
        _ => summary.display().to_string(),
    };
    let (failed, note) = failed_flops(&summary, &shown)?;
    let mut flops = records + failed.unwrap_or(0.0);
    if cfg.rl.method.uses_prefixes() {
        flops += calibration_flops(cfg, run)?;
    }
    if failed.is_none() && !run.quiet {
        eprintln!("train: note: {note}");
    }
    let record = json!({
        "flops_traces": records,
        "flops_failed": failed,
        "charged": records + failed.unwrap_or(0.0),
        "note": note,
    });
    Ok(Offline {
        flops,
        record: Some(record),
    })
}

fn beside(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// `collect.flops_failed` of `summary` (None where it is not recorded) and a note saying what
/// is charged, naming the file as `shown`. A summary.json that is not a JSON object, or a
/// flops_failed that is neither a number nor null, is refused (exit 2 naming the file) rather
/// than read as nothing.
fn failed_flops(summary: &Path, shown: &str) -> Result<(Option<f64>, String)> {
    let records_only = |why: String| {
        format!(
            "rejection sampling is charged the traces.jsonl records' FLOPs only: {why}, so the \
             attempts of the problems that found no trace are not known and not charged"
        )
    };
    let Ok(text) = std::fs::read_to_string(summary) else {
        return Ok((
            None,
            records_only(format!(
                "there is no collect record beside them ({shown} cannot be read: traces from a \
                 file or another tool)"
            )),
        ));
    };
    let damaged = |why: &str| {
        usage(format!(
            "{shown} {why}, so the rejection-sampling FLOPs of the traces beside it cannot be \
             charged to flops_offline (§5.1); repair it or run collect again"
        ))
    };
    let v: Value =
        serde_json::from_str(&text).map_err(|e| damaged(&format!("is not JSON ({e})")))?;
    if !v.is_object() {
        return Err(damaged("is not a JSON object"));
    }
    let Some(collect) = v.get("collect").filter(|c| c.is_object()) else {
        return Ok((
            None,
            records_only(format!(
                "{shown} has no `collect` section (traces from another tool)"
            )),
        ));
    };
    match collect.get("flops_failed") {
        Some(f) if f.is_number() => Ok((
            f.as_f64(),
            format!(
                "rejection sampling is charged in full (§2.2): the traces.jsonl records' FLOPs \
                 plus collect.flops_failed of {shown}"
            ),
        )),
        Some(Value::Null) => Ok((
            None,
            records_only(format!(
                "collect.flops_failed of {shown} is null (traces.source jsonl)"
            )),
        )),
        None => Ok((
            None,
            records_only(format!(
                "the collect section of {shown} has no flops_failed (written by an older lab; \
                 run collect again to charge them)"
            )),
        )),
        Some(_) => Err(damaged("has a collect.flops_failed that is not a number")),
    }
}

/// The calibration FLOPs make-prefixes recorded in the `make_prefixes` section of the
/// summary.json beside prefixes.jsonl (`flops_calibration`, a number in mode calibrated, null
/// otherwise; under `stage: all` the run's own summary.json, which holds every stage's
/// section). A prefixes run without that record is refused rather than charged nothing.
fn calibration_flops(cfg: &PrefixrlConfig, run: &Run) -> Result<f64> {
    let prefixes = inputs::path(cfg, run, Artifact::Prefixes)?;
    let summary = beside(&prefixes).join("summary.json");
    let key = match cfg.stage {
        Stage::All => String::new(),
        _ => format!("{}: ", Artifact::Prefixes.key()),
    };
    let missing = |why: &str| {
        usage(format!(
            "{key}{} {why}, so the calibration FLOPs of its prefixes cannot be charged to \
             flops_offline (§5.1); run make-prefixes again to write it",
            summary.display()
        ))
    };
    let text =
        std::fs::read_to_string(&summary).map_err(|e| missing(&format!("cannot be read ({e})")))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| missing(&format!("is not JSON ({e})")))?;
    let section = v
        .get("make_prefixes")
        .filter(|s| s.is_object())
        .ok_or_else(|| missing("has no `make_prefixes` section"))?;
    match section.get("flops_calibration") {
        Some(f) if f.is_number() => Ok(f.as_f64().unwrap_or(0.0)),
        Some(Value::Null) | None
            if section.get("mode").and_then(|m| m.as_str()) != Some("calibrated") =>
        {
            Ok(0.0)
        }
        _ => Err(missing(
            "has no number at make_prefixes.flops_calibration (mode calibrated)",
        )),
    }
}
