//! The compute of rejection sampling (spec §2.2, §5.1): every attempt is charged, including
//! all `traces.budget_r` attempts of a problem that never succeeds (oracle fallback or not);
//! collect's summary records them (`flops_failed`, `flops_rejection`) and train's
//! `flops_offline` charges them, also when resumed. `fraction_with_trace` counts only the
//! traces the model found. Traces from `jsonl:` are charged their records' FLOPs only, and
//! the train summary says so. Also: `--force` with an input key naming `--out` says so.
//!
//! The fixture samples one token per attempt (`rl.max_new_tokens=1`): no attempt can solve a
//! problem, so every pool problem passes the probe filter and costs exactly
//! `R · Σ_{t=0}^{c−1} F_fwd(t)` (`FlopsModel::sampling(c, 1)`, c its prompt length).
use super::prefixrl_stages::{ok_stage, pipeline, set, stage_with};
use crate::common::*;
use lab::prefixrl::stages::load::{self, Codec, Split};
use lab::prefixrl::{algo::FlopsModel, jsonl, task, PrefixrlConfig};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// R and k_probe of the tiny config (prefixrl_stages::TINY).
const R: u64 = 8;
const K_PROBE: u64 = 2;

/// The one-token collect run and its stderr (not quiet).
fn one_token() -> &'static (PathBuf, String) {
    static RUN: OnceLock<(PathBuf, String)> = OnceLock::new();
    RUN.get_or_init(|| {
        let p = pipeline();
        let sets = [
            "stage=collect".into(),
            "rl.max_new_tokens=1".into(),
            set("inputs.data", &p.data),
            set("inputs.base", &p.base),
        ];
        let (rc, err) = stage_with(&p.root, "co-1tok", &sets, false);
        assert_eq!(rc, 0, "{err}");
        (p.root.join("co-1tok"), err)
    })
}

/// Each pool problem's sampling cost of one single-token attempt, in pool order.
fn one_attempt_flops(run: &Path) -> Vec<f64> {
    let cfg: PrefixrlConfig = serde_yaml_ng::from_str(&read(&run.join("config.yaml"))).unwrap();
    let pool = load::read_split(&pipeline().data, Split::Pool).unwrap();
    let t = task::build(&cfg.task).unwrap();
    let codec = Codec::for_task(t.as_ref()).unwrap();
    let fm = FlopsModel::new(&cfg.model, codec.vocab()).unwrap();
    pool.iter()
        .map(|q| fm.sampling(codec.prompt(q).unwrap().len() as u64, 1))
        .collect()
}

/// Σ over the pool of `times` attempts each, added attempt by attempt as collect does.
fn charged(per: &[f64], times: u64) -> f64 {
    let mut total = 0.0;
    for &f in per {
        let mut spent = 0.0;
        for _ in 0..times {
            spent += f;
        }
        total += spent;
    }
    total
}

#[test]
fn collect_charges_every_attempt_of_the_problems_that_never_succeed() {
    let (run, _) = one_token();
    let per = one_attempt_flops(run);
    let s = &json(&run.join("summary.json"))["collect"];
    assert_eq!(s["passed_filter"], 12, "{s}");
    assert_eq!(
        s["flops_probe"].as_f64(),
        Some(charged(&per, K_PROBE)),
        "{s}"
    );
    let failed = charged(&per, R);
    assert!(failed > 0.0);
    assert_eq!(
        s["flops_traces"].as_f64(),
        Some(0.0),
        "fallbacks cost nothing: {s}"
    );
    assert_eq!(s["flops_failed"].as_f64(), Some(failed), "{s}");
    assert_eq!(s["flops_rejection"].as_f64(), Some(failed), "{s}");
    // Per problem: collect.csv holds all R attempts, one token each, beside the fallback.
    let (h, rows) = read_csv(&run.join("collect.csv"));
    assert_eq!(rows.len(), per.len());
    for (row, f) in rows.iter().zip(&per) {
        let at = |name: &str| row[col(&h, name)].clone();
        assert_eq!(at("source"), "oracle", "{row:?}");
        assert_eq!(at("attempts"), R.to_string(), "{row:?}");
        assert_eq!(at("gen_tokens"), R.to_string(), "{row:?}");
        assert_eq!(
            at("flops").parse::<f64>().unwrap(),
            charged(&[*f], R),
            "{row:?}"
        );
    }
    let traces = jsonl::read_traces(&run.join("traces.jsonl")).unwrap();
    assert!(traces
        .iter()
        .all(|t| t.source == "oracle" && t.flops == 0.0));
}

#[test]
fn fraction_with_trace_leaves_out_oracle_fallbacks_and_warns() {
    let (run, err) = one_token();
    let s = &json(&run.join("summary.json"))["collect"];
    assert_eq!(s["with_trace"], 0, "{s}");
    assert_eq!(s["oracle_fallback"], 12, "{s}");
    assert_eq!(s["fraction_with_trace"].as_f64(), Some(0.0), "{s}");
    let warning = s["warning"]
        .as_str()
        .unwrap_or_else(|| panic!("no warning: {s}"));
    assert!(
        warning.contains("only 0%") && warning.contains("12 oracle fallback"),
        "{s}"
    );
    assert!(
        err.contains("warning: only 0% of the filtered problems"),
        "{err}"
    );
}

/// train on the one-token traces: flops_offline = 0 (records) + flops_failed, exactly, on
/// every row; a run resumed from step 1 has the same FLOPs columns as the uninterrupted one.
#[test]
fn train_charges_the_failed_attempts_and_resumes_bit_exact() {
    let (traces, _) = one_token();
    let failed = charged(&one_attempt_flops(traces), R);
    let p = pipeline();
    let sets = |steps: u64, resume: Option<&Path>| {
        let mut v = vec![
            "stage=train".to_string(),
            "rl.method=offpolicy-is".into(),
            format!("rl.steps={steps}"),
            set("inputs.data", &p.data),
            set("inputs.base", &p.base),
            set("inputs.traces", traces),
        ];
        v.extend(resume.map(|d| set("inputs.resume", d)));
        v
    };
    let full = ok_stage(&p.root, "tr-fail-full", &sets(2, None));
    let summary = json(&full.join("summary.json"));
    assert_eq!(summary["flops_offline"].as_f64(), Some(failed), "{summary}");
    let record = &summary["rejection_sampling"];
    assert_eq!(record["flops_failed"].as_f64(), Some(failed), "{summary}");
    assert_eq!(record["charged"].as_f64(), Some(failed), "{summary}");
    assert!(
        record["note"].as_str().unwrap().contains("charged in full"),
        "{summary}"
    );
    let first = ok_stage(&p.root, "tr-fail-1", &sets(1, None));
    let resumed = ok_stage(&p.root, "tr-fail-resumed", &sets(2, Some(&first)));
    let flops_columns = |run: &Path| {
        let (h, rows) = read_csv(&run.join("metrics.csv"));
        let names = [
            "flops_offline",
            "flops_sample",
            "flops_train",
            "flops_total",
        ];
        rows.iter()
            .map(|r| names.map(|n| r[col(&h, n)].clone()))
            .collect::<Vec<_>>()
    };
    let want = flops_columns(&full);
    assert_eq!(want.len(), 2);
    assert!(
        want.iter().all(|r| r[0].parse::<f64>().unwrap() == failed),
        "{want:?}"
    );
    assert_eq!(flops_columns(&resumed), want);
    let again = json(&resumed.join("summary.json"));
    assert_eq!(again["flops_offline"], summary["flops_offline"], "{again}");
}

/// Traces from a `jsonl:` file: collect cannot know what failed attempts cost (null, not 0),
/// and train charges the records' FLOPs, saying that the rest is not known.
#[test]
fn jsonl_traces_are_charged_their_records_and_the_summary_says_so() {
    let p = pipeline();
    let file = p.traces.join("traces.jsonl");
    let co = ok_stage(
        &p.root,
        "co-jsonl",
        &[
            "stage=collect".into(),
            format!("traces.source=jsonl:{}", file.display()),
            set("inputs.data", &p.data),
        ],
    );
    let s = &json(&co.join("summary.json"))["collect"];
    assert!(
        s["flops_failed"].is_null() && s["flops_rejection"].is_null(),
        "{s}"
    );
    let tr = ok_stage(
        &p.root,
        "tr-jsonl",
        &[
            "stage=train".into(),
            "rl.method=offpolicy-is".into(),
            "rl.steps=1".into(),
            set("inputs.data", &p.data),
            set("inputs.base", &p.base),
            set("inputs.traces", &co),
        ],
    );
    let records: f64 = jsonl::read_traces(&co.join("traces.jsonl"))
        .unwrap()
        .iter()
        .map(|t| t.flops)
        .sum();
    let summary = json(&tr.join("summary.json"));
    assert_eq!(
        summary["flops_offline"].as_f64(),
        Some(records),
        "{summary}"
    );
    let record = &summary["rejection_sampling"];
    assert!(record["flops_failed"].is_null(), "{summary}");
    let note = record["note"].as_str().unwrap();
    assert!(
        note.contains("records' FLOPs only")
            && note.contains("flops_failed")
            && note.contains("null"),
        "{note}"
    );
}

/// `--force` with an input key naming `--out` itself: the error says so (not "did not
/// complete (status: running)") and the original run is put back.
#[test]
fn force_with_an_input_naming_the_output_folder_says_so() {
    let p = pipeline();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/prefixrl/smoke.yaml");
    let out = p.root.join("co-self");
    copy_dir(&p.traces, &out);
    let traces = format!("inputs.traces={}", out.display());
    let args = [
        "prefixrl",
        "--quiet",
        "--config",
        &cfg.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--force",
        "--set",
        "stage=make-prefixes",
        "--set",
        &traces,
    ];
    let o = lab(&p.root, &args);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(
        err.contains("inputs.traces") && err.contains("this run's own output folder"),
        "{err}"
    );
    assert!(
        !err.contains("did not complete") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(
        read(&out.join("traces.jsonl")),
        read(&p.traces.join("traces.jsonl"))
    );
    assert_eq!(json(&out.join("meta.json"))["status"], "completed");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
