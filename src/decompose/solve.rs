//! Method selection (spec §2.4) and the primal/dual/closed-form paths to (B, C).
use super::config::{Method, SolverConfig};
use super::driver::Log;
use super::newton::{self, Direction, Diverged, Problem};
use super::nondegen::{self, Certificate};
use super::structures::Subspace;
use super::subspace::Basis;
use super::{banded, block, circulant, closed};
use crate::error::usage;
use anyhow::Result;
use ndarray::{Array1, Array2};
use std::time::Instant;

/// A decomposition with its diagnostics.
#[derive(Debug)]
pub struct Outcome {
    pub b: Array2<f64>,
    pub c: Array2<f64>,
    /// Coefficients of C (primal) or B (dual) in the basis used; empty for closed forms.
    pub coeffs: Array1<f64>,
    pub method: Method,
    pub dim: usize,
    pub iterations: usize,
    pub cg_iters: usize,
    pub backtracks: usize,
    pub converged: bool,
    pub decrement: f64,
    pub residual: f64,
    pub grad_max: f64,
    pub nondegeneracy: nondegen::Report,
    pub check_s: f64,
    pub solve_s: f64,
    /// ln det(A − C) from the solver's last Cholesky factor, where that factor was of exactly
    /// the matrix A − C of this outcome (dense primal Newton); the certificates reuse it.
    pub ln_det_a_minus_c: Option<f64>,
}

/// `auto` of §2.4: closed form, else primal Newton for m ≤ max_full_hessian, else dual Newton
/// if a basis of L^⊥ with p ≤ min(m, max_full_hessian) is at hand, else primal Newton-CG.
pub fn choose(sub: &Subspace, opts: &SolverConfig) -> Method {
    if opts.method != Method::Auto {
        return opts.method;
    }
    if sub.closed.is_some() {
        return Method::ClosedForm;
    }
    if sub.group.is_some() {
        return Method::BlockReduced;
    }
    let (m, p) = sub.dims();
    if m <= opts.max_full_hessian {
        Method::Newton
    } else if sub.perp_is_cheap() && p <= m.min(opts.max_full_hessian) {
        Method::DualNewton
    } else {
        Method::NewtonCg
    }
}

pub fn decompose(
    a: &Array2<f64>,
    sub: &Subspace,
    opts: &SolverConfig,
    log: Log,
) -> Result<Outcome> {
    if sub.n != a.nrows() {
        return Err(usage(format!(
            "size mismatch: A is {0}x{0} but the subspace is for n = {1}",
            a.nrows(),
            sub.n
        )));
    }
    let mut method = choose(sub, opts);
    if opts.method == Method::Auto && sub.circulant.is_some() && circulant::column_of(a).is_some() {
        method = Method::Circulant;
    }
    match method {
        Method::Circulant => circulant_path(a, sub, opts, log),
        Method::ClosedForm => closed_form(a, sub),
        Method::Newton => primal(a, sub, Direction::Explicit, opts, log),
        Method::NewtonCg => primal(a, sub, Direction::Cg, opts, log),
        Method::DualNewton => dual(a, sub, Direction::Explicit, opts, log),
        Method::DualNewtonCg => dual(a, sub, Direction::Cg, opts, log),
        Method::BlockReduced => block_reduced(a, sub, opts, log),
        Method::Auto => unreachable!("choose() resolves auto"),
    }
}

fn closed_form(a: &Array2<f64>, sub: &Subspace) -> Result<Outcome> {
    let Some(kind) = &sub.closed else {
        return Err(usage(
            "solver.method closed-form: this subspace has no closed form (spec section 3.9); \
             use auto or an iterative method",
        ));
    };
    let t = Instant::now();
    let (b, c) = closed::solve(a, kind)?;
    let mut out = outcome(b, c, Method::ClosedForm, sub.dims().0);
    out.solve_s = t.elapsed().as_secs_f64();
    out.nondegeneracy = nondegen::Report {
        holds: Some(true),
        stage: "closed form (B is PD by construction)".into(),
        margin: None,
    };
    Ok(out)
}

/// The outcome of a solver that ran Newton on a reduced problem (block or circulant).
fn reduced_outcome(r: block::Reduced, method: Method) -> Outcome {
    let mut out = outcome(r.b, r.c, method, r.x.len());
    out.coeffs = r.x;
    out.iterations = r.report.iterations;
    out.converged = r.report.converged;
    out.decrement = r.report.decrement;
    out.residual = r.report.residual;
    out.grad_max = r.report.grad_max;
    out
}

fn block_reduced(
    a: &Array2<f64>,
    sub: &Subspace,
    opts: &SolverConfig,
    log: Log,
) -> Result<Outcome> {
    let Some(group) = &sub.group else {
        return Err(usage(
            "solver.method block-reduced needs a declared symmetry: use subspace kind \
             block-pattern (spec section 3.8)",
        ));
    };
    let t = Instant::now();
    let r = block::solve(a, group, opts, log)?;
    let mut out = reduced_outcome(r, Method::BlockReduced);
    out.nondegeneracy = nondegen::Report {
        holds: Some(true),
        stage: "trace test (coordinate pattern without diagonal pairs)".into(),
        margin: Some(1.0),
    };
    out.solve_s = t.elapsed().as_secs_f64();
    Ok(out)
}

/// §3.6: A and L circulant, Newton on Fourier eigenvalues; (ND) checked on the explicit basis.
fn circulant_path(
    a: &Array2<f64>,
    sub: &Subspace,
    opts: &SolverConfig,
    log: Log,
) -> Result<Outcome> {
    let (Some(cols), Some(a_col)) = (&sub.circulant, circulant::column_of(a)) else {
        return Err(usage(
            "solver.method circulant needs subspace kind circulant and a circulant A \
             (A_ij depending only on (i - j) mod n, to 1e-10 relative; spec section 3.6)",
        ));
    };
    let t = Instant::now();
    let basis = sub.basis()?;
    let cert = nondegen::check(&basis, None, opts)?;
    reject_degenerate(&cert)?;
    let check_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let kept: Vec<_> = (0..cols.len())
        .filter(|k| !basis.dropped.contains(k))
        .map(|k| cols[k].clone())
        .collect();
    let r = circulant::solve(&a_col, &kept, opts, log).map_err(divergence_is_degeneracy)?;
    let cert = settle_after_stall(&basis, r.report.converged, cert, opts)?;
    let mut out = reduced_outcome(r, Method::Circulant);
    out.nondegeneracy = cert.report();
    out.check_s = check_s;
    out.solve_s = t.elapsed().as_secs_f64();
    Ok(out)
}

/// A Newton loop that diverged found L degenerate after all: report it with the certificate
/// (−C/‖C‖ in the limit) like the up-front check does; other errors pass through.
fn divergence_is_degeneracy(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<Diverged>() {
        Ok(d) => reject_degenerate(&nondegen::degenerate_from(
            d.direction,
            "runtime divergence",
        ))
        .expect_err("degenerate certificate"),
        Err(e) => e,
    }
}

/// A primal solve that stopped short while (ND) was still undecided: decide it now, so that a
/// degenerate L is refused naming its PSD element (exit 2) instead of ending "not converged".
fn settle_after_stall(
    basis: &Basis,
    converged: bool,
    cert: Certificate,
    opts: &SolverConfig,
) -> Result<Certificate> {
    if converged || !matches!(cert, Certificate::Unknown) {
        return Ok(cert);
    }
    let settled = nondegen::after_stall(basis, opts)?;
    reject_degenerate(&settled)?;
    Ok(settled)
}

fn primal(
    a: &Array2<f64>,
    sub: &Subspace,
    dir: Direction,
    opts: &SolverConfig,
    log: Log,
) -> Result<Outcome> {
    let t = Instant::now();
    let basis = sub.basis()?;
    let a_inv = (a.nrows() <= 500)
        .then(|| newton::symmetric_inverse(a))
        .transpose()?;
    let cert = unlisted(nondegen::check(&basis, a_inv.as_ref(), opts)?, sub);
    reject_degenerate(&cert)?;
    let check_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let p = Problem::primal(a, &basis);
    let banded = (dir == Direction::Cg)
        .then(|| banded::bandwidth(Some(a), &basis))
        .flatten();
    let result = match banded {
        Some(bw) => banded::solve(a, &basis, bw, None, opts, log),
        None => newton::solve(&p, None, dir, opts, log),
    };
    let sol = result.map_err(divergence_is_degeneracy)?;
    let t_check = Instant::now();
    let cert = settle_after_stall(&basis, sol.converged, cert, opts)?;
    let check_s = check_s + t_check.elapsed().as_secs_f64();
    // Φ(x) = −ln det(A − C(x)) at the returned x, from the factor of A + (−C) = A − C.
    let ln_det_a_minus_c = banded.is_none().then_some(-sol.objective);
    let c = basis.combine(&sol.x);
    let method = if dir == Direction::Cg {
        Method::NewtonCg
    } else {
        Method::Newton
    };
    let mut out = outcome(sol.w.clone(), c, method, basis.len());
    fill(&mut out, &sol, cert, check_s, t.elapsed().as_secs_f64());
    out.ln_det_a_minus_c = ln_det_a_minus_c.filter(|v| v.is_finite());
    Ok(out)
}

fn dual(
    a: &Array2<f64>,
    sub: &Subspace,
    dir: Direction,
    opts: &SolverConfig,
    log: Log,
) -> Result<Outcome> {
    let t = Instant::now();
    let perp = sub.perp_basis()?;
    let (y0, cert) = dual_start(a, sub, &perp, opts)?;
    let check_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let p = Problem::dual(a, &perp);
    let mut y0 = y0;
    let along = p.lin.dot(&y0); // ⟨A, B(y0)⟩ > 0 since both are PD
    if opts.dual_start_scale && along > 0.0 {
        y0 *= a.nrows() as f64 / along;
    }
    let sol = match (dir, banded::bandwidth(None, &perp)) {
        (Direction::Cg, Some(bw)) => banded::solve(a, &perp, bw, Some(&y0), opts, log)?,
        _ => newton::solve(&p, Some(&y0), dir, opts, log)?,
    };
    let b = newton::symmetrize(&p.matrix(&sol.x));
    // C = A − B⁻¹ projected onto L to remove round-off (§2.2).
    let c = sub.project_l(&(a - &sol.w))?;
    let method = if dir == Direction::Cg {
        Method::DualNewtonCg
    } else {
        Method::DualNewton
    };
    let mut out = outcome(b, c, method, perp.len());
    fill(&mut out, &sol, cert, check_s, t.elapsed().as_secs_f64());
    Ok(out)
}

/// A feasible dual start (§3.7): P_{L^⊥}(I), then P_{L^⊥}(A⁻¹), then the (ND) certificate.
fn dual_start(
    a: &Array2<f64>,
    sub: &Subspace,
    perp: &Basis,
    opts: &SolverConfig,
) -> Result<(Array1<f64>, Certificate)> {
    let coeffs = |x: &Array2<f64>| perp.projection_coeffs(&perp.inner_products(x));
    let mut targets = vec![("projection of I", Array2::eye(a.nrows()))];
    if a.nrows() <= 500 {
        targets.push(("projection of A^-1", newton::symmetric_inverse(a)?));
    }
    for (stage, t) in targets {
        let y = coeffs(&t)?;
        let b = perp.combine(&y);
        // A real margin, not a Cholesky that happened to pass on a singular projection.
        if let Some(margin) = nondegen::certified_margin(&b) {
            let cert = Certificate::Nondegenerate {
                b0: b,
                stage,
                margin,
            };
            return Ok((y, cert));
        }
    }
    let cert = unlisted(nondegen::check(&sub.basis()?, None, opts)?, sub);
    reject_degenerate(&cert)?;
    match cert {
        Certificate::Nondegenerate { ref b0, .. } => Ok((coeffs(b0)?, cert)),
        _ => Err(usage(
            "no positive definite element of L^perp found: no feasible dual start",
        )),
    }
}

/// A degenerate certificate that names "basis element k" of a basis the user did not list
/// (the complement computed from a perp-basis-file) names the PSD matrix only: the message
/// pointed at an element 0 that is in no file.
fn unlisted(cert: Certificate, sub: &Subspace) -> Certificate {
    match cert {
        Certificate::Degenerate {
            psd,
            stage,
            min_eig,
            element: Some(_),
        } if !sub.lists_basis() => Certificate::Degenerate {
            psd,
            stage,
            min_eig,
            element: None,
        },
        other => other,
    }
}

/// A degenerate certificate becomes a usage error that prints the PSD element of L.
fn reject_degenerate(cert: &Certificate) -> Result<()> {
    if let Certificate::Degenerate {
        psd,
        stage,
        min_eig,
        element,
    } = cert
    {
        let which = element.map_or(String::new(), |k| {
            format!(" it is (plus or minus) basis element {k} (0-based);")
        });
        return Err(usage(format!(
            "nondegeneracy violated: L contains a nonzero positive semidefinite matrix, so no \
             decomposition exists (spec section 1.4; found by {stage};{which} min eigenvalue \
             {min_eig:.3e}, normalized to unit Frobenius norm):\n{}",
            nondegen::render(psd)
        )));
    }
    Ok(())
}

fn outcome(b: Array2<f64>, c: Array2<f64>, method: Method, dim: usize) -> Outcome {
    Outcome {
        b,
        c,
        coeffs: Array1::zeros(0),
        method,
        dim,
        iterations: 0,
        cg_iters: 0,
        backtracks: 0,
        converged: true,
        decrement: 0.0,
        residual: 0.0,
        grad_max: 0.0,
        nondegeneracy: Certificate::Unknown.report(),
        check_s: 0.0,
        solve_s: 0.0,
        ln_det_a_minus_c: None,
    }
}

fn fill(out: &mut Outcome, sol: &newton::Solution, cert: Certificate, check_s: f64, solve_s: f64) {
    out.coeffs = sol.x.clone();
    out.iterations = sol.iterations;
    out.cg_iters = sol.cg_iters;
    out.backtracks = sol.backtracks;
    out.converged = sol.converged;
    out.decrement = sol.decrement;
    out.residual = sol.residual;
    out.grad_max = sol.grad_max;
    out.nondegeneracy = cert.report();
    out.check_s = check_s;
    out.solve_s = solve_s;
}
