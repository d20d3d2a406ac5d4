//! Finance mode (spec §5): exponential utility maximisation in the mixed fractional Brownian
//! motion market of §5.4. With Λ = Σ⁻¹ and Λ = B⁻¹ + C, the certainty equivalent is
//! CE = ½(log det Σ − log det B) (divided by the risk aversion), the value V* = −exp(−CE·α_r),
//! and the strategy a*_{lk} = −C*_{k, t(l)} (§5.2).
use super::config::{FinanceConfig, InfoStructure, SolverConfig};
use super::market::{alpha_std, covariance};
use super::newton::{self, Direction, Problem};
use super::subspace::{Basis, SymSparse};
use super::{closed, ln_det, structures::Closed};
use crate::plot::render::{self, Figure};
use crate::plot::series::Curve;
use anyhow::{Context, Result};
use ndarray::{Array1, Array2};

/// One solved information structure.
pub struct FinanceResult {
    /// Certainty equivalent for risk aversion 1 (divide by α_r for others).
    pub ce: f64,
    pub c: Array2<f64>,
    /// Positions of the traded increments X_l in the ordering of Λ.
    pub traded: Vec<usize>,
    pub iterations: usize,
    pub converged: bool,
    pub x: Option<Array1<f64>>,
}

/// Solve one structure at one H; `warm` is the previous Markovian solution.
pub fn solve(
    s: InfoStructure,
    sigma: &Array2<f64>,
    opts: &SolverConfig,
    warm: Option<&Array1<f64>>,
    log: super::driver::Log,
) -> Result<FinanceResult> {
    let periods = sigma.nrows() / 2;
    match s {
        // Observe the price only: N×N problem on Γ = Cov(X), L = zero-diagonal (§5.4 item 1).
        InfoStructure::Sum => {
            let idx: Vec<usize> = (0..periods).map(|l| 2 * l).collect();
            let gamma = sigma
                .select(ndarray::Axis(0), &idx)
                .select(ndarray::Axis(1), &idx);
            let lambda = newton::symmetric_inverse(&gamma)?;
            let (b, c) = closed::solve(&lambda, &Closed::Diagonal)?;
            let ce = 0.5 * (ln_det(&gamma).context("Cov(X) not PD")? - ln_det(&b).context("B")?);
            Ok(result(ce, c, (0..periods).collect(), 0, true, None))
        }
        // γ_l linear in all (X_r, Y_r), r < l: split-graph chordal closed form (§5.4 item 3).
        InfoStructure::Full => {
            let lambda = newton::symmetric_inverse(sigma)?;
            let b = split_graph_b(&lambda, periods)?;
            let c = &lambda - &newton::symmetric_inverse(&b)?;
            let ce = 0.5 * (ln_det(sigma).context("Σ not PD")? - ln_det(&b).context("B")?);
            Ok(result(ce, c, traded(periods), 0, true, None))
        }
        // γ_l = a_l S_{(l−1)Δt} + b_l W_{(l−1)Δt}: iterative primal Newton (§5.4 item 2).
        InfoStructure::Markovian => {
            let lambda = newton::symmetric_inverse(sigma)?;
            let basis = Basis::new(2 * periods, markovian_basis(periods), true)?;
            let p = Problem::primal(&lambda, &basis);
            let sol = newton::solve(&p, warm, Direction::Explicit, opts, log)?;
            let c = basis.combine(&sol.x);
            let ce = 0.5
                * (ln_det(sigma).context("Σ not PD")? + ln_det(&(&lambda - &c)).context("B⁻¹")?);
            let (it, ok) = (sol.iterations, sol.converged);
            Ok(result(ce, c, traded(periods), it, ok, Some(sol.x)))
        }
    }
}

fn result(
    ce: f64,
    c: Array2<f64>,
    traded: Vec<usize>,
    it: usize,
    ok: bool,
    x: Option<Array1<f64>>,
) -> FinanceResult {
    FinanceResult {
        ce,
        c,
        traded,
        iterations: it,
        converged: ok,
        x,
    }
}

fn traded(periods: usize) -> Vec<usize> {
    (0..periods).map(|l| 2 * l).collect()
}

/// Σ_{r<l} sym(e_{X_r} e_{X_l}ᵀ) and Σ_{r<l} sym(e_{Y_r} e_{X_l}ᵀ), l = 2..N (m = 2(N − 1)).
pub fn markovian_basis(periods: usize) -> Vec<SymSparse> {
    let mut elems = Vec::new();
    for l in 1..periods {
        for offset in [0, 1] {
            elems.push((0..l).map(|r| (2 * r + offset, 2 * l, 1.0)).collect());
        }
    }
    elems
}

/// B = Σ_l pad(Λ_{K_l}⁻¹) − Σ_{l<N} pad(Λ_{S_l}⁻¹), K_l = {X_l, Y_l, …, Y_N},
/// S_l = {Y_{l+1}, …, Y_N} (§5.4 item 3, chordal formula of §3.9.5).
fn split_graph_b(lambda: &Array2<f64>, periods: usize) -> Result<Array2<f64>> {
    let n = 2 * periods;
    let ys = |from: usize| (from..periods).map(|r| 2 * r + 1);
    let mut b = Array2::zeros((n, n));
    for l in 0..periods {
        let clique: Vec<usize> = std::iter::once(2 * l).chain(ys(l)).collect();
        add_padded(&mut b, lambda, &clique, 1.0)?;
        if l + 1 < periods {
            add_padded(&mut b, lambda, &ys(l + 1).collect::<Vec<_>>(), -1.0)?;
        }
    }
    Ok(b)
}

fn add_padded(b: &mut Array2<f64>, lambda: &Array2<f64>, idx: &[usize], sign: f64) -> Result<()> {
    let sub = lambda
        .select(ndarray::Axis(0), idx)
        .select(ndarray::Axis(1), idx);
    let inv = newton::symmetric_inverse(&sub)?;
    for (p, &i) in idx.iter().enumerate() {
        for (q, &j) in idx.iter().enumerate() {
            b[[i, j]] += sign * inv[[p, q]];
        }
    }
    Ok(())
}

/// Strategy rows (period l, observed index k, a_{lk} = −C_{k, t(l)}) for k observed before l.
pub fn strategy(res: &FinanceResult) -> Vec<(usize, usize, f64)> {
    let mut rows = Vec::new();
    for (l, &t) in res.traded.iter().enumerate() {
        let stride = if res.traded.len() * 2 == res.c.nrows() {
            2
        } else {
            1
        };
        for k in 0..l * stride {
            let a = -res.c[[k, t]];
            if a != 0.0 {
                rows.push((l, k, a));
            }
        }
    }
    rows
}

/// One row of finance.csv (and one case of summary.json, see [`summary`]).
#[derive(serde::Serialize, Debug)]
pub struct Row {
    pub hurst: f64,
    pub structure: InfoStructure,
    pub n: usize,
    pub certainty_equivalent: f64,
    pub value: f64,
    pub iterations: usize,
    pub converged: bool,
    pub solve_s: f64,
}

/// The columns of finance.csv, in the order of [`Row`]'s fields.
pub const COLUMNS: &[&str] = &[
    "hurst",
    "structure",
    "n",
    "certainty_equivalent",
    "value",
    "iterations",
    "converged",
    "solve_s",
];

impl Row {
    /// Write this row to finance.csv with the per-row CSV writer every run uses: one flushed
    /// write, cut back to the whole rows before it if the write fails (a full disk).
    fn write(&self, out: &mut crate::run::Metrics) -> Result<()> {
        let structure = serde_json::to_value(self.structure)?;
        let mut row = out.new_row();
        row.num("hurst", self.hurst)
            .text("structure", structure.as_str().unwrap_or_default())
            .num("n", self.n as f64)
            .num("certainty_equivalent", self.certainty_equivalent)
            .num("value", self.value)
            .num("iterations", self.iterations as f64)
            .text("converged", &self.converged.to_string())
            .num("solve_s", self.solve_s);
        out.write(&row)
    }
}

/// Finance mode: every (H, structure), rows to finance.csv, strategies when H is single.
pub fn run(
    cfg: &FinanceConfig,
    opts: &SolverConfig,
    run: &crate::run::Run,
    log: super::driver::Log,
) -> Result<Vec<Row>> {
    let mut out = run.csv("finance.csv", COLUMNS)?;
    let mut rows = Vec::new();
    let mut warm: Option<Array1<f64>> = None;
    for &h in &cfg.hurst {
        let sigma = covariance(cfg.periods, h, alpha_std(cfg, h));
        for &s in &cfg.structures {
            let t = std::time::Instant::now();
            let prev = warm.as_ref().filter(|_| cfg.warm_start);
            let res = solve(s, &sigma, opts, prev, log)?;
            if res.x.is_some() {
                warm = res.x.clone();
            }
            let ce = res.ce / cfg.risk_aversion;
            let row = Row {
                hurst: h,
                structure: s,
                n: res.c.nrows(),
                certainty_equivalent: ce,
                value: -(-res.ce).exp(),
                iterations: res.iterations,
                converged: res.converged,
                solve_s: t.elapsed().as_secs_f64(),
            };
            row.write(&mut out)?;
            if cfg.hurst.len() == 1 {
                write_strategy(run, s, &res, cfg.risk_aversion)?;
            }
            anyhow::ensure!(res.converged, "H = {h}, {s:?}: Newton did not converge");
            rows.push(row);
        }
    }
    if cfg.hurst.len() > 1 {
        render::save(&figure(&rows), &run.path("figure1.svg"))?;
    }
    Ok(rows)
}

/// summary.json of a finance run: an object (as every run's summary is, so `report` and
/// `compare` read it) with the case count, whether all converged and the total solve time,
/// then one entry per case, `H=<h> <structure>`, holding that case's whole row.
pub fn summary(rows: &[Row]) -> Result<serde_json::Value> {
    let mut out = serde_json::Map::new();
    out.insert("cases".into(), rows.len().into());
    let converged = rows.iter().all(|r| r.converged);
    out.insert("converged".into(), converged.into());
    let solve_s: f64 = rows.iter().map(|r| r.solve_s).sum();
    out.insert("solve_s".into(), solve_s.into());
    for row in rows {
        let value = serde_json::to_value(row)?;
        let structure = value["structure"].as_str().unwrap_or_default().to_string();
        out.insert(format!("H={} {structure}", row.hurst), value);
    }
    Ok(serde_json::Value::Object(out))
}

/// Certainty equivalent vs H, one curve per structure (spec §6.2 Figure 1).
fn figure(rows: &[Row]) -> Figure {
    let mut curves = Vec::new();
    for s in [
        InfoStructure::Sum,
        InfoStructure::Markovian,
        InfoStructure::Full,
    ] {
        let pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.structure == s)
            .map(|r| (r.hurst, r.certainty_equivalent))
            .collect();
        if !pts.is_empty() {
            curves.push(Curve::exact(&format!("{s:?}"), &pts));
        }
    }
    Figure {
        title: "Certainty equivalent vs Hurst index".into(),
        x_label: "H".into(),
        y_label: "CE".into(),
        logx: false,
        logy: false,
        curves,
        notes: Vec::new(),
    }
}

/// strategy_<structure>.csv: period, observed index, coefficient (positions scale by 1/α_r).
fn write_strategy(
    run: &crate::run::Run,
    s: InfoStructure,
    res: &FinanceResult,
    ra: f64,
) -> Result<()> {
    let name = format!("strategy_{}.csv", format!("{s:?}").to_lowercase());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["period", "observed_index", "coefficient"])?;
    for (l, k, a) in strategy(res) {
        w.write_record([l.to_string(), k.to_string(), format!("{:e}", a / ra)])?;
    }
    crate::run::write_atomic(&run.path(&name), &w.into_inner()?)
}
