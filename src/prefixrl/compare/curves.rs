//! The runs' curves as the acceptance criteria read them: training reward interpolated at a
//! FLOPs budget, the budget every run reached, and a column's mean at each eval step.
use super::{mean, RunData};

/// Linear interpolation of `y(x)` at `at` (`None` outside the curve's range).
fn interp(x: &[f64], y: &[f64], at: f64) -> Option<f64> {
    let i = x.iter().position(|&v| v >= at)?;
    if i == 0 {
        return (x[0] == at).then_some(y[0]);
    }
    let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
    Some(if x1 == x0 {
        y1
    } else {
        y0 + (y1 - y0) * (at - x0) / (x1 - x0)
    })
}

/// Mean over runs of the training reward at FLOPs `at`.
pub(super) fn reward_at(runs: &[&RunData], at: f64) -> Option<f64> {
    mean(runs.iter().map(|r| {
        let (x, y) = r.curve("train_unpref_pass1");
        interp(&x, &y, at)
    }))
}

/// The largest FLOPs budget every run reached (the smallest last x).
pub(super) fn common_budget(groups: &[&[&RunData]]) -> Option<f64> {
    let mut lasts = groups
        .iter()
        .flat_map(|g| g.iter())
        .map(|r| r.curve("train_unpref_pass1").0.last().copied());
    lasts.try_fold(f64::INFINITY, |m, l| Some(m.min(l?)))
}

/// Mean over runs of column `col` at each eval step, as (step, mean) sorted by step.
pub(super) fn by_step(runs: &[&RunData], col: &str) -> Vec<(f64, f64)> {
    let mut steps: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.series("step"))
        .flatten()
        .collect();
    steps.sort_by(f64::total_cmp);
    steps.dedup();
    steps
        .into_iter()
        .filter_map(|s| {
            let at = runs.iter().map(|r| {
                let pairs = r.series("step").into_iter().zip(r.series(col));
                pairs.filter(|(st, _)| *st == Some(s)).find_map(|(_, v)| v)
            });
            Some((s, mean(at)?))
        })
        .collect()
}
