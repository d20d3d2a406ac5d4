//! ACKTR's checkpoint state ([`AcktrState`]): what [`Acktr::save`] writes and the checks
//! [`Acktr::load`] makes on a checkpoint's factors and momentum before restoring them (a
//! hand-edited or damaged one is refused naming the field).
use super::{norm, to_vec, Acktr, AcktrSettings, Factors, MAX_FACTOR};
use crate::optim::kfac::{InverseMethod, Inverses};
use anyhow::{bail, ensure, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Serialisable [`Acktr`] state for checkpoints: factors as row-major f64.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AcktrState {
    pub steps: u64,
    pub momentum: Vec<f64>,
    pub factors: Vec<Option<(Vec<f64>, Vec<f64>)>>,
    pub inv_from: Vec<Option<(Vec<f64>, Vec<f64>)>>,
}

impl Acktr {
    pub fn save(&self) -> AcktrState {
        let pair = |f: &Option<Factors>| f.as_ref().map(|f| (to_vec(&f.a), to_vec(&f.g)));
        AcktrState {
            steps: self.steps,
            momentum: self.momentum.clone(),
            factors: self.layers.iter().map(|l| pair(&l.factors)).collect(),
            inv_from: self.layers.iter().map(|l| pair(&l.inv_from)).collect(),
        }
    }

    /// Restore [`Acktr::save`]'s state; inverses are recomputed from the factors they came from.
    pub fn load(&mut self, st: &AcktrState) -> Result<()> {
        let n = self.layers.len();
        for (key, len, want) in [
            ("acktr.momentum", st.momentum.len(), self.momentum.len()),
            ("acktr.factors", st.factors.len(), n),
            ("acktr.inv_from", st.inv_from.len(), n),
        ] {
            ensure!(
                len == want,
                "`{key}` holds {len} entries, this actor has {want} (its parameters, or its \
                 K-FAC layers)"
            );
        }
        check_momentum(&st.momentum, &self.settings)?;
        check_presence(st)?;
        for (i, l) in self.layers.iter_mut().enumerate() {
            let cols = l.plan.cols();
            let rebuild = |p: &Option<(Vec<f64>, Vec<f64>)>, what| -> Result<Option<Factors>> {
                let Some((a, g)) = p else { return Ok(None) };
                ensure!(
                    a.len() as i64 == cols * cols && g.len() as i64 == l.plan.d_out * l.plan.d_out,
                    "acktr checkpoint: factor sizes of layer `{}`",
                    l.plan.layer
                );
                // A's last input is the constant 1 (the bias' ones column, or log-std's input).
                let a_what = format!("acktr.{what}[{i}] (A)");
                check_factor(&a_what, a, cols as usize)?;
                let one = a[a.len() - 1];
                ensure!(
                    (one - 1.0).abs() <= 1e-6,
                    "`{a_what}` holds {one} at its last diagonal entry, but that is the mean of \
                     1·1 over the constant input (the bias' ones column): 1"
                );
                check_factor(&format!("acktr.{what}[{i}] (G)"), g, l.plan.d_out as usize)?;
                Ok(Some(Factors {
                    a: Tensor::from_slice(a)
                        .view([cols, cols])
                        .to_kind(Kind::Double),
                    g: Tensor::from_slice(g).view([l.plan.d_out, l.plan.d_out]),
                }))
            };
            l.factors = rebuild(&st.factors[i], "factors")?;
            l.inv_from = rebuild(&st.inv_from[i], "inv_from")?;
            l.inv = match &l.inv_from {
                Some(f) => Some(Inverses::compute(InverseMethod::Eigen, &f.a, &f.g)?),
                None => None,
            };
        }
        self.momentum.clone_from(&st.momentum);
        self.steps = st.steps;
        Ok(())
    }
}

/// Factors are updated for every layer at once, and inverses are computed from the factors of
/// every layer at once, so each list is all set or all null, and inverses exist only where
/// factors do. A checkpoint with inverses but no factors (or a mix) resumed with exit 0.
fn check_presence(st: &AcktrState) -> Result<()> {
    for (key, list) in [
        ("acktr.factors", &st.factors),
        ("acktr.inv_from", &st.inv_from),
    ] {
        let set = list.iter().filter(|f| f.is_some()).count();
        ensure!(
            set == 0 || set == list.len(),
            "`{key}` has {set} of {} layers set, but a run sets every layer's at once",
            list.len()
        );
    }
    let factors = st.factors.iter().any(Option::is_some);
    let inverses = st.inv_from.iter().any(Option::is_some);
    ensure!(
        factors || !inverses,
        "`acktr.inv_from` is set but `acktr.factors` is null: a run computes its inverses from \
         its factors, so it never holds one without the other"
    );
    Ok(())
}

/// A checkpoint's momentum `b = Σₖ μᵏ νₖvₖ`. Each step's `νv` has `(νη)²·vᵀF̂v ≤ κ` (the KL
/// clip) with `F̂ = G⊗A + λI ⪰ λI` (both damping schemes; the factors' eigenvalues are ≥ 0),
/// so `‖νv‖ ≤ √(κ/λ)/η` and `‖b‖ ≤ √(κ/λ)/(η(1 − μ))`. An edited `b` past that moved θ as
/// far as it liked on the next step (into non-finite actions, or silently).
fn check_momentum(b: &[f64], s: &AcktrSettings) -> Result<()> {
    if let Some(i) = b.iter().position(|x| !x.is_finite()) {
        bail!("`acktr.momentum[{i}]` is {}, not a finite number", b[i]);
    }
    let bound = (s.kl_clip / s.damping).sqrt() / (s.actor_lr * (1.0 - s.momentum));
    let b_norm = norm(b);
    ensure!(
        b_norm <= bound * (1.0 + 1e-6),
        "`acktr.momentum` has the norm {b_norm:e}, but a run's is at most \
         √(kl_clip/damping)/(actor_lr·(1 − momentum)) = {bound:e} (each step is KL-clipped and \
         the damping bounds the preconditioner)"
    );
    Ok(())
}

/// A Kronecker factor `E[x xᵀ]` (row-major `n × n`) as every average of outer products is:
/// symmetric, a diagonal ≥ 0 and each entry within √(aᵢᵢ aⱼⱼ) (Cauchy–Schwarz), up to
/// rounding. An edited one (a negated A, an off-diagonal entry raised) was taken: the
/// preconditioner was no longer positive definite and the run stepped on (exit 0).
fn check_factor(what: &str, f: &[f64], n: usize) -> Result<()> {
    let at = |i: usize, j: usize| f[i * n + j];
    if let Some(k) = f
        .iter()
        .position(|x| !x.is_finite() || x.abs() > MAX_FACTOR)
    {
        bail!(
            "`{what}` holds {:e} at [{}][{}], beyond ±{MAX_FACTOR:e}: a run skips such statistics \
             (the Kronecker product's eigenvalues would overflow)",
            f[k],
            k / n,
            k % n
        );
    }
    let scale = (0..n).map(|i| at(i, i).abs()).fold(0.0, f64::max);
    let tol = 1e-9 * scale;
    for i in 0..n {
        let d = at(i, i);
        ensure!(
            d >= 0.0,
            "`{what}` holds {d} at [{i}][{i}], but a factor E[x xᵀ] has a diagonal >= 0"
        );
        for j in 0..i {
            let (x, y) = (at(i, j), at(j, i));
            let bound = (d * at(j, j)).sqrt() * (1.0 + 1e-9) + tol;
            ensure!(
                (x - y).abs() <= tol && x.abs() <= bound,
                "`{what}` holds {x} at [{i}][{j}] and {y} at [{j}][{i}], but a factor E[x xᵀ] \
                 is symmetric with |[{i}][{j}]| <= √([{i}][{i}]·[{j}][{j}]) = {bound:e}"
            );
        }
    }
    Ok(())
}
