//! The `text` task as a library: reading sample files (and each way they can be wrong), the
//! analysis against a reference, and its CSV row.
use crate::common::{col, read_csv};
use lab::entropy::metrics::SampleMetrics;
use lab::entropy::textfile::*;
use lab::error::exit_code;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A usage error (exit 2) whose message contains every one of `parts`.
fn usage_error(path: &Path, parts: &[&str]) {
    let err = read_samples(path).expect_err("should fail");
    let msg = format!("{err:#}");
    assert_eq!(exit_code(&err), 2, "{msg}");
    for p in parts {
        assert!(msg.contains(p), "{msg:?} lacks {p:?}");
    }
}

#[test]
fn reads_lines_and_jsonl_by_extension_or_first_brace() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "s.txt", b"first line\r\n\n  \nsecond {x}\n");
    assert_eq!(read_samples(&plain).unwrap(), ["first line", "second {x}"]);
    let jsonl = "{\"text\": \"a\\nb\", \"id\": 1}\n\n{\"text\": \"\"}\n";
    let by_ext = write(dir.path(), "s.jsonl", jsonl.as_bytes());
    assert_eq!(read_samples(&by_ext).unwrap(), ["a\nb", ""]);
    let by_brace = write(dir.path(), "s.out", format!("\n  {jsonl}").as_bytes());
    assert_eq!(read_samples(&by_brace).unwrap(), ["a\nb", ""]);
}

#[test]
fn bad_sample_files_are_usage_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let utf = write(dir.path(), "bad.txt", b"ok\nok too\nbad \xff here\n");
    usage_error(&utf, &["bad.txt:3:", "not UTF-8"]);
    let not_obj = write(dir.path(), "a.jsonl", b"{\"text\": \"fine\"}\n[1, 2]\n");
    usage_error(&not_obj, &["a.jsonl:2:", "string \"text\""]);
    let not_str = write(dir.path(), "b.jsonl", b"\n\n{\"text\": 3}\n");
    usage_error(&not_str, &["b.jsonl:3:", "string \"text\""]);
    let broken = write(dir.path(), "c.jsonl", b"{\"text\": \"x\"}\n{\"text\": \n");
    usage_error(&broken, &["c.jsonl:2:", "not a JSON value"]);
    let empty = write(dir.path(), "empty.txt", b"\n \n\n");
    usage_error(&empty, &["empty.txt", "no samples"]);
    usage_error(
        &dir.path().join("missing.txt"),
        &["missing.txt", "cannot read"],
    );
}

/// Seeded word salad: a reference with repeated 4-grams and a 90/10 split.
fn reference(words: usize) -> String {
    let vocab = [
        "the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let w: Vec<&str> = (0..words)
        .map(|_| vocab[rng.gen_range(0..vocab.len())])
        .collect();
    w.join(" ")
}

#[test]
fn samples_cut_from_the_train_part_copy_at_rate_one() {
    let text = reference(2000);
    let n = text.chars().count();
    let train_chars = (0.9 * n as f64).floor() as usize;
    let copied: Vec<String> = (0..6)
        .map(|i| text[i * 500..i * 500 + 120].to_string())
        .collect();
    let rep = analyse(&copied, &text, &TextOptions::default()).unwrap();
    assert_eq!((rep.samples, rep.sample_chars), (6, 720));
    assert_eq!(
        (rep.train_chars, rep.heldout_chars, rep.real_wraps),
        (train_chars, n - train_chars, 0)
    );
    assert_eq!(rep.metrics.copy_rate_32_t1, Some(1.0));
    assert!(rep.metrics.self_bleu4.is_some() && rep.metrics.mauve_ngram.is_none());
    let nll = rep.gen_ref_nll.unwrap();
    assert!(
        nll > 0.0 && nll < 2.0,
        "copied text is likely under the reference: {nll}"
    );
    // characters the reference never has get ids of their own: no copying, high NLL
    let alien = vec!["ζψ".repeat(30), copied[0].clone()];
    let rep = analyse(&alien, &text, &TextOptions::default()).unwrap();
    assert_eq!(rep.metrics.copy_rate_32_t1, Some(0.5));
    assert!(rep.vocab >= 14 && rep.gen_ref_nll.unwrap() > nll);
}

#[test]
fn the_real_side_wraps_and_bad_settings_are_usage_errors() {
    let text = reference(300);
    let long = vec![text.clone(), text.clone()];
    let rep = analyse(&long, &text, &TextOptions::default()).unwrap();
    assert!(rep.real_wraps >= 19, "{}", rep.real_wraps);
    for split in [0.0, 1.0, f64::NAN] {
        let opts = TextOptions {
            split,
            ..TextOptions::default()
        };
        let err = analyse(&long, &text, &opts).unwrap_err();
        assert_eq!(exit_code(&err), 2);
        assert!(format!("{err}").contains("split"), "{err}");
    }
    assert_eq!(
        exit_code(&analyse(&long, "a", &TextOptions::default()).unwrap_err()),
        2
    );
    assert_eq!(
        exit_code(&analyse(&[], &text, &TextOptions::default()).unwrap_err()),
        2
    );
}

#[test]
fn the_csv_has_one_row_under_its_header_with_empty_cells_for_none() {
    let dir = tempfile::tempdir().unwrap();
    let text = reference(1500);
    let samples: Vec<String> = (0..5)
        .map(|i| text[i * 300..i * 300 + 80].to_string())
        .collect();
    let opts = TextOptions::default();
    let rep = analyse(&samples, &text, &opts).unwrap();
    let out = dir.path().join("text.csv");
    rep.write_csv(&out).unwrap();
    let (header, rows) = read_csv(&out);
    assert_eq!(header, TextReport::columns());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].len(), header.len());
    assert!(header.iter().all(|h| !h.contains("greedy")));
    assert_eq!(rows[0][col(&header, "mauve_ngram")], "");
    assert_eq!(rows[0][col(&header, "copy_rate_32_t1")], "1");
    let bleu: f64 = rows[0][col(&header, "self_bleu4")].parse().unwrap();
    assert_eq!(Some(bleu), rep.metrics.self_bleu4);
    assert_eq!(rows[0][col(&header, "samples")], "5");
    let kept = SampleMetrics::columns()
        .iter()
        .filter(|c| !c.contains("greedy"))
        .count();
    assert_eq!(header.len(), 7 + kept + 4);
}

/// Timing on KJV (run by hand: `cargo test --release --test it kjv_text_timing -- --ignored
/// --nocapture`): the last ~1 MB of lines as samples against the whole 4 MB file.
#[test]
#[ignore]
fn kjv_text_timing() {
    use lab::entropy::metrics::*;
    use std::time::Instant;
    let Ok(kjv) = std::fs::read_to_string("data/generated/kjv.txt") else {
        eprintln!("skipped: data/generated/kjv.txt is absent");
        return;
    };
    let mut samples: Vec<String> = Vec::new();
    let mut chars = 0;
    for line in kjv.lines().rev().filter(|l| !l.is_empty()) {
        chars += line.chars().count();
        samples.push(line.to_string());
        if chars >= 1_000_000 {
            break;
        }
    }
    let t = Instant::now();
    let rep = analyse(&samples, &kjv, &TextOptions::default()).unwrap();
    eprintln!(
        "analyse: {} samples, {} chars: {:.2}s",
        rep.samples,
        rep.sample_chars,
        t.elapsed().as_secs_f64()
    );
    let ids: Vec<Vec<u32>> = samples
        .iter()
        .map(|s| s.bytes().map(u32::from).collect())
        .collect();
    let train: Vec<u32> = kjv.bytes().map(u32::from).collect();
    let t = Instant::now();
    let index = TrainIndex::new(&train);
    eprintln!("TrainIndex::new: {:.2}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let m = sample_metrics(&ids, &[], &ids, &index, 256, &MetricOptions::default());
    eprintln!(
        "sample_metrics without BLEU/MAUVE: {:.2}s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let b = self_bleu4(&ids);
    eprintln!("self_bleu4: {:.2}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let model = lab::entropy::ngram::Interpolated::fit(&train, 5, 256, 0.01).unwrap();
    eprintln!("Interpolated::fit: {:.2}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let nll = ref_nll(&model, &[], &ids);
    eprintln!("ref_nll: {:.2}s", t.elapsed().as_secs_f64());
    for n in [128usize, 1000] {
        let t = Instant::now();
        let mv = mauve_ngram(&ids[..n], &ids[n..2 * n], 0);
        eprintln!(
            "mauve_ngram {n}+{n}: {mv:?} {:.2}s",
            t.elapsed().as_secs_f64()
        );
    }
    assert!(m.distinct_4.is_some() && b.is_some() && nll.is_some());
}
