//! The update phase's per-iteration numbers and how they fill a metrics row (spec §6.4).
use super::optim_actor::OptimStats;
use super::trust_region::TrustRegionStats;
use super::update::ActorStats;
use crate::run::Row;

/// Per-iteration numbers from the update phase.
#[derive(Default)]
pub struct UpdateStats {
    pub pg_loss: f64,
    pub v_loss: f64,
    pub entropy: f64,
    pub approx_kl: f64,
    pub explained_var: f64,
    pub actor: Vec<ActorStats>,
    pub optim: Vec<OptimStats>,
    pub trust: Option<TrustRegionStats>,
    /// ACKTR: its minibatch steps this iteration that left θ unchanged (non-finite).
    pub skipped: Option<u64>,
}

fn mean_of(stats: &[ActorStats], f: impl Fn(&ActorStats) -> Option<f64>) -> Option<f64> {
    let xs: Vec<f64> = stats.iter().filter_map(f).collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

fn fill_trust(row: &mut Row, t: &TrustRegionStats) {
    row.num("g_norm", t.g_norm)
        .num("g_dot_d", t.g_dot_d)
        .num("d_norm", t.d_norm);
    row.num("step_size", t.step_size)
        .num("update_norm", t.update_norm);
    row.num("cg_iters", t.cg_iters as f64)
        .num("cg_residual", t.cg_residual);
    row.opt("ls_steps", t.ls_steps.map(|x| x as f64));
    row.opt("ls_accepted", t.ls_accepted.map(|x| x as u8 as f64));
}

pub fn fill_update(row: &mut Row, s: &UpdateStats, lr: Option<f64>) {
    row.num("pg_loss", s.pg_loss)
        .num("v_loss", s.v_loss)
        .num("entropy", s.entropy);
    row.num("approx_kl", s.approx_kl)
        .num("explained_var", s.explained_var);
    let a = &s.actor;
    row.opt("g_norm", mean_of(a, |x| Some(x.g_norm)));
    row.opt("u_norm_sq", mean_of(a, |x| x.u_norm_sq));
    row.opt("u_logstd_sq", mean_of(a, |x| x.u_logstd_sq));
    row.opt("u_dot_g", mean_of(a, |x| x.u_dot_g));
    row.opt("cos_ug", mean_of(a, |x| x.cos_ug));
    row.opt("sm_c", mean_of(a, |x| x.sm_c));
    row.opt("d_norm", mean_of(a, |x| x.d_norm));
    row.opt("g_dot_d", mean_of(a, |x| x.g_dot_d));
    row.opt("cos_to_exact", mean_of(a, |x| x.cos_to_exact));
    row.opt("step_size", mean_of(a, |x| Some(x.step_size)));
    row.opt("update_norm", mean_of(a, |x| Some(x.update_norm)));
    row.opt(
        "clip_frac_update",
        mean_of(a, |x| Some(x.clipped as u8 as f64)),
    );
    if let Some(t) = &s.trust {
        fill_trust(row, t);
    }
    if !s.optim.is_empty() {
        let o = &s.optim;
        let mean = |f: &dyn Fn(&OptimStats) -> Option<f64>| {
            let xs: Vec<f64> = o.iter().filter_map(f).collect();
            (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
        };
        row.opt("g_norm", mean(&|x| Some(x.g_norm)));
        row.opt("update_norm", mean(&|x| Some(x.update_norm)));
        row.opt("clipfrac", mean(&|x| x.clipfrac));
    }
    row.opt("lr", lr);
    row.opt("skipped_updates", s.skipped.map(|n| n as f64));
}
