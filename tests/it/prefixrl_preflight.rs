//! `model.*` keys under a base model: stages after pretrain use the base model's architecture
//! (`base/model.yaml`), so model keys changed from the default that differ from it are refused
//! (exit 2 naming each key and both values, before a run directory is made) instead of being
//! silently ignored; without model keys the stage runs on the base model.
use super::prefixrl_train::{train, train_output};
use crate::common::{code, stderr};

#[test]
fn model_keys_that_differ_from_the_base_model_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("smoke");
    // The base model is gpt-nano with a 96-token block; the smoke preset's is 64, untied.
    let o = train_output(&root, &["model.preset=smoke"], None, None);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    for said in [
        "model.block_size = 64 (the base model's: 96)",
        "model.tied_head = false (the base model's: true)",
        "base/model.yaml",
        "inputs.base",
    ] {
        assert!(err.contains(said), "{said}: {err}");
    }
    assert!(!root.join("run").exists(), "no run directory is left");
    let o = train_output(&tmp.path().join("wide"), &["model.d_model=48"], None, None);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(
        err.contains("model.d_model = 48 (the base model's: 32)"),
        "{err}"
    );
    // The model keys of the base model itself are accepted.
    train(
        &tmp.path().join("same"),
        &["model.preset=gpt-nano", "model.block_size=96"],
        None,
    );
}
