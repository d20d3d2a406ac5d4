//! sft-rl's first stage (§3 row 3): `sft.epochs` epochs of next-token cross-entropy on the
//! stored traces given their prompts (prompt tokens masked), batches of `sft.batch` in an order
//! shuffled per epoch from (seed, epoch); its FLOPs (3× forward over every position of each
//! trained sequence, `FlopsModel::training`) go to `flops_offline` (§5.1).
use super::train_rollout::Env;
use crate::nn::checkpoint::step_seed;
use crate::nn::LanguageModel;
use crate::optim::{AdamWConfig, LrSchedule};
use crate::prefixrl::config::PrefixrlConfig;
use crate::prefixrl::policy::{SftConfig, SftTrainer};
use anyhow::Result;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Salt of the SFT stage's generators (distinct from the RL steps').
const SFT_SALT: u64 = 0x5f7_5f7;

/// What the SFT stage did.
pub struct SftOutcome {
    pub flops: f64,
    pub steps: u64,
    pub last_loss: f64,
}

/// Train `model` on D's traces (module doc).
pub fn run(model: &dyn LanguageModel, env: &Env, cfg: &PrefixrlConfig) -> Result<SftOutcome> {
    let sft = SftConfig {
        adamw: AdamWConfig {
            lr: cfg.sft.lr,
            betas: [0.9, 0.95],
            weight_decay: 0.0,
            grad_clip: Some(cfg.rl.grad_clip),
            ..AdamWConfig::default()
        },
        schedule: LrSchedule::Constant {},
        prompt_loss_weight: 0.0,
        pad: env.codec.pad,
        seed: cfg.seed ^ SFT_SALT,
        micro_rows: 0,
    };
    let mut trainer = SftTrainer::new(model, sft)?;
    let rows: Vec<(Vec<i64>, Vec<i64>)> = env
        .prompts
        .iter()
        .zip(&env.traces)
        .map(|(p, t)| (p.clone(), t.clone()))
        .collect();
    let mut out = SftOutcome {
        flops: 0.0,
        steps: 0,
        last_loss: f64::NAN,
    };
    for epoch in 0..cfg.sft.epochs as u64 {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(step_seed(cfg.seed ^ SFT_SALT, epoch) as u64);
        order.shuffle(&mut rng);
        for chunk in order.chunks(cfg.sft.batch.max(1)) {
            // A signal ends the run between SFT steps (before RL: no row, no checkpoint).
            if crate::run::interrupted() {
                return Err(crate::error::Interrupted.into());
            }
            let batch: Vec<(Vec<i64>, Vec<i64>)> = chunk.iter().map(|&i| rows[i].clone()).collect();
            let rep = trainer.step(model, &batch, out.steps)?;
            out.flops += batch
                .iter()
                .map(|(c, g)| env.flops.training((c.len() + g.len()) as u64))
                .sum::<f64>();
            out.steps += 1;
            out.last_loss = rep.loss;
        }
    }
    Ok(out)
}
