//! The controller's config (spec §3.5, §7.2 `controller:`), its per-actuator default gains and
//! its range checks.
use crate::config::Checker;
use serde::{Deserialize, Deserializer, Serialize};

/// The generation statistic `s_k` the probe measures (§3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    FrEntropy,
    TfEntropy,
    SeqRep4,
    Top1Mass,
}

/// What the error measures: the filtered drift against a rate (`drift`), the filtered
/// statistic against a fixed set-point (`hold`), or against a slow follower of itself (`track`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Drift,
    Hold,
    Track,
}

/// What the control `u` moves: the lr factor `exp(u)`, an entropy bonus `u`, or the clip
/// threshold `c0·exp(u)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actuator {
    Lr,
    EntropyCoef,
    Clip,
}

/// The word `ref` (the only string a [`Target`] accepts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefWord {
    Ref,
}

/// The set-point: a number (drift: nats per measurement; hold: the statistic's value), or `ref`,
/// the reference entropy `h_ref` passed at measurement time (hold mode only). Track mode ignores
/// it (its set-point follows the statistic).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Target {
    Value(f64),
    Ref(RefWord),
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Target;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or the string \"ref\"")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Target, E> {
                Ok(Target::Value(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Target, E> {
                Ok(Target::Value(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Target, E> {
                Ok(Target::Value(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Target, E> {
                match v {
                    "ref" => Ok(Target::Ref(RefWord::Ref)),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The smallest sampling temperature other than 0 (greedy) that lab accepts. Below it sampling
/// is the greedy decoder in all but name, and far below it (about 1e-305 for logits near 1) the
/// tempered logits overflow to ±inf and the sampled ids are garbage.
pub const MIN_TEMPERATURE: f64 = 1e-3;

/// The probe: fixed prompts from the training split, continued from a fixed-seed RNG stream
/// that is reseeded identically at every measurement (§3.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    pub prompts: usize,
    pub prompt_len: usize,
    pub len: usize,
    pub temperature: f64,
    pub seed: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            prompts: 8,
            prompt_len: 16,
            len: 32,
            temperature: 1.0,
            seed: 1234,
        }
    }
}

/// `controller:` of §7.2. A gain or range left out (`None`) takes the actuator's default
/// ([`ControllerConfig::gains`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerConfig {
    pub statistic: Statistic,
    pub mode: Mode,
    pub target: Target,
    pub actuator: Actuator,
    /// Training steps between measurements.
    pub every: u64,
    pub probe: ProbeConfig,
    /// β of the filter `s̃_k = β s̃_{k−1} + (1 − β) s_k`.
    pub filter_beta: f64,
    pub kp: Option<f64>,
    pub ki: Option<f64>,
    pub u0: Option<f64>,
    pub u_min: Option<f64>,
    pub u_max: Option<f64>,
    /// `I_max` of E12.
    pub integral_limit: Option<f64>,
    /// `c_0` of the clip actuator: threshold `c_0 · exp(u)`.
    pub clip_c0: f64,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            statistic: Statistic::FrEntropy,
            mode: Mode::Drift,
            target: Target::Value(0.005),
            actuator: Actuator::Lr,
            every: 10,
            probe: ProbeConfig::default(),
            filter_beta: 0.8,
            kp: None,
            ki: None,
            u0: None,
            u_min: None,
            u_max: None,
            integral_limit: None,
            clip_c0: 1.0,
        }
    }
}

/// The PI law's constants with every default resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gains {
    pub kp: f64,
    pub ki: f64,
    pub u0: f64,
    pub u_min: f64,
    pub u_max: f64,
    pub i_max: f64,
}

impl Gains {
    /// The §3.5 table's defaults for `actuator`.
    pub fn default_for(actuator: Actuator) -> Gains {
        let (kp, ki, i_max, u_min, u_max) = match actuator {
            Actuator::Lr => (0.2, 0.02, 400.0, 1e-3f64.ln(), 0.0),
            Actuator::Clip => (0.2, 0.02, 400.0, 1e-2f64.ln(), 0.0),
            Actuator::EntropyCoef => (0.5, 0.05, 200.0, -5.0, 5.0),
        };
        Gains {
            kp,
            ki,
            u0: 0.0,
            u_min,
            u_max,
            i_max,
        }
    }

    /// The smallest `I_max` with which the integral alone spans `[u_min, u_max]`.
    pub fn min_integral_limit(&self) -> f64 {
        (self.u_max - self.u_min) / self.ki
    }
}

impl ControllerConfig {
    /// The gains with the actuator's defaults filled in.
    pub fn gains(&self) -> Gains {
        let d = Gains::default_for(self.actuator);
        Gains {
            kp: self.kp.unwrap_or(d.kp),
            ki: self.ki.unwrap_or(d.ki),
            u0: self.u0.unwrap_or(d.u0),
            u_min: self.u_min.unwrap_or(d.u_min),
            u_max: self.u_max.unwrap_or(d.u_max),
            i_max: self.integral_limit.unwrap_or(d.i_max),
        }
    }

    /// Every problem as `"<key>: <why>"`, keys under `prefix` (e.g. `controller.every`).
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut c = Checker::default();
        self.validate_at(&mut c, prefix);
        c.problems
            .into_iter()
            .map(|(k, why)| format!("{k}: {why}"))
            .collect()
    }

    /// The same checks into a [`Checker`] (constraints between keys name the other keys).
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        let key = |k: &str| format!("{at}.{k}");
        c.check(&key("every"), self.every > 0, "must be >= 1, got 0");
        let p = &self.probe;
        c.at_least(&key("probe.prompts"), p.prompts, 1);
        c.at_least(&key("probe.prompt_len"), p.prompt_len, 1);
        c.at_least(&key("probe.len"), p.len, 1);
        c.check(
            &key("probe.temperature"),
            p.temperature == 0.0 || (p.temperature.is_finite() && p.temperature >= MIN_TEMPERATURE),
            format!(
                "must be 0 (greedy) or at least {MIN_TEMPERATURE}, got {}: below that the \
                 sampler is greedy decoding in all but name, and near 1e-305 the tempered \
                 logits overflow and the sampled tokens are garbage",
                p.temperature
            ),
        );
        c.check(
            &key("filter_beta"),
            (0.0..1.0).contains(&self.filter_beta),
            format!("must be in [0, 1), got {}", self.filter_beta),
        );
        c.positive(&key("clip_c0"), self.clip_c0);
        self.check_target(c, &key("target"));
        self.check_gains(c, at);
    }

    fn check_target(&self, c: &mut Checker, key: &str) {
        match (self.mode, self.target) {
            (Mode::Drift, Target::Value(r)) => c.check(
                key,
                r.is_finite() && r > 0.0,
                format!("the drift rate r* (nats per measurement) must be > 0, got {r}"),
            ),
            (Mode::Hold | Mode::Track, Target::Value(r)) => c.check(
                key,
                r.is_finite(),
                format!("must be a finite number, got {r}"),
            ),
            (Mode::Hold, Target::Ref(_)) => {}
            (mode, Target::Ref(_)) => c.check(
                key,
                false,
                format!(
                    "`ref` (the reference entropy) is a set-point for mode `hold` only; mode \
                     `{}` needs a number",
                    if mode == Mode::Drift {
                        "drift"
                    } else {
                        "track"
                    }
                ),
            ),
        }
    }

    fn check_gains(&self, c: &mut Checker, at: &str) {
        let key = |k: &str| format!("{at}.{k}");
        let g = self.gains();
        let finite = |c: &mut Checker, k: &str, v: f64| {
            c.check(&key(k), v.is_finite(), format!("must be finite, got {v}"));
        };
        for (k, v) in [("u0", g.u0), ("u_min", g.u_min), ("u_max", g.u_max)] {
            finite(c, k, v);
        }
        c.check(
            &key("kp"),
            g.kp.is_finite() && g.kp >= 0.0,
            format!("must be >= 0, got {}", g.kp),
        );
        c.positive(&key("ki"), g.ki);
        c.positive(&key("integral_limit"), g.i_max);
        let (lo, hi) = (key("u_min"), key("u_max"));
        c.relation(
            &hi,
            &[&lo],
            g.u_min <= g.u_max,
            format!("must be >= u_min = {}, got {}", g.u_min, g.u_max),
        );
        c.relation(
            &key("u0"),
            &[&lo, &hi],
            g.u_min <= g.u0 && g.u0 <= g.u_max,
            format!(
                "must lie in [u_min, u_max] = [{}, {}], got {}",
                g.u_min, g.u_max, g.u0
            ),
        );
        let need = g.min_integral_limit();
        if g.ki > 0.0 && need.is_finite() && g.i_max.is_finite() {
            c.relation(
                &key("integral_limit"),
                &[&key("ki"), &lo, &hi],
                g.i_max >= need * (1.0 - 1e-12),
                format!(
                    "must be >= (u_max - u_min) / ki = ({} - {}) / {} = {need:.6}, so that the \
                     integral alone can reach the whole output range (anti-windup); got {}",
                    g.u_max, g.u_min, g.ki, g.i_max
                ),
            );
        }
    }
}
