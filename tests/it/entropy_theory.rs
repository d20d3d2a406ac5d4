//! The theory tables (spec §2.6, §6.3): rows on the synthetic Markov source against its own
//! analytic rate and on KJV against the §2.6 table, H7's pass/fail checks (including failing
//! ones), and the files `write_theory` produces.
use crate::data_common::kjv_path;
use lab::data::markov::{MarkovConfig, MarkovSource};
use lab::entropy::ngram::NGram;
use lab::entropy::theory::{h7_checks, markdown_tables, theory_rows, write_theory, TheoryRow};

/// §7.2's synthetic source: vocab 32, order 2, α 0.1, 200k + 20k symbols, seed 7.
fn markov() -> (Vec<u32>, Vec<u32>, f64) {
    let cfg = MarkovConfig {
        seed: 7,
        ..MarkovConfig::default()
    };
    let source = MarkovSource::new(&cfg).unwrap();
    let (train, val) = source.generate(&cfg);
    let ids = |s: &str| {
        s.bytes()
            .map(|b| {
                lab::data::markov::ALPHABET
                    .iter()
                    .position(|&a| a == b)
                    .unwrap() as u32
            })
            .collect::<Vec<u32>>()
    };
    (ids(&train), ids(&val), source.entropy_rate().unwrap())
}

#[test]
fn synthetic_rows_fall_below_the_true_rate_at_the_true_order() {
    let (train, val, h) = markov();
    let ks = [8, 0, 1, 2, 3, 4, 6, 2];
    let rows = theory_rows("synthetic", &train, &val, 32, &ks, 0.05, Some(h)).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.k).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 6, 8]
    );
    eprintln!("synthetic h = {h:.4}\n{}", markdown_tables(&rows));
    for r in &rows {
        let m = NGram::fit(&train, r.k, 32).unwrap();
        let v = m.held_out(&val, 0.05).unwrap();
        // The counts' hash order varies, so sums agree to rounding only.
        assert_eq!(r.contexts, m.num_contexts());
        assert!((r.h_k_train - m.train_entropy()).abs() < 1e-12);
        assert!((r.val_ce - v.cross_entropy).abs() < 1e-12);
        assert_eq!(
            (r.unseen_frac, r.true_rate, r.delta),
            (v.unseen_fraction, Some(h), 0.05)
        );
    }
    let two = &rows[2];
    assert!(
        two.h_k_train < h && h < two.val_ce,
        "true order: {two:?} vs h {h}"
    );
    assert!(rows[1].h_k_train > h, "k = 1 is above the rate");
    let checks = h7_checks(&rows);
    assert_eq!(checks.len(), 1);
    let c = &checks[0];
    assert!(c.decreasing && c.val_rises && c.pass(), "{c:?}");
    assert_eq!(
        (c.below_from, c.below_rate, c.val_min_k),
        (Some(2), Some(true), 2)
    );
}

use crate::entropy_ngram::KJV;

#[test]
fn kjv_rows_match_the_spec_table_and_pass_h7() {
    let path = kjv_path();
    if !path.is_file() {
        eprintln!(
            "SKIPPED: {} is missing (`make data-kjv` produces it)",
            path.display()
        );
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let mut vocab: Vec<char> = text.chars().collect();
    vocab.sort_unstable();
    vocab.dedup();
    let ids: Vec<u32> = text
        .chars()
        .map(|c| vocab.binary_search(&c).unwrap() as u32)
        .collect();
    assert_eq!((ids.len(), vocab.len()), (4_137_847, 63));
    let (train, val) = ids.split_at(ids.len() * 9 / 10);
    let ks: Vec<usize> = KJV.iter().map(|r| r.0).collect();
    let rows = theory_rows("kjv", train, val, 63, &ks, 0.05, None).unwrap();
    assert_eq!(rows.len(), KJV.len());
    for (r, (k, contexts, h, ce, unseen)) in rows.iter().zip(KJV) {
        assert_eq!((r.k, r.contexts), (k, contexts));
        let got = [r.h_k_train, r.val_ce, r.unseen_frac];
        for (g, want) in got.iter().zip([h, ce, unseen]) {
            assert!(
                (g - want).abs() < 1e-4,
                "k = {k}: {got:?} vs {:?}",
                (h, ce, unseen)
            );
        }
    }
    let c = &h7_checks(&rows)[0];
    assert!(
        c.pass() && c.below_rate.is_none() && c.val_min_k == 4,
        "{c:?}"
    );
}

fn row(corpus: &str, k: usize, h: f64, ce: f64, rate: Option<f64>) -> TheoryRow {
    TheoryRow {
        corpus: corpus.into(),
        k,
        contexts: 1,
        h_k_train: h,
        val_ce: ce,
        unseen_frac: 0.0,
        delta: 0.05,
        true_rate: rate,
        position_slack: 1e-6,
    }
}

#[test]
fn h7_fails_when_a_trend_is_wrong() {
    let rows = vec![
        row("rising", 0, 2.0, 2.0, None),
        row("rising", 1, 2.1, 1.5, None),
        row("rising", 2, 1.0, 1.6, None),
        row("no_rise", 0, 2.0, 2.0, Some(1.5)),
        row("no_rise", 1, 1.0, 1.5, Some(1.5)),
        row("no_rise", 2, 0.5, 1.4, Some(1.5)),
        row("never_below", 2, 1.0, 1.5, Some(0.5)),
        row("never_below", 0, 2.0, 2.0, Some(0.5)),
        row("never_below", 4, 0.7, 2.5, Some(0.5)),
    ];
    let checks = h7_checks(&rows);
    let names: Vec<&str> = checks.iter().map(|c| c.corpus.as_str()).collect();
    assert_eq!(names, ["rising", "no_rise", "never_below"]);
    assert!(!checks[0].decreasing && checks[0].val_rises && !checks[0].pass());
    assert_eq!((checks[0].val_min_k, checks[0].below_rate), (1, None));
    assert!(checks[1].decreasing && !checks[1].val_rises && !checks[1].pass());
    assert_eq!(
        (checks[1].below_from, checks[1].below_rate),
        (Some(1), Some(true))
    );
    assert!(checks[2].decreasing && checks[2].val_rises && !checks[2].pass());
    assert_eq!(
        (checks[2].below_from, checks[2].below_rate),
        (None, Some(false))
    );
    // A rise within the position slack (1e-6 here) still counts as falling.
    let slack = [
        row("s", 0, 2.0, 2.0, Some(1.2)),
        row("s", 1, 1.1, 1.0, Some(1.2)),
        row("s", 2, 1.1 + 5e-7, 1.1, Some(1.2)),
    ];
    let c = &h7_checks(&slack)[0];
    assert!(
        c.decreasing && c.below_rate == Some(true) && c.pass(),
        "{c:?}"
    );
    // Below at k = 1 but back above at k = 2 is not "below past the true order".
    let bounce = [
        row("b", 0, 2.0, 2.0, Some(1.2)),
        row("b", 1, 1.1, 1.0, Some(1.2)),
        row("b", 2, 1.25, 1.1, Some(1.2)),
    ];
    let c = &h7_checks(&bounce)[0];
    assert_eq!(
        (c.decreasing, c.below_from, c.below_rate),
        (false, Some(1), Some(false))
    );
    let md = markdown_tables(&rows);
    assert_eq!(md.matches("H7 FAIL").count(), 3, "{md}");
    assert!(
        md.contains("FAIL (never below)")
            && md.contains("val CE rises past its minimum (k = 1): pass")
    );
}

#[test]
fn write_theory_writes_the_csv_and_the_markdown_with_the_toys() {
    let dir = tempfile::tempdir().unwrap();
    let train: Vec<u32> = (0..3000).map(|i| (i % 3) as u32).collect();
    let val: Vec<u32> = (0..300).map(|i| (i % 3) as u32).collect();
    // §6.5 item 10: the periodic string gives H_0 = ln 3 and H_1 = 0.
    let rows = theory_rows("abc", &train, &val, 3, &[0, 1, 2], 0.05, None).unwrap();
    assert!((rows[0].h_k_train - 3f64.ln()).abs() < 1e-12 && rows[1].h_k_train == 0.0);
    write_theory(dir.path(), &rows, true).unwrap();
    let mut rdr = csv::Reader::from_path(dir.path().join("theory.csv")).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "corpus",
            "k",
            "contexts",
            "h_k_train",
            "val_ce",
            "unseen_frac",
            "delta",
            "true_rate"
        ]
    );
    let recs: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len(), 3);
    assert_eq!(
        (&recs[1][0], &recs[1][1], &recs[1][2], &recs[1][7]),
        ("abc", "1", "3", "")
    );
    assert_eq!(recs[0][3].parse::<f64>().unwrap(), rows[0].h_k_train);
    let md = std::fs::read_to_string(dir.path().join("theory.md")).unwrap();
    eprintln!("{md}");
    assert!(
        md.contains("## abc")
            && md.contains("| 0 | 1 | 1.0986 |")
            && md.contains("| 1 | 3 | 0.0000 |"),
        "{md}"
    );
    assert!(
        md.contains("| 0.1 | 0 | 0 |") && md.contains("| 1 | 0 | 0 |"),
        "{md}"
    );
    let fifty: usize = md
        .lines()
        .find(|l| l.starts_with("| 50 |"))
        .unwrap()
        .split('|')
        .nth(2)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(fifty >= 250, "η = 50: {fifty} of 300 rise");
    assert!(
        md.contains("H(p) = 3.5377")
            && md.contains("| 4.4187 | 0.8813 |")
            && md.contains("| 2.8052 | 0.3567 |"),
        "{md}"
    );
    // A file where the directory should be: the error names it.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let err = format!("{:#}", write_theory(&blocker, &rows, false).unwrap_err());
    assert!(err.contains(&blocker.display().to_string()), "{err}");
}

#[test]
fn bad_inputs_are_refused_with_the_corpus_named() {
    let toks = [0u32, 1, 0, 1];
    let err = |r: anyhow::Result<Vec<TheoryRow>>| format!("{:#}", r.unwrap_err());
    let none = theory_rows("c", &toks, &toks, 2, &[], 0.05, None);
    assert!(err(none).contains("theory c: no orders"));
    assert!(
        err(theory_rows("c", &toks, &toks[..2], 2, &[2], 0.05, None))
            .contains("order 2 needs more")
    );
    assert!(err(theory_rows("c", &[0, 5], &toks, 2, &[0], 0.05, None))
        .contains("theory c: n-gram: token id 5"));
    assert!(err(theory_rows("c", &toks, &toks, 2, &[1], 0.0, None)).contains("delta"));
}

/// §6.5 item 11 (E6): the plug-in entropy of n = 200 samples is biased low by about the
/// Miller–Madow (S − 1)/(2n) = 0.16 for K = 65 (within 30 %).
#[test]
fn plug_in_entropy_is_biased_low_by_about_miller_madow() {
    use lab::entropy::toys::entropy;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Dirichlet, Distribution};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let p: Vec<f64> = Dirichlet::new_with_size(1.0, 65).unwrap().sample(&mut rng);
    let cdf: Vec<f64> = p
        .iter()
        .scan(0.0, |a, &x| {
            *a += x;
            Some(*a)
        })
        .collect();
    let n = 200;
    let draws = 2000;
    let mut sum = 0.0;
    for _ in 0..draws {
        let mut counts = vec![0.0; 65];
        for _ in 0..n {
            let u: f64 = rng.gen();
            counts[cdf.partition_point(|&c| c <= u).min(64)] += 1.0;
        }
        let q: Vec<f64> = counts.iter().map(|c| c / n as f64).collect();
        sum += entropy(&q);
    }
    let gap = entropy(&p) - sum / draws as f64;
    let mm = 64.0 / (2.0 * n as f64);
    eprintln!(
        "item 11: H(p) {:.4}, plug-in gap {gap:.4} vs (S−1)/(2n) {mm}",
        entropy(&p)
    );
    assert!(gap > 0.0 && (gap - mm).abs() <= 0.3 * mm, "gap {gap}");
}

/// §6.5 item 13 (T3): GD with η = 0.5 on 200 random full-support p̂ never raises the entropy by
/// more than 1e-9 in 2,000 steps; with η = 20 some run does.
#[test]
fn small_gradient_steps_never_raise_the_entropy() {
    use lab::entropy::toys::{random_targets, rise_count};
    let targets = random_targets(200, 1);
    assert!(targets.iter().all(|p| p.iter().all(|&x| x > 0.0)));
    assert_eq!(rise_count(&targets, 0.5, 2000, 1e-9), 0);
    let big = rise_count(&targets, 20.0, 2000, 1e-9);
    eprintln!("item 13: eta 20 raises the entropy in {big} of 200 runs");
    assert!(big >= 1);
}
