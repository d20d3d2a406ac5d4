//! `lab prefixrl --resume` (spec §8 "resuming with a different hash is refused"): a resumed
//! run whose config differs from the old run's config.yaml (by `--set`, `--seed` or an edited
//! `--config`) is refused with exit 2 naming every key that differs, before a run directory is
//! made; `rl.steps` may change. A damaged checkpoint is a usage error naming its file.
use super::prefixrl_train::{train, train_config, train_output};
use crate::common::{code, stderr};

#[test]
fn resume_refuses_a_changed_config_naming_the_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let first = train(&tmp.path().join("first"), &[], None);
    let root = tmp.path().join("changed");
    let o = train_output(
        &root,
        &["rl.steps=4", "rl.lr=0.5", "rl.method=hint", "seed=3"],
        Some(&first),
        None,
    );
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    for key in ["rl.lr:", "rl.method:", "seed:"] {
        assert!(err.contains(key), "{key}: {err}");
    }
    assert!(!err.contains("rl.steps:"), "rl.steps may change: {err}");
    assert!(!root.join("run").exists(), "no run directory is left");

    // An edited config file given with --resume is compared too.
    let edited = root.join("edited.yaml");
    let text = std::fs::read_to_string(train_config(&root)).unwrap();
    std::fs::write(&edited, text.replace("n: 2,", "n: 3,")).unwrap();
    let o = train_output(&root, &["rl.steps=4"], Some(&first), Some(&edited));
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(err.contains("rl.n: 2 there, 3 now"), "{err}");

    // The same config (rl.steps raised, threads changed) continues.
    let o = train_output(
        &root,
        &["rl.steps=3", "torch_threads=2"],
        Some(&first),
        Some(&train_config(&root)),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// A damaged last checkpoint (a truncated weights file, an optimizer header `{}`) is a usage
/// error naming the file and saying what to do, and leaves no run directory.
#[test]
fn resume_from_a_damaged_checkpoint_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let first = train(&tmp.path().join("first"), &[], None);
    let last = first.join("checkpoints").join("step-00000002");
    let root = tmp.path().join("again");
    let resume = |damaged: &str| {
        let o = train_output(&root, &["rl.steps=4"], Some(&first), None);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{damaged}: {err}");
        assert!(err.contains(&last.display().to_string()), "{err}");
        assert!(
            err.contains(damaged) && err.contains("move that directory"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!root.join("run").exists(), "no run directory is left");
    };
    let weights = last.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    resume("model.safetensors");
    std::fs::write(&weights, &bytes).unwrap();
    std::fs::write(last.join("optimizer.json"), "{}").unwrap();
    resume("optimizer.json");
}
