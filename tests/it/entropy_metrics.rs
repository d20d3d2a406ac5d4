//! Self-BLEU, MAUVE-ngram, the training index and the `SampleMetrics` bundle (spec §4.3–§4.5,
//! §4.7): spec cases, a hand-computed BLEU and a brute-force BLEU.
use lab::entropy::metrics::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

fn ids(s: &str) -> Vec<u32> {
    s.bytes().map(u32::from).collect()
}

fn random_samples(
    rng: &mut ChaCha8Rng,
    n: usize,
    len: usize,
    alphabet: std::ops::Range<u32>,
) -> Vec<Vec<u32>> {
    (0..n)
        .map(|_| (0..len).map(|_| rng.gen_range(alphabet.clone())).collect())
        .collect()
}

fn counts(s: &[u32], n: usize) -> HashMap<&[u32], usize> {
    let mut c = HashMap::new();
    for g in s.windows(n) {
        *c.entry(g).or_insert(0) += 1;
    }
    c
}

/// BLEU-4 of each sample against all others, pairing samples directly.
fn brute_self_bleu(samples: &[Vec<u32>]) -> f64 {
    let mut per = Vec::new();
    for (i, s) in samples.iter().enumerate().filter(|(_, s)| s.len() >= 4) {
        let others: Vec<&Vec<u32>> = samples
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|x| x.1)
            .collect();
        let mut log_p = 0.0;
        for n in 1..=4 {
            let total = s.len() - n + 1;
            let clipped: usize = counts(s, n)
                .iter()
                .map(|(g, &c)| {
                    c.min(
                        others
                            .iter()
                            .map(|o| counts(o, n).get(g).copied().unwrap_or(0))
                            .max()
                            .unwrap_or(0),
                    )
                })
                .sum();
            log_p += if clipped > 0 {
                (clipped as f64 / total as f64).ln()
            } else {
                (0.1 / (total as f64 + 0.1)).ln()
            };
        }
        let c = s.len() as i64;
        let r = others
            .iter()
            .map(|o| o.len() as i64)
            .min_by_key(|&r| ((r - c).abs(), r))
            .unwrap();
        let bp = if c > r {
            1.0
        } else {
            (1.0 - r as f64 / c as f64).exp()
        };
        per.push(bp * (log_p / 4.0).exp());
    }
    per.iter().sum::<f64>() / per.len() as f64
}

#[test]
fn self_bleu_of_identical_samples_is_one_and_matches_hand_and_brute_force() {
    let same = vec![ids("the cat sat"); 5];
    assert!((self_bleu4(&same).unwrap() - 1.0).abs() < 1e-15);
    // "abcd" against "abce": precisions 3/4, 2/3, 1/2 and the smoothed 0.1/1.1, no penalty
    let want = (0.75f64 * (2.0 / 3.0) * 0.5 * (0.1 / 1.1)).powf(0.25);
    let got = self_bleu4(&[ids("abcd"), ids("abce")]).unwrap();
    assert!((got - want).abs() < 1e-15, "{got} vs {want}");
    // brevity penalty from the closest other length: "abcd" vs "abcdxy" gives exp(1 − 6/4)
    let bp = (1.0f64 - 1.5).exp();
    let got = self_bleu4(&[ids("abcd"), ids("abcdxy")]).unwrap();
    let long = ((4.0f64 / 6.0) * (3.0 / 5.0) * (2.0 / 4.0) * (1.0 / 3.0)).powf(0.25);
    assert!((got - 0.5 * (bp + long)).abs() < 1e-15, "{got}");
    assert_eq!(self_bleu4(&[ids("abcd")]), None);
    assert_eq!(self_bleu4(&[ids("ab"), ids("ab")]), None);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..20 {
        let n = rng.gen_range(2..8);
        let samples: Vec<Vec<u32>> = (0..n)
            .map(|_| {
                (0..rng.gen_range(0..25))
                    .map(|_| rng.gen_range(0..3))
                    .collect()
            })
            .collect();
        if samples.iter().all(|s| s.len() < 4) {
            continue;
        }
        let (got, want) = (self_bleu4(&samples).unwrap(), brute_self_bleu(&samples));
        assert!((got - want).abs() < 1e-12, "{got} vs {want} on {samples:?}");
    }
}

#[test]
fn mauve_ngram_separates_identical_from_disjoint_sets() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let real = random_samples(&mut rng, 40, 80, 0..6);
    let same = mauve_ngram(&real, &real, 1).unwrap();
    assert!(same >= 0.99, "{same}");
    let other = random_samples(&mut rng, 40, 80, 0..6);
    let similar = mauve_ngram(&other, &real, 1).unwrap();
    let disjoint = random_samples(&mut rng, 40, 80, 100..106);
    let far = mauve_ngram(&disjoint, &real, 1).unwrap();
    assert!(far <= 0.05, "{far}");
    assert!(similar > far, "{similar} vs {far}");
    assert_eq!(mauve_ngram(&disjoint, &real, 1), Some(far), "seeded");
    assert!((mauve_from_histograms(&[0.3, 0.7], &[0.3, 0.7]) - 1.0).abs() < 1e-12);
    assert_eq!(mauve_ngram(&[], &real, 1), None);
}

#[test]
fn copy_rate_is_one_for_training_text_and_zero_off_vocabulary() {
    let text = "It was the best of times, it was the worst of times, it was the age of wisdom.";
    let train = ids(text);
    let index = TrainIndex::new(&train);
    assert_eq!(index.copy_rate(&[train[5..60].to_vec()]), Some(1.0));
    assert_eq!(index.copy_rate(&[vec![9999; 40]]), Some(0.0));
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    assert_eq!(
        index.copy_rate(&random_samples(&mut rng, 3, 50, 500..520)),
        Some(0.0)
    );
    // half copied: the 40-token sample has 9 windows, the first 9 − 8 = 1 lies in train
    let half = [train[0..32].to_vec(), vec![7; 8]].concat();
    assert_eq!(index.copy_rate(&[half]), Some(1.0 / 9.0));
    assert_eq!(index.copy_rate(&[train[..31].to_vec()]), None);
    let distinct: std::collections::HashSet<&[u32]> = train.windows(4).collect();
    assert_eq!(
        index.top_ngrams().len(),
        distinct.len(),
        "fewer than 1,000: all of them"
    );
    // count 3 is the most, shared by several; the smallest ids win (the space is 32)
    assert_eq!(index.top_ngrams()[0], ids(" of "));
}

const SPEC_COLUMNS: &str = "step,epoch,tokens_seen,wall_s,lr_eff,
train_loss,train_fit_loss,val_loss,val_ppl,tf_entropy_train,tf_entropy_val,overconf_gap_val,
fr_entropy_t1,fr_nll_t1,fr_entropy_greedy,top1_mass_fr,gen_ref_nll_t1,rev_kl_proxy,
uni_entropy_gen,uni_entropy_data,bi_cond_entropy_gen,bi_cond_entropy_data,
kl_uni_fwd,kl_uni_rev,kl_bi_fwd,kl_bi_rev,js_uni,
distinct_1,distinct_2,distinct_3,distinct_4,distinct_4_greedy,
seq_rep_1_t1,seq_rep_4_t1,seq_rep_4_greedy,rep_16,rep_64,wrep_64,hits_at_1,
loop_frac_greedy,loop_period_greedy,loop_frac_t1,longest_repeat_t1,longest_repeat_greedy,
copy_rate_32_t1,copy_rate_32_greedy,coverage_4,top10_share_4,self_bleu4,mauve_ngram,
loss_jitter";

#[test]
fn the_bundle_fills_its_spec_columns_in_order() {
    let spec: Vec<&str> = SPEC_COLUMNS.split([',', '\n']).collect();
    let cols = SampleMetrics::columns();
    let pos: Vec<usize> = cols
        .iter()
        .map(|c| {
            spec.iter()
                .position(|s| s == c)
                .unwrap_or_else(|| panic!("{c} not in §4.7"))
        })
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "order {cols:?}");
    assert_eq!(cols.len(), 28);
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let train = random_samples(&mut rng, 1, 3000, 0..5).remove(0);
    let t1: Vec<Vec<u32>> = (0..8)
        .map(|i| train[i * 100..i * 100 + 64].to_vec())
        .collect();
    let real = random_samples(&mut rng, 8, 64, 0..5);
    let index = TrainIndex::new(&train);
    let off = sample_metrics(&t1, &[], &real, &index, 5, &MetricOptions::default());
    assert_eq!(off.values().len(), cols.len());
    assert_eq!(off.copy_rate_32_t1, Some(1.0));
    assert_eq!(off.distinct_2, distinct_n(&t1, 2));
    assert_eq!(off.dist, dist_stats(&t1, &real, 5));
    assert_eq!(off.get("coverage_4"), off.coverage_4);
    for c in [
        "distinct_4_greedy",
        "loop_frac_greedy",
        "copy_rate_32_greedy",
        "self_bleu4",
        "mauve_ngram",
    ] {
        assert_eq!(off.get(c), None, "{c}");
    }
    let opts = MetricOptions {
        self_bleu: true,
        mauve: true,
        mauve_seed: 3,
    };
    let greedy = vec![[1, 2, 3].repeat(4)];
    let on = sample_metrics(&t1, &greedy, &real, &index, 5, &opts);
    assert_eq!(on.self_bleu4, self_bleu4(&t1));
    assert_eq!(on.mauve_ngram, mauve_ngram(&t1, &real, 3));
    assert_eq!(
        (on.loop_frac_greedy, on.loop_period_greedy),
        (Some(1.0), Some(3.0))
    );
    assert_eq!(on.longest_repeat_greedy, Some(9.0));
}
