//! Batches of windows as `tch` tensors.
//!
//! Training: `batch` windows of `seq_len + 1` tokens whose start offsets are drawn uniformly
//! from `0..=N - seq_len - 1` with the caller's RNG (one `gen_range` per window, in order);
//! inputs are the first `seq_len` tokens of each window, targets the last `seq_len`.
//! Evaluation ([`EvalBatches`]): windows start at 0, `seq_len`, `2·seq_len`, ... while a whole
//! window fits, so every target from position 1 to `count·seq_len` is scored exactly once
//! (`count = floor((N - 1) / seq_len)`; the few tokens after the last window are not), in
//! batches of up to `batch` windows (the last batch may be smaller).
use crate::error::usage;
use anyhow::Result;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

fn too_short(n: usize, seq_len: usize) -> anyhow::Error {
    usage(format!(
        "{n} tokens are too few for one window of seq_len + 1 = {} tokens",
        seq_len + 1
    ))
}

/// Uniform random window starts (module doc).
pub fn window_offsets(
    n_tokens: usize,
    batch: usize,
    seq_len: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<usize>> {
    if seq_len == 0 || n_tokens < seq_len + 1 {
        return Err(too_short(n_tokens, seq_len));
    }
    let last = n_tokens - seq_len - 1;
    Ok((0..batch).map(|_| rng.gen_range(0..=last)).collect())
}

/// (inputs, targets), each an i64 tensor of shape (offsets.len(), seq_len) on `device`.
pub fn windows_at(
    tokens: &[u32],
    offsets: &[usize],
    seq_len: usize,
    device: Device,
) -> (Tensor, Tensor) {
    let mut inputs = Vec::with_capacity(offsets.len() * seq_len);
    let mut targets = Vec::with_capacity(offsets.len() * seq_len);
    for &o in offsets {
        inputs.extend(tokens[o..o + seq_len].iter().map(|&t| i64::from(t)));
        targets.extend(tokens[o + 1..o + seq_len + 1].iter().map(|&t| i64::from(t)));
    }
    let shape = [offsets.len() as i64, seq_len as i64];
    (
        Tensor::from_slice(&inputs).view(shape).to_device(device),
        Tensor::from_slice(&targets).view(shape).to_device(device),
    )
}

/// A random training batch (module doc).
pub fn random_batch(
    tokens: &[u32],
    batch: usize,
    seq_len: usize,
    rng: &mut ChaCha8Rng,
    device: Device,
) -> Result<(Tensor, Tensor)> {
    let offsets = window_offsets(tokens.len(), batch, seq_len, rng)?;
    Ok(windows_at(tokens, &offsets, seq_len, device))
}

/// Sequential evaluation batches (module doc).
pub struct EvalBatches<'a> {
    tokens: &'a [u32],
    batch: usize,
    seq_len: usize,
    device: Device,
    next: usize,
    count: usize,
}

impl<'a> EvalBatches<'a> {
    pub fn new(
        tokens: &'a [u32],
        batch: usize,
        seq_len: usize,
        device: Device,
    ) -> Result<EvalBatches<'a>> {
        if seq_len == 0 || tokens.len() < seq_len + 1 {
            return Err(too_short(tokens.len(), seq_len));
        }
        if batch == 0 {
            return Err(usage("evaluation batch size must be at least 1"));
        }
        Ok(EvalBatches {
            tokens,
            batch,
            seq_len,
            device,
            next: 0,
            count: (tokens.len() - 1) / seq_len,
        })
    }

    /// Number of windows over the whole stream.
    pub fn num_windows(&self) -> usize {
        self.count
    }

    /// Number of targets scored over the whole stream.
    pub fn num_targets(&self) -> usize {
        self.count * self.seq_len
    }
}

impl Iterator for EvalBatches<'_> {
    type Item = (Tensor, Tensor);

    fn next(&mut self) -> Option<(Tensor, Tensor)> {
        if self.next >= self.count {
            return None;
        }
        let end = (self.next + self.batch).min(self.count);
        let offsets: Vec<usize> = (self.next..end).map(|w| w * self.seq_len).collect();
        self.next = end;
        Some(windows_at(self.tokens, &offsets, self.seq_len, self.device))
    }
}
