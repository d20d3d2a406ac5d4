//! Preconditioned conjugate gradients for the Newton system H d = −g (spec §3.6).
use super::config::{Forcing, SolverConfig};
use ndarray::Array1;

pub struct CgOptions {
    /// Stop when ‖r‖ ≤ tol·‖b‖.
    pub tol: f64,
    pub max_iter: usize,
}

impl CgOptions {
    /// Forcing term η (Eisenstat–Walker min(0.5, √‖g‖_rel) or fixed) and the iteration cap
    /// min(cg_max_iter, max(10, m)) of the reference code.
    pub fn from_config(opts: &SolverConfig, m: usize, g_rel: f64) -> CgOptions {
        let tol = match opts.cg_forcing {
            Forcing::Fixed => opts.cg_tol,
            Forcing::EisenstatWalker => g_rel.sqrt().clamp(1e-14, 0.5),
        };
        CgOptions {
            tol,
            max_iter: opts.cg_max_iter.min(m.max(10)),
        }
    }
}

pub struct CgResult {
    pub x: Array1<f64>,
    pub iters: usize,
    pub rel_residual: f64,
    pub converged: bool,
}

/// Solve H x = b from x = 0 with the Jacobi preconditioner `diag` (clamped ≥ 1e-12).
/// Stops early if pᵀHp ≤ 0 (impossible in exact arithmetic for H ≻ 0).
pub fn solve(
    hv: impl Fn(&Array1<f64>) -> Array1<f64>,
    b: &Array1<f64>,
    diag: Option<&Array1<f64>>,
    o: &CgOptions,
) -> CgResult {
    let precond = |r: &Array1<f64>| match diag {
        Some(d) => r / &d.mapv(|v| v.max(1e-12)),
        None => r.clone(),
    };
    let b_norm = b.dot(b).sqrt();
    let mut x = Array1::zeros(b.len());
    let mut r = b.clone();
    if b_norm == 0.0 {
        return CgResult {
            x,
            iters: 0,
            rel_residual: 0.0,
            converged: true,
        };
    }
    let mut z = precond(&r);
    let mut p = z.clone();
    let mut rz = r.dot(&z);
    let mut iters = 0;
    while iters < o.max_iter {
        let hp = hv(&p);
        let curv = p.dot(&hp);
        if curv <= 0.0 {
            break;
        }
        let alpha = rz / curv;
        x.scaled_add(alpha, &p);
        r.scaled_add(-alpha, &hp);
        iters += 1;
        if r.dot(&r).sqrt() <= o.tol * b_norm {
            break;
        }
        z = precond(&r);
        let rz_new = r.dot(&z);
        p = &z + &(&p * (rz_new / rz));
        rz = rz_new;
    }
    let rel = r.dot(&r).sqrt() / b_norm;
    CgResult {
        x,
        iters,
        rel_residual: rel,
        converged: rel <= o.tol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn cg_solves_a_small_spd_system_exactly() {
        let h: Array2<f64> = array![[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]];
        let b = array![1.0, 2.0, 3.0];
        let o = CgOptions {
            tol: 1e-14,
            max_iter: 10,
        };
        for diag in [None, Some(h.diag().to_owned())] {
            let r = solve(|v| h.dot(v), &b, diag.as_ref(), &o);
            let res = &h.dot(&r.x) - &b;
            assert!(res.dot(&res).sqrt() < 1e-12, "residual {res}");
            assert!(r.iters <= 3 && r.converged);
        }
    }
}
