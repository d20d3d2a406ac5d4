//! The KJV corpus produced by the set-up: the counts and sha256 of entropy-probe §6.1, and
//! `lab corpus info` / `lab corpus prepare` on it.
use crate::common::{code, lab, stderr, stdout};
use crate::data_common::{kjv_path, kjv_text};
use lab::data::{kjv, TextStats};

#[test]
fn the_prepared_kjv_file_has_the_expected_counts_and_sha256() {
    let text = kjv_text();
    let stats = TextStats::of(&text);
    assert_eq!(stats.lines, 31_102);
    assert_eq!(stats.chars, 4_137_847);
    assert_eq!(stats.bytes, stats.chars, "the KJV text is ASCII");
    assert_eq!(stats.distinct, 63);
    assert_eq!(
        stats.sha256,
        "376f0fd8429cec6cc77659d428b2debd01f069dbfb3917776a09a36a7cfed5c4"
    );
    assert!(text.starts_with("In the beginning God created the heaven and the earth.\n"));
    assert!(text.ends_with("The grace of our Lord Jesus Christ be with you all. Amen.\n"));
    assert!(kjv::differences(&text).is_empty());
    // Normalising is idempotent on a verse-per-line text indented as the dump is.
    let redumped: String = text.lines().map(|v| format!("  1 {v}\n")).collect();
    assert_eq!(kjv::normalise(&redumped).unwrap(), text);
}

#[test]
fn corpus_info_prints_the_kjv_stats_and_prepare_sees_it_is_done() {
    kjv_text();
    let dir = tempfile::tempdir().unwrap();
    let out = lab(
        dir.path(),
        &[
            "corpus",
            "info",
            "kjv",
            "--set",
            &format!("path={}", kjv_path().display()),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "bytes:          4137847",
        "distinct chars: 63",
        "lines:          31102",
        "sha256:         376f0fd8429cec6cc77659d428b2debd01f069dbfb3917776a09a36a7cfed5c4",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }
    let copy = dir.path().join("kjv.txt");
    std::fs::copy(kjv_path(), &copy).unwrap();
    let out = lab(
        dir.path(),
        &["corpus", "prepare", "kjv", "--out", "kjv.txt"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("already prepared"),
        "{}",
        stdout(&out)
    );
    // Any other existing file is the user's: refused (exit 2) and left as it was.
    std::fs::write(dir.path().join("notes.txt"), "my notes").unwrap();
    let out = lab(
        dir.path(),
        &["corpus", "prepare", "kjv", "--out", "notes.txt"],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing to overwrite"),
        "{}",
        stderr(&out)
    );
    let kept = std::fs::read_to_string(dir.path().join("notes.txt")).unwrap();
    assert_eq!(kept, "my notes");
    let out = lab(dir.path(), &["corpus", "prepare", "kjv", "--out", "."]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
}

#[test]
fn a_tampered_kjv_file_is_refused_with_both_digests() {
    let mut text = kjv_text();
    text.push_str("extra verse\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kjv.txt");
    std::fs::write(&path, &text).unwrap();
    let err = kjv::load(&path).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains(kjv::EXPECTED_SHA256), "{err}");
    assert!(err.contains("make data-kjv"), "{err}");
    let missing = kjv::load(&dir.path().join("none.txt"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("none.txt") && missing.contains("make data-kjv"),
        "{missing}"
    );
}
