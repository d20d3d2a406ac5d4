//! `npg-cg` and `trpo` actor steps (spec §3.4–3.5): full-batch surrogate gradient, Fisher-
//! vector products as Hessian-vector products of the mean KL at θ_old (plus damping), CG,
//! the normalised step β = √(2δ / sᵀFs), and for TRPO a backtracking line search.
use super::backend::Policy;
use super::cg::conjugate_gradient;
use super::optim_actor::Objective;
use super::policy::Actor;
use super::rank1::{dot, norm};
use anyhow::Result;
use tch::{Kind, Tensor};

#[derive(Clone, Debug)]
pub struct TrustRegion {
    pub max_kl: f64,
    pub cg_iters: usize,
    pub cg_damping: f64,
    pub cg_residual_tol: f64,
    /// `(shrink factor ζ, max tries)` for TRPO; `None` for plain normalised NPG.
    pub line_search: Option<(f64, usize)>,
}

/// What the step logged (spec §6.4 columns).
#[derive(Clone, Debug, Default)]
pub struct TrustRegionStats {
    pub g_norm: f64,
    pub g_dot_d: f64,
    pub d_norm: f64,
    pub step_size: f64,
    pub update_norm: f64,
    pub cg_iters: usize,
    pub cg_residual: f64,
    pub ls_steps: Option<usize>,
    pub ls_accepted: Option<bool>,
}

/// The Fisher-vector product `v ↦ ∇²KL(π_old‖π_θ)|θ_old · v + damping·v` on `obs`.
pub struct Fvp<'a> {
    actor: &'a Actor,
    grad_kl: Tensor,
    damping: f64,
}

impl<'a> Fvp<'a> {
    pub fn new(actor: &'a Actor, obs: &Tensor, damping: f64) -> Self {
        let snapshot = actor.snapshot(obs);
        let kl = actor.mean_kl(&snapshot, obs);
        Fvp {
            grad_kl: actor.params.grad_with_graph(&kl),
            actor,
            damping,
        }
    }

    pub fn apply(&self, v: &[f64], out: &mut [f64]) {
        let gv = (&self.grad_kl * Tensor::from_slice(v)).sum(Kind::Double);
        let hv = self.actor.params.grad_keep(&gv);
        for i in 0..v.len() {
            out[i] = hv[i] + self.damping * v[i];
        }
    }
}

/// One trust-region actor step on the full batch (advantages already normalised).
pub fn trust_region_step<P: Policy>(
    actor: &mut P,
    tr: &TrustRegion,
    b: &P::Batch,
) -> Result<TrustRegionStats> {
    let g = actor.objective_grad(b, Objective::Surrogate, 0.0).0;
    let (cg, s_fs) = {
        let fvp = actor.fisher(b, tr.cg_damping);
        let cg = conjugate_gradient(|v, out| fvp(v, out), &g, tr.cg_iters, tr.cg_residual_tol);
        let mut fs = vec![0.0; g.len()];
        fvp(&cg.x, &mut fs);
        let s_fs = dot(&cg.x, &fs);
        (cg, s_fs)
    };
    let beta = if s_fs > 0.0 {
        (2.0 * tr.max_kl / s_fs).sqrt()
    } else {
        0.0
    };
    let mut stats = TrustRegionStats {
        g_norm: norm(&g),
        g_dot_d: dot(&g, &cg.x),
        d_norm: norm(&cg.x),
        cg_iters: cg.iters,
        cg_residual: cg.residual_sq,
        ..TrustRegionStats::default()
    };
    let theta_old = actor.flat();
    let Some((shrink, max_tries)) = tr.line_search else {
        let delta: Vec<f64> = cg.x.iter().map(|x| beta * x).collect();
        actor.add_flat(&delta)?;
        (stats.step_size, stats.update_norm) = (beta, norm(&delta));
        return Ok(stats);
    };
    let snapshot = actor.snapshot(b);
    let surr_old = actor.surrogate(b);
    stats.ls_accepted = Some(false);
    for j in 0..max_tries {
        let step = beta * shrink.powi(exponent(j));
        let candidate: Vec<f64> = theta_old
            .iter()
            .zip(&cg.x)
            .map(|(t, x)| t + step * x)
            .collect();
        actor.set_flat(&candidate)?;
        stats.ls_steps = Some(j + 1);
        if actor.mean_kl(&snapshot, b) < tr.max_kl && actor.surrogate(b) > surr_old {
            stats.ls_accepted = Some(true);
            (stats.step_size, stats.update_norm) = (step, step * stats.d_norm);
            return Ok(stats);
        }
        if step == 0.0 {
            // θ_old itself (a zero gradient, or the step underflowed): no later try differs,
            // and `ls_max_iter` tries of it ran one forward pass each (a huge one hung).
            break;
        }
    }
    actor.set_flat(&theta_old)?;
    Ok(stats)
}

/// The line search's `j` as `powi`'s exponent: past `i32::MAX` (an `ls_max_iter` above 2³¹ with
/// a shrink factor so close to 1 that the step never underflows) it stays at `i32::MAX` instead
/// of wrapping to a negative power, which would try steps longer than the first.
pub(super) fn exponent(j: usize) -> i32 {
    i32::try_from(j).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_search_exponents_past_i32_never_lengthen_the_step() {
        assert_eq!(super::exponent(3), 3);
        let shrink = 1.0 - f64::EPSILON;
        for j in [1usize << 31, usize::MAX] {
            assert_eq!(super::exponent(j), i32::MAX);
            assert!(shrink.powi(super::exponent(j)) < 1.0, "j = {j}");
        }
        // What `j as i32` gave: a negative power, a step longer than the first.
        assert!(shrink.powi((1usize << 31) as i32) > 1.0);
    }
}
