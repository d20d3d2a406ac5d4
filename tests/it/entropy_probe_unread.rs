//! `task: probe` of a lab run takes seed, data, model, train, condition, overrides and
//! controller from the run: such a key that the probe config changes from the default and that
//! differs from the run's value is refused naming it (the run's value is used), and the
//! evaluation is checked against the run's model (its block size), not the probe config's.
use crate::common::*;
use crate::entropy_train::{lab_config, lab_single, run_single, smoke};
use std::path::Path;

/// The smoke evaluation settings, so that a probe with the default config stays small.
const SMOKE_EVAL: [&str; 7] = [
    "eval.samples=4",
    "eval.greedy_samples=2",
    "eval.sample_len=48",
    "eval.final_samples=4",
    "eval.final_len=48",
    "eval.val_tokens=1000",
    "eval.train_probe_tokens=1000",
];

/// `lab entropy-probe` with the embedded default config: a probe of `run` into `dir/out`.
fn probe_default(dir: &Path, run: &Path, sets: &[&str], out: &str) -> std::process::Output {
    let path = format!("checkpoint.path={}", run.display());
    let mut args = vec!["entropy-probe", "--quiet", "--out", out];
    for s in ["task=probe", path.as_str()]
        .iter()
        .chain(SMOKE_EVAL.iter())
        .chain(sets)
    {
        args.extend(["--set", s]);
    }
    lab(dir, &args)
}

/// [`lab_single`](crate::entropy_train::lab_single) with a config of only the smoke config's top-level `sections` (the rest
/// at the defaults): `data` and `eval` for a TorchScript probe, which reads no `model`,
/// `train` or `controller` and refuses them when set.
pub fn lab_sections(
    dir: &Path,
    sections: &[&str],
    sets: &[&str],
    out: Option<&str>,
) -> std::process::Output {
    let all: serde_yaml_ng::Value = serde_yaml_ng::from_str(&smoke()).expect("smoke.yaml");
    let mut kept = serde_yaml_ng::Mapping::new();
    for s in sections {
        kept.insert((*s).into(), all[*s].clone());
    }
    let path = dir.join(format!("{}.yaml", sections.join("+")));
    std::fs::write(&path, serde_yaml_ng::to_string(&kept).unwrap()).expect("write config");
    lab_config(dir, &path, sets, out)
}

#[test]
fn entropy_probe_refuses_keys_the_probed_run_overrides() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let runs = dir.join("runs");
    std::fs::create_dir(&runs).unwrap();
    let run = run_single(dir, &[], "runs/gpt");
    let cases: [(&str, &str); 7] = [
        (
            "model.preset=gru",
            "`model.kind` is \"gru\" here, \"gpt\" in",
        ),
        ("seed=3", "`seed` is 3 here, 0 in"),
        ("train.steps=5", "`train.steps` is 5 here, 60 in"),
        ("condition=feedback", "`condition` is \"feedback\" here"),
        ("overrides.batch=2", "`overrides.batch` is 2 here, null in"),
        ("controller.every=7", "`controller.every` is 7 here, 5 in"),
        (
            "data.corpus.alpha=0.3",
            "`data.corpus.alpha` is 0.3 here, 0.1 in",
        ),
    ];
    for (set, want) in cases {
        for (target, out) in [(&run, "one"), (&runs, "all")] {
            let path = format!("checkpoint.path={}", target.display());
            let o = lab_single(dir, &["task=probe", &path, set], Some(out));
            let needles = [want, "the probed run's value is used"];
            assert_refused(&o, &format!("{set} {out}"), &needles, &dir.join(out));
        }
    }
    // The default config's own values (not the run's) are not the user's: they probe.
    let o = probe_default(dir, &run, &[], "default");
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Nor are the values of the config the run was trained with (the shipped smoke config).
    let path = format!("checkpoint.path={}", run.display());
    let o = lab_single(dir, &["task=probe", &path], Some("own"));
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn entropy_probe_checks_the_eval_against_the_probed_runs_block_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // gpt-nano: block size 32; the default config's own model (gpt-tiny) has 64.
    let nano = run_single(dir, &[], "nano");
    let cases = [
        ("eval.prompt_len=40", "eval.prompt_len is 40"),
        ("eval.val_tokens=20", "eval.val_tokens is 20"),
        (
            "eval.train_probe_tokens=20",
            "eval.train_probe_tokens is 20",
        ),
    ];
    for (set, want) in cases {
        let o = probe_default(dir, &nano, &[set], "p");
        let config = nano.join("config.yaml");
        let needles = [
            want,
            "the probed run's model.block_size = 32",
            config.to_str().unwrap(),
        ];
        assert_refused(&o, set, &needles, &dir.join("p"));
    }
    // A run with a larger block than the config's own model takes prompts that fit it.
    let wide = run_single(dir, &["model.block_size=128"], "wide");
    let o = probe_default(dir, &wide, &["eval.prompt_len=100"], "wide-probe");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let s = json(&dir.join("wide-probe/summary.json"));
    assert_eq!(s["arch"], "gpt", "{s}");
}
