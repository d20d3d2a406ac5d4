//! Batches, the fixed probe set and the evaluation sets of a task, as tensors.
//!
//! Images: each epoch a fresh permutation of the training set from the run's RNG, cut into
//! batches of `batch` (the last one smaller). Text: `batch` random windows of `seq_len + 1`
//! chars per step (offsets from `data::window_offsets`, as `data::random_batch` draws them),
//! targets flattened to `(B·T,)`. [`Source::plan`] is that drawing without the tensors, so
//! `--resume` can replay a run's schedule ([`Source::replay`]). The probe set (§5.3)
//! never depends on the run's seed: images of a seed-0 permutation, or windows at evenly
//! spaced offsets.
use super::tasks::{Budget, TaskData};
use crate::data::batch::{window_offsets, windows_at};
use anyhow::Result;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

/// What [`Source::replay`] gives: each epoch's (steps done before it, its steps), and the
/// data RNG at the start of the last one.
pub type Replayed = (Vec<(u64, u64)>, ChaCha8Rng);

pub enum Source {
    Images {
        x_train: Tensor,
        y_train: Tensor,
        x_test: Tensor,
        y_test: Tensor,
    },
    Text {
        train: Vec<u32>,
        /// Evaluation windows `(B, T)` and targets `(B·T,)` of the train and val splits.
        train_eval: (Tensor, Tensor),
        val_eval: (Tensor, Tensor),
        seq_len: usize,
    },
}

/// `(B, T)` windows at `offsets` and their targets flattened.
fn windows(tokens: &[u32], offsets: &[usize], seq_len: usize, device: Device) -> (Tensor, Tensor) {
    let (x, y) = windows_at(tokens, offsets, seq_len, device);
    (x, y.reshape([-1]))
}

/// The tokens each split scores per LM evaluation when `data.eval_tokens` is null (fewer
/// where the val split is shorter).
pub const EVAL_TOKENS: usize = 16384;

/// The targets `tokens` holds in whole windows of `seq_len`: the most an evaluation can score.
pub fn eval_capacity(tokens: usize, seq_len: usize) -> usize {
    tokens.saturating_sub(1) / seq_len * seq_len
}

/// Consecutive windows from the start of `tokens`, `max_tokens` targets rounded down to whole
/// windows (at least one; 0 = all; null = [`EVAL_TOKENS`]). A number over what the val split
/// holds was refused before the run (`files::check_inputs`); the train split is longer.
fn eval_windows(
    tokens: &[u32],
    seq_len: usize,
    max_tokens: Option<usize>,
    device: Device,
) -> (Tensor, Tensor) {
    let mut count = (tokens.len() - 1) / seq_len;
    match max_tokens.unwrap_or(EVAL_TOKENS) {
        0 => {}
        max => count = count.min((max / seq_len).max(1)),
    }
    let offsets: Vec<usize> = (0..count).map(|i| i * seq_len).collect();
    windows(tokens, &offsets, seq_len, device)
}

impl Source {
    pub fn new(
        data: TaskData,
        seq_len: usize,
        eval_tokens: Option<usize>,
        device: Device,
    ) -> Source {
        match data {
            TaskData::Images { train, test } => {
                let (x_train, y_train) = train.tensors(device);
                let (x_test, y_test) = test.tensors(device);
                Source::Images {
                    x_train,
                    y_train,
                    x_test,
                    y_test,
                }
            }
            TaskData::Text { train, val, .. } => Source::Text {
                train_eval: eval_windows(&train, seq_len, eval_tokens, device),
                val_eval: eval_windows(&val, seq_len, eval_tokens, device),
                train,
                seq_len,
            },
        }
    }

    /// The fixed probe set of `size` examples (module doc).
    pub fn probe(&self, size: usize) -> (Tensor, Tensor) {
        match self {
            Source::Images {
                x_train, y_train, ..
            } => {
                let n = y_train.size()[0] as usize;
                let mut idx: Vec<i64> = (0..n as i64).collect();
                idx.shuffle(&mut ChaCha8Rng::seed_from_u64(0));
                idx.truncate(size.min(n));
                let idx = Tensor::from_slice(&idx).to_device(y_train.device());
                (x_train.index_select(0, &idx), y_train.index_select(0, &idx))
            }
            Source::Text { train, seq_len, .. } => {
                let last = train.len() - seq_len - 1;
                let offsets: Vec<usize> = (0..size).map(|i| i * last / size.max(1)).collect();
                windows(train, &offsets, *seq_len, self.device())
            }
        }
    }

    fn device(&self) -> Device {
        match self {
            Source::Images { y_train, .. } => y_train.device(),
            Source::Text { val_eval, .. } => val_eval.0.device(),
        }
    }

    /// The training batches of one epoch (images), or of one evaluation period of `steps`
    /// steps (text), drawn with `rng` ([`Source::plan`]).
    pub fn epoch_batches(
        &self,
        budget: &Budget,
        steps: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<(Tensor, Tensor)>> {
        let plan = self.plan(budget, steps, rng)?;
        Ok(match self {
            Source::Images {
                x_train, y_train, ..
            } => plan
                .iter()
                .map(|c| {
                    let idx = Tensor::from_slice(c).to_device(y_train.device());
                    (x_train.index_select(0, &idx), y_train.index_select(0, &idx))
                })
                .collect(),
            Source::Text { train, seq_len, .. } => plan
                .iter()
                .map(|offsets| {
                    let offsets: Vec<usize> = offsets.iter().map(|&o| o as usize).collect();
                    let (x, y) = windows_at(train, &offsets, *seq_len, self.device());
                    (x, y.reshape([-1]))
                })
                .collect(),
        })
    }

    /// What [`Source::epoch_batches`] draws from `rng`, without the tensors: per batch, the
    /// training images' indices (a fresh permutation cut into batches of `batch`, at most
    /// `steps` of them) or the text windows' offsets (`data::window_offsets`).
    pub fn plan(&self, budget: &Budget, steps: u64, rng: &mut ChaCha8Rng) -> Result<Vec<Vec<i64>>> {
        match self {
            Source::Images { y_train, .. } => {
                let mut perm: Vec<i64> = (0..y_train.size()[0]).collect();
                perm.shuffle(rng);
                let batches = perm.chunks(budget.batch.max(1)).take(steps as usize);
                Ok(batches.map(<[i64]>::to_vec).collect())
            }
            Source::Text { train, seq_len, .. } => (0..steps)
                .map(|_| {
                    let offsets = window_offsets(train.len(), budget.batch, *seq_len, rng)?;
                    Ok(offsets.iter().map(|&o| o as i64).collect())
                })
                .collect(),
        }
    }

    /// The schedule of an uninterrupted run from `rng` (its data RNG before the first epoch)
    /// up to epoch `epoch` (from 1; LM: evaluation period), epochs of at most `per_period`
    /// steps: each epoch's (steps done before it, its steps), and the RNG at the start of
    /// `epoch`; None when the budget ends before it.
    pub fn replay(
        &self,
        budget: &Budget,
        per_period: u64,
        epoch: u64,
        mut rng: ChaCha8Rng,
    ) -> Result<Option<Replayed>> {
        let mut epochs = Vec::new();
        let mut start = 0u64;
        for e in 1..=epoch {
            let left = budget.steps.saturating_sub(start);
            if left == 0 {
                return Ok(None);
            }
            let at = rng.clone();
            let count = self.plan(budget, left.min(per_period), &mut rng)?.len() as u64;
            if count == 0 {
                return Ok(None);
            }
            epochs.push((start, count));
            if e == epoch {
                return Ok(Some((epochs, at)));
            }
            start += count;
        }
        Ok(None)
    }

    /// (train, test) evaluation sets: the whole image sets, or the text windows.
    pub fn eval_sets(&self) -> [(&Tensor, &Tensor); 2] {
        match self {
            Source::Images {
                x_train,
                y_train,
                x_test,
                y_test,
            } => [(x_train, y_train), (x_test, y_test)],
            Source::Text {
                train_eval,
                val_eval,
                ..
            } => [(&train_eval.0, &train_eval.1), (&val_eval.0, &val_eval.1)],
        }
    }
}
