//! Episode statistics across iterations and the final `summary.json` (spec §6.4, §5.3).
use super::config::NpgConfig;
use crate::rl::EpisodeEnd;
use crate::run::Row;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Serialize, Debug)]
pub struct Summary {
    pub final_eval_mean: Option<f64>,
    pub final_eval_std: Option<f64>,
    pub best_eval_mean: Option<f64>,
    /// Mean of the evaluation returns over all evaluation points.
    pub eval_auc: Option<f64>,
    pub final_ma100: Option<f64>,
    pub threshold: f64,
    /// First env_steps at which ep_return_ma100 ≥ threshold (null if never).
    pub steps_to_threshold: Option<usize>,
    pub total_wall_s: f64,
    pub mean_update_ms: f64,
    pub env_steps: usize,
    /// ACKTR's actor updates skipped (θ unchanged: non-finite statistics or step); metrics.csv
    /// `skipped_updates` per iteration. 0 for the other algorithms, which skip none.
    pub skipped_updates: u64,
}

/// Reward thresholds of §5.3 (CartPole, Acrobot, Pendulum) and Gymnasium's for MountainCar.
pub fn default_threshold(env: &str) -> f64 {
    match env {
        "CartPole-v1" => 475.0,
        "Acrobot-v1" => -100.0,
        "Pendulum-v1" => -250.0,
        "MountainCar-v0" => -110.0,
        "MountainCarContinuous-v0" => 90.0,
        _ => f64::INFINITY,
    }
}

/// A threshold in JSON: a number when finite, `"inf"` / `"-inf"` otherwise; `null` (what
/// checkpoints written before this encoding hold for +∞) reads as +∞.
mod threshold_json {
    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        match *v {
            v if v.is_finite() => Repr::Number(v),
            v if v > 0.0 => Repr::Text("inf".into()),
            v if v < 0.0 => Repr::Text("-inf".into()),
            _ => Repr::Text("nan".into()),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Option::<Repr>::deserialize(d)? {
            None => Ok(f64::INFINITY),
            Some(Repr::Number(v)) => Ok(v),
            Some(Repr::Text(t)) => match t.as_str() {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(D::Error::custom(format!(
                    "threshold: expected a number, \"inf\" or \"-inf\", got \"{other}\""
                ))),
            },
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tracker {
    pub env_steps: usize,
    window: VecDeque<f64>,
    evals: Vec<(f64, f64)>,
    /// Non-finite for the MuJoCo tasks (never solved): kept as `"inf"` in checkpoint.json,
    /// since JSON numbers cannot hold it (serde_json wrote `null`, which could not be read
    /// back, so no MuJoCo run could be resumed).
    #[serde(with = "threshold_json")]
    pub(crate) threshold: f64,
    steps_to_threshold: Option<usize>,
    update_ms: Vec<f64>,
    /// The last of `evals` was made only because the run ended there (see [`Tracker::eval`]).
    #[serde(default)]
    final_only_eval: bool,
    /// [`Summary::skipped_updates`] so far; not in checkpoint.json: a resumed run sums the
    /// carried rows' `skipped_updates` (`checkpoint::copy_rows`).
    #[serde(skip)]
    pub(crate) skipped_updates: u64,
}

impl Tracker {
    pub fn new(cfg: &NpgConfig) -> Self {
        Tracker {
            env_steps: 0,
            window: VecDeque::with_capacity(100),
            evals: Vec::new(),
            threshold: cfg
                .threshold
                .unwrap_or_else(|| default_threshold(&cfg.env.id)),
            steps_to_threshold: None,
            update_ms: Vec::new(),
            final_only_eval: false,
            skipped_updates: 0,
        }
    }

    /// An error when the counters of a checkpoint's tracker, saved at iteration `iter` of
    /// `per_iter` env steps each, cannot be those of a run: `env_steps` other than
    /// iter × per_iter (the run would end early, or never), more than 100 returns in the
    /// moving window, another number of update times than iterations, or more evaluations.
    pub fn check_counts(&self, iter: usize, per_iter: usize) -> anyhow::Result<()> {
        let steps = iter.checked_mul(per_iter);
        anyhow::ensure!(
            steps == Some(self.env_steps),
            "tracker.env_steps is {}, but {iter} iterations of {per_iter} env steps make {}",
            self.env_steps,
            steps.map_or("more than a usize".to_string(), |s| s.to_string())
        );
        anyhow::ensure!(
            self.window.len() <= 100
                && self.update_ms.len() == iter
                && self.evals.len() <= iter + 1,
            "tracker: {} returns in the 100-episode window, {} update times and {} evaluations \
             do not fit iteration {iter}",
            self.window.len(),
            self.update_ms.len(),
            self.evals.len()
        );
        anyhow::ensure!(
            self.steps_to_threshold.is_none_or(|s| s <= self.env_steps),
            "tracker.steps_to_threshold is beyond tracker.env_steps"
        );
        Ok(())
    }

    /// An error naming the first value of a checkpoint's tracker no run records: a negative
    /// update time (it entered `mean_update_ms`) or a negative evaluation spread.
    pub fn check_values(&self) -> anyhow::Result<()> {
        if let Some((i, ms)) = self.update_ms.iter().enumerate().find(|(_, m)| **m < 0.0) {
            anyhow::bail!("`tracker.update_ms[{i}]` is {ms}, but it is a time (≥ 0 ms)");
        }
        if let Some((i, (_, sd))) = self.evals.iter().enumerate().find(|(_, e)| e.1 < 0.0) {
            anyhow::bail!("`tracker.evals[{i}]` has the standard deviation {sd} (< 0)");
        }
        Ok(())
    }

    /// An error when the tracker disagrees with the rows its run wrote up to the checkpoint:
    /// `evals` (iteration, mean, std of each evaluation in metrics.csv) and `episodes` (env
    /// steps and return of each row of episodes.csv). The continued run's summary
    /// (`best_eval_mean`, `eval_auc`, `final_ma100`, `steps_to_threshold`) comes from the
    /// tracker, so an edited one would disagree with the rows it is carried beside.
    pub fn check_rows(
        &self,
        evals: &[(f64, f64, f64)],
        episodes: &[(f64, f64)],
    ) -> Result<(), String> {
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        if self.evals.len() != evals.len() {
            return Err(format!(
                "`tracker.evals` holds {} evaluations, metrics.csv has {} up to the checkpoint",
                self.evals.len(),
                evals.len()
            ));
        }
        for (i, ((m, sd), (iter, rm, rsd))) in self.evals.iter().zip(evals).enumerate() {
            if !same(*m, *rm) || !same(*sd, *rsd) {
                return Err(format!(
                    "`tracker.evals[{i}]` is mean {m}, std {sd}, but metrics.csv has mean {rm}, \
                     std {rsd} at iter {iter}"
                ));
            }
        }
        let mut replay = Tracker {
            window: VecDeque::with_capacity(100),
            steps_to_threshold: None,
            ..self.clone()
        };
        for &(steps, ret) in episodes {
            if replay.window.len() == 100 {
                replay.window.pop_front();
            }
            replay.window.push_back(ret);
            if replay.steps_to_threshold.is_none()
                && replay.ma100().is_some_and(|m| m >= self.threshold)
            {
                replay.steps_to_threshold = Some(steps as usize);
            }
        }
        let window_same = replay.window.len() == self.window.len()
            && replay
                .window
                .iter()
                .zip(&self.window)
                .all(|(a, b)| same(*a, *b));
        if !window_same {
            return Err(format!(
                "`tracker.window` holds {} returns that are not the last {} of episodes.csv",
                self.window.len(),
                replay.window.len()
            ));
        }
        if replay.steps_to_threshold != self.steps_to_threshold {
            let text = |s: Option<usize>| s.map_or("null".to_string(), |s| s.to_string());
            return Err(format!(
                "`tracker.steps_to_threshold` is {}, but the episodes of episodes.csv make it {} \
                 (the first env step where the 100-episode mean return reaches {})",
                text(self.steps_to_threshold),
                text(replay.steps_to_threshold),
                self.threshold
            ));
        }
        Ok(())
    }

    fn ma100(&self) -> Option<f64> {
        (!self.window.is_empty())
            .then(|| self.window.iter().sum::<f64>() / self.window.len() as f64)
    }

    /// Fill the training-episode columns from this iteration's finished episodes.
    pub fn episodes(&mut self, row: &mut Row, finished: &[(usize, EpisodeEnd)], update_ms: f64) {
        self.update_ms.push(update_ms);
        row.num("ep_count", finished.len() as f64);
        if !finished.is_empty() {
            let rets: Vec<f64> = finished.iter().map(|(_, e)| e.ret).collect();
            let n = rets.len() as f64;
            row.num("ep_return_mean", rets.iter().sum::<f64>() / n);
            row.num(
                "ep_return_min",
                rets.iter().cloned().fold(f64::INFINITY, f64::min),
            );
            row.num(
                "ep_return_max",
                rets.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            );
            row.num(
                "ep_len_mean",
                finished.iter().map(|(_, e)| e.len as f64).sum::<f64>() / n,
            );
        }
        for (steps, e) in finished {
            if self.window.len() == 100 {
                self.window.pop_front();
            }
            self.window.push_back(e.ret);
            if self.steps_to_threshold.is_none()
                && self.ma100().is_some_and(|m| m >= self.threshold)
            {
                self.steps_to_threshold = Some(*steps);
            }
        }
        row.opt("ep_return_ma100", self.ma100());
    }

    /// Record an evaluation; `final_only` when only the run's end called for it (not
    /// `eval.every`).
    pub fn eval(&mut self, mean: f64, std: f64, final_only: bool) {
        self.evals.push((mean, std));
        self.final_only_eval = final_only;
    }

    /// Whether the last evaluation was made only because the run ended there.
    pub fn ends_with_final_only_eval(&self) -> bool {
        self.final_only_eval
    }

    /// Drop the last evaluation if only the run's end called for it: a run continued past
    /// that end evaluates where an uninterrupted one does.
    pub fn drop_final_only_eval(&mut self) {
        if std::mem::take(&mut self.final_only_eval) {
            self.evals.pop();
        }
    }

    pub fn progress_text(&self) -> String {
        match (self.ma100(), self.evals.last()) {
            (Some(m), Some((e, _))) => format!("ma100 {m:.1}, eval {e:.1}"),
            (Some(m), None) => format!("ma100 {m:.1}"),
            _ => String::new(),
        }
    }

    pub fn summary(&self, total_wall_s: f64) -> Summary {
        let means: Vec<f64> = self.evals.iter().map(|e| e.0).collect();
        Summary {
            final_eval_mean: self.evals.last().map(|e| e.0),
            final_eval_std: self.evals.last().map(|e| e.1),
            best_eval_mean: means.iter().cloned().reduce(f64::max),
            eval_auc: (!means.is_empty()).then(|| means.iter().sum::<f64>() / means.len() as f64),
            final_ma100: self.ma100(),
            threshold: self.threshold,
            steps_to_threshold: self.steps_to_threshold,
            total_wall_s,
            mean_update_ms: self.update_ms.iter().sum::<f64>() / self.update_ms.len().max(1) as f64,
            env_steps: self.env_steps,
            skipped_updates: self.skipped_updates,
        }
    }
}
