//! Sample metrics (spec §4.2–§4.4) on hand-made cases, the spec's worked example and brute force.
use lab::entropy::text::*;
use lab::entropy::toys::kl;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn ids(s: &str) -> Vec<u32> {
    s.bytes().map(u32::from).collect()
}

#[test]
fn the_spec_worked_example_of_kl_and_js() {
    let (p, q) = (smoothed(&[3, 1], 0.5), smoothed(&[4, 0], 0.5));
    assert_eq!(p.len(), 2);
    assert!((p[0] - 0.7).abs() < 1e-15 && (q[0] - 0.9).abs() < 1e-15);
    assert!((kl(&p, &q) - 0.153664).abs() < 5e-7);
    assert!((kl(&q, &p) - 0.116322).abs() < 5e-7);
    assert!((js(&p, &q) - 0.032429).abs() < 5e-7);
}

#[test]
fn distinct_and_seq_rep_count_ngrams() {
    let samples = vec![ids("abab"), ids("abc")];
    // bigrams: ab ba ab | ab bc → 5 in all, distinct {ab, ba, bc} = 3
    assert_eq!(distinct_n(&samples, 2), Some(3.0 / 5.0));
    assert_eq!(distinct_n(&samples, 1), Some(3.0 / 7.0));
    assert_eq!(distinct_n(&[ids("a")], 2), None);
    // per sample: 1 − 2/3 and 1 − 2/2
    let want = ((1.0 - 2.0 / 3.0) + 0.0) / 2.0;
    assert!((seq_rep_n(&samples, 2).unwrap() - want).abs() < 1e-15);
    assert_eq!(seq_rep_n(&[ids("a")], 4), None);
}

#[test]
fn terminal_loops_need_three_periods_and_report_the_smallest() {
    assert_eq!(terminal_loop(&ids("xyzababab")), Some(2));
    assert_eq!(
        terminal_loop(&ids("xyzabab")),
        None,
        "two copies are not a loop"
    );
    assert_eq!(terminal_loop(&ids("qaaaa")), Some(1));
    assert_eq!(terminal_loop(&ids("abcabcabc")), Some(3));
    assert_eq!(terminal_loop(&ids("abcdefg")), None);
    let (frac, period) = loops(&[ids("zababab"), ids("abcabcabc"), ids("abcd")]);
    assert_eq!(frac, Some(2.0 / 3.0));
    assert_eq!(period, Some(2.5));
    assert_eq!(loops(&[ids("abcd")]), (Some(0.0), None));
}

#[test]
fn longest_repeat_matches_brute_force() {
    assert_eq!(longest_repeat(&ids("banana")), 3);
    assert_eq!(longest_repeat(&ids("abcd")), 0);
    assert_eq!(longest_repeat(&ids("aaaa")), 3);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..50 {
        let s: Vec<u32> = (0..rng.gen_range(1..30))
            .map(|_| rng.gen_range(0..3))
            .collect();
        let brute = (1..s.len())
            .rev()
            .find(|&l| {
                (0..=s.len() - l).any(|i| (i + 1..=s.len() - l).any(|j| s[i..i + l] == s[j..j + l]))
            })
            .unwrap_or(0);
        assert_eq!(longest_repeat(&s), brute, "{s:?}");
    }
}

#[test]
fn copying_coverage_and_concentration() {
    let train = ids("the cat sat on the mat and the dog sat on the log");
    let copied = vec![train[4..20].to_vec()];
    assert_eq!(copy_rate(&copied, &train, 8), Some(1.0));
    let fresh = vec![ids("zzzzzzzzzzzz")];
    assert_eq!(copy_rate(&fresh, &train, 8), Some(0.0));
    let half = vec![[train[0..8].to_vec(), ids("qqqqqqqq")].concat()];
    // 9 windows of 8: only the first is in train
    assert_eq!(copy_rate(&half, &train, 8), Some(1.0 / 9.0));
    assert_eq!(copy_rate(&[ids("ab")], &train, 8), None);
    let real = vec![train[0..30].to_vec()];
    assert_eq!(coverage(&real, &real, &train, 4, 10), Some(1.0));
    assert_eq!(coverage(&fresh, &real, &train, 4, 10), Some(0.0));
    // four occurrences of 2-grams: aa ×3, ab ×1
    assert_eq!(top_share(&[ids("aaaab")], 2, 1), Some(0.75));
    assert_eq!(top_share(&[ids("a")], 2, 1), None);
}
