//! `--set SECTION.kind=K` on a `--config` file whose SECTION has another kind drops the keys the
//! file gave that section (they belonged to the old kind). The run says so on stderr, naming
//! them, instead of losing a file's `lr` in silence; keys the `--set`s give again are kept and
//! not named, and switching to the same kind, or no file, prints nothing.
use crate::common::*;

fn print_config(dir: &std::path::Path, args: &[&str]) -> (serde_yaml_ng::Value, String) {
    let mut all = vec!["grng", "--print-config"];
    all.extend_from_slice(args);
    let o = lab(dir, &all);
    assert_eq!(code(&o), 0, "{}", text(&o));
    (serde_yaml_ng::from_str(&stdout(&o)).unwrap(), stderr(&o))
}

#[test]
fn switching_a_files_section_to_another_kind_names_the_keys_it_drops() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = "task: mlp-digits\noptimizer: {kind: kfac, lr: 0.05, damping: 0.01}\n";
    std::fs::write(dir.join("g.yaml"), file).unwrap();
    let (cfg, err) = print_config(
        dir,
        &["--config", "g.yaml", "--set", "optimizer.kind=adamw"],
    );
    assert_eq!(cfg["optimizer"]["kind"].as_str(), Some("adamw"));
    assert_ne!(
        cfg["optimizer"]["lr"].as_f64(),
        Some(0.05),
        "adamw's own default"
    );
    for needle in [
        "note: --set optimizer.kind=adamw switches `optimizer` from kind kfac",
        "g.yaml gives it (`lr`, `damping`) are dropped",
        "--set optimizer.KEY=VALUE",
    ] {
        assert!(err.contains(needle), "no `{needle}` in {err}");
    }
    // A key given again is kept and not named.
    let args = [
        "--config",
        "g.yaml",
        "--set",
        "optimizer.lr=0.05",
        "--set",
        "optimizer.kind=adamw",
    ];
    let (cfg, err) = print_config(dir, &args);
    assert_eq!(cfg["optimizer"]["lr"].as_f64(), Some(0.05));
    assert!(err.contains("(`damping`) are dropped"), "{err}");
    // The same kind, or no file: nothing dropped, nothing said.
    let (_, err) = print_config(dir, &["--config", "g.yaml", "--set", "optimizer.kind=kfac"]);
    assert!(!err.contains("note:"), "{err}");
    let (_, err) = print_config(dir, &["--set", "optimizer.kind=adamw"]);
    assert!(!err.contains("note:"), "{err}");
}
