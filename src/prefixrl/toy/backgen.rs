//! Toy-3 (T6, spec §4.2): back-generalization needs parameter sharing.
//!
//! A problem is a key `k ∈ {0..b−1}^H`; the only correct answer copies it. The policy is
//! log-linear: `logit(a | key, prefix) = w·1[a = k_depth] + θ[(key, prefix), a]`, one shared weight
//! `w` plus tabular logits initialized to 0. Training is prefixed-only (α = 1) with cuts uniform in
//! `{⌈H/2⌉..H−1}`, on 256 training keys, 32 distinct keys per step, exact per-problem gradients of
//! `J_pre(k) = mean_h Π_{d≥h} π(k_d | key, k[..d])` averaged over the batch, lr 0.5.
//!
//! Our reading of the state: **state = (key, prefix)** — the key is part of the prompt, so two
//! problems never share a tabular state. Consequences: a fresh key's tabular logits stay exactly 0,
//! so its unprefixed `J = q(w)^H` with `q = e^w/(e^w + b − 1)` moves only through `w`; and with the
//! shared feature removed (control) it stays exactly `b^{−H}`, while the training keys' prefixed
//! success still rises through their own tabular logits. Exact gradients and `J` of a key only touch
//! the states on its own path `(key, k[..d])`, so the table is stored sparsely by (key, depth).
use super::lock::softmax;
use crate::error::usage;
use anyhow::Result;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// T6 settings (defaults: the spec's).
#[derive(Clone, Debug)]
pub struct BackgenSettings {
    pub b: usize,
    pub h: usize,
    pub train_keys: usize,
    pub test_keys: usize,
    pub batch: usize,
    pub lr: f64,
    pub steps: usize,
    /// Whether the shared feature `1[a = k_depth]` (weight `w`) is in the model.
    pub shared: bool,
    pub seed: u64,
}

impl Default for BackgenSettings {
    fn default() -> Self {
        BackgenSettings {
            b: 4,
            h: 6,
            train_keys: 256,
            test_keys: 256,
            batch: 32,
            lr: 0.5,
            steps: 120,
            shared: true,
            seed: 6,
        }
    }
}

/// What a T6 run measured.
pub struct BackgenRun {
    /// Mean unprefixed `J` on the fresh keys before each step and after the last (`steps + 1`).
    pub j_test: Vec<f64>,
    /// The first number of steps after which `j_test > 0.5`.
    pub cross_step: Option<usize>,
    /// Final shared weight, mean `J_pre` and mean unprefixed `J` on the training keys.
    pub w: f64,
    pub j_pre_train: f64,
    pub j_train: f64,
}

/// A key: its digits and an id (its base-b code).
struct Key {
    id: u64,
    digits: Vec<usize>,
}

struct Policy {
    b: usize,
    shared: bool,
    w: f64,
    /// Tabular logits of the on-path states `(key id, depth)`; absent = all 0.
    table: HashMap<(u64, usize), Vec<f64>>,
}

/// `∇J_h` of one key: per-depth tabular gradients and the `w` gradient.
struct KeyGrad {
    rows: Vec<(usize, Vec<f64>)>,
    w: f64,
}

impl Policy {
    fn probs(&self, key: &Key, depth: usize) -> Vec<f64> {
        let mut logits = match self.table.get(&(key.id, depth)) {
            Some(row) => row.clone(),
            None => vec![0.0; self.b],
        };
        if self.shared {
            logits[key.digits[depth]] += self.w;
        }
        softmax(&logits)
    }

    /// `J_h(k) = Π_{d=h}^{H−1} π(k_d | key, k[..d])`: only the copied key is correct.
    fn j_cut(&self, key: &Key, h: usize) -> f64 {
        (h..key.digits.len())
            .map(|d| self.probs(key, d)[key.digits[d]])
            .product()
    }

    /// `J_h(k)` and its gradient: `∂/∂θ[d,a] = J·(1[a=k_d] − π_d(a))`, `∂/∂w = J·Σ_d (1 − π_d(k_d))`.
    fn j_cut_grad(&self, key: &Key, h: usize) -> (f64, KeyGrad) {
        let probs: Vec<Vec<f64>> = (h..key.digits.len()).map(|d| self.probs(key, d)).collect();
        let j: f64 = probs
            .iter()
            .zip(h..)
            .map(|(p, d)| p[key.digits[d]])
            .product();
        let mut grad = KeyGrad {
            rows: Vec::new(),
            w: 0.0,
        };
        for (p, d) in probs.iter().zip(h..) {
            let k = key.digits[d];
            let row = (0..self.b)
                .map(|a| j * (f64::from(u8::from(a == k)) - p[a]))
                .collect();
            grad.rows.push((d, row));
            if self.shared {
                grad.w += j * (1.0 - p[k]);
            }
        }
        (j, grad)
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    sum / n.max(1) as f64
}

/// Draws `train + test` distinct keys; the first `train` are for training.
fn draw_keys(cfg: &BackgenSettings, rng: &mut ChaCha8Rng) -> Result<Vec<Key>> {
    let space = (cfg.b as f64).powi(cfg.h as i32);
    let wanted = cfg.train_keys + cfg.test_keys;
    if space > 1e15 || (space as usize) < wanted {
        return Err(usage(format!(
            "toy T6: b^H = {space} keys cannot hold {wanted} distinct train+test keys (or is too large)"
        )));
    }
    Ok(sample(rng, space as usize, wanted)
        .into_iter()
        .map(|code| {
            let mut digits = vec![0; cfg.h];
            let mut c = code;
            for d in (0..cfg.h).rev() {
                digits[d] = c % cfg.b;
                c /= cfg.b;
            }
            Key {
                id: code as u64,
                digits,
            }
        })
        .collect())
}

/// One T6 run: prefixed-only training, unprefixed evaluation on fresh keys after every step.
pub fn run(cfg: &BackgenSettings) -> Result<BackgenRun> {
    if cfg.b < 2 || cfg.h < 2 || cfg.batch == 0 || cfg.batch > cfg.train_keys {
        return Err(usage(
            "toy T6: need b ≥ 2, H ≥ 2 and 1 ≤ batch ≤ train keys",
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let keys = draw_keys(cfg, &mut rng)?;
    let (train, test) = keys.split_at(cfg.train_keys);
    let cuts: Vec<usize> = (cfg.h.div_ceil(2)..cfg.h).collect();
    let mut policy = Policy {
        b: cfg.b,
        shared: cfg.shared,
        w: 0.0,
        table: HashMap::new(),
    };
    let j_test_now = |p: &Policy| mean(test.iter().map(|k| p.j_cut(k, 0)));
    let mut j_test = vec![j_test_now(&policy)];
    let scale = 1.0 / (cfg.batch * cuts.len()) as f64;
    for _ in 0..cfg.steps {
        let mut rows: HashMap<(u64, usize), Vec<f64>> = HashMap::new();
        let mut gw = 0.0;
        for i in sample(&mut rng, train.len(), cfg.batch) {
            let key = &train[i];
            for &h in &cuts {
                let (_, g) = policy.j_cut_grad(key, h);
                gw += scale * g.w;
                for (d, row) in g.rows {
                    let acc = rows.entry((key.id, d)).or_insert_with(|| vec![0.0; cfg.b]);
                    for (a, v) in acc.iter_mut().zip(&row) {
                        *a += scale * v;
                    }
                }
            }
        }
        for (state, g) in rows {
            let row = policy
                .table
                .entry(state)
                .or_insert_with(|| vec![0.0; cfg.b]);
            for (l, v) in row.iter_mut().zip(&g) {
                *l += cfg.lr * v;
            }
        }
        policy.w += cfg.lr * gw;
        j_test.push(j_test_now(&policy));
    }
    let cross_step = j_test.iter().position(|&j| j > 0.5);
    let j_pre_train = mean(
        train
            .iter()
            .map(|k| mean(cuts.iter().map(|&h| policy.j_cut(k, h)))),
    );
    let j_train = mean(train.iter().map(|k| policy.j_cut(k, 0)));
    Ok(BackgenRun {
        j_test,
        cross_step,
        w: policy.w,
        j_pre_train,
        j_train,
    })
}
