//! The environment interface every task implements (spec §4.2): classic control here,
//! MuJoCo later. Internal state is f64; observations are emitted as f32 like Gymnasium.
pub use super::np_random::NpRngState;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// An observation or action space.
#[derive(Clone, Debug, PartialEq)]
pub enum Space {
    /// `n` actions `0..n`.
    Discrete(usize),
    /// A box with per-dimension bounds (may be infinite).
    Box { low: Vec<f64>, high: Vec<f64> },
}

impl Space {
    /// Number of scalars one element occupies (1 for a discrete action).
    pub fn dim(&self) -> usize {
        match self {
            Space::Discrete(_) => 1,
            Space::Box { low, .. } => low.len(),
        }
    }

    /// Symmetric box `[-high, high]`.
    pub fn symmetric(high: &[f64]) -> Space {
        Space::Box {
            low: high.iter().map(|h| -h).collect(),
            high: high.to_vec(),
        }
    }
}

/// One action handed to [`Env::step`].
#[derive(Clone, Copy, Debug)]
pub enum Action<'a> {
    Discrete(usize),
    Continuous(&'a [f64]),
}

impl Action<'_> {
    /// The discrete index; panics on a continuous action (a caller bug, not user input).
    pub fn index(&self) -> usize {
        match self {
            Action::Discrete(i) => *i,
            Action::Continuous(_) => panic!("continuous action given to a discrete env"),
        }
    }

    /// The continuous components; panics on a discrete action (a caller bug).
    pub fn values(&self) -> &[f64] {
        match self {
            Action::Continuous(v) => v,
            Action::Discrete(_) => panic!("discrete action given to a continuous env"),
        }
    }
}

/// What one step returned besides the observation (spec §4.2).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Transition {
    pub reward: f64,
    /// The MDP reached a terminal state: no bootstrap.
    pub terminated: bool,
    /// The time limit was reached: bootstrap from the final observation.
    pub truncated: bool,
}

impl Transition {
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// Arithmetic precision of the classic envs [D]: `gymnasium` reproduces where Gymnasium
/// computes in float32 (float32 actions, MountainCarContinuous's float32 state, Acrobot's
/// float32 reset state); `f64` computes everything in f64 (the spec's golden values, §6.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    #[default]
    Gymnasium,
    F64,
}

/// A ChaCha8 stream position, for checkpoints (seed, stream, word position): the trainers'
/// own RNGs. Env generators are NumPy's PCG64 ([`NpRngState`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RngState {
    pub seed: [u8; 32],
    pub stream: u64,
    /// u128 as a decimal string (JSON numbers cannot hold it).
    pub word_pos: String,
}

impl RngState {
    pub fn of(rng: &rand_chacha::ChaCha8Rng) -> Self {
        RngState {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    pub fn restore(&self) -> Result<rand_chacha::ChaCha8Rng> {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(
            self.word_pos
                .parse()
                .map_err(|e| anyhow::anyhow!("bad RNG position: {e}"))?,
        );
        Ok(rng)
    }
}

/// Everything needed to continue an env exactly (checkpoints, spec issue 4 item 4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvState {
    pub state: Vec<f64>,
    /// MountainCarContinuous holds float32 state after a step, float64 after reset.
    pub state_is_f32: bool,
    /// The env's NumPy generator (PCG64 state and increment).
    pub rng: NpRngState,
    /// Steps since reset (time limit).
    pub elapsed: usize,
}

/// A single environment instance that owns its RNG stream (spec §7.1).
pub trait Env: Send {
    /// Gymnasium id, e.g. `CartPole-v1`.
    fn id(&self) -> &'static str;
    fn observation_space(&self) -> Space;
    fn action_space(&self) -> Space;
    fn obs_dim(&self) -> usize {
        self.observation_space().dim()
    }
    /// Start an episode: reseed the env's RNG when `seed` is given, sample an initial state
    /// and write the first observation into `obs`.
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]);
    /// Advance one step and write the next observation into `obs`.
    fn step(&mut self, action: Action, obs: &mut [f32]) -> Transition;
    /// The internal state (as Gymnasium's `env.unwrapped.state`).
    fn state(&self) -> Vec<f64>;
    /// Start an episode from `state` instead of a sampled one (for replaying recorded
    /// trajectories); writes the observation of that state.
    fn set_state(&mut self, state: &[f64], obs: &mut [f32]) -> Result<()>;
    /// The full state, RNG included, for checkpoints.
    fn save(&self) -> EnvState;
    /// Continue exactly from a saved state.
    fn load(&mut self, saved: &EnvState) -> Result<()>;
}

/// Check a `set_state` argument's length.
pub fn check_state_len(id: &str, state: &[f64], want: usize) -> Result<()> {
    anyhow::ensure!(
        state.len() == want,
        "{id}: state needs {want} values, got {}",
        state.len()
    );
    Ok(())
}
