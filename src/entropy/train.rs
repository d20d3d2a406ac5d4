//! `task: train`: one run (architecture × condition × seed) of MLE training (§3.3) under a
//! condition (§3.4), with the controller's probe measured every `controller.every` steps
//! (§3.5) and the full evaluation (§3.6, every §4 metric) every `eval.every` steps and at the
//! end. Writes `steps.csv`, `ctrl.csv`, `metrics.csv`, `samples/eval_<step>.jsonl` and
//! `summary.json` (§4.7).
//!
//! One step: a random batch from the run's RNG; loss = CE − u·entropy when the controller
//! drives the entropy coefficient; backward; the global gradient norm, clipped at the
//! condition's (or the controller's) threshold; the scheduled lr × the controller's factor;
//! one AdamW step; the update's size and direction; the weight EMA.
use super::columns;
use super::condition::Plan;
use super::config::{EntropyConfig, EvalWeights};
use super::controller::{Controller, Measurement};
use super::ctrl_probe::Probe;
use super::eval::Protocol;
use super::measure::{self, Evaluator};
use super::setup::{self, Data};
use super::stability::{StepStats, Window};
use crate::experiment::Ctx;
use crate::nn::{self, loss::entropy_of_logits, Input, LanguageModel};
use crate::optim::{ema::Ema, AdamW, AdamWConfig, Optimizer};
use crate::run::{Metrics, Run};
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// Everything a training run holds between steps.
pub struct Trainer<'a> {
    pub cfg: &'a EntropyConfig,
    pub plan: Plan,
    pub data: Data,
    pub model: Box<dyn LanguageModel>,
    opt: AdamW,
    ema: Option<Ema>,
    pub ctrl: Controller,
    probe: Probe,
    prev_delta: Option<Tensor>,
    window: Window,
    /// The controller's latest measurement, for the `ctrl_*` columns.
    pub last_measurement: Option<Measurement>,
    /// Post-warm-up measurements, and how many of them found u below u_max − 0.1 (§3.5).
    pub measured_active: usize,
    pub measured_acting: usize,
}

pub fn run(cfg: &EntropyConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let data = setup::load(&cfg.data)?;
    super::fit::check(cfg, &data)?;
    let plan = Plan::resolve(cfg);
    let model = nn::build(&cfg.model, data.vocab() as i64, ctx.device)?;
    let opt = AdamW::new(
        model.var_store(),
        &AdamWConfig {
            lr: plan.lr,
            betas: cfg.train.betas,
            eps: cfg.train.eps,
            weight_decay: cfg.train.weight_decay,
            grad_clip: None,
            ..AdamWConfig::default()
        },
    )?;
    let window = measure::scoring_window(cfg);
    let protocol = Protocol::new(
        &cfg.eval,
        &data.splits.train,
        &data.splits.val,
        data.vocab(),
        window,
    )?;
    let probe = Probe::new(&plan.controller, &data.splits.train, window)?;
    let mut eval = Evaluator::new(protocol, &data, run, &cfg.eval)?;
    let mut t = Trainer {
        ema: plan.weight_ema.map(|d| Ema::new(model.var_store(), d)),
        ctrl: Controller::new(&plan.controller, plan.controller_on),
        cfg,
        plan,
        data,
        model,
        opt,
        probe,
        prev_delta: None,
        window: Window::default(),
        last_measurement: None,
        measured_active: 0,
        measured_acting: 0,
    };
    t.data.tokenizer.save(&run.path("tokenizer.json"))?;
    let mut steps_csv = run.csv("steps.csv", columns::STEPS)?;
    let mut ctrl_csv = run.csv("ctrl.csv", columns::CTRL)?;
    let mut progress = run.progress(cfg.train.steps, "train");
    for step in 0..cfg.train.steps {
        let (stats, lr_eff) = t.step(step, &mut ctx.rng)?;
        let mut row = steps_csv.new_row();
        row.num("step", (step + 1) as f64)
            .num("loss", stats.loss)
            .num("lr_eff", lr_eff)
            .num("grad_norm", stats.grad_norm)
            .num("update_ratio", stats.update_ratio)
            .num("clipped", f64::from(u8::from(stats.clipped)))
            .opt("ctrl_u", t.ctrl.enabled().then(|| t.ctrl.u()));
        steps_csv.write(&row)?;
        let stats_loss = stats.loss;
        t.window.push(&stats);
        let done = step + 1;
        if done % t.plan.controller.every == 0 {
            t.measure_probe(done, eval.h_ref(), &mut ctrl_csv)?;
        }
        if done % cfg.eval.every == 0 || done == cfg.train.steps {
            let final_eval = done == cfg.train.steps;
            let window = std::mem::take(&mut t.window);
            t.with_eval_weights(|t| eval.evaluate(t, done, lr_eff, &window, final_eval))?;
        }
        progress.set(done, &format!("loss {:.3}", stats_loss));
        run.check_interrupt()?;
    }
    progress.finish("done");
    if cfg.eval.save_checkpoint {
        t.with_eval_weights(|t| {
            nn::checkpoint::save_weights(&run.path(measure::WEIGHTS_FILE), t.model.var_store())
        })?;
        let mut record = super::probe::trained_with(cfg)?;
        record["tokens_sha256"] = super::probe_check::tokens_digest(&t.data).into();
        crate::run::write_json(&run.path(measure::TRAINED_WITH_FILE), &record)?;
    }
    eval.finish(&t, run)
}

impl Trainer<'_> {
    /// One optimizer step (module doc); returns what the window and steps.csv record, and the
    /// effective learning rate.
    fn step(&mut self, step: u64, rng: &mut rand_chacha::ChaCha8Rng) -> Result<(StepStats, f64)> {
        let cfg = self.cfg;
        let device = self.model.var_store().device();
        let (x, y) = crate::data::random_batch(
            &self.data.splits.train,
            self.plan.batch,
            cfg.train.seq_len,
            rng,
            device,
        )?;
        nn::checkpoint::seed_torch_for_step(cfg.seed, step);
        let logits = self.model.forward(&Input::new(&x), true)?; // (B, T, V)
        let v = logits.size()[2];
        let ce = logits.view([-1, v]).cross_entropy_loss::<Tensor>(
            &y.view([-1]),
            None,
            tch::Reduction::Mean,
            -100,
            0.0,
        );
        let loss = ce.double_value(&[]);
        if !loss.is_finite() {
            bail!(
                "the training loss is {loss} at step {}; stopping (rows so far are kept). \
                 Lower train.lr or check the data",
                step + 1
            );
        }
        let coef = self.ctrl.entropy_coef();
        let objective = match coef {
            0.0 => ce,
            c => ce - entropy_of_logits(&logits).mean(Kind::Float) * c, // (E10) bonus
        };
        objective.backward();
        let grad_norm = self.opt.grad_norm()?;
        let threshold = self.ctrl.clip_threshold().or(self.plan.grad_clip);
        let clipped = threshold.is_some_and(|th| grad_norm > th);
        if let Some(th) = threshold {
            self.opt.clip_grad_norm(th)?;
        }
        let lr_eff =
            self.plan.lr_at(step, cfg.train.warmup, cfg.train.steps) * self.ctrl.lr_factor();
        let before = flat_params(&*self.model);
        self.opt.set_lr(lr_eff);
        self.opt.step()?;
        self.opt.zero_grad();
        let delta = flat_params(&*self.model) - &before;
        let before_norm = before.norm().double_value(&[]);
        let delta_norm = delta.norm().double_value(&[]);
        let update_cos = self.prev_delta.as_ref().and_then(|prev| {
            let den = prev.norm().double_value(&[]) * delta_norm;
            (den > 0.0).then(|| (prev * &delta).sum(Kind::Double).double_value(&[]) / den)
        });
        self.prev_delta = Some(delta);
        if let Some(ema) = &mut self.ema {
            ema.update(self.model.var_store());
        }
        let stats = StepStats {
            loss,
            grad_norm,
            clipped,
            update_ratio: if before_norm > 0.0 {
                delta_norm / before_norm
            } else {
                0.0
            },
            update_cos,
        };
        Ok((stats, lr_eff))
    }

    /// Measure the controller's statistic on the probe, update the controller (inactive
    /// during warm-up), log the measurement.
    fn measure_probe(&mut self, done: u64, h_ref: Option<f64>, csv: &mut Metrics) -> Result<()> {
        let s = self.probe.statistic(&*self.model, &self.plan.controller)?;
        let active = done > self.cfg.train.warmup;
        let m = self.ctrl.measure(s, active, h_ref);
        self.window.push_stat(s);
        let mut row = csv.new_row();
        row.num("step", done as f64);
        for (name, v) in m.cells() {
            row.opt(name, v);
        }
        csv.write(&row)?;
        if active {
            self.measured_active += 1;
            let u_max = self.plan.controller.gains().u_max;
            self.measured_acting += usize::from(m.u.is_some_and(|u| u < u_max - 0.1));
        }
        self.last_measurement = Some(m);
        Ok(())
    }

    /// Run `f` with the evaluation weights in the model (the EMA under `eval_weights: ema`),
    /// restoring the live weights afterwards.
    fn with_eval_weights<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let swap = self.plan.eval_weights == EvalWeights::Ema;
        if let (true, Some(ema)) = (swap, &mut self.ema) {
            ema.swap(self.model.var_store())?;
        }
        let out = f(self);
        if let (true, Some(ema)) = (swap, &mut self.ema) {
            ema.swap(self.model.var_store())?;
        }
        out
    }
}

/// All trainable parameters, flattened and concatenated in name order.
fn flat_params(model: &dyn LanguageModel) -> Tensor {
    let parts: Vec<Tensor> = nn::named_parameters(model)
        .iter()
        .map(|(_, p)| p.detach().flatten(0, -1).to_kind(Kind::Double))
        .collect();
    Tensor::cat(&parts, 0)
}
