//! Unit tests of the config loader: locating keys, merging, `--set`, name suggestions.
use super::*;

#[test]
fn locate_finds_nested_keys() {
    let text = "seed: 1\nsolver:\n  # comment\n  tol: 1e-3\n  inner:\n    x: 2\nother: 3\n";
    assert_eq!(locate(text, "seed"), Some(1));
    assert_eq!(locate(text, "solver.tol"), Some(4));
    assert_eq!(locate(text, "solver.inner.x"), Some(6));
    assert_eq!(locate(text, "other"), Some(7));
    assert_eq!(locate(text, "solver.x"), None);
}

#[test]
fn merge_replaces_sections_of_another_kind() {
    let mut base: Value = serde_yaml_ng::from_str("m: {kind: a, n: 3}\nk: 1").unwrap();
    merge(
        &mut base,
        serde_yaml_ng::from_str("m: {kind: b, path: x}").unwrap(),
    );
    let m = base.get("m").unwrap().as_mapping().unwrap();
    assert!(m.get("n").is_none());
    assert_eq!(base.get("k").unwrap().as_i64(), Some(1));
    merge(&mut base, serde_yaml_ng::from_str("m: {path: y}").unwrap());
    assert_eq!(base["m"]["kind"].as_str(), Some("b"));
    assert_eq!(base["m"]["path"].as_str(), Some("y"));
}

#[test]
fn set_parses_yaml_values_and_rejects_garbage() {
    let mut v: Value = serde_yaml_ng::from_str("a: {b: 1}").unwrap();
    apply_set(&mut v, "a.b=2.5e-3").unwrap();
    apply_set(&mut v, "a.c=[1, 2]").unwrap();
    assert_eq!(v["a"]["b"].as_f64(), Some(2.5e-3));
    assert_eq!(v["a"]["c"].as_sequence().unwrap().len(), 2);
    assert!(apply_set(&mut v, "novalue").is_err());
    let mut m: Value = serde_yaml_ng::from_str("s: {kind: a, n: 3}").unwrap();
    apply_set(&mut m, "s.kind=b").unwrap();
    apply_set(&mut m, "s.path=x").unwrap();
    assert!(m["s"].get("n").is_none(), "keys of the old kind must go");
    apply_set(&mut m, "s.kind=b").unwrap();
    assert_eq!(m["s"]["path"].as_str(), Some("x"), "same kind keeps keys");
    assert!(apply_set(&mut v, "a..b=1").is_err());
}

#[test]
fn suggestions_are_close_names_only() {
    let opts = vec!["learning_rate".to_string(), "momentum".to_string()];
    assert_eq!(
        closest("learing_rate", &opts).as_deref(),
        Some("learning_rate")
    );
    assert_eq!(closest("zzz", &opts), None);
}
