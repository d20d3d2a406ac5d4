//! Corpus configs and the errors of the `file` corpus (missing, not UTF-8, sha256 mismatch).
use crate::common::{code, lab, stderr, stdout};
use lab::data::corpus::{read_text, sha256_hex};
use lab::data::CorpusConfig;
use lab::error::UsageError;

fn parse(yaml: &str) -> Result<CorpusConfig, String> {
    serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())
}

#[test]
fn configs_are_tagged_by_kind_and_refuse_unknown_keys() {
    assert_eq!(parse("kind: kjv").unwrap().kind(), "kjv");
    assert_eq!(
        parse("{kind: markov, vocab: 16}").unwrap(),
        parse("{kind: markov, vocab: 16, order: 2, alpha: 0.1, seed: 0}").unwrap()
    );
    let err = parse("{kind: markov, vocb: 16}").unwrap_err();
    assert!(err.contains("vocb"), "{err}");
    let err = parse("{kind: grammar, path: x}").unwrap_err();
    assert!(err.contains("path"), "{err}");
    assert!(parse("kind: file").is_err(), "file needs a path");
    assert!(parse("kind: tinyshakespeare").is_err());
}

#[test]
fn file_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.txt");
    let err = read_text(&missing, None).unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(err.downcast_ref::<UsageError>().is_some());

    let bad = dir.path().join("latin1.txt");
    std::fs::write(&bad, b"caf\xe9 au lait").unwrap();
    let err = read_text(&bad, None).unwrap_err().to_string();
    assert!(err.contains(&bad.display().to_string()), "{err}");
    assert!(err.contains("offset 3"), "{err}");

    let good = dir.path().join("good.txt");
    std::fs::write(&good, "hello\n").unwrap();
    let digest = sha256_hex(b"hello\n");
    assert_eq!(
        read_text(&good, Some(&digest.to_uppercase())).unwrap(),
        "hello\n"
    );
    let wrong = "0".repeat(64);
    let err = read_text(&good, Some(&wrong)).unwrap_err().to_string();
    assert!(err.contains(&good.display().to_string()), "{err}");
    assert!(err.contains(&digest) && err.contains(&wrong), "{err}");
}

#[test]
fn a_file_corpus_loads_through_its_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.txt");
    std::fs::write(&path, "abc\n").unwrap();
    let yaml = format!(
        "{{kind: file, path: '{}', sha256: {}}}",
        path.display(),
        sha256_hex(b"abc\n")
    );
    let corpus = parse(&yaml).unwrap().load().unwrap();
    assert_eq!((corpus.text.as_str(), corpus.val_start), ("abc\n", None));
}

#[test]
fn corpus_info_reads_a_config_section_and_reports_errors_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cfg.yaml"),
        "seed: 1\ncorpus:\n  kind: markov\n  vocab: 4\n  alpha: 1.0\n  train_len: 900\n  val_len: 100\n",
    )
    .unwrap();
    let out = lab(dir.path(), &["corpus", "info", "--config", "cfg.yaml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("chars:          1000\n"), "{text}");
    assert!(text.contains("distinct chars: 4\n"), "{text}");
    assert!(text.contains("entropy rate:"), "{text}");

    let out = lab(
        dir.path(),
        &["corpus", "info", "file", "--set", "path=nope.txt"],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("nope.txt"), "{}", stderr(&out));
    let out = lab(
        dir.path(),
        &["corpus", "info", "markov", "--set", "vocab=99"],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("vocab"), "{}", stderr(&out));
}

#[test]
fn range_checks_name_keys_where_the_section_is_embedded() {
    let cfg = parse("{kind: markov, vocab: 99, alpha: 0}").unwrap();
    let mut c = lab::config::Checker::default();
    cfg.validate_at(&mut c, "data.corpus");
    let keys: Vec<&str> = c.problems.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["data.corpus.vocab", "data.corpus.alpha"]);
    let mut c = lab::config::Checker::default();
    parse("{kind: file, path: x, sha256: abc}")
        .unwrap()
        .validate_at(&mut c, "corpus");
    assert_eq!(c.problems.len(), 1);
    assert_eq!(c.problems[0].0, "corpus.sha256");
}
