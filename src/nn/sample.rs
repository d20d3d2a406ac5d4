//! Picking the next token from logits `(B, V)`: greedy, or temperature / top-k / top-p followed
//! by inverse-CDF sampling with uniforms drawn from a caller-owned `ChaCha8Rng` (one per row,
//! in row order), so samples never touch torch's global generator and repeat exactly.
use crate::error::usage;
use anyhow::Result;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// The decoding rule. `temperature: 0` means greedy; `top_k`/`top_p` keep the k most likely
/// tokens (ties with the k-th are kept too) / the smallest set whose probability reaches p
/// (the most likely token always stays).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decoding {
    #[serde(default = "one")]
    pub temperature: f64,
    #[serde(default)]
    pub top_k: Option<i64>,
    #[serde(default)]
    pub top_p: Option<f64>,
}

fn one() -> f64 {
    1.0
}

impl Default for Decoding {
    fn default() -> Self {
        Decoding {
            temperature: 1.0,
            top_k: None,
            top_p: None,
        }
    }
}

/// One decoding step's choice per row: ids `(B)` i64, and their log-probabilities `(B)` under
/// the distribution sampled from (0 for greedy) and under the untempered model.
pub struct Choice {
    pub tokens: Tensor,
    pub sample_logprobs: Tensor,
    pub model_logprobs: Tensor,
    /// `(B)` f64: entropy of the untempered model distribution the choice was made from.
    pub model_entropy: Tensor,
    /// `(B)` f64: its largest probability.
    pub model_top1: Tensor,
}

impl Decoding {
    pub fn greedy() -> Self {
        Decoding {
            temperature: 0.0,
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(usage(format!(
                "temperature must be >= 0 (0 = greedy), got {}",
                self.temperature
            )));
        }
        if let Some(k) = self.top_k.filter(|k| *k < 1) {
            return Err(usage(format!("top_k must be >= 1, got {k}")));
        }
        if let Some(p) = self.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(usage(format!("top_p must be in (0, 1], got {p}")));
        }
        Ok(())
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }

    /// Logits of the distribution actually sampled from: tempered, then filtered to −∞.
    pub fn filtered_logits(&self, logits: &Tensor) -> Tensor {
        let mut z = if self.temperature == 1.0 {
            logits.shallow_clone()
        } else {
            // The row's largest logit first goes to 0, so that a tiny temperature sends the
            // others to −∞ instead of overflowing every logit to ±∞ (whose softmax is NaN).
            let top = logits.amax(-1, true); // (B, 1)
            (logits - top) / self.temperature
        }; // (B, V)
        let v = z.size()[1];
        if let Some(k) = self.top_k.filter(|k| *k < v) {
            let (top, _) = z.topk(k, -1, true, true); // (B, k)
            let kth = top.narrow(1, k - 1, 1); // (B, 1)
            z = z.masked_fill(&z.lt_tensor(&kth), f64::NEG_INFINITY);
        }
        if let Some(p) = self.top_p.filter(|p| *p < 1.0) {
            let (sorted, order) = z.sort(-1, true); // (B, V) descending
            let probs = sorted.softmax(-1, Kind::Double);
            let before = probs.cumsum(-1, Kind::Double) - &probs; // mass strictly before each
            let drop_sorted = before.ge(p); // the first token always has before = 0 < p
            let drop = drop_sorted.scatter(1, &order, &drop_sorted);
            z = z.masked_fill(&drop, f64::NEG_INFINITY);
        }
        z
    }

    /// Choose one token per row of `logits` `(B, V)`.
    pub fn choose(&self, logits: &Tensor, rng: &mut ChaCha8Rng) -> Choice {
        let z = logits.to_kind(Kind::Double);
        let model_lp = z.log_softmax(-1, Kind::Double); // (B, V)
        let model_entropy = super::loss::entropy_of_logits(&z); // (B)
        let model_top1 = model_lp.max_dim(-1, false).0.exp(); // (B)
        let (b, _) = logits.size2().expect("(B, V)");
        let (tokens, sample_lp) = if self.is_greedy() {
            let tokens = logits.argmax(-1, false); // (B)
            let zeros = Tensor::zeros([b], (Kind::Double, logits.device()));
            (tokens, zeros)
        } else {
            let lp = self
                .filtered_logits(&logits.to_kind(Kind::Double))
                .log_softmax(-1, Kind::Double);
            let tokens = inverse_cdf(&lp.exp(), rng); // (B)
            let sample_lp = lp.gather(1, &tokens.unsqueeze(1), false).squeeze_dim(1);
            (tokens, sample_lp)
        };
        let model_lp = model_lp
            .gather(1, &tokens.unsqueeze(1), false)
            .squeeze_dim(1);
        Choice {
            tokens,
            sample_logprobs: sample_lp,
            model_logprobs: model_lp,
            model_entropy,
            model_top1,
        }
    }
}

/// Sample a column per row of `probs` `(B, V)` f64: the first index whose cumulative
/// probability exceeds `u · total`, with `u` uniform in [0, 1) from `rng`. Zero-probability
/// columns are never chosen (their cumulative sum does not rise).
pub fn inverse_cdf(probs: &Tensor, rng: &mut ChaCha8Rng) -> Tensor {
    let (b, v) = probs.size2().expect("(B, V)");
    let u: Vec<f64> = (0..b).map(|_| rng.gen::<f64>()).collect();
    let cdf = probs.cumsum(-1, Kind::Double); // (B, V)
    let total = cdf.narrow(1, v - 1, 1); // (B, 1)
    let target = Tensor::from_slice(&u)
        .to_device(probs.device())
        .unsqueeze(1)
        * &total; // (B, 1)
    let idx = target.searchsorted(&cdf, false, true, "right", None::<Tensor>); // (B, 1)
    idx.clamp_max(v - 1).squeeze_dim(1)
}
