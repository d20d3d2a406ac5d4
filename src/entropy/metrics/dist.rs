//! Entropy from logits (§4.1) and the unigram/bigram comparisons of generated against real text
//! (§4.2): add-0.5 smoothed tables over the full vocabulary, plug-in entropies, KLs and JS.
use crate::entropy::toys::kl;

/// Largest vocabulary for which the |V|² bigram columns are computed (§4.2).
pub const BIGRAM_MAX_VOCAB: usize = 512;

/// `H(softmax z) = ln Σ exp(z) − Σ softmax(z)·z` in nats, in the stable log-sum-exp form: with
/// `m = max z` and `e_i = exp(z_i − m)`, `H = ln Σe − Σ e_i (z_i − m) / Σe`. Logits of `−∞`
/// (masked) count as probability 0; empty logits give 0.
pub fn entropy_of_logits(z: &[f64]) -> f64 {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return 0.0;
    }
    let (mut sum, mut dot) = (0.0, 0.0);
    for &x in z {
        let e = (x - m).exp();
        if e > 0.0 {
            sum += e;
            dot += e * (x - m);
        }
    }
    (sum.ln() - dot / sum).max(0.0)
}

/// Add-`alpha` smoothed distribution from the counts of every cell (§4.2 uses alpha 0.5).
pub fn smoothed(counts: &[u64], alpha: f64) -> Vec<f64> {
    let total: f64 = counts.iter().map(|&c| c as f64 + alpha).sum();
    counts.iter().map(|&c| (c as f64 + alpha) / total).collect()
}

/// Jensen–Shannon divergence (nats) of two distributions on the same cells.
pub fn js(p: &[f64], q: &[f64]) -> f64 {
    assert_eq!(p.len(), q.len(), "js: distributions on different cells");
    let m: Vec<f64> = p.iter().zip(q).map(|(a, b)| 0.5 * (a + b)).collect();
    0.5 * kl(p, &m) + 0.5 * kl(q, &m)
}

/// The §4.2 columns. `gen` is the T = 1 samples, `data` the real continuations. A column is
/// None when a side it needs has no unigram (bigram) at all, and the bigram columns are None
/// when the vocabulary exceeds [`BIGRAM_MAX_VOCAB`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DistStats {
    pub uni_entropy_gen: Option<f64>,
    pub uni_entropy_data: Option<f64>,
    pub bi_cond_entropy_gen: Option<f64>,
    pub bi_cond_entropy_data: Option<f64>,
    /// `KL(data ‖ gen)` on the smoothed unigram tables.
    pub kl_uni_fwd: Option<f64>,
    /// `KL(gen ‖ data)`.
    pub kl_uni_rev: Option<f64>,
    pub kl_bi_fwd: Option<f64>,
    pub kl_bi_rev: Option<f64>,
    pub js_uni: Option<f64>,
}

impl DistStats {
    pub const COLUMNS: [&'static str; 9] = [
        "uni_entropy_gen",
        "uni_entropy_data",
        "bi_cond_entropy_gen",
        "bi_cond_entropy_data",
        "kl_uni_fwd",
        "kl_uni_rev",
        "kl_bi_fwd",
        "kl_bi_rev",
        "js_uni",
    ];

    /// Values in the order of [`DistStats::COLUMNS`].
    pub fn values(&self) -> [Option<f64>; 9] {
        [
            self.uni_entropy_gen,
            self.uni_entropy_data,
            self.bi_cond_entropy_gen,
            self.bi_cond_entropy_data,
            self.kl_uni_fwd,
            self.kl_uni_rev,
            self.kl_bi_fwd,
            self.kl_bi_rev,
            self.js_uni,
        ]
    }
}

/// Unigram and (within-sample) bigram counts; ids at or above `vocab` widen the table.
fn tables(seqs: &[Vec<u32>], vocab: usize, bigrams: bool) -> (Vec<u64>, Option<Vec<u64>>) {
    let mut uni = vec![0u64; vocab];
    let mut bi = bigrams.then(|| vec![0u64; vocab * vocab]);
    for s in seqs {
        for &x in s {
            uni[x as usize] += 1;
        }
        if let Some(bi) = bi.as_mut() {
            for w in s.windows(2) {
                bi[w[0] as usize * vocab + w[1] as usize] += 1;
            }
        }
    }
    (uni, bi)
}

/// `Σ_a q(a) H(q(·|a))` of a joint table over `vocab × vocab`, `q(a)` its row marginal.
fn cond_entropy(joint: &[f64], vocab: usize) -> f64 {
    joint
        .chunks(vocab)
        .map(|row| {
            let qa: f64 = row.iter().sum();
            row.iter()
                .filter(|&&q| q > 0.0)
                .map(|&q| q * (qa / q).ln())
                .sum::<f64>()
        })
        .sum()
}

/// The §4.2 statistics with add-0.5 smoothing on every cell of the |V| (|V|²) table. `vocab` is
/// widened to cover the largest id present.
pub fn dist_stats(gen: &[Vec<u32>], data: &[Vec<u32>], vocab: usize) -> DistStats {
    let top = gen
        .iter()
        .chain(data)
        .flatten()
        .map(|&x| x as usize + 1)
        .max();
    let vocab = vocab.max(top.unwrap_or(0)).max(1);
    let bigrams = vocab <= BIGRAM_MAX_VOCAB;
    let (ug, bg) = tables(gen, vocab, bigrams);
    let (ud, bd) = tables(data, vocab, bigrams);
    let some = |c: &[u64]| c.iter().any(|&x| x > 0);
    let (pg, pd) = (smoothed(&ug, 0.5), smoothed(&ud, 0.5));
    let (has_g, has_d) = (some(&ug), some(&ud));
    let mut out = DistStats {
        uni_entropy_gen: has_g.then(|| super::entropy(&pg)),
        uni_entropy_data: has_d.then(|| super::entropy(&pd)),
        ..DistStats::default()
    };
    if has_g && has_d {
        out.kl_uni_fwd = Some(kl(&pd, &pg));
        out.kl_uni_rev = Some(kl(&pg, &pd));
        out.js_uni = Some(js(&pd, &pg));
    }
    if let (Some(bg), Some(bd)) = (bg, bd) {
        let (has_g, has_d) = (some(&bg), some(&bd));
        let (qg, qd) = (smoothed(&bg, 0.5), smoothed(&bd, 0.5));
        out.bi_cond_entropy_gen = has_g.then(|| cond_entropy(&qg, vocab));
        out.bi_cond_entropy_data = has_d.then(|| cond_entropy(&qd, vocab));
        if has_g && has_d {
            out.kl_bi_fwd = Some(kl(&qd, &qg));
            out.kl_bi_rev = Some(kl(&qg, &qd));
        }
    }
    out
}
