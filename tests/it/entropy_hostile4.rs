//! Hostile input to `lab entropy-probe`, fourth round: degenerate corpora and samples that used
//! to print a wrong number or verdict. Samples whose words are all equally frequent gave the
//! text task's metrics.csv a `zipf_w` of "-0"; a corpus of one repeated character (or a
//! single `theory.orders` entry) reported H7 FAIL, or even pass, where H7 cannot be tested.
use crate::common::*;
use std::path::Path;

/// `lab entropy-probe --quiet --out OUT --set s...` in `dir`.
fn run(dir: &Path, out: &str, sets: &[&str]) -> std::process::Output {
    let mut args = vec!["entropy-probe", "--quiet", "--out", out];
    for s in sets {
        args.extend(["--set", s]);
    }
    lab(dir, &args)
}

/// Every numeric cell of `path` that reads as a negative zero ("-0", "-0.0", "-0e0", ...).
fn negative_zeros(path: &Path) -> Vec<String> {
    let (header, rows) = read_csv(path);
    let mut out = Vec::new();
    for row in &rows {
        for (name, cell) in header.iter().zip(row) {
            let neg_zero = cell
                .parse::<f64>()
                .is_ok_and(|v| v == 0.0 && cell.starts_with('-'));
            if neg_zero {
                out.push(format!("{name}={cell}"));
            }
        }
    }
    out
}

/// Four distinct words, each once: the Zipf slope is exactly 0, and the CSV says 0, not -0.
#[test]
fn entropy_text_zipf_of_equally_frequent_words_is_zero_not_minus_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran"];
    let reference: Vec<&str> = (0..3000).map(|i| words[(i * 7 + i / 5) % 8]).collect();
    std::fs::write(dir.join("ref.txt"), reference.join(" ")).unwrap();
    std::fs::write(dir.join("samples.txt"), "one two\nthree four\n").unwrap();
    let o = run(
        dir,
        "tx",
        &[
            "task=text",
            "text.samples=samples.txt",
            "data.corpus={kind: file, path: ref.txt}",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let csv = dir.join("tx/metrics.csv");
    let (header, rows) = read_csv(&csv);
    assert_eq!(rows[0][col(&header, "zipf_w")], "0", "{rows:?}");
    assert_eq!(negative_zeros(&csv), Vec::<String>::new());
}

/// The library function itself returns +0.0 (a caller printing it with `{}` shows "0").
#[test]
fn entropy_zipf_slope_of_equal_counts_is_positive_zero() {
    let z = lab::entropy::metrics::zipf_w(&[vec![0, 1, 2, 3]]).unwrap();
    assert_eq!(z.to_string(), "0");
}

fn theory(dir: &Path, out: &str, corpus: &str, orders: &str) -> std::process::Output {
    run(
        dir,
        out,
        &[
            "task=theory",
            &format!("data.corpus={{kind: file, path: {corpus}}}"),
            &format!("theory.orders={orders}"),
            "theory.toys=false",
        ],
    )
}

/// A constant corpus (with or without a trailing newline, which only val then holds), and a
/// single order k: H7 is not testable. The run completes (exit 0), theory.md and the log say
/// why, summary.json has `h7: not testable` and `h7_pass: null`, not a failure.
#[test]
fn entropy_h7_on_a_constant_corpus_or_one_order_is_not_testable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("a.txt"), "a".repeat(5000)).unwrap();
    std::fs::write(dir.join("a_nl.txt"), "a".repeat(5000) + "\n").unwrap();
    std::fs::write(dir.join("abc.txt"), "the quick brown fox. ".repeat(300)).unwrap();
    let cases = [
        (
            "a",
            "a.txt",
            "[0, 1, 2, 4]",
            "already 0 at the smallest order k = 0",
        ),
        (
            "a_nl",
            "a_nl.txt",
            "[0, 1, 2, 4]",
            "already 0 at the smallest order k = 0",
        ),
        ("one", "abc.txt", "[3]", "only one order (k = 3)"),
    ];
    for (out, corpus, orders, why) in cases {
        let o = theory(dir, out, corpus, orders);
        assert_eq!(code(&o), 0, "{out}: {}", text(&o));
        assert!(
            stderr(&o).contains("H7 not testable on file"),
            "{out}: {}",
            text(&o)
        );
        assert!(stderr(&o).contains(why), "{out}: {}", text(&o));
        let md = read(&dir.join(out).join("theory.md"));
        assert!(
            md.contains("H7 not testable on this corpus") && md.contains(why),
            "{md}"
        );
        assert!(!md.contains("FAIL") && !md.contains("H7 pass"), "{md}");
        let s = json(&dir.join(out).join("summary.json"));
        assert_eq!(s["h7"], "not testable", "{out}: {s}");
        assert!(s["h7_pass"].is_null(), "{out}: {s}");
        assert!(s["h7_not_testable"].as_str().unwrap().contains(why), "{s}");
        let meta = json(&dir.join(out).join("meta.json"));
        assert_eq!(meta["status"], "completed", "{out}");
        assert_eq!(
            negative_zeros(&dir.join(out).join("theory.csv")),
            Vec::<String>::new()
        );
    }
    // A corpus that can test H7 still gets a verdict.
    let o = theory(dir, "ok", "abc.txt", "[0, 1, 2]");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let s = json(&dir.join("ok/summary.json"));
    assert!(
        s["h7_pass"].is_boolean() && s["h7_not_testable"].is_null(),
        "{s}"
    );
}

/// A temperature of 1e-310 divides the logits into ±inf: the sampled ids were garbage (NaN
/// probabilities into the inverse CDF) and the run wrote them as `fr_entropy_T0.000…1` (a
/// 300-digit column name) with exit 0; the controller's probe did the same. Each is now an exit-2
/// error naming the key, with no run folder; 0.001 and the probe's greedy 0 are accepted.
#[test]
fn entropy_a_vanishing_temperature_is_refused_not_sampled_as_garbage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for set in [
        "eval.temperatures=[1.0e-310]",
        "eval.temperatures=[0.5, 1.0e-4]",
        "controller.probe.temperature=1.0e-310",
    ] {
        let o = crate::entropy_train::lab_single(dir, &[set], Some("out"));
        let key = set.split('=').next().unwrap();
        assert_refused(&o, set, &[key, "at least 0.001"], &dir.join("out"));
    }
    let single = crate::entropy_train::single(dir);
    for set in [
        "eval.temperatures=[0.001]",
        "controller.probe.temperature=0",
    ] {
        let cfg = single.to_str().unwrap();
        let o = lab(
            dir,
            &[
                "entropy-probe",
                "--config",
                cfg,
                "--set",
                set,
                "--print-config",
            ],
        );
        assert_eq!(code(&o), 0, "{set}: {}", text(&o));
    }
}
