//! Skipping `mj_rnePostConstraint` (Gymnasium calls it after every `do_simulation`) changes
//! nothing for the tasks that read none of its outputs (`cacc`, `cfrc_int`, `cfrc_ext`): the
//! same controls give bit-identical states, observations, rewards and flags with and without
//! it over 400 steps with resets. Humanoid reads `cfrc_ext`, so it keeps the call; skipping it
//! there would change its observation, which shows the comparison can fail.
use lab::rl::env::Precision;
use lab::rl::mujoco::half_cheetah::HalfCheetah;
use lab::rl::mujoco::hopper::Hopper;
use lab::rl::mujoco::humanoid::Humanoid;
use lab::rl::mujoco::pusher::Pusher;
use lab::rl::mujoco::sim::Sim;
use lab::rl::mujoco::swimmer::Swimmer;
use lab::rl::mujoco::walker2d::Walker2d;
use lab::rl::mujoco::{Task, DEFAULT_MODEL_DIR};
use std::path::Path;

const STEPS: usize = 400;

/// A task and its simulation, with or without `mj_rnePostConstraint`.
fn load<T: Task>(rne: bool) -> (T, Sim) {
    let dir = Path::new(DEFAULT_MODEL_DIR);
    let mut sim = Sim::load(dir, T::MODEL_FILE, T::FRAME_SKIP).expect("model");
    sim.rne_post_constraint = rne;
    (T::new(&sim).expect("task"), sim)
}

/// Whether two runs with the same controls (within ±1.2× the control range, resetting both
/// where an episode ends) stay bit-identical in state, observation, reward and flags.
fn same_with_and_without<T: Task>() -> bool {
    let ((mut ta, mut a), (mut tb, mut b)) = (load::<T>(true), load::<T>(false));
    let range = a.model().actuator_ctrlrange().to_vec();
    let n = ta.obs_dim(&a);
    let (mut oa, mut ob) = (vec![0.0; n], vec![0.0; n]);
    let mut u: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..STEPS {
        let ctrl: Vec<f64> = range
            .iter()
            .map(|r| {
                u ^= u << 13;
                u ^= u >> 7;
                u ^= u << 17;
                let x = (u >> 11) as f64 / (1u64 << 53) as f64;
                1.2 * (r[0] + (r[1] - r[0]) * x)
            })
            .collect();
        let (ra, rb) = (
            ta.step(&mut a, &ctrl, Precision::Gymnasium),
            tb.step(&mut b, &ctrl, Precision::Gymnasium),
        );
        ta.observe(&a, &mut oa);
        tb.observe(&b, &mut ob);
        let same_state = a.qpos() == b.qpos() && a.qvel() == b.qvel();
        if ra != rb || oa != ob || !same_state {
            return false;
        }
        if matches!(ra, Ok((_, true)) | Err(_)) {
            let (q, v) = (a.init_qpos.clone(), a.init_qvel.clone());
            a.reset_to(&q, &v);
            b.reset_to(&q, &v);
        }
    }
    true
}

#[test]
fn tasks_that_read_no_constraint_forces_skip_it_bit_for_bit() {
    assert!(same_with_and_without::<Hopper>(), "Hopper-v5");
    assert!(same_with_and_without::<Walker2d>(), "Walker2d-v5");
    assert!(same_with_and_without::<HalfCheetah>(), "HalfCheetah-v5");
    assert!(same_with_and_without::<Swimmer>(), "Swimmer-v5");
    assert!(same_with_and_without::<Pusher>(), "Pusher-v5");
    for flag in [
        Hopper::READS_CONSTRAINT_FORCES,
        Walker2d::READS_CONSTRAINT_FORCES,
        HalfCheetah::READS_CONSTRAINT_FORCES,
        Swimmer::READS_CONSTRAINT_FORCES,
        Pusher::READS_CONSTRAINT_FORCES,
    ] {
        assert!(!flag, "these tasks skip mj_rnePostConstraint");
    }
}

#[test]
fn humanoid_reads_the_contact_forces_and_keeps_the_call() {
    const { assert!(Humanoid::READS_CONSTRAINT_FORCES) };
    assert!(
        !same_with_and_without::<Humanoid>(),
        "Humanoid's cfrc_ext observation must change without mj_rnePostConstraint"
    );
}
