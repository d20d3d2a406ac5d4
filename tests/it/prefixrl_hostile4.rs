//! Hostile round 4 on `lab prefixrl`: keys only some `rl.method`s read.
use crate::common::*;
use std::path::Path;

/// A study of `cells` (one `run:` case each): the run's output and `--print-config`'s.
pub fn study(dir: &Path, cells: &str) -> (std::process::Output, std::process::Output) {
    let cfg = dir.join("study.yaml");
    let yaml = format!("study:\n  name: s\n  seeds: [0]\n  cases:\n    run:\n{cells}");
    std::fs::write(&cfg, yaml).unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let out = dir.join("out");
    let args = ["prefixrl", "--config", &cfg, "--out", out.to_str().unwrap()];
    let print = lab(dir, &[&args[..3], &["--print-config"]].concat());
    (lab(dir, &args), print)
}

/// Before, `sft.*` under a method other than sft-rl, `offpolicy.is_clip`/`is_level` outside
/// offpolicy-is and `offpolicy.luffy_gamma` outside luffy trained as if they were absent and
/// exited 0 (a study cell that set them was a silent copy of another). Now each is refused
/// naming the key and the method, and the cells of the methods that read them still load.
#[test]
fn prefixrl_method_keys_the_method_does_not_read_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cases = [
        (
            "{rl.method: prefixrl, sft.epochs: 7}",
            "sft.epochs",
            "sft-rl",
        ),
        (
            "{rl.method: rl, rl.alpha: 0, sft.lr: 0.001}",
            "sft.lr",
            "sft-rl",
        ),
        (
            "{rl.method: luffy, rl.alpha: 0, offpolicy.is_level: sequence}",
            "offpolicy.is_level",
            "offpolicy-is",
        ),
        (
            "{rl.method: rl, rl.alpha: 0, offpolicy.is_clip: ppo}",
            "offpolicy.is_clip",
            "offpolicy-is",
        ),
        (
            "{rl.method: offpolicy-is, rl.alpha: 0, offpolicy.luffy_gamma: 0.5}",
            "offpolicy.luffy_gamma",
            "luffy",
        ),
    ];
    for (cell, key, reader) in cases {
        let (o, _) = study(dir, &format!("      A: {cell}\n"));
        let why = format!("is read only by rl.method {reader}");
        assert_refused(&o, cell, &["run=A", key, &why], &dir.join("out"));
    }
    // Set only in the cells of the methods that read them (or at their defaults), they load.
    let (_, dry) = study(
        dir,
        "      A: {rl.method: sft-rl, rl.alpha: 0, sft.epochs: 7, sft.lr: 0.001}\n      \
         B: {rl.method: offpolicy-is, rl.alpha: 0, offpolicy.is_clip: ppo}\n      \
         C: {rl.method: luffy, rl.alpha: 0, offpolicy.luffy_gamma: 0.5}\n      \
         D: {rl.method: prefixrl, sft.epochs: 3, offpolicy.luffy_gamma: 0.1}\n",
    );
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
}
