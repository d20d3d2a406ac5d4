//! Policies (spec §1.7): categorical over logits for discrete actions; diagonal Gaussian
//! with a state-independent log-std (initialised to 0) for continuous ones. Head gain 0.01.
//! Sampling runs in Rust on the run's RNG (Box–Muller for Gaussians, spec §1.12).
use super::mlp::Mlp;
use super::params::Params;
use crate::rl::Space;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;
use tch::{Device, Kind, Tensor};

#[derive(Clone, Debug, PartialEq)]
pub enum DistKind {
    Categorical {
        n: usize,
    },
    /// Bounds are used to clip the sample sent to the environment.
    Gaussian {
        low: Vec<f64>,
        high: Vec<f64>,
    },
}

impl DistKind {
    /// Numbers stored per action (1 for a discrete index).
    pub fn action_dim(&self) -> usize {
        match self {
            DistKind::Categorical { .. } => 1,
            DistKind::Gaussian { low, .. } => low.len(),
        }
    }
}

pub struct Actor {
    pub mlp: Mlp,
    /// MLP tensors, then the log-std vector for Gaussian policies.
    pub params: Params,
    pub dist: DistKind,
}

impl Actor {
    pub fn new(obs_dim: usize, space: &Space, hidden: &[usize], device: Device) -> Self {
        let (dist, out) = match space {
            Space::Discrete(n) => (DistKind::Categorical { n: *n }, *n),
            Space::Box { low, high } => (
                DistKind::Gaussian {
                    low: low.clone(),
                    high: high.clone(),
                },
                low.len(),
            ),
        };
        let mlp = Mlp::new(obs_dim, hidden, out);
        let mut tensors = mlp.init(0.01, device);
        if let DistKind::Gaussian { .. } = dist {
            tensors.push(Tensor::zeros([out as i64], (Kind::Double, device)));
        }
        Actor {
            params: Params::new(tensors),
            mlp,
            dist,
        }
    }

    /// Logits (categorical) or means (Gaussian), `[B, out]`.
    pub fn head(&self, obs: &Tensor) -> Tensor {
        self.mlp
            .forward(&self.params.tensors[..self.mlp.num_tensors()], obs)
    }

    fn log_std(&self) -> &Tensor {
        &self.params.tensors[self.mlp.num_tensors()]
    }

    /// Number of parameters that belong to the log-std (0 for categorical).
    pub fn log_std_len(&self) -> usize {
        match self.dist {
            DistKind::Categorical { .. } => 0,
            DistKind::Gaussian { ref low, .. } => low.len(),
        }
    }

    /// Actions as a tensor: indices `[B]` (int64) or values `[B, dim]` (f64).
    pub fn action_tensor(&self, actions: &[f64], device: Device) -> Tensor {
        match self.dist {
            DistKind::Categorical { .. } => {
                let idx: Vec<i64> = actions.iter().map(|&a| a as i64).collect();
                Tensor::from_slice(&idx).to_device(device)
            }
            DistKind::Gaussian { ref low, .. } => Tensor::from_slice(actions)
                .view([-1, low.len() as i64])
                .to_device(device),
        }
    }

    /// `log π(a|s)` per sample, `[B]`.
    pub fn log_prob(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        self.log_prob_from_head(&self.head(obs), actions)
    }

    /// `log π(a|s)` and the entropy per sample from one forward pass.
    pub fn log_prob_entropy(&self, obs: &Tensor, actions: &Tensor) -> (Tensor, Tensor) {
        let head = self.head(obs);
        (
            self.log_prob_from_head(&head, actions),
            self.entropy_from_head(&head),
        )
    }

    fn log_prob_from_head(&self, head: &Tensor, actions: &Tensor) -> Tensor {
        match self.dist {
            DistKind::Categorical { .. } => head
                .log_softmax(-1, Kind::Double)
                .gather(1, &actions.unsqueeze(1), false)
                .squeeze_dim(1),
            DistKind::Gaussian { .. } => {
                let log_std = self.log_std();
                let z = (actions - head) / log_std.exp();
                (z.square() * -0.5 - log_std - 0.5 * (2.0 * PI).ln()).sum_dim_intlist(
                    -1,
                    false,
                    Kind::Double,
                )
            }
        }
    }

    /// Entropy per sample, `[B]`.
    pub fn entropy(&self, obs: &Tensor) -> Tensor {
        self.entropy_from_head(&self.head(obs))
    }

    fn entropy_from_head(&self, head: &Tensor) -> Tensor {
        match self.dist {
            DistKind::Categorical { .. } => {
                let logp = head.log_softmax(-1, Kind::Double);
                -(logp.exp() * &logp).sum_dim_intlist(-1, false, Kind::Double)
            }
            DistKind::Gaussian { .. } => {
                let per_dim = self.log_std() + 0.5 + 0.5 * (2.0 * PI).ln();
                per_dim.sum(Kind::Double).expand([head.size()[0]], false)
            }
        }
    }

    /// Detached distribution parameters for a later KL: logits, or means plus log-std.
    pub fn snapshot(&self, obs: &Tensor) -> (Tensor, Option<Tensor>) {
        let head = tch::no_grad(|| self.head(obs));
        let log_std = match self.dist {
            DistKind::Categorical { .. } => None,
            DistKind::Gaussian { .. } => Some(self.log_std().detach().copy()),
        };
        (head, log_std)
    }

    /// Mean over the batch of the exact `KL(π_old ‖ π_θ)`.
    pub fn mean_kl(&self, old: &(Tensor, Option<Tensor>), obs: &Tensor) -> Tensor {
        let head = self.head(obs);
        match (&self.dist, &old.1) {
            (DistKind::Gaussian { .. }, Some(old_log_std)) => {
                let log_std = self.log_std();
                let var_ratio = (old_log_std * 2.0).exp() / (log_std * 2.0).exp();
                let mean_term = (&old.0 - &head).square() / (log_std * 2.0).exp();
                ((log_std - old_log_std) + (var_ratio + mean_term) * 0.5 - 0.5)
                    .sum_dim_intlist(-1, false, Kind::Double)
                    .mean(Kind::Double)
            }
            _ => {
                let old_logp = old.0.log_softmax(-1, Kind::Double);
                let new_logp = head.log_softmax(-1, Kind::Double);
                (old_logp.exp() * (&old_logp - new_logp))
                    .sum_dim_intlist(-1, false, Kind::Double)
                    .mean(Kind::Double)
            }
        }
    }

    /// Sample (or take the mode of) one action per row of `obs`: returns the stored actions
    /// (unclipped for Gaussians) and the actions sent to the environment (clipped).
    pub fn act(
        &self,
        obs: &Tensor,
        rng: &mut ChaCha8Rng,
        deterministic: bool,
    ) -> (Vec<f64>, Vec<f64>) {
        let head = tch::no_grad(|| self.head(obs));
        let flat = Vec::<f64>::try_from(&head.flatten(0, -1)).expect("f64 head");
        let log_std = match self.dist {
            DistKind::Categorical { .. } => Vec::new(),
            DistKind::Gaussian { .. } => Vec::<f64>::try_from(self.log_std()).expect("f64 log-std"),
        };
        sample_actions(&self.dist, &flat, &log_std, rng, deterministic)
    }
}

/// Actions for a row-major head batch (logits or means): the stored actions (unclipped for
/// Gaussians) and the ones sent to the environment (clipped to the bounds).
pub fn sample_actions(
    dist: &DistKind,
    flat: &[f64],
    log_std: &[f64],
    rng: &mut ChaCha8Rng,
    deterministic: bool,
) -> (Vec<f64>, Vec<f64>) {
    match dist {
        DistKind::Categorical { n } => {
            let acts: Vec<f64> = flat
                .chunks(*n)
                .map(|logits| categorical(logits, rng, deterministic) as f64)
                .collect();
            (acts.clone(), acts)
        }
        DistKind::Gaussian { low, high } => {
            let mut stored = Vec::with_capacity(flat.len());
            for row in flat.chunks(low.len()) {
                for (mean, ls) in row.iter().zip(log_std) {
                    let noise = if deterministic { 0.0 } else { box_muller(rng) };
                    stored.push(mean + ls.exp() * noise);
                }
            }
            let sent = stored
                .chunks(low.len())
                .flat_map(|a| {
                    a.iter()
                        .zip(low.iter().zip(high))
                        .map(|(x, (l, h))| x.clamp(*l, *h))
                })
                .collect();
            (stored, sent)
        }
    }
}

/// Draw from softmax(logits) (or argmax) with max-subtraction.
fn categorical(logits: &[f64], rng: &mut ChaCha8Rng, deterministic: bool) -> usize {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if deterministic {
        return logits.iter().position(|&l| l == max).unwrap_or(0);
    }
    let weights: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let mut x = rng.gen::<f64>() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// One standard normal from two uniforms (deterministic given the RNG).
fn box_muller(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}
