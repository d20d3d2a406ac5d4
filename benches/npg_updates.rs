//! `make bench`: actor-update cost of SMAC vs PG vs NPG-CG (10 CG iterations) at hidden sizes
//! 64, 256, 1024 on one thread (issue 4 targets: SMAC ≤ 1.3× PG and ≥ 5× faster than NPG-CG),
//! and end-to-end PPO on CartPole-v1 (4 envs, 64-64) env steps/s (target ≥ 20,000), on both
//! network backends (native and torch).
#[path = "common/lab_ppo.rs"]
mod lab_ppo;

use lab::npg::backend::Policy;
use lab::npg::config::ScoreSample;
use lab::npg::policy::{Actor, NativeActor, Samples};
use lab::npg::step::StepRule;
use lab::npg::trust_region::{trust_region_step, TrustRegion};
use lab::npg::update::{actor_step, ActorUpdate, Preconditioner};
use lab::rl::Space;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use tch::Device;

const BATCH: usize = 128;

/// A CartPole-shaped minibatch with actions drawn from the policy.
fn samples<P: Policy>(actor: &P, rng: &mut ChaCha8Rng) -> Samples {
    let obs: Vec<f64> = (0..BATCH * 4).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let (actions, _) = actor.act(&obs, 4, rng, false);
    let mut s = Samples {
        obs,
        obs_dim: 4,
        actions,
        adv: (0..BATCH).map(|_| rng.gen_range(-1.0..1.0)).collect(),
        returns: vec![0.0; BATCH],
        size: BATCH,
        ..Samples::default()
    };
    s.old_logp = actor.log_probs(&actor.batch(&s));
    s
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// Median milliseconds of `reps` calls (after one warm-up call).
fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

/// Median ms of a SMAC, a PG and an NPG-CG (10 CG iterations) actor update.
fn update_costs<P: Policy>(actor: &mut P, hidden: usize) -> [f64; 3] {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mb = actor.batch(&samples(&*actor, &mut rng));
    let upd = |pre| ActorUpdate {
        pre,
        rule: StepRule::Fixed {},
        actor_lr: 1e-6,
        max_update_norm: 1.0,
        ent_coef: 0.0,
        adam: None,
    };
    let mut smac = upd(Preconditioner::Rank1 {
        damping: 0.1,
        score: ScoreSample::Random,
    });
    let mut pg = upd(Preconditioner::Identity);
    let reps = if hidden >= 1024 { 7 } else { 21 };
    // Interleaved, so that both see the same machine state (caches, clock, other load).
    let (mut smac_ms, mut pg_ms) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        smac_ms.push(time_ms(1, || {
            actor_step(actor, &mb, &mut smac, &mut rng, None).expect("smac");
        }));
        pg_ms.push(time_ms(1, || {
            actor_step(actor, &mb, &mut pg, &mut rng, None).expect("pg");
        }));
    }
    let (t_smac, t_pg) = (median(smac_ms), median(pg_ms));
    let tr = TrustRegion {
        max_kl: 1e-6,
        cg_iters: 10,
        cg_damping: 0.1,
        cg_residual_tol: 0.0,
        line_search: None,
    };
    let t_cg = time_ms(reps.min(7), || {
        trust_region_step(actor, &tr, &mb).expect("npg-cg");
    });
    [t_smac, t_pg, t_cg]
}

fn report(backend: &str, hidden: usize, n: usize, [t_smac, t_pg, t_cg]: [f64; 3]) {
    let (r_pg, r_cg) = (t_smac / t_pg, t_cg / t_smac);
    let ok = |c: bool| if c { "met" } else { "NOT met" };
    println!(
        "{backend:>6} hidden {hidden:>5} ({n:>8} params): smac {t_smac:8.2} ms  pg {t_pg:8.2} ms  \
         npg-cg {t_cg:9.2} ms  smac/pg {r_pg:.2} (≤1.3 {})  npg-cg/smac {r_cg:.1} (≥5 {})",
        ok(r_pg <= 1.3),
        ok(r_cg >= 5.0)
    );
}

fn both_backends(hidden: usize) {
    tch::manual_seed(0);
    let mut torch = Actor::new(4, &Space::Discrete(2), &[hidden, hidden], Device::Cpu);
    let mut native = NativeActor::from_torch(&torch);
    let n = native.numel();
    report("native", hidden, n, update_costs(&mut native, hidden));
    report("torch", hidden, n, update_costs(&mut torch, hidden));
}

/// Env steps/s of one short PPO run (training wall time, from summary.json).
fn ppo_run(backend: &str) -> Result<f64, String> {
    let sets = ["total_steps=20480", "eval.every=0", "eval.episodes=1"];
    let sets: Vec<String> = (sets.iter().map(|s| s.to_string()))
        .chain([format!("backend={backend}")])
        .collect();
    lab_ppo::ppo_steps_per_s("ppo", &sets)
}

/// Median and range of three runs: on a shared machine one run is too noisy.
fn ppo_end_to_end(backend: &str) {
    let mut sps = Vec::new();
    for _ in 0..3 {
        match ppo_run(backend) {
            Ok(x) => sps.push(x),
            Err(e) => return println!("ppo end-to-end ({backend}): FAILED: {e}"),
        }
    }
    sps.sort_by(f64::total_cmp);
    let verdict = if sps[1] >= 20_000.0 { "met" } else { "NOT met" };
    println!(
        "{backend:>6} ppo CartPole-v1 4 envs 64-64, 1 thread: median {:.0} env steps/s of 3 \
         (range {:.0}–{:.0}; target >= 20000: {verdict})",
        sps[1], sps[0], sps[2]
    );
}

lab::prepare_test_process!();

fn main() {
    // One thread for libtorch and for the BLAS behind ndarray's matrix products.
    lab::device::set_threads(Some(1)).expect("one thread");
    println!("== npg_updates: actor update cost on a {BATCH}-sample minibatch (median, 1 thread)");
    for hidden in [64, 256, 1024] {
        both_backends(hidden);
    }
    ppo_end_to_end("native");
    ppo_end_to_end("torch");
}
