//! The exact n-gram model against the spec's reference numbers (§2.6, KJV) and the theory's
//! exact facts (E5, E7) on a Markov source with a known entropy rate.
use crate::data_common::kjv_text;
use lab::data::markov::{MarkovConfig, MarkovSource};
use lab::data::tokenizer::{Tokenizer, TokenizerConfig};
use lab::entropy::ngram::NGram;

/// Spec §2.6, KJV: k, distinct contexts, H_k(train), valCE(add-0.05), unseen fraction.
const KJV: [(usize, usize, f64, f64, f64); 6] = [
    (0, 1, 3.0199, 3.0238, 0.0),
    (1, 63, 2.2508, 2.3228, 0.0),
    (2, 1140, 1.7169, 1.8593, 0.0001),
    (4, 41736, 1.0820, 1.3702, 0.0077),
    (8, 727936, 0.6022, 2.1635, 0.2270),
    (12, 1889362, 0.2686, 3.3132, 0.6353),
];

#[test]
fn kjv_reproduces_the_spec_reference_table() {
    let text = kjv_text();
    let cfg: TokenizerConfig = serde_yaml_ng::from_str("kind: char").unwrap();
    let tok = Tokenizer::build(&cfg, &text).unwrap();
    let ids = tok.encode(&text).unwrap();
    assert_eq!((ids.len(), tok.vocab_size()), (4_137_847, 63));
    let split = ids.len() * 9 / 10;
    assert_eq!(split, 3_724_062);
    let (train, val) = ids.split_at(split);
    for (k, contexts, h_train, val_ce, unseen) in KJV {
        let m = NGram::fit(train, k, 63).unwrap();
        let v = m.held_out(val, 0.05).unwrap();
        assert_eq!(m.num_contexts(), contexts, "k = {k}: distinct contexts");
        assert!(
            (m.train_entropy() - h_train).abs() < 1e-4,
            "k = {k}: H_k {}",
            m.train_entropy()
        );
        assert!(
            (v.cross_entropy - val_ce).abs() < 1e-4,
            "k = {k}: valCE {}",
            v.cross_entropy
        );
        assert!(
            (v.unseen_fraction - unseen).abs() < 1e-4,
            "k = {k}: unseen {}",
            v.unseen_fraction
        );
        assert_eq!(v.positions, (val.len() - k) as u64);
    }
}

#[test]
fn markov_plug_in_entropy_falls_below_the_true_rate_and_with_the_order() {
    let cfg = MarkovConfig {
        vocab: 8,
        order: 2,
        alpha: 0.5,
        train_len: 5_000,
        val_len: 5_000,
        seed: 3,
    };
    let source = MarkovSource::new(&cfg).unwrap();
    let h = source.entropy_rate().unwrap();
    let (train_text, val_text) = source.generate(&cfg);
    let to_ids = |s: &str| s.bytes().map(|b| u32::from(b - b'a')).collect::<Vec<u32>>();
    let (train, val) = (to_ids(&train_text), to_ids(&val_text));
    assert!(train.iter().chain(&val).all(|&t| t < 8));
    let mut last = f64::INFINITY;
    for k in 0..=6 {
        let m = NGram::fit(&train, k, 8).unwrap();
        let hk = m.train_entropy();
        // E7: conditioning on more never raises the plug-in entropy... on the same positions;
        // with k more positions dropped the sum can move by at most k·ln V / N.
        assert!(
            hk <= last + 6.0 * 8f64.ln() / train.len() as f64,
            "k = {k}: {hk} > {last}"
        );
        last = hk;
        if k == 2 {
            let ce = m.held_out(&val, 0.05).unwrap().cross_entropy;
            assert!(
                hk < h && h < ce,
                "true order: H_2 {hk} < h {h} < valCE {ce}"
            );
            // Miller–Madow: about 64 contexts × (8 − 1) / (2 · 5000) ≈ 0.045 nats below h.
            assert!((0.015..0.09).contains(&(h - hk)), "plug-in bias {}", h - hk);
        }
    }
    assert!(last < h - 0.3, "k = 6 memorises: H_6 {last} vs h {h}");
}

#[test]
fn bad_inputs_are_refused() {
    assert!(NGram::fit(&[0, 1, 5], 1, 4).is_err());
    assert!(NGram::fit(&[0, 1], 40, 65).is_err());
    let m = NGram::fit(&[0, 1, 0, 1], 1, 2).unwrap();
    assert_eq!(m.train_entropy(), 0.0);
    assert!(m.held_out(&[0, 1], 0.0).is_err());
    assert!(m.held_out(&[0, 2], 0.1).is_err());
    let v = m.held_out(&[0, 1, 1], 1.0).unwrap();
    // contexts 0 → 1 (n(0)=2, n(0,1)=2) and 1 → 1 (n(1)=1, n(1,1)=0): add-1 over V = 2
    let want = -((3.0f64 / 4.0).ln() + (1.0f64 / 3.0).ln()) / 2.0;
    assert!((v.cross_entropy - want).abs() < 1e-15);
    assert_eq!(v.unseen_fraction, 0.0);
}
