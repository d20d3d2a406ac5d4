//! The feedback controller's probe (spec §3.5): fixed training prompts and a fixed training
//! stream, measured with the model as it is, from a sampling stream reseeded identically at every
//! measurement.
use super::controller::{ControllerConfig, Statistic};
use super::eval::{free_run, teacher_forced};
use super::metrics::seq_rep_n;
use crate::error::usage;
use crate::nn::{Decoding, LanguageModel};
use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The controller's probe: fixed training prompts (offsets drawn once from `probe.seed`) and a
/// fixed training stream for `tf_entropy`.
pub struct Probe {
    prompts: Vec<Vec<u32>>,
    stream: Vec<u32>,
    window: usize,
}

impl Probe {
    pub fn new(c: &ControllerConfig, train: &[u32], window: usize) -> Result<Probe> {
        let p = &c.probe;
        let need = p.prompt_len + p.len;
        if train.len() < need + 1 {
            return Err(usage(format!(
                "the training split has {} tokens, too few for controller.probe prompts of \
                 prompt_len + len = {need}",
                train.len()
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        let prompts = (0..p.prompts)
            .map(|_| {
                let o = rng.gen_range(0..=train.len() - need);
                train[o..o + p.prompt_len].to_vec()
            })
            .collect();
        let stream = train[..(p.prompts * need + 1).min(train.len())].to_vec();
        Ok(Probe {
            prompts,
            stream,
            window,
        })
    }

    /// The statistic s_k of the model as it is now; generation draws from a stream reseeded
    /// identically at every measurement, so sampling noise does not look like model change.
    pub fn statistic(&self, model: &dyn LanguageModel, c: &ControllerConfig) -> Result<f64> {
        if c.statistic == Statistic::TfEntropy {
            return Ok(teacher_forced(model, &self.stream, self.window, 16)?.entropy);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(c.probe.seed);
        rng.set_stream(u64::MAX);
        let decoding = match c.probe.temperature {
            0.0 => Decoding::greedy(),
            t => Decoding {
                temperature: t,
                ..Decoding::default()
            },
        };
        let fr = free_run(model, &self.prompts, c.probe.len, &decoding, &mut rng)?;
        Ok(match c.statistic {
            Statistic::FrEntropy | Statistic::TfEntropy => fr.entropy,
            Statistic::Top1Mass => fr.top1,
            Statistic::SeqRep4 => {
                seq_rep_n(&fr.samples, 4).context("seq_rep_4 needs controller.probe.len >= 4")?
            }
        })
    }
}
