//! The generation-statistics feedback controller of spec §3.5 (pure Rust; the training loop
//! measures the statistic and applies the actuator).
//!
//! Per measurement `k` with raw statistic `s_k`:
//! - filter: `s̃_0 = s_0`, `s̃_k = β s̃_{k−1} + (1 − β) s_k`;
//! - drift: `d_k = |s̃_k − s̃_{k−1}|` for `k ≥ 1`, `d̄_1 = d_1` (the average starts at the first
//!   observed drift, as `s̃_0 = s_0` does, so it is not biased towards 0), then
//!   `d̄_k = 0.9 d̄_{k−1} + 0.1 d_k`. At `k = 0` no drift exists: `d̄_0` is logged as 0 and
//!   drift mode has no error yet;
//! - error by mode: `drift` `e = (r* − d̄_k) / r*` (positive = moving slower than allowed);
//!   `hold` `e = r − s̃_k` (`r` a number, or `h_ref` given to [`Controller::measure`]); `track`
//!   `r_0 = s̃_0`, `r_k = 0.98 r_{k−1} + 0.02 s̃_k`, `e = r_k − s̃_k` (the config's target is not
//!   used);
//! - PI law with anti-windup (E12): `I_k = clip(I_{k−1} + e_k, ±I_max)`,
//!   `u_k = clip(u_0 + K_p e_k + K_i I_k, u_min, u_max)`.
//!
//! When the law does not run, `I` keeps its value and `u = u_0`: during warm-up (`active =
//! false`; the filter, drift and track set-point still update), and whenever the error is
//! `None`: at the first measurement in drift mode, and in hold mode with target `ref` while no
//! `h_ref` exists yet. A non-finite `s_k` is logged but changes no state (not even `u`). A
//! disabled controller (plain runs) only monitors: it logs `s_k`, `s̃_k` and `d̄_k`, and its
//! actuator is neutral (lr factor 1, entropy bonus 0, no clipping).
//!
//! Sign conventions: hold + entropy_coef, statistic below target ⇒ `e > 0` ⇒ `u` rises ⇒ the
//! entropy bonus rises; drift + lr, moving too fast ⇒ `e < 0` ⇒ `u` falls ⇒ lr falls, and with
//! the default `u_max = 0` the lr never exceeds the base.
mod config;
pub mod toy;

pub use config::{
    Actuator, ControllerConfig, Gains, Mode, ProbeConfig, RefWord, Statistic, Target,
    MIN_TEMPERATURE,
};

/// What one measurement logged (§4.6 `ctrl_*` columns). The control fields are `None` when the
/// controller is disabled; `error` is also `None` at the first drift-mode measurement, and
/// `setpoint`/`error` in hold mode with target `ref` while no `h_ref` exists.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// `s_k`.
    pub stat: f64,
    /// `s̃_k`.
    pub stat_filt: f64,
    pub setpoint: Option<f64>,
    pub error: Option<f64>,
    pub integral: Option<f64>,
    pub u: Option<f64>,
    /// `d̄_k`.
    pub drift: f64,
}

impl Measurement {
    /// The `ctrl.csv` columns (after `step`) and their values; `metrics.csv` logs the same
    /// with a `ctrl_` prefix.
    pub fn cells(&self) -> [(&'static str, Option<f64>); 7] {
        [
            ("stat", Some(self.stat)),
            ("stat_filt", Some(self.stat_filt)),
            ("setpoint", self.setpoint),
            ("error", self.error),
            ("integral", self.integral),
            ("u", self.u),
            ("drift", Some(self.drift)),
        ]
    }
}

/// The controller's state between measurements.
#[derive(Clone, Debug)]
pub struct Controller {
    mode: Mode,
    target: Target,
    actuator: Actuator,
    beta: f64,
    clip_c0: f64,
    gains: Gains,
    enabled: bool,
    /// `s̃_{k−1}`, `None` before the first finite measurement.
    filt: Option<f64>,
    /// `d̄_{k−1}`, `None` before the second finite measurement.
    drift: Option<f64>,
    /// The track set-point `r_{k−1}`.
    track: f64,
    integral: f64,
    u: f64,
}

impl Controller {
    /// A controller for a checked `cfg` ([`ControllerConfig::problems`] empty); `enabled = false`
    /// monitors only.
    pub fn new(cfg: &ControllerConfig, enabled: bool) -> Controller {
        let gains = cfg.gains();
        Controller {
            mode: cfg.mode,
            target: cfg.target,
            actuator: cfg.actuator,
            beta: cfg.filter_beta,
            clip_c0: cfg.clip_c0,
            gains,
            enabled,
            filt: None,
            drift: None,
            track: 0.0,
            integral: 0.0,
            u: gains.u0,
        }
    }

    /// One measurement `s_k` (module doc). `active = false` during warm-up; `h_ref` is the
    /// set-point of hold mode with target `ref`.
    pub fn measure(&mut self, stat: f64, active: bool, h_ref: Option<f64>) -> Measurement {
        if stat.is_finite() {
            self.update_filters(stat);
        }
        let filt = self.filt.unwrap_or(f64::NAN);
        let mut m = Measurement {
            stat,
            stat_filt: filt,
            setpoint: None,
            error: None,
            integral: None,
            u: None,
            drift: self.drift.unwrap_or(0.0),
        };
        if !self.enabled {
            return m;
        }
        m.setpoint = self.setpoint(h_ref).filter(|_| self.filt.is_some());
        if !stat.is_finite() {
            // Logged, but neither the integral nor u moves.
            m.integral = Some(self.integral);
            m.u = Some(self.u);
            return m;
        }
        m.error = m.setpoint.and_then(|r| self.error(r, filt));
        let g = self.gains;
        self.u = match m.error {
            Some(e) if active => {
                self.integral = (self.integral + e).clamp(-g.i_max, g.i_max);
                (g.u0 + g.kp * e + g.ki * self.integral).clamp(g.u_min, g.u_max)
            }
            _ => g.u0,
        };
        m.integral = Some(self.integral);
        m.u = Some(self.u);
        m
    }

    fn update_filters(&mut self, stat: f64) {
        match self.filt {
            None => {
                self.filt = Some(stat);
                self.track = stat;
            }
            Some(prev) => {
                let filt = self.beta * prev + (1.0 - self.beta) * stat;
                let d = (filt - prev).abs();
                self.drift = Some(self.drift.map_or(d, |bar| 0.9 * bar + 0.1 * d));
                self.track = 0.98 * self.track + 0.02 * filt;
                self.filt = Some(filt);
            }
        }
    }

    /// The mode's set-point: `r*`, `r` (or `h_ref`), or the track follower `r_k`.
    fn setpoint(&self, h_ref: Option<f64>) -> Option<f64> {
        match (self.mode, self.target) {
            (Mode::Track, _) => Some(self.track),
            (_, Target::Value(r)) => Some(r),
            (_, Target::Ref(_)) => h_ref.filter(|r| r.is_finite()),
        }
    }

    fn error(&self, r: f64, filt: f64) -> Option<f64> {
        match self.mode {
            Mode::Drift => self.drift.map(|bar| (r - bar) / r),
            Mode::Hold | Mode::Track => Some(r - filt),
        }
    }

    /// The current control `u` (`u_0` when disabled or not yet active).
    pub fn u(&self) -> f64 {
        self.u
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn actuator(&self) -> Actuator {
        self.actuator
    }

    /// The resolved gains.
    pub fn gains(&self) -> Gains {
        self.gains
    }

    /// The integral `I` (0 until the law first runs).
    pub fn integral(&self) -> f64 {
        self.integral
    }

    fn acting(&self, a: Actuator) -> bool {
        self.enabled && self.actuator == a
    }

    /// The lr multiplier `exp(u)` with actuator `lr`, else 1.
    pub fn lr_factor(&self) -> f64 {
        if self.acting(Actuator::Lr) {
            self.u.exp()
        } else {
            1.0
        }
    }

    /// The entropy bonus coefficient `u` (loss = CE − u·H) with actuator `entropy_coef`, else 0.
    pub fn entropy_coef(&self) -> f64 {
        if self.acting(Actuator::EntropyCoef) {
            self.u
        } else {
            0.0
        }
    }

    /// The gradient-clip threshold `c_0 · exp(u)` with actuator `clip`, else `None`.
    pub fn clip_threshold(&self) -> Option<f64> {
        self.acting(Actuator::Clip)
            .then(|| self.clip_c0 * self.u.exp())
    }
}
