//! `lab grng` with `task: twolayer-toy`: one [`run_toy`] of the config's `toy:` section, written
//! as `toy.csv` (one row per step, [`ToyStep::COLUMNS`]), `metrics.csv` (step, loss — what
//! `lab report`/`lab plot` read) and `summary.json`. The run's top-level `seed` draws the data.
use super::{run_toy, ToyConfig, ToyStep};
use crate::run::Run;
use anyhow::Result;
use serde::Serialize;

#[derive(Serialize)]
struct ToySummary<'a> {
    method: &'a str,
    eta: f64,
    rho: f64,
    lambda0: f64,
    kappa_init: f64,
    initial_loss: f64,
    final_loss: f64,
    steps: usize,
    steps_to_stop: Option<usize>,
    diverged: bool,
    breakdown: Option<&'a str>,
}

pub fn execute(toy: &ToyConfig, seed: u64, run: &mut Run) -> Result<()> {
    let cfg = ToyConfig {
        seed,
        ..toy.clone()
    };
    let out = run_toy(&cfg)?;
    let mut csv = run.csv("toy.csv", ToyStep::COLUMNS)?;
    let mut metrics = run.csv("metrics.csv", &["step", "loss"])?;
    for r in &out.rows {
        let mut row = csv.new_row();
        for (name, v) in ToyStep::COLUMNS.iter().zip(r.values()) {
            row.num(name, v);
        }
        csv.write(&row)?;
        let mut m = metrics.new_row();
        m.num("step", (r.step + 1) as f64).num("loss", r.loss_next);
        metrics.write(&m)?;
    }
    run.write_summary(&ToySummary {
        method: cfg.method.name(),
        eta: out.eta,
        rho: cfg.rho,
        lambda0: cfg.lambda0,
        kappa_init: out.kappa_init,
        initial_loss: out.initial_loss,
        final_loss: out.final_loss(),
        steps: out.rows.len(),
        steps_to_stop: out.steps_to_stop,
        diverged: out.diverged,
        breakdown: out.breakdown.as_deref(),
    })
}
