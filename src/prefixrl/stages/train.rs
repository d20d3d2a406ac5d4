//! Stage `train` (§2.4–§2.6, §3, §5, §8): on-policy RL from the base model on the training
//! set D, prefixed or not, for `rl.steps` steps, writing metrics.csv (§7.9), eval.csv,
//! checkpoints/ and, optionally, rollouts.jsonl.
//!
//! Reading order: this file (setup, the step loop, summary), then
//! `train_data.rs` (D, slots and advantage groups), `train_rollout.rs` (sampling, scoring,
//! off-policy rows), `train_update.rs` (losses by method, the optimizer steps),
//! `train_log.rs` (metrics.csv and rollouts.jsonl), `train_state.rs` (checkpoints, resume),
//! `train_sft.rs` (sft-rl's SFT stage), `train_offline.rs` (the offline FLOPs charge) and
//! `train_eval.rs` (the evaluator call).
//!
//! Determinism: step `s` draws everything (problems, prefix coins, samples, torch's generator)
//! from generators seeded by (seed, s), so the same config and seed give the same rows, and a
//! run resumed from a checkpoint continues exactly as an uninterrupted one (§7.10 item 10).
use super::load::{self, Split};
use super::train_data::{draw_slots, TrainData};
use super::train_eval::{self, Evaluator};
use super::train_fit;
use super::train_log::{self, RowId};
use super::train_offline;
use super::train_rollout::{self, Env};
use super::train_sft;
use super::train_state::{self, Totals};
use super::train_update;
use crate::error::usage;
use crate::experiment::Ctx;
use crate::nn::checkpoint::{seed_torch_for_step, step_seed};
use crate::prefixrl::algo::FlopsModel;
use crate::prefixrl::config::{ChargeOffline, Method, PrefixrlConfig, Stage};
use crate::prefixrl::inputs::{self, Artifact};
use crate::prefixrl::policy::policy_optimizer;
use crate::prefixrl::{columns, jsonl, task};
use crate::run::Run;
use anyhow::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Salt of the RL steps' generators.
const TRAIN_SALT: u64 = 0x7261_696e;

/// The directory holding an artifact's file (`inputs::path` names the file itself).
fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Run the train stage into `run`.
pub fn run(cfg: &PrefixrlConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let method = cfg.rl.method;
    let problems_dir = dir_of(&inputs::path(cfg, run, Artifact::Problems)?);
    let pool = load::read_split(&problems_dir, Split::Pool)?;
    let traces_path = inputs::path(cfg, run, Artifact::Traces)?;
    let problems = load::train_set(&dir_of(&traces_path), &pool, cfg.train.n_problems)?;
    let prefixes = if method.uses_prefixes() {
        jsonl::read_prefixes(&inputs::path(cfg, run, Artifact::Prefixes)?)?
    } else {
        Vec::new()
    };
    let data = TrainData::new(problems, prefixes);
    // Read on resume too (its number then comes from the checkpoint) for the summary's record.
    let offline = train_offline::offline(cfg, run, &traces_path)?;
    if method.uses_prefixes() && cfg.rl.alpha > 0.0 && data.variants.iter().all(Vec::is_empty) {
        return Err(usage(format!(
            "method {method:?}: no problem of the training set has a prefix in prefixes.jsonl; \
             run make-prefixes on the same traces"
        )));
    }
    let base_dir = dir_of(&inputs::path(cfg, run, Artifact::Base)?);
    let policy = load::load_base(&base_dir, ctx.device)?;
    let reference = load::load_base(&base_dir, ctx.device)?.model;
    let flops = FlopsModel::new(&policy.config, policy.codec.vocab())?;
    let mut env = Env::new(task::build(&cfg.task)?, policy.codec, data, flops)?;
    let model = policy.model;
    train_fit::check(&env, cfg, model.block_size())?;

    let mut metrics = run.csv("metrics.csv", columns::METRICS)?;
    let eval_header = train_eval::header(cfg);
    let eval_cols: Vec<&str> = eval_header.iter().map(String::as_str).collect();
    let eval_csv = run.csv("eval.csv", &eval_cols)?;
    let mut evaluator = Evaluator::new(cfg, run, ctx.device, eval_csv)?;
    let mut sft = None;
    // Under `stage: all` a continued run that stopped before training had any checkpoint
    // trains from step 0 (the rows are a function of the seed and the step).
    let old_run = cfg
        .inputs
        .resume
        .as_deref()
        .filter(|old| cfg.stage != Stage::All || train_state::has_checkpoint(old));
    let (start, mut totals, mut opt) = match old_run {
        Some(old) => {
            let mut opt = policy_optimizer(model.as_ref(), cfg.rl.lr, Some(cfg.rl.grad_clip))?;
            // Under `stage: all` a run whose training finished (stopped in eval) keeps its
            // rows and its last checkpoint, which the eval stage then evaluates.
            let all = cfg.stage == Stage::All;
            let (step, totals) =
                train_state::resume(old, model.as_ref(), &mut opt, cfg.rl.steps, all)?;
            let last = train_state::copy_rows(old, "metrics.csv", step, true, &mut metrics)?;
            let columns = metrics.new_row().columns().to_vec();
            train_state::check_totals(old, step, &totals, &columns, last.as_deref())?;
            train_state::copy_rows(old, "eval.csv", step, false, evaluator.csv())?;
            train_state::copy_rollouts(old, &run.dir, step)?;
            evaluator.restore_cache(totals.eval_base_agree.map(|[v]| v));
            if step == cfg.rl.steps {
                train_state::copy_last_checkpoint(old, run)?;
                if !run.quiet {
                    eprintln!(
                        "train: {} finished all {step} steps; its rows and last checkpoint are kept",
                        old.display()
                    );
                }
            }
            sft = old_sft(old);
            (step, totals, opt)
        }
        None => {
            let mut totals = Totals {
                flops_offline: offline.flops,
                ..Totals::default()
            };
            if method == Method::SftRl {
                let out = train_sft::run(model.as_ref(), &env, cfg)?;
                if charged(cfg) {
                    totals.flops_offline += out.flops;
                }
                sft = Some(
                    serde_json::json!({"steps": out.steps, "last_loss": out.last_loss,
                                              "flops": out.flops}),
                );
            }
            let opt = policy_optimizer(model.as_ref(), cfg.rl.lr, Some(cfg.rl.grad_clip))?;
            (0, totals, opt)
        }
    };

    let run_name = run
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let method_name = serde_json::to_value(method)?
        .as_str()
        .unwrap_or("?")
        .to_string();
    let alpha = if method.uses_prefixes() {
        cfg.rl.alpha
    } else {
        0.0
    };
    let variants = env.data.variant_counts();
    let mut progress = run.progress(cfg.rl.steps - start, "train");
    for step in start + 1..=cfg.rl.steps {
        run.check_interrupt()?;
        let t0 = Instant::now();
        seed_torch_for_step(cfg.seed ^ TRAIN_SALT, step);
        let mut rng = ChaCha8Rng::seed_from_u64(step_seed(cfg.seed ^ TRAIN_SALT, step) as u64);
        let slots = draw_slots(&variants, cfg.rl.batch_problems, alpha, &mut rng)?;
        let batch = train_rollout::build(&mut env, model.as_ref(), cfg, &slots, &mut rng)?;
        let pad = env.codec.pad;
        let upd = train_update::update(
            model.as_ref(),
            reference.as_ref(),
            &mut opt,
            &batch,
            cfg,
            &env.flops,
            pad,
        )?;
        if batch.missing_behaviour > 0 && totals.missing_behaviour == 0 && !run.quiet {
            eprintln!(
                "warning: traces without behaviour log-probs: their off-policy tokens use log mu = 0 (§8)"
            );
        }
        totals.flops_sample += batch.sample_flops;
        totals.flops_train += upd.train_flops;
        totals.flops_diag += upd.diag_flops;
        totals.checker_errors += batch.checker_errors;
        totals.missing_behaviour += batch.missing_behaviour as u64;
        for (reason, n) in &batch.fails {
            *totals.checker_fail.entry(reason.clone()).or_default() += n;
        }
        let id = RowId {
            run: &run_name,
            method: &method_name,
            seed: cfg.seed,
            step,
        };
        if step % cfg.eval.every == 0 || step == cfg.rl.steps {
            let spent = evaluator.evaluate(model.as_ref(), &id, totals.flops_total())?;
            totals.flops_eval += spent.eval;
            totals.flops_diag += spent.diag;
            totals.eval_base_agree = evaluator.cache().map(|v| [v]);
        }
        totals.wall_s += t0.elapsed().as_secs_f64();
        let mut row = metrics.new_row();
        train_log::fill(&mut row, &id, &batch, &upd, &totals, &env);
        metrics.write(&row)?;
        if cfg.rollouts_every > 0 && step % cfg.rollouts_every == 0 {
            train_log::append_rollouts(&run.dir, step, &batch, &env)?;
        }
        if cfg.ckpt_every > 0 && (step % cfg.ckpt_every == 0 || step == cfg.rl.steps) {
            train_state::save(run, step, model.as_ref(), &opt, &totals, &rng)?;
        }
        progress.set(step - start, &format!("reward {:.3}", mean_reward(&batch)));
    }
    progress.finish("done");
    write_summary(
        cfg,
        run,
        &method_name,
        start,
        &totals,
        [sft, offline.record],
    )
}

/// The `sft` record of the run being continued (its SFT stage ran there, and its FLOPs are
/// in the checkpoint's totals), if it wrote one.
fn old_sft(old: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(old.join("summary.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("sft").filter(|s| !s.is_null()).cloned()
}

fn mean_reward(b: &train_rollout::Batch) -> f64 {
    let on: Vec<f64> = (0..b.rows.len())
        .filter(|&r| !b.off_policy[r])
        .map(|r| b.rewards[r])
        .collect();
    on.iter().sum::<f64>() / on.len().max(1) as f64
}

/// Whether this method's curve carries the offline FLOPs (§5.1, `rl.charge_offline`).
pub(super) fn charged(cfg: &PrefixrlConfig) -> bool {
    match cfg.rl.charge_offline {
        ChargeOffline::Users => cfg.rl.method.uses_traces(),
        ChargeOffline::All => true,
        ChargeOffline::None => false,
    }
}

/// summary.json: the method, the totals and the checker's failure counts (also printed).
fn write_summary(
    cfg: &PrefixrlConfig,
    run: &Run,
    method: &str,
    start: u64,
    t: &Totals,
    [sft, rejection]: [Option<serde_json::Value>; 2],
) -> Result<()> {
    let mut s = serde_json::json!({
        "stage": "train",
        "method": method,
        "steps": cfg.rl.steps,
        "resumed_from_step": start,
        "flops_offline": t.flops_offline,
        "flops_sample": t.flops_sample,
        "flops_train": t.flops_train,
        "flops_total": t.flops_total(),
        "flops_eval": t.flops_eval,
        "flops_diag": t.flops_diag,
        "checker_errors": t.checker_errors,
        "offpolicy_rows_without_behaviour_logprobs": t.missing_behaviour,
        "sft": sft,
        "rejection_sampling": rejection,
    });
    for (reason, n) in &t.checker_fail {
        s[format!("checker_fail_{reason}")] = (*n).into();
    }
    if !run.quiet {
        let fails: Vec<String> = t
            .checker_fail
            .iter()
            .map(|(r, n)| format!("checker_fail_{r}={n}"))
            .collect();
        eprintln!(
            "train: checker_errors={} {}",
            t.checker_errors,
            fails.join(" ")
        );
    }
    match s {
        // Keep the sections the earlier stages of the run wrote (gen_data, pretrain, …).
        serde_json::Value::Object(fields) if cfg.stage == Stage::All => {
            super::load::merge_summary(run, fields)
        }
        _ => run.write_summary(&s),
    }
}
