//! Rollout collection (spec §1.9, §7.2): a truncated step stores V(final observation) for
//! bootstrapping, taken from the episode's last observation, not the reset one.
use lab::npg::policy::{Actor, Critic};
use lab::npg::rollout::{to_tensor, Collector};
use lab::rl::{EnvOptions, VecEnv};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Device;

#[test]
fn truncations_store_the_final_observation_value() {
    let _torch = crate::common::torch_lock();
    tch::manual_seed(0);
    let opts = EnvOptions {
        max_episode_steps: Some(5),
        ..EnvOptions::default()
    };
    let venv = VecEnv::from_id("Pendulum-v1", &opts, 2, 1).expect("venv");
    let actor = Actor::new(3, venv.action_space(), &[8], Device::Cpu);
    let critic = Critic::new(3, &[8], Device::Cpu);
    let mut col = Collector {
        venv,
        obs_norm: None,
        reward_scale: None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut episodes = Vec::new();
    let b = col.collect(&actor, &critic, 12, &mut rng, 0, &mut episodes);
    assert_eq!(b.rewards.len(), 24);
    for (name, len) in [
        ("values", b.values.len()),
        ("terminated", b.terminated.len()),
        ("truncated", b.truncated.len()),
        ("final_values", b.final_values.len()),
    ] {
        assert_eq!(len, 24, "{name}");
    }
    assert_eq!(episodes.len(), 4, "two 5-step episodes per env in 12 steps");
    for (i, (&trunc, &fv)) in b.truncated.iter().zip(&b.final_values).enumerate() {
        let t = i / 2;
        assert_eq!(trunc, t % 5 == 4, "step {t}");
        assert!(!b.terminated[i]);
        if trunc {
            assert_ne!(fv, 0.0);
            // The next stored observation is the reset one, whose value differs.
            assert_ne!(fv, b.values[i + 2]);
        } else {
            assert_eq!(fv, 0.0);
        }
    }
    // Bootstrap values of the observation after the last step, one per env.
    let last = to_tensor(
        &lab::npg::rollout::network_input(col.venv.obs(), &mut None, false),
        3,
        Device::Cpu,
    );
    let want = Vec::<f64>::try_from(&tch::no_grad(|| critic.values(&last))).expect("values");
    assert_eq!(want.len(), 2, "one per env");
    assert_eq!(b.last_values, want);
}
