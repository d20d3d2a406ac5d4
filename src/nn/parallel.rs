//! Data-parallel gradients on one machine: a micro-batch is cut into `workers` row shards, each
//! run forward and backward on its own thread with one libtorch thread, and the gradients are
//! summed in a fixed order, so the result does not depend on which thread finishes first.
//!
//! Why: at the sizes of the CPU presets many kernels are too small to use two threads well, and
//! two single-threaded halves side by side beat one two-threaded whole (see the README's LM-core
//! benchmark). Shard 0 back-propagates into the parameters' `.grad()` as usual; shards 1.. get
//! their gradients from `run_backward` (which leaves `.grad()` alone) and are added afterwards,
//! in shard order. Dropout draws from torch's one global generator, which the threads would
//! share in a racy order, so `workers > 1` requires `dropout: 0`.
use super::model::LanguageModel;
use super::train::{batch_loss, Batch};
use anyhow::{bail, Result};
use tch::Tensor;

/// A shared reference the worker threads may read at the same time. libtorch allows concurrent
/// forward and backward passes through the same parameters (each thread builds its own graph);
/// the workers never write the parameters.
struct Shared<'a>(&'a dyn LanguageModel);
// SAFETY: see the struct doc; the model is only read while the scope's threads run, and the
// caller holds `&dyn LanguageModel` for the whole scope.
unsafe impl Sync for Shared<'_> {}

/// Row ranges `(start, len)` of `rows` split into at most `workers` near-equal parts.
pub fn shards(rows: i64, workers: usize) -> Vec<(i64, i64)> {
    let w = (workers.max(1) as i64).min(rows.max(1));
    (0..w)
        .map(|i| {
            let start = rows * i / w;
            (start, rows * (i + 1) / w - start)
        })
        .filter(|&(_, len)| len > 0)
        .collect()
}

/// Back-propagate `scale ×` the mean loss of `batch` using `workers` threads; returns the
/// loss value (before scaling). Gradients add into the parameters' `.grad()`.
pub fn backward(
    model: &dyn LanguageModel,
    batch: &Batch,
    scale: f64,
    workers: usize,
) -> Result<f64> {
    if workers <= 1 {
        let loss = batch_loss(model, batch, true)?;
        let value = loss.double_value(&[]);
        (loss * scale).backward();
        return Ok(value);
    }
    if model.config().dropout > 0.0 {
        bail!("workers > 1 needs dropout 0: dropout masks come from torch's global generator, which the workers would share in an unpredictable order");
    }
    let rows = batch.inputs.size()[0];
    let parts = shards(rows, workers);
    let params: Vec<Tensor> = model
        .var_store()
        .trainable_variables()
        .iter()
        .map(|t| t.shallow_clone())
        .collect();
    let shared = Shared(model);
    let results: Vec<Result<(f64, Vec<Tensor>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .iter()
            .enumerate()
            .map(|(i, &(start, len))| {
                let shard = Batch {
                    inputs: batch.inputs.narrow(0, start, len),
                    targets: batch.targets.narrow(0, start, len),
                    mask: batch.mask.as_ref().map(|m| m.narrow(0, start, len)),
                };
                let shared = &shared;
                let mine: Vec<Tensor> = params.iter().map(|t| t.shallow_clone()).collect();
                let weight = scale * len as f64 / rows as f64;
                s.spawn(move || -> Result<(f64, Vec<Tensor>)> {
                    tch::set_num_threads(1);
                    let loss = batch_loss(shared.0, &shard, true)?;
                    let value = loss.double_value(&[]) * len as f64 / rows as f64;
                    let scaled = loss * weight;
                    if i == 0 {
                        scaled.backward();
                        Ok((value, Vec::new()))
                    } else {
                        Ok((
                            value,
                            Tensor::f_run_backward(&[scaled], &mine, false, false)?,
                        ))
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| bail!("a training worker panicked"))
            })
            .collect()
    });
    let mut total = 0.0;
    let mut grads = Vec::new();
    for r in results {
        let (value, g) = r?;
        total += value;
        grads.push(g);
    }
    tch::no_grad(|| {
        for g in grads.iter().skip(1) {
            if g.len() != params.len() {
                bail!(
                    "run_backward gave {} gradients for {} parameters",
                    g.len(),
                    params.len()
                );
            }
            for (p, gi) in params.iter().zip(g) {
                let mut grad = p.grad();
                match (grad.defined(), gi.defined()) {
                    (true, true) => {
                        let _ = grad.f_add_(gi)?;
                    }
                    (false, true) => bail!("a parameter got a gradient from shard i > 0 only"),
                    _ => {}
                }
            }
        }
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(total)
}
