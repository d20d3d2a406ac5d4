//! Stage `pretrain` (§7.4): the base model π0, trained by next-token cross-entropy on the
//! oracle-solved easy problems of pretrain.jsonl (`<bos>` prompt → oracle solution `<eos>`;
//! loss on the completion and `<eos>`, `pretrain.prompt_loss_weight` on the prompt). AdamW
//! (β = (0.9, 0.95), no decay, clip 1.0), lr `pretrain.lr` with linear warmup then cosine to
//! `pretrain.lr_min`; each step's `pretrain.batch` rows drawn uniformly (with replacement) by
//! the stage's seeded RNG. Writes pretrain.csv (one row per step) and `base/`.
use super::load::{self, Codec, Split};
use crate::error::usage;
use crate::experiment::Ctx;
use crate::nn;
use crate::optim::{AdamWConfig, LrSchedule};
use crate::prefixrl::config::{PrefixrlConfig, Stage};
use crate::prefixrl::inputs::Artifact;
use crate::prefixrl::policy::{SftConfig, SftTrainer};
use crate::prefixrl::task;
use crate::run::Run;
use anyhow::Result;
use rand::Rng;
use std::time::Instant;

/// pretrain.csv's columns.
pub const COLUMNS: &[&str] = &["step", "loss", "lr", "grad_norm", "tokens", "wall_s"];

pub fn run(cfg: &PrefixrlConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let data_dir = load::input_dir(cfg, run, Artifact::Problems)?;
    let problems = load::read_split(&data_dir, Split::Pretrain)?;
    let task = task::build(&cfg.task)?;
    let codec = Codec::for_task(task.as_ref())?;
    let rows = training_rows(&problems, &codec, cfg.model.block_size())?;
    if rows.is_empty() {
        return Err(usage(format!(
            "{}: no pretraining problems: raise data.n_pretrain and run gen-data again",
            data_dir.join(Split::Pretrain.file()).display()
        )));
    }
    crate::device::seed_all(cfg.seed);
    let model = nn::build(&cfg.model, codec.vocab(), ctx.device)?;
    let mut trainer = SftTrainer::new(model.as_ref(), sft_config(cfg, codec.pad))?;
    let mut rng = load::stage_rng(cfg.seed, Stage::Pretrain, 0);
    let mut csv = run.csv("pretrain.csv", COLUMNS)?;
    let steps = cfg.pretrain.steps;
    let mut progress = run.progress(steps, "pretrain");
    let started = Instant::now();
    let mut last_loss = f64::NAN;
    for step in 0..steps {
        run.check_interrupt()?;
        let batch: Vec<(Vec<i64>, Vec<i64>)> = (0..cfg.pretrain.batch)
            .map(|_| rows[rng.gen_range(0..rows.len())].clone())
            .collect();
        let rep = trainer.step(model.as_ref(), &batch, step)?;
        let mut row = csv.new_row();
        row.num("step", (step + 1) as f64)
            .num("loss", rep.loss)
            .num("lr", rep.lr)
            .num("grad_norm", rep.grad_norm)
            .num("tokens", rep.tokens as f64)
            .num("wall_s", started.elapsed().as_secs_f64());
        csv.write(&row)?;
        last_loss = rep.loss;
        progress.set(step + 1, &format!("loss {:.4}", rep.loss));
    }
    progress.finish(&format!("final loss {last_loss:.4}"));
    load::save_base(&run.dir, model.as_ref(), &codec)?;
    let summary = serde_json::json!({
        "steps": steps,
        "examples": rows.len(),
        "parameters": nn::num_parameters(model.as_ref()),
        "final_loss": last_loss,
    });
    load::update_summary(run, "pretrain", summary)
}

/// (`<bos>` prompt, oracle `<eos>`) per problem; a problem without an oracle solution or too
/// long for the model is an error naming it.
fn training_rows(
    problems: &[task::Problem],
    codec: &Codec,
    block_size: Option<i64>,
) -> Result<Vec<(Vec<i64>, Vec<i64>)>> {
    problems
        .iter()
        .map(|p| {
            let oracle = p.oracle.as_deref().ok_or_else(|| {
                usage(format!(
                    "pretraining problem `{}` has no oracle solution to train on",
                    p.id
                ))
            })?;
            let row = (codec.prompt(p)?, codec.completion(oracle)?);
            let len = (row.0.len() + row.1.len() - 1) as i64;
            if let Some(block) = block_size.filter(|&b| len > b) {
                return Err(usage(format!(
                    "pretraining problem `{}` is {len} tokens, longer than model.block_size = \
                     {block}: raise model.block_size or lower data.easy_levels",
                    p.id
                )));
            }
            Ok(row)
        })
        .collect()
}

/// §7.4's optimizer over the config's pretrain section. A warmup as long as the run (the
/// default 100 with a short smoke run) shrinks to a tenth of the steps.
fn sft_config(cfg: &PrefixrlConfig, pad: i64) -> SftConfig {
    let p = &cfg.pretrain;
    let warmup = if p.warmup < p.steps {
        p.warmup
    } else {
        p.steps / 10
    };
    SftConfig {
        adamw: AdamWConfig {
            lr: p.lr,
            betas: [0.9, 0.95],
            weight_decay: 0.0,
            grad_clip: Some(1.0),
            ..AdamWConfig::default()
        },
        schedule: LrSchedule::WarmupCosine {
            warmup,
            total: p.steps.max(warmup + 1),
            lr_min: p.lr_min,
        },
        prompt_loss_weight: p.prompt_loss_weight,
        pad,
        seed: cfg.seed,
        micro_rows: 0,
    }
}
