//! The early-warning flag of spec §7.5 item 3: the `alert` column of `metrics.csv` is 1 on an
//! evaluation where `fr_entropy_t1 < alert.frac × h_ref` or `loop_frac_greedy >
//! alert.loop_frac`, 0 where every enabled test ran and none fired, and empty where a test
//! could not run (no `h_ref` yet, no greedy samples) and none fired, or both are off.
use crate::config::Checker;
use serde::{Deserialize, Serialize};

/// `alert:` keys; null switches a test off.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSection {
    /// Flag when the free-running entropy falls below this fraction of `h_ref` (default 0.8).
    pub frac: Option<f64>,
    /// Flag when more than this fraction of the greedy samples end in a loop (default off:
    /// greedy decoding of small char models loops in healthy runs too).
    pub loop_frac: Option<f64>,
}

impl Default for AlertSection {
    fn default() -> Self {
        AlertSection {
            frac: Some(0.8),
            loop_frac: None,
        }
    }
}

impl AlertSection {
    pub fn validate(&self, c: &mut Checker) {
        if let Some(f) = self.frac {
            c.check(
                "alert.frac",
                f.is_finite() && f > 0.0,
                format!("must be > 0 (null = off), got {f}"),
            );
        }
        if let Some(l) = self.loop_frac {
            c.check(
                "alert.loop_frac",
                (0.0..1.0).contains(&l),
                format!("must be in [0, 1) (null = off), got {l}"),
            );
        }
    }

    /// 1, 0 or None (module doc) for one evaluation.
    pub fn flag(
        &self,
        fr_entropy_t1: f64,
        loop_frac_greedy: Option<f64>,
        h_ref: Option<f64>,
    ) -> Option<f64> {
        let entropy = self.frac.map(|f| h_ref.map(|h| fr_entropy_t1 < f * h));
        let looping = self.loop_frac.map(|l| loop_frac_greedy.map(|x| x > l));
        let tests: Vec<Option<bool>> = [entropy, looping].into_iter().flatten().collect();
        if tests.contains(&Some(true)) {
            Some(1.0)
        } else if !tests.is_empty() && tests.iter().all(Option::is_some) {
            Some(0.0)
        } else {
            None
        }
    }
}
