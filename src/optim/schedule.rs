//! Learning-rate schedules as pure functions of the step.
//!
//! `step` is the 0-based index of the update about to be taken (call `lr_at(step)` and
//! `set_lr` before the `step`-th `Optimizer::step`). With `w = warmup`, base lr `η`:
//! - `constant`: `η`.
//! - `warmup_constant`: `η·(step+1)/w` for `step < w`, then `η` (step 0 already moves; step
//!   `w−1` reaches `η`).
//! - `warmup_cosine`: warm-up as above, then with `p = min(1, (step−w)/(total−w))`
//!   `lr_min + (η − lr_min)·(1 + cos(π·p))/2`: `η` at step `w`, `lr_min` from step `total` on.
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    Constant {},
    WarmupConstant {
        warmup: u64,
    },
    WarmupCosine {
        warmup: u64,
        total: u64,
        lr_min: f64,
    },
}

impl LrSchedule {
    pub fn validate(&self, base: f64) -> Result<()> {
        if let LrSchedule::WarmupCosine {
            warmup,
            total,
            lr_min,
        } = *self
        {
            if total <= warmup {
                bail!("lr schedule: total ({total}) must exceed warmup ({warmup})");
            }
            if !(lr_min.is_finite() && (0.0..=base).contains(&lr_min)) {
                bail!("lr schedule: lr_min must lie in [0, lr = {base}], got {lr_min}");
            }
        }
        Ok(())
    }

    /// Learning rate for update number `step` (0-based) with base rate `base`.
    pub fn lr_at(&self, base: f64, step: u64) -> f64 {
        let warm = |w: u64| (step < w).then(|| base * (step + 1) as f64 / w as f64);
        match *self {
            LrSchedule::Constant {} => base,
            LrSchedule::WarmupConstant { warmup } => warm(warmup).unwrap_or(base),
            LrSchedule::WarmupCosine {
                warmup,
                total,
                lr_min,
            } => warm(warmup).unwrap_or_else(|| {
                let p = ((step - warmup) as f64 / (total - warmup) as f64).min(1.0);
                lr_min + (base - lr_min) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-15 * b.abs().max(1.0)
    }

    #[test]
    fn boundary_steps_match_the_closed_forms() {
        let (base, w, total, lr_min) = (1e-3, 100, 3000, 1e-4);
        assert_eq!(LrSchedule::Constant {}.lr_at(base, 0), base);
        let wc = LrSchedule::WarmupConstant { warmup: w };
        assert!(close(wc.lr_at(base, 0), base / 100.0));
        assert!(close(wc.lr_at(base, w - 1), base));
        assert_eq!(wc.lr_at(base, w), base);
        assert_eq!(wc.lr_at(base, 10 * w), base);
        let cos = LrSchedule::WarmupCosine {
            warmup: w,
            total,
            lr_min,
        };
        cos.validate(base).unwrap();
        assert!(close(cos.lr_at(base, 0), 1e-5));
        assert!(close(cos.lr_at(base, 49), 5e-4));
        assert!(close(cos.lr_at(base, w - 1), base));
        assert!(close(cos.lr_at(base, w), base));
        // Half-way through the decay: the mean of base and floor.
        assert!(close(cos.lr_at(base, w + (total - w) / 2), 5.5e-4));
        assert!(close(cos.lr_at(base, total), lr_min));
        assert_eq!(cos.lr_at(base, total + 5), cos.lr_at(base, total));
        let quarter = lr_min + (base - lr_min) * 0.5 * (1.0 + (std::f64::consts::PI / 4.0).cos());
        assert!(close(cos.lr_at(base, w + (total - w) / 4), quarter));
        // Monotone decay after the warm-up.
        let lrs: Vec<f64> = (w..=total).map(|s| cos.lr_at(base, s)).collect();
        assert!(lrs.windows(2).all(|p| p[1] <= p[0]));
    }

    #[test]
    fn config_parses_and_validates() {
        let s: LrSchedule = serde_yaml_ng::from_str(
            "kind: warmup_cosine\nwarmup: 10\ntotal: 100\nlr_min: 0.0001\n",
        )
        .unwrap();
        assert_eq!(
            s,
            LrSchedule::WarmupCosine {
                warmup: 10,
                total: 100,
                lr_min: 1e-4
            }
        );
        let c: LrSchedule = serde_yaml_ng::from_str("kind: constant\n").unwrap();
        assert_eq!(c, LrSchedule::Constant {});
        assert!(serde_yaml_ng::from_str::<LrSchedule>("kind: constant\nwarmup: 3\n").is_err());
        let bad = LrSchedule::WarmupCosine {
            warmup: 10,
            total: 10,
            lr_min: 0.0,
        };
        assert!(bad.validate(1e-3).is_err());
        let floor = LrSchedule::WarmupCosine {
            warmup: 1,
            total: 10,
            lr_min: 1.0,
        };
        assert!(floor.validate(1e-3).is_err());
    }
}
