//! Training tensors for rows `(context, completion)` of token ids.
//!
//! A row's sequence is `s = context ⊕ completion` of length `L = C + G`. Its inputs are
//! `s[..L−1]` and its targets `s[1..]`, LEFT-padded to the batch width `T = max(L − 1)`, so
//! the last column of every row is real (as generation's prefill has it). Position ids count
//! from 0 on each row's first real token, as in [`crate::nn::Input`]. In unpadded terms the
//! logit row `t` predicts `s[t + 1]`: rows `0 ..= C−2` predict context tokens (prompt and
//! prefix, §2.4: never trained in RL) and rows `C−1 ..= C+G−2` predict the completion
//! (§7.10 item 5). `completion_mask` is 1 exactly on the latter.
use crate::error::usage;
use crate::nn::model::positions_from_mask;
use crate::nn::Input;
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

/// Left-padded `(R, T)` tensors of a list of (context, completion) rows (module doc).
#[derive(Debug)]
pub struct TrainBatch {
    /// `(R, T)` i64 input ids; pad id on the left.
    pub inputs: Tensor,
    /// `(R, T)` i64 next-token targets; pad id where the input is padding.
    pub targets: Tensor,
    /// `(R, T)` bool, true on real input (and target) positions.
    pub pad_mask: Tensor,
    /// `(R, T)` i64 position ids, 0 on each row's first real token (0 on pads too).
    pub positions: Tensor,
    /// `(R, T)` f32, 1 exactly where the target is a completion token.
    pub completion_mask: Tensor,
    pub context_lens: Vec<i64>,
    pub completion_lens: Vec<i64>,
}

/// Build the batch; `pad` fills the left padding. Empty completions are allowed (their mask
/// row is all 0); every context needs at least one token.
pub fn train_batch(rows: &[(Vec<i64>, Vec<i64>)], pad: i64, device: Device) -> Result<TrainBatch> {
    if rows.is_empty() {
        return Err(usage("a training batch needs at least one row"));
    }
    if let Some(i) = rows.iter().position(|(c, _)| c.is_empty()) {
        return Err(usage(format!(
            "row {i}: the context is empty (it must hold at least <bos>)"
        )));
    }
    let width = rows.iter().map(|(c, g)| c.len() + g.len() - 1).max();
    let width = width.unwrap_or(0);
    if width == 0 {
        return Err(usage(
            "every row is a single token: a training batch needs something to predict",
        ));
    }
    let n = rows.len() * width;
    let (mut inputs, mut targets) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut real, mut completion) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (context, tail) in rows {
        let seq: Vec<i64> = context.iter().chain(tail).copied().collect();
        let len = seq.len() - 1; // real positions of this row
        let pad_cols = width - len;
        inputs.extend(std::iter::repeat_n(pad, pad_cols).chain(seq[..len].iter().copied()));
        targets.extend(std::iter::repeat_n(pad, pad_cols).chain(seq[1..].iter().copied()));
        real.extend((0..width).map(|j| j >= pad_cols));
        // Unpadded target index t = j − pad_cols is a completion token when t ≥ C − 1.
        let first = pad_cols + context.len() - 1;
        completion.extend((0..width).map(|j| if j >= first { 1f32 } else { 0.0 }));
    }
    let shape = [rows.len() as i64, width as i64];
    let put = |t: Tensor| t.view(shape).to_device(device);
    let pad_mask = put(Tensor::from_slice(&real));
    Ok(TrainBatch {
        inputs: put(Tensor::from_slice(&inputs)),
        targets: put(Tensor::from_slice(&targets)),
        positions: positions_from_mask(&pad_mask),
        pad_mask,
        completion_mask: put(Tensor::from_slice(&completion)),
        context_lens: rows.iter().map(|(c, _)| c.len() as i64).collect(),
        completion_lens: rows.iter().map(|(_, g)| g.len() as i64).collect(),
    })
}

impl TrainBatch {
    /// `(R, T)`.
    pub fn shape(&self) -> (i64, i64) {
        let s = self.inputs.size();
        (s[0], s[1])
    }

    /// The model input: ids, pad mask and position ids.
    pub fn input(&self) -> Input<'_> {
        Input::new(&self.inputs)
            .with_pad_mask(&self.pad_mask)
            .with_positions(&self.positions)
    }

    /// `(R, T)` f32, 1 where the target is a context token other than the first (the targets
    /// an SFT `prompt_loss_weight` adds).
    pub fn context_target_mask(&self) -> Tensor {
        self.pad_mask.to_kind(Kind::Float) - &self.completion_mask
    }

    /// Completion tokens in the batch (the token-mean normaliser).
    pub fn completion_tokens(&self) -> i64 {
        self.completion_lens.iter().sum()
    }

    /// Real (non-pad) input positions: what a training pass computes on (§5.1).
    pub fn real_positions(&self) -> i64 {
        let each = self.context_lens.iter().zip(&self.completion_lens);
        each.map(|(c, g)| c + g - 1).sum()
    }

    /// Column of row `r`'s first completion target (`T` when the completion is empty).
    pub fn completion_start(&self, r: usize) -> i64 {
        self.shape().1 - self.completion_lens[r]
    }

    /// Per row, the values of `t` `(R, T)` at its completion targets, in order.
    pub fn completion_values(&self, t: &Tensor) -> Result<Vec<Vec<f64>>> {
        let (r, w) = self.shape();
        if t.size() != [r, w] {
            bail!("expected a ({r}, {w}) tensor, got {:?}", t.size());
        }
        let rows = Vec::<Vec<f64>>::try_from(t.to_kind(Kind::Double).to_device(Device::Cpu))?;
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| row[self.completion_start(i) as usize..].to_vec())
            .collect())
    }

    /// `(R, T)` f64 with row `r`'s `values[r]` (one per completion token) at its completion
    /// targets and 0 elsewhere: e.g. stored behaviour log-probs lined up with `logp`.
    pub fn place_completion_values(&self, values: &[Vec<f64>]) -> Result<Tensor> {
        let (r, w) = self.shape();
        if values.len() != r as usize {
            bail!("{} rows of values for a batch of {r} rows", values.len());
        }
        let mut flat = vec![0f64; (r * w) as usize];
        for (i, v) in values.iter().enumerate() {
            if v.len() as i64 != self.completion_lens[i] {
                bail!(
                    "row {i}: {} values for a completion of {} tokens",
                    v.len(),
                    self.completion_lens[i]
                );
            }
            let start = i * w as usize + self.completion_start(i) as usize;
            flat[start..start + v.len()].copy_from_slice(v);
        }
        Ok(Tensor::from_slice(&flat)
            .view([r, w])
            .to_device(self.inputs.device()))
    }

    /// `(R, T)` f64: `per_row[r]` broadcast over row `r` (e.g. advantages; mask it yourself).
    pub fn broadcast_rows(&self, per_row: &[f64]) -> Result<Tensor> {
        let (r, w) = self.shape();
        if per_row.len() != r as usize {
            bail!("{} per-row values for a batch of {r} rows", per_row.len());
        }
        let col = Tensor::from_slice(per_row).to_device(self.inputs.device());
        Ok(col.view([r, 1]).expand([r, w], false).contiguous())
    }
}
