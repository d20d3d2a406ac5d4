//! A long sampling stage (collect's rejection sampling with a huge budget) stops on SIGTERM
//! between sampling chunks: exit 143, meta.json `interrupted`, no traces.jsonl written.
use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const TINY: &[&str] = &[
    "data.n_pretrain=200",
    "data.pool_size=12",
    "pretrain.steps=5",
    "pretrain.batch=8",
];

fn args(cfg: &str, out: &str, sets: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["prefixrl", "--quiet", "--config", cfg, "--out", out]
        .map(String::from)
        .to_vec();
    for s in TINY.iter().chain(sets) {
        v.extend(["--set".to_string(), s.to_string()]);
    }
    v
}

#[test]
fn sigterm_stops_collect_between_sampling_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/prefixrl/smoke.yaml");
    let cfg = cfg.to_str().unwrap();
    let prep: [(&str, &[&str]); 2] = [
        ("data", &["stage=gen-data"]),
        ("base", &["stage=pretrain", "inputs.data=data"]),
    ];
    for (out, sets) in prep {
        let a = args(cfg, out, sets);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = lab(root, &refs);
        assert_eq!(code(&o), 0, "{out}: {}", stderr(&o));
    }
    // A budget no 5-step model exhausts in minutes, and no oracle fallback.
    let sets = [
        "stage=collect",
        "inputs.data=data",
        "inputs.base=base",
        "traces.budget_r=100000000",
        "traces.allow_oracle_fallback=false",
    ];
    let a = args(cfg, "traces", &sets);
    let mut child = KillOnDrop(
        Command::new(LAB)
            .args(&a)
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let run = root.join("traces");
    wait_until("collect running", Duration::from_secs(120), || {
        try_status(&run).as_deref() == Some("running")
    });
    let status = child.terminate("collect to stop after SIGTERM");
    assert_eq!(status.code(), Some(143));
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["status"], "interrupted", "{meta}");
    assert!(!run.join("traces.jsonl").exists(), "no partial traces file");
}
