//! The exact order-k n-gram model: counts of (context, next token) in the training stream. It is
//! the closed-form stationary point of maximum likelihood with a free logit per context
//! (spec §2.2, E3), so its numbers are what a high-capacity model trained to convergence tends to.
//!
//! - `H_k(train)` (E5): `−(1/(N−k)) Σ_{t≥k} ln(n(c_t, y_t) / n(c_t))`, the empirical conditional
//!   entropy over every training position with a full k-token context.
//! - `valCE` with add-δ smoothing over all `V` symbols: `−ln((n(c,x) + δ) / (n(c) + δV))`, an
//!   unseen context scored at `ln V`, averaged over the held-out positions k.. with contexts
//!   taken from the held-out stream only (§2.6).
//!
//! Pure Rust (no libtorch). Contexts are packed base-V into a `u128`, so `V^(k+1)` must fit.
use anyhow::{bail, Result};
use rustc_hash::FxHashMap as HashMap;

/// Counts of an order-`k` model over a vocabulary of `vocab` ids.
pub struct NGram {
    pub order: usize,
    pub vocab: usize,
    /// `n(c)` by packed context.
    context_counts: HashMap<u128, u64>,
    /// `n(c, x)` by packed (context, next).
    pair_counts: HashMap<u128, u64>,
    /// Training positions with a full context (`N − k`).
    positions: u64,
}

/// What the model says about a held-out stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldOut {
    /// Mean add-δ cross-entropy, nats per token.
    pub cross_entropy: f64,
    /// Fraction of scored positions whose context never occurred in training.
    pub unseen_fraction: f64,
    /// Positions scored.
    pub positions: u64,
}

/// `c · V + x` with an overflow check.
fn push(packed: u128, x: u32, vocab: u128) -> Option<u128> {
    packed.checked_mul(vocab)?.checked_add(u128::from(x))
}

/// A context packed base-V, oldest token first (the caller's order keeps `V^k` in range).
fn pack(context: &[u32], vocab: u128) -> u128 {
    context
        .iter()
        .fold(0u128, |acc, &t| acc * vocab + u128::from(t))
}

impl NGram {
    /// Count every (k-token context, next token) pair of `tokens` (ids below `vocab`).
    pub fn fit(tokens: &[u32], order: usize, vocab: usize) -> Result<NGram> {
        if vocab < 1 {
            bail!("n-gram: the vocabulary is empty");
        }
        let v = vocab as u128;
        if (0..=order)
            .try_fold(1u128, |acc, _| acc.checked_mul(v))
            .is_none()
        {
            bail!("n-gram: order {order} with {vocab} symbols is too large (V^(k+1) must fit in 128 bits)");
        }
        if let Some(bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
            bail!("n-gram: token id {bad} is outside the vocabulary of {vocab}");
        }
        let mut model = NGram {
            order,
            vocab,
            context_counts: HashMap::default(),
            pair_counts: HashMap::default(),
            positions: 0,
        };
        for (c, x) in contexts(tokens, order, v) {
            *model.context_counts.entry(c).or_default() += 1;
            *model.pair_counts.entry(c * v + u128::from(x)).or_default() += 1;
            model.positions += 1;
        }
        Ok(model)
    }

    /// Distinct contexts seen in training.
    pub fn num_contexts(&self) -> usize {
        self.context_counts.len()
    }

    /// Training positions with a full context.
    pub fn positions(&self) -> u64 {
        self.positions
    }

    /// `H_k(train)` (E5), nats; NaN when no position has a full context.
    pub fn train_entropy(&self) -> f64 {
        let v = self.vocab as u128;
        let sum: f64 = self
            .pair_counts
            .iter()
            .map(|(&cx, &n)| {
                let nc = self.context_counts[&(cx / v)] as f64;
                n as f64 * (n as f64 / nc).ln()
            })
            .sum();
        // Every context followed by one symbol only gives sum = 0: report 0, not -0.
        let h = -sum / self.positions as f64;
        if h == 0.0 {
            0.0
        } else {
            h
        }
    }

    /// `n(c)` and `n(c, x)` for a packed context.
    pub fn counts(&self, context: u128, next: u32) -> (u64, u64) {
        let nc = self.context_counts.get(&context).copied().unwrap_or(0);
        let v = self.vocab as u128;
        let ncx = self
            .pair_counts
            .get(&(context * v + u128::from(next)))
            .copied()
            .unwrap_or(0);
        (nc, ncx)
    }

    /// Add-`delta` cross-entropy of `tokens` with contexts from `tokens` itself (module doc).
    pub fn held_out(&self, tokens: &[u32], delta: f64) -> Result<HeldOut> {
        if !(delta > 0.0 && delta.is_finite()) {
            bail!("n-gram: add-delta smoothing needs delta > 0, got {delta}");
        }
        if let Some(bad) = tokens.iter().find(|&&t| t as usize >= self.vocab) {
            bail!(
                "n-gram: token id {bad} is outside the vocabulary of {}",
                self.vocab
            );
        }
        let v = self.vocab as f64;
        let (mut sum, mut unseen, mut n) = (0.0, 0u64, 0u64);
        for (c, x) in contexts(tokens, self.order, self.vocab as u128) {
            let (nc, ncx) = self.counts(c, x);
            sum += if nc == 0 {
                unseen += 1;
                v.ln()
            } else {
                -((ncx as f64 + delta) / (nc as f64 + delta * v)).ln()
            };
            n += 1;
        }
        Ok(HeldOut {
            cross_entropy: sum / n as f64,
            unseen_fraction: unseen as f64 / n as f64,
            positions: n,
        })
    }
}

impl NGram {
    /// The next-token counts `n(c, ·)` of the longest suffix of `history` (at most `order`
    /// tokens) that was seen in training: the exact model, backing off to shorter contexts only
    /// when a prompt's context never occurred (order 0 always has counts once fitted on data).
    fn next_counts(&self, history: &[u32]) -> Vec<u64> {
        let v = self.vocab as u128;
        for k in (0..=self.order.min(history.len())).rev() {
            let packed = pack(&history[history.len() - k..], v);
            // Only the full-order table is kept; shorter contexts are summed from it.
            let counts = self.suffix_counts(packed, k);
            if counts.iter().any(|&c| c > 0) {
                return counts;
            }
        }
        vec![0; self.vocab]
    }

    /// `n(c', x)` summed over the full-order contexts ending in the `k`-token suffix `packed`.
    fn suffix_counts(&self, packed: u128, k: usize) -> Vec<u64> {
        let v = self.vocab as u128;
        let modulus = (0..k).fold(1u128, |acc, _| acc * v); // V^k
        let mut out = vec![0u64; self.vocab];
        if k == self.order {
            for (x, slot) in out.iter_mut().enumerate() {
                *slot = self.counts(packed, x as u32).1;
            }
        } else {
            for (&cx, &n) in &self.pair_counts {
                if (cx / v) % modulus == packed {
                    out[(cx % v) as usize] += n;
                }
            }
        }
        out
    }

    /// Continue `prompt` by `len` tokens: ancestral sampling at temperature 1 with uniforms
    /// from `rng`, or greedy (the most frequent continuation, ties to the smaller id).
    pub fn sample(
        &self,
        prompt: &[u32],
        len: usize,
        greedy: bool,
        rng: &mut impl rand::Rng,
    ) -> Vec<u32> {
        let mut seq = prompt.to_vec();
        for _ in 0..len {
            let counts = self.next_counts(&seq);
            let total: u64 = counts.iter().sum();
            let next = if greedy {
                let best = counts.iter().copied().max().unwrap_or(0);
                counts.iter().position(|&c| c == best).unwrap_or(0)
            } else {
                let mut u = rng.gen_range(0..total.max(1));
                counts
                    .iter()
                    .position(|&c| {
                        if u < c {
                            true
                        } else {
                            u -= c;
                            false
                        }
                    })
                    .unwrap_or(0)
            };
            seq.push(next as u32);
        }
        seq.split_off(prompt.len())
    }
}

/// `(packed context, next token)` for every position `t ≥ k` of `tokens`.
fn contexts(tokens: &[u32], k: usize, v: u128) -> impl Iterator<Item = (u128, u32)> + '_ {
    // The packed context of the k tokens before t is rolled forward: drop the oldest digit.
    let top = (0..k.saturating_sub(1)).fold(1u128, |acc, _| acc * v); // V^(k-1)
    let mut packed = 0u128;
    tokens.iter().enumerate().filter_map(move |(t, &x)| {
        let out = (t >= k).then_some((packed, x));
        if k > 0 {
            if t >= k {
                packed %= top; // drop the oldest of the k digits
            }
            packed = push(packed, x, v).expect("checked by the caller");
        }
        out
    })
}

/// The reference model of spec §3.6: orders `0..=max_order` mixed with weights ∝ `2^k` among the
/// orders whose context was seen in training, each order add-`delta` smoothed over all `V`
/// symbols. Order 0 is always seen, so every context gets a proper distribution.
pub struct Interpolated {
    orders: Vec<NGram>,
    delta: f64,
}

impl Interpolated {
    /// Fit orders `0..=max_order` on `train` (§3.6 uses 5 and delta 0.01).
    pub fn fit(train: &[u32], max_order: usize, vocab: usize, delta: f64) -> Result<Interpolated> {
        if !(delta > 0.0 && delta.is_finite()) {
            bail!("interpolated n-gram: delta must be > 0, got {delta}");
        }
        let orders = (0..=max_order)
            .map(|k| NGram::fit(train, k, vocab))
            .collect::<Result<Vec<_>>>()?;
        Ok(Interpolated { orders, delta })
    }

    /// `p(next | history)`, using the last `k` tokens of `history` for order `k` (orders with a
    /// longer context than the history are left out).
    pub fn prob(&self, history: &[u32], next: u32) -> f64 {
        let vocab = self.orders[0].vocab;
        let v = vocab as f64;
        let (mut num, mut den) = (0.0, 0.0);
        for m in self.orders.iter().filter(|m| m.order <= history.len()) {
            let ctx = &history[history.len() - m.order..];
            let packed = pack(ctx, vocab as u128);
            let (nc, ncx) = m.counts(packed, next);
            if nc == 0 {
                continue;
            }
            let w = (m.order as f64).exp2();
            num += w * (ncx as f64 + self.delta) / (nc as f64 + self.delta * v);
            den += w;
        }
        num / den
    }
}
