//! Toy-1, the combination lock (spec §4.2): a tree MDP with `b` actions per step, horizon `H`,
//! one correct sequence `y*` and a tabular softmax policy with one row of `b` logits per
//! internal state (an action prefix of length 0..H−1).
//!
//! Exact quantities come from enumerating the leaves under a start state (`b^H ≤ 2^14`): the
//! standard objective `J` (start = root), the prefixed objective `J_h` (start = `y*[..h]`), their
//! mixture `J_pre = Σ_h ρ(h)·J_h` and `L_α = α·J_pre + (1−α)·J` (§4.1), with gradients from
//! `∇ Σ_leaf P(leaf)·r(leaf) = Σ_leaf P·r·∇log P` and `∂log π(a|s)/∂ℓ[s,a'] = 1[a=a'] − π(a'|s)`.
//! T4's stochastic REINFORCE lives in [`super::lock_rl`].
use crate::error::usage;
use anyhow::Result;

/// The most leaves an exact enumeration may visit (§4.2: keep `b^H ≤ 2^14`).
pub const MAX_LEAVES: usize = 1 << 14;

/// The lock's shape and its correct sequence `y*`.
#[derive(Clone, Debug)]
pub struct Lock {
    pub b: usize,
    pub h: usize,
    /// `y*`; by default `y*_t = t mod b` (the policy starts uniform, so the choice is immaterial).
    pub target: Vec<usize>,
}

/// A distribution ρ over cut points `h ∈ {1..H−1}`: (cut, probability) pairs.
#[derive(Clone, Debug)]
pub struct Cuts(pub Vec<(usize, f64)>);

impl Cuts {
    /// Uniform over the given cut points; each must satisfy `1 ≤ h ≤ H−1`.
    pub fn uniform(cuts: &[usize], horizon: usize) -> Result<Self> {
        if cuts.is_empty() {
            return Err(usage("toy: the set of cut points is empty"));
        }
        if let Some(&bad) = cuts.iter().find(|&&c| c == 0 || c >= horizon) {
            return Err(usage(format!(
                "toy: cut point {bad} is outside 1..={} (horizon {horizon})",
                horizon.saturating_sub(1)
            )));
        }
        let p = 1.0 / cuts.len() as f64;
        Ok(Cuts(cuts.iter().map(|&c| (c, p)).collect()))
    }

    /// Uniform over every cut `{1..H−1}` (the spec's default for Toy-1).
    pub fn all(horizon: usize) -> Result<Self> {
        Self::uniform(&(1..horizon).collect::<Vec<_>>(), horizon)
    }
}

/// One leaf reached by [`Lock::walk`]: the full action sequence, its probability given the start
/// state, and the (state index, π(·|state)) pairs of the steps taken after the start.
pub struct Leaf<'a> {
    pub actions: &'a [usize],
    pub prob: f64,
    pub steps: &'a [(usize, Vec<f64>)],
}

/// Exact value and gradient (one entry per logit) of an objective.
pub struct Exact {
    pub value: f64,
    pub grad: Vec<f64>,
}

/// `softmax(logits)`, max-shifted.
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let z: f64 = e.iter().sum();
    e.into_iter().map(|x| x / z).collect()
}

impl Lock {
    /// A lock with `y*_t = t mod b`. Errors (usage) if `b < 2`, `H < 1` or `b^H > 2^14`.
    pub fn new(b: usize, h: usize) -> Result<Self> {
        Self::with_target((0..h).map(|t| t % b.max(1)).collect(), b)
    }

    /// A lock whose correct sequence is `target` (horizon = its length).
    pub fn with_target(target: Vec<usize>, b: usize) -> Result<Self> {
        let h = target.len();
        if b < 2 || h < 1 {
            return Err(usage(format!(
                "toy: need b ≥ 2 and H ≥ 1 (got b={b}, H={h})"
            )));
        }
        let leaves = (b as f64).powi(h as i32);
        if leaves > MAX_LEAVES as f64 {
            return Err(usage(format!(
                "toy: b^H = {b}^{h} = {leaves} leaves exceeds the enumeration limit 2^14 = {MAX_LEAVES}"
            )));
        }
        if let Some(&a) = target.iter().find(|&&a| a >= b) {
            return Err(usage(format!("toy: target action {a} is not in 0..{b}")));
        }
        Ok(Lock { b, h, target })
    }

    /// Internal states (prefixes of length 0..H−1): `(b^H − 1)/(b − 1)`.
    pub fn n_states(&self) -> usize {
        self.offset(self.h)
    }

    /// Number of logits of a tabular policy: one row of `b` per state.
    pub fn n_logits(&self) -> usize {
        self.n_states() * self.b
    }

    /// Index of the states of depth `d` start here: `(b^d − 1)/(b − 1)`.
    fn offset(&self, depth: usize) -> usize {
        (self.b.pow(depth as u32) - 1) / (self.b - 1)
    }

    /// Index of the state at `depth` whose prefix reads `code` in base b (first action most
    /// significant).
    pub fn index(&self, depth: usize, code: usize) -> usize {
        self.offset(depth) + code
    }

    /// The base-b code of an action prefix.
    pub fn code(&self, prefix: &[usize]) -> usize {
        prefix.iter().fold(0, |c, &a| c * self.b + a)
    }

    /// `π(·|state)` of a tabular policy.
    pub fn probs(&self, logits: &[f64], state: usize) -> Vec<f64> {
        softmax(&logits[state * self.b..(state + 1) * self.b])
    }

    /// Visit every leaf under the state `start` (an action prefix of length < H).
    pub fn walk(&self, logits: &[f64], start: &[usize], visit: &mut dyn FnMut(&Leaf)) {
        let mut actions = start.to_vec();
        let mut steps = Vec::with_capacity(self.h);
        let code = self.code(start);
        self.walk_from(
            logits,
            start.len(),
            code,
            1.0,
            &mut actions,
            &mut steps,
            visit,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_from(
        &self,
        logits: &[f64],
        depth: usize,
        code: usize,
        prob: f64,
        actions: &mut Vec<usize>,
        steps: &mut Vec<(usize, Vec<f64>)>,
        visit: &mut dyn FnMut(&Leaf),
    ) {
        if depth == self.h {
            visit(&Leaf {
                actions,
                prob,
                steps,
            });
            return;
        }
        let state = self.index(depth, code);
        let p = self.probs(logits, state);
        steps.push((state, p.clone()));
        for (a, pa) in p.iter().enumerate() {
            actions.push(a);
            self.walk_from(
                logits,
                depth + 1,
                code * self.b + a,
                prob * pa,
                actions,
                steps,
                visit,
            );
            actions.pop();
        }
        steps.pop();
    }

    /// `Σ_leaf P(leaf|start)·r(leaf)` and its gradient, by enumeration.
    pub fn expected_reward(
        &self,
        logits: &[f64],
        start: &[usize],
        reward: &dyn Fn(&[usize]) -> f64,
    ) -> Exact {
        let mut grad = vec![0.0; logits.len()];
        let mut value = 0.0;
        let first = start.len();
        self.walk(logits, start, &mut |leaf| {
            let v = leaf.prob * reward(leaf.actions);
            if v == 0.0 {
                return;
            }
            value += v;
            for (i, (state, p)) in leaf.steps.iter().enumerate() {
                let taken = leaf.actions[first + i];
                for (a, pa) in p.iter().enumerate() {
                    let indicator = if a == taken { 1.0 } else { 0.0 };
                    grad[state * self.b + a] += v * (indicator - pa);
                }
            }
        });
        Exact { value, grad }
    }

    /// The 0/1 reward of Toy-1: the leaf is `y*`.
    pub fn is_correct(&self, leaf: &[usize]) -> bool {
        leaf == self.target.as_slice()
    }

    /// Exact `J` and `∇J` (start = root).
    pub fn j(&self, logits: &[f64]) -> Exact {
        self.j_cut(logits, 0)
    }

    /// Exact `J_h`, the success probability from the prefixed state `y*[..h]`, and its gradient.
    pub fn j_cut(&self, logits: &[f64], h: usize) -> Exact {
        let r = |leaf: &[usize]| if self.is_correct(leaf) { 1.0 } else { 0.0 };
        self.expected_reward(logits, &self.target[..h], &r)
    }

    /// Exact `J_pre = Σ_h ρ(h)·J_h` and its gradient (§4.1).
    pub fn j_pre(&self, logits: &[f64], cuts: &Cuts) -> Exact {
        let mut out = Exact {
            value: 0.0,
            grad: vec![0.0; logits.len()],
        };
        for &(h, w) in &cuts.0 {
            let e = self.j_cut(logits, h);
            out.value += w * e.value;
            axpy(&mut out.grad, w, &e.grad);
        }
        out
    }

    /// `(J, J_pre, ∇L_α)` with `L_α = α·J_pre + (1−α)·J` (§4.1).
    pub fn l_alpha(&self, logits: &[f64], alpha: f64, cuts: &Cuts) -> (f64, f64, Vec<f64>) {
        let j = self.j(logits);
        let pre = self.j_pre(logits, cuts);
        let mut grad = vec![0.0; logits.len()];
        axpy(&mut grad, 1.0 - alpha, &j.grad);
        axpy(&mut grad, alpha, &pre.grad);
        (j.value, pre.value, grad)
    }

    /// `J` without enumeration: only `y*` is rewarded, so `J = Π_t π(y*_t | y*[..t])`.
    pub fn j_along_target(&self, logits: &[f64]) -> f64 {
        let mut code = 0;
        let mut j = 1.0;
        for (d, &a) in self.target.iter().enumerate() {
            j *= self.probs(logits, self.index(d, code))[a];
            code = code * self.b + a;
        }
        j
    }

    /// `KL(μ ‖ π)` with `μ = π(·|C)`, both over leaves, by enumeration (T3). Errors if `π(C) = 0`.
    pub fn kl_conditioned(
        &self,
        logits: &[f64],
        correct: &dyn Fn(&[usize]) -> bool,
    ) -> Result<f64> {
        let mut leaves = Vec::new();
        self.walk(logits, &[], &mut |leaf| {
            if correct(leaf.actions) {
                leaves.push(leaf.prob);
            }
        });
        let p_c: f64 = leaves.iter().sum();
        if p_c <= 0.0 {
            return Err(anyhow::anyhow!(
                "toy: the correct set has probability 0 under π"
            ));
        }
        Ok(leaves
            .iter()
            .filter(|&&p| p > 0.0)
            .map(|&p| (p / p_c) * ((p / p_c) / p).ln())
            .sum())
    }
}

/// `y += a·x`.
pub fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// What exact gradient ascent on `L_α` did (T1, T2).
pub struct Ascent {
    /// `J` before each step and after the last one (`steps + 1` values).
    pub j: Vec<f64>,
    /// `J_pre` after the last step.
    pub j_pre_final: f64,
    /// The largest `|ℓ[root, a] − ℓ₀[root, a]|` seen after any step.
    pub max_root_change: f64,
}

/// Exact gradient ascent `ℓ ← ℓ + lr·∇L_α` from `π_0` uniform (all logits 0).
pub fn exact_ascent(lock: &Lock, alpha: f64, cuts: &Cuts, lr: f64, steps: usize) -> Ascent {
    let mut logits = vec![0.0; lock.n_logits()];
    let mut j = Vec::with_capacity(steps + 1);
    let mut max_root_change = 0.0f64;
    for _ in 0..steps {
        let (j_now, _, grad) = lock.l_alpha(&logits, alpha, cuts);
        j.push(j_now);
        axpy(&mut logits, lr, &grad);
        let root = logits[..lock.b].iter().fold(0.0f64, |m, l| m.max(l.abs()));
        max_root_change = max_root_change.max(root);
    }
    j.push(lock.j(&logits).value);
    let j_pre_final = lock.j_pre(&logits, cuts).value;
    Ascent {
        j,
        j_pre_final,
        max_root_change,
    }
}

/// T3: `KL(π_0(·|C) ‖ π_0)` by enumeration for uniform `π_0` and `C = {y*}`, and the closed form
/// `log(1/p_0) = H·log b` it should equal.
pub fn kl_identity(b: usize, h: usize) -> Result<(f64, f64)> {
    let lock = Lock::new(b, h)?;
    let logits = vec![0.0; lock.n_logits()];
    let kl = lock.kl_conditioned(&logits, &|leaf| lock.is_correct(leaf))?;
    Ok((kl, h as f64 * (b as f64).ln()))
}
