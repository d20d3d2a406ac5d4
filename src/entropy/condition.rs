//! The conditions of spec §3.4 as presets, resolved with `overrides` into one [`Plan`]: what a
//! training run actually does.
//!
//! | condition | lr | batch | schedule | clip | weight EMA (eval) | controller |
//! |---|---|---|---|---|---|---|
//! | plain | ×1 | train.batch | constant | off | off | monitor only |
//! | noisy | ×3 | 4 | constant | off | off | monitor only |
//! | conventional | ×1 | train.batch | cosine to 10 % | 1.0 | 0.999 (eval on EMA) | monitor only |
//! | feedback | ×1 | train.batch | constant | off | off | `controller` as configured (drift + lr) |
//! | feedback_hold | ×1 | train.batch | constant | off | off | hold `fr_entropy` at `ref` with `entropy_coef` |
//!
//! "Monitor only": the probe is still measured and logged so every condition has the same
//! columns (§4.6). `feedback_hold` sets `controller.mode: hold`, `actuator: entropy_coef` and
//! `target: ref`, leaving the other controller keys (gains default per actuator) as configured.
use super::config::{Condition, EntropyConfig, EvalWeights, Schedule};
use super::controller::{Actuator, ControllerConfig, Mode, RefWord, Target};

/// A run's resolved training recipe.
#[derive(Debug, Clone)]
pub struct Plan {
    pub lr: f64,
    pub batch: usize,
    pub schedule: Schedule,
    pub min_lr_frac: f64,
    pub grad_clip: Option<f64>,
    pub weight_ema: Option<f64>,
    pub eval_weights: EvalWeights,
    /// The controller config in force, and whether it acts (false: monitor only).
    pub controller: ControllerConfig,
    pub controller_on: bool,
}

impl Plan {
    pub fn resolve(cfg: &EntropyConfig) -> Plan {
        let base_lr = cfg.train.lr_for(cfg.model.kind);
        let c = cfg.condition;
        let mut controller = cfg.controller.clone();
        if c == Condition::FeedbackHold {
            controller.mode = Mode::Hold;
            controller.actuator = Actuator::EntropyCoef;
            controller.target = Target::Ref(RefWord::Ref);
        }
        let o = &cfg.overrides;
        let conventional = c == Condition::Conventional;
        let noisy = c == Condition::Noisy;
        let positive = |v: f64| (v > 0.0).then_some(v);
        Plan {
            lr: base_lr * o.lr_mult.unwrap_or(if noisy { 3.0 } else { 1.0 }),
            batch: o.batch.unwrap_or(if noisy { 4 } else { cfg.train.batch }),
            schedule: o.schedule.unwrap_or(if conventional {
                Schedule::Cosine
            } else {
                Schedule::Constant
            }),
            min_lr_frac: o.min_lr_frac.unwrap_or(0.1),
            grad_clip: o.grad_clip.map_or(conventional.then_some(1.0), positive),
            weight_ema: o.weight_ema.map_or(conventional.then_some(0.999), positive),
            eval_weights: o.eval_weights.unwrap_or(if conventional {
                EvalWeights::Ema
            } else {
                EvalWeights::Live
            }),
            controller_on: o
                .controller
                .unwrap_or(matches!(c, Condition::Feedback | Condition::FeedbackHold)),
            controller,
        }
    }

    /// Base learning rate (before the controller's factor) for update `step` (0-based):
    /// linear warm-up over `warmup` steps, then constant or cosine to `min_lr_frac · lr` at
    /// the last step.
    pub fn lr_at(&self, step: u64, warmup: u64, steps: u64) -> f64 {
        if step < warmup {
            return self.lr * (step + 1) as f64 / warmup as f64;
        }
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Cosine => {
                let span = steps.saturating_sub(warmup).max(1) as f64;
                let p = ((step - warmup) as f64 / span).min(1.0);
                let floor = self.min_lr_frac * self.lr;
                floor + (self.lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }
        }
    }
}
