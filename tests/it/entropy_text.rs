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
fn terminal_loops_compare_the_last_three_periods_with_the_one_before() {
    // s[i] = s[i − P] for each of the last 3·P positions: four copies of the period in all
    assert_eq!(terminal_loop(&ids("xyzabababab")), Some(2));
    assert_eq!(
        terminal_loop(&ids("xyzababab")),
        None,
        "three copies are not a loop"
    );
    assert_eq!(terminal_loop(&ids("qaaaa")), Some(1));
    assert_eq!(terminal_loop(&ids("aaa")), None);
    assert_eq!(terminal_loop(&ids("abcabcabcabc")), Some(3));
    assert_eq!(terminal_loop(&ids("abcabcabc")), None);
    assert_eq!(terminal_loop(&ids("abcdefg")), None);
    // the smallest period wins: "abab…" is also periodic with 4 and 6
    assert_eq!(terminal_loop(&ids("ab").repeat(12)), Some(2));
    // period 64 needs 256 tokens: the final evaluation's sample length
    let p64: Vec<u32> = (0..256).map(|i| (i % 64) as u32).collect();
    assert_eq!(terminal_loop(&p64), Some(64));
    assert_eq!(terminal_loop(&p64[1..]), None);
    let (frac, period) = loops(&[ids("zabababab"), ids("abcabcabcabc"), ids("abcd")]);
    assert_eq!(frac, Some(2.0 / 3.0));
    assert_eq!(period, Some(2.5));
    assert_eq!(loops(&[ids("abcd")]), (Some(0.0), None));
    assert_eq!(loops(&[]), (None, None));
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

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn entropy_of_logits_is_stable_and_exact_on_the_spec_cases() {
    for v in [1usize, 2, 65, 1000] {
        let h = entropy_of_logits(&vec![0.3; v]);
        assert!(close(h, (v as f64).ln(), 1e-12), "V={v}: {h}");
    }
    assert_eq!(
        entropy_of_logits(&[0.0, f64::NEG_INFINITY, f64::NEG_INFINITY]),
        0.0
    );
    let h = entropy_of_logits(&[1e4, 0.0]);
    assert!(h.is_finite() && h < 1e-10, "{h}");
    let h = entropy_of_logits(&[-1e4, 1e4, 0.0]);
    assert!(h.is_finite() && h < 1e-10, "{h}");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..100 {
        let z: Vec<f64> = (0..rng.gen_range(1..50))
            .map(|_| rng.gen_range(-8.0..8.0))
            .collect();
        let p = lab::entropy::toys::softmax(&z);
        let brute: f64 = -p
            .iter()
            .filter(|&&x| x > 0.0)
            .map(|x| x * x.ln())
            .sum::<f64>();
        let h = entropy_of_logits(&z);
        assert!(close(h, brute, 1e-12), "{h} vs {brute}");
        let shifted: Vec<f64> = z.iter().map(|x| x + 123.25).collect();
        assert!(close(entropy_of_logits(&shifted), h, 1e-12));
    }
}

#[test]
fn kl_is_zero_on_itself_nonnegative_and_matches_the_spec() {
    assert!(close(kl(&[0.5, 0.5], &[0.9, 0.1]), 0.510826, 1e-6));
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for _ in 0..1000 {
        let k = rng.gen_range(1..20);
        let draw = |rng: &mut ChaCha8Rng| -> Vec<f64> {
            let v: Vec<f64> = (0..k).map(|_| rng.gen_range(0.0..1.0)).collect();
            let s: f64 = v.iter().sum();
            v.iter().map(|x| x / s).collect()
        };
        let (p, q) = (draw(&mut rng), draw(&mut rng));
        assert!(kl(&p, &q) >= 0.0);
        assert!(kl(&p, &p).abs() < 1e-15);
    }
}

#[test]
fn dist_stats_reproduce_the_worked_example_and_brute_force_bigrams() {
    // data counts [3, 1], generated [4, 0]
    let d = dist_stats(&[vec![0, 0, 0, 0]], &[vec![0, 1, 0, 0]], 2);
    assert!(close(d.kl_uni_fwd.unwrap(), 0.153664, 5e-7));
    assert!(close(d.kl_uni_rev.unwrap(), 0.116322, 5e-7));
    assert!(close(d.js_uni.unwrap(), 0.032429, 5e-7));
    let h = |p: &[f64]| -p.iter().map(|x| x * x.ln()).sum::<f64>();
    assert!(close(d.uni_entropy_data.unwrap(), h(&[0.7, 0.3]), 1e-15));
    assert!(close(d.uni_entropy_gen.unwrap(), h(&[0.9, 0.1]), 1e-15));
    // bigrams of the data: 01 10 00 → cells [00, 01, 10, 11] = [1, 1, 1, 0] + 0.5
    let q = smoothed(&[1, 1, 1, 0], 0.5);
    let marg = [q[0] + q[1], q[2] + q[3]];
    let want = h(&q) - h(&marg);
    assert!(close(d.bi_cond_entropy_data.unwrap(), want, 1e-14));
    let g = smoothed(&[3, 0, 0, 0], 0.5);
    assert!(close(d.kl_bi_fwd.unwrap(), kl(&q, &g), 1e-14));
    assert!(close(d.kl_bi_rev.unwrap(), kl(&g, &q), 1e-14));
    // a large vocabulary leaves the bigram columns empty; an empty side empties its columns
    let big = dist_stats(&[vec![0, 1]], &[vec![1, 0]], BIGRAM_MAX_VOCAB + 1);
    assert!(big.bi_cond_entropy_gen.is_none() && big.kl_bi_fwd.is_none());
    assert!(big.kl_uni_fwd.is_some());
    let none = dist_stats(&[], &[vec![1, 0]], 4);
    assert_eq!((none.uni_entropy_gen, none.kl_uni_fwd), (None, None));
    assert!(none.uni_entropy_data.is_some());
}

#[test]
fn the_spec_cases_of_distinct_seq_rep_and_words() {
    let abab = vec![ids("abab")];
    assert_eq!(distinct_n(&abab, 1), Some(0.5));
    assert!(close(distinct_n(&abab, 2).unwrap(), 2.0 / 3.0, 1e-15));
    assert_eq!(distinct_n(&abab, 3), Some(1.0));
    assert_eq!(distinct_n(&[ids("ab"), ids("ab")], 1), Some(0.5));
    assert!(close(seq_rep_n(&abab, 2).unwrap(), 1.0 / 3.0, 1e-15));
    assert_eq!(seq_rep_n(&[ids("abcdefgh")], 4), Some(0.0));
    let w = word_metrics(&["the cat the cat".to_string()]);
    assert_eq!(w.w_distinct_1, Some(0.5));
    assert!(close(w.w_distinct_2.unwrap(), 2.0 / 3.0, 1e-15));
    assert_eq!(w.w_seq_rep_4, Some(0.0));
    // whitespace of any kind separates words, across samples ids are shared
    assert_eq!(
        word_ids(&["a  b\tc".into(), "c a".into()]),
        vec![vec![0, 1, 2], vec![2, 0]]
    );
}

#[test]
fn zipf_slope_of_an_exact_power_law_is_one() {
    // counts 12/r for ranks 1..4: ln f = ln 12 − ln r
    let text: Vec<String> = [("a", 12), ("b", 6), ("c", 4), ("d", 3)]
        .iter()
        .map(|(w, n)| vec![*w; *n].join(" "))
        .collect();
    assert!(close(word_metrics(&text).zipf_w.unwrap(), 1.0, 1e-12));
    assert_eq!(zipf_w(&[vec![0, 0, 0]]), None);
}

#[test]
fn rep_and_wrep_follow_the_spec_example_and_never_cross_rows() {
    let (a, b) = (0u32, 1u32);
    let rows = vec![(vec![b, a, a, a], vec![a, b, a, b])];
    assert_eq!(rep_metrics(&rows, 2), (Some(0.75), Some(0.5)));
    assert_eq!(hits_at_1(&rows), Some(0.25));
    // l = 1: only y_{t-1}: t1 a∈{a} yes (wrong), t2 a∈{b} no, t3 a∈{a} yes (wrong)
    assert_eq!(rep_metrics(&rows, 1), (Some(0.5), Some(0.5)));
    // a second row starts with an empty history: its first prediction is no repeat
    let two = vec![(vec![a], vec![a]), (vec![a], vec![b])];
    assert_eq!(rep_metrics(&two, 4), (Some(0.0), Some(0.0)));
    let mut tally = RepTally::new(&[16, 64]);
    tally.add_row(&[b, a, a, a], &[a, b, a, b]);
    assert_eq!((tally.rep(16), tally.wrep(64)), (Some(0.75), Some(0.5)));
    assert_eq!((tally.rep(3), tally.positions()), (None, 4));
    assert_eq!(rep_metrics(&[], 2), (None, None));
}

#[test]
fn spec_loops_and_suffix_array_repeats() {
    assert_eq!(terminal_loop(&ids("xyzabcabcabcabc")), Some(3));
    assert_eq!(terminal_loop(&ids("aaaa")), Some(1));
    assert_eq!(terminal_loop(&ids("abcdefg")), None);
    use lab::entropy::metrics::tokens::{longest_repeat_dp, longest_repeat_sa};
    assert_eq!(longest_repeat_sa(&ids("banana")), 3);
    assert_eq!(longest_repeat_sa(&ids("abcd")), 0);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..30 {
        let k = rng.gen_range(1..5);
        let s: Vec<u32> = (0..rng.gen_range(0..900))
            .map(|_| rng.gen_range(0..k))
            .collect();
        assert_eq!(
            longest_repeat_sa(&s),
            longest_repeat_dp(&s),
            "len {}",
            s.len()
        );
    }
    let long: Vec<u32> = (0..600).map(|i| (i % 7) as u32).collect();
    assert_eq!(longest_repeat(&long), 593);
}
