//! Reinforcement-learning plumbing any RL method can use (spec §4, §7; `lab npg-rank1` is
//! the first user): the [`Env`] trait, Gymnasium-exact classic-control environments,
//! Gymnasium's MuJoCo v5 tasks ([`mujoco`]), time limits, a same-step-autoreset vector env,
//! observation/reward normalisation, GAE, independent seed streams and NumPy's seeded
//! generator (what a Gymnasium seed means). Networks and update rules belong to each method
//! (npg's are in `crate::npg::policy`).
pub mod classic;
pub mod env;
pub mod gae;
pub mod mujoco;
pub mod normalize;
pub mod np_random;
mod np_ziggurat;
pub mod registry;
pub mod run_log;
pub mod seed;
pub mod time_limit;
pub mod vec_env;

pub use env::{Action, Env, EnvState, Precision, RngState, Space, Transition};
pub use np_random::{NpRng, NpRngState};
pub use registry::{make, make_raw, make_raw_with, EnvOptions, ENV_IDS};
pub use time_limit::TimeLimit;
pub use vec_env::{EpisodeEnd, VecEnv, VecEnvState};
