//! Evaluations: the row of `metrics.csv` (§3.6, every §4 metric), the samples files, and
//! `summary.json` (§4.7).
use super::columns;
use super::config::{EntropyConfig, EvalSection, When};
use super::eval::{draw_all, sampling_rng, teacher_forced, Draws, Protocol};
use super::metrics::{
    hits_at_1, ref_nll, rep_metrics, sample_metrics, word_metrics, MetricOptions, SampleMetrics,
    TrainIndex, WordMetrics,
};
use super::setup::Data;
use super::stability::{self, Window};
use super::train::Trainer;
use crate::data::Tokenizer;
use crate::nn::{self, LanguageModel};
use crate::run::Run;
use crate::run::{Metrics, Row};
use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// The final weights of a run with `eval.save_checkpoint` (what `task: probe` loads).
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// What the weights were trained with, written beside them (`probe::trained_with`).
pub const TRAINED_WITH_FILE: &str = "trained_with.json";

/// Teacher-forced scoring windows: a GPT's block size, else the training `seq_len`.
pub fn scoring_window(cfg: &EntropyConfig) -> usize {
    cfg.model
        .block_size()
        .map_or(cfg.train.seq_len, |b| b as usize)
}

/// What an evaluation looks at.
pub struct Scene<'a> {
    pub cfg: &'a EntropyConfig,
    pub model: &'a dyn LanguageModel,
    pub tokenizer: &'a Tokenizer,
    pub train_len: usize,
}

/// The evaluation side of a run: the protocol, `metrics.csv` and what the summary needs.
pub struct Evaluator {
    proto: Protocol,
    index: TrainIndex,
    metrics: Metrics,
    samples_dir: PathBuf,
    /// Prefix of the samples files (`probe` of a directory: `<index>_`).
    samples_prefix: String,
    evals: u64,
    best: Option<(f64, u64)>,
    true_rate: Option<f64>,
    jitters: Vec<f64>,
    gen_stds: Vec<f64>,
    last: Option<Row>,
    started: Instant,
    /// Seconds spent in evaluations, and in their sampling (generation) alone.
    eval_s: f64,
    sampling_s: f64,
}

impl Evaluator {
    /// The optional columns of `eval` (word level, extra temperatures) follow the spec's.
    pub fn new(proto: Protocol, data: &Data, run: &Run, eval: &EvalSection) -> Result<Evaluator> {
        let cols = columns::metrics(eval.word_metrics, &eval.temperatures, eval.top_p > 0.0);
        Evaluator::with_columns(proto, data, run, &cols)
    }

    /// An evaluator whose `metrics.csv` has `cols` (the metrics columns and, first, any text
    /// columns the caller fills before [`Evaluator::write`]).
    pub fn with_columns(
        proto: Protocol,
        data: &Data,
        run: &Run,
        cols: &[String],
    ) -> Result<Evaluator> {
        let samples_dir = run.path("samples");
        std::fs::create_dir_all(&samples_dir)
            .with_context(|| format!("creating {}", samples_dir.display()))?;
        let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
        Ok(Evaluator {
            index: TrainIndex::new(&data.splits.train),
            proto,
            metrics: run.csv("metrics.csv", &cols)?,
            samples_dir,
            samples_prefix: String::new(),
            evals: 0,
            best: None,
            true_rate: data.true_rate,
            jitters: Vec::new(),
            gen_stds: Vec::new(),
            last: None,
            started: Instant::now(),
            eval_s: 0.0,
            sampling_s: 0.0,
        })
    }

    /// The reference entropy: the analytic rate on synthetic data, else the running minimum
    /// of this run's validation loss (§3.6); None before the first evaluation on text.
    pub fn h_ref(&self) -> Option<f64> {
        self.true_rate.or(self.best.map(|b| b.0))
    }

    /// One evaluation row (and its samples file) of a training run after `done` steps.
    pub fn evaluate(
        &mut self,
        t: &mut Trainer,
        done: u64,
        lr_eff: f64,
        window: &Window,
        final_eval: bool,
    ) -> Result<()> {
        let scene = Scene {
            cfg: t.cfg,
            model: &*t.model,
            tokenizer: &t.data.tokenizer,
            train_len: t.data.splits.train.len(),
        };
        let mut row = self.score(&scene, done, final_eval)?;
        let tokens_seen = done * (t.plan.batch * t.cfg.train.seq_len) as u64;
        row.num("epoch", tokens_seen as f64 / scene.train_len as f64)
            .num("tokens_seen", tokens_seen as f64)
            .num("lr_eff", lr_eff)
            .opt("train_loss", window.train_loss());
        let values = window.values(nn::parameter_norm(&*t.model));
        for (name, v) in stability::COLUMNS.iter().zip(values) {
            row.opt(name, v);
        }
        self.jitters.extend(values[0]);
        self.gen_stds.extend(values[8]);
        for (name, v) in t.last_measurement.iter().flat_map(|m| m.cells()) {
            row.opt(&format!("ctrl_{name}"), v);
        }
        self.write(row)
    }

    /// Write a finished row (an evaluation counts once written).
    pub fn write(&mut self, row: Row) -> Result<()> {
        self.metrics.write(&row)?;
        self.last = Some(row);
        self.evals += 1;
        Ok(())
    }

    /// Which evaluation comes next (it picks the sampling stream).
    pub fn eval_index(&self) -> u64 {
        self.evals
    }

    /// Set the evaluation index (`probe` repeats a run's final evaluation stream).
    pub fn set_eval_index(&mut self, index: u64) {
        self.evals = index;
    }

    /// Start the running minimum of the validation loss at a run's (`probe`: its `h_ref`).
    pub fn set_best(&mut self, loss: f64, step: u64) {
        self.best = Some((loss, step));
    }

    /// Evaluate another checkpoint (`probe` of a directory): its protocol, and its data when
    /// `data` is given (else the previous one's).
    pub fn rebind(&mut self, proto: Protocol, data: Option<&Data>) {
        self.proto = proto;
        if let Some(data) = data {
            self.index = TrainIndex::new(&data.splits.train);
            self.true_rate = data.true_rate;
        }
        self.best = None;
    }

    /// Name the samples files `<prefix>eval_<step>.jsonl`.
    pub fn set_samples_prefix(&mut self, prefix: &str) {
        self.samples_prefix = prefix.to_string();
    }

    /// Every column that depends only on the model (§4.1–§4.4), and the samples file; the
    /// step is `step`, the sampling stream (seed, evaluation index).
    pub fn score(&mut self, scene: &Scene, step: u64, final_eval: bool) -> Result<Row> {
        let (cfg, model) = (scene.cfg, scene.model);
        let e = &cfg.eval;
        let (n, len) = match final_eval {
            true => (e.final_samples, e.final_len),
            false => (e.samples, e.sample_len),
        };
        let prompts = &self.proto.prompts[..n];
        let clock = Instant::now();
        let mut rng = sampling_rng(cfg.seed, self.evals);
        let draws = draw_all(model, prompts, len, e, &mut rng)?;
        self.sampling_s += clock.elapsed().as_secs_f64();
        let val = teacher_forced(model, &self.proto.val, self.proto.window, 16)?;
        let fit = teacher_forced(model, &self.proto.train_probe, self.proto.window, 16)?;
        if self.best.is_none_or(|(b, _)| val.loss < b) {
            self.best = Some((val.loss, step));
        }
        let mut row = self.metrics.new_row();
        row.num("step", step as f64)
            .num("wall_s", self.started.elapsed().as_secs_f64())
            .num("train_fit_loss", fit.loss)
            .num("val_loss", val.loss)
            .num("val_ppl", val.loss.exp())
            .num("tf_entropy_train", fit.entropy)
            .num("tf_entropy_val", val.entropy)
            .num("overconf_gap_val", val.loss - val.entropy);
        self.sample_columns(&mut row, scene, prompts, &draws, len, final_eval);
        let (rep16, _) = rep_metrics(&val.rows, 16);
        let (rep64, wrep64) = rep_metrics(&val.rows, 64);
        row.opt("rep_16", rep16)
            .opt("rep_64", rep64)
            .opt("wrep_64", wrep64)
            .opt("hits_at_1", hits_at_1(&val.rows));
        if e.word_metrics {
            let texts = (draws.t1.samples.iter())
                .map(|s| scene.tokenizer.decode(s))
                .collect::<Result<Vec<String>>>()?;
            let words = word_metrics(&texts);
            for (name, v) in WordMetrics::COLUMNS.iter().zip(words.values()) {
                row.opt(name, v);
            }
        }
        for (t, entropy, distinct) in &draws.extra {
            row.num(&format!("fr_entropy_T{t}"), *entropy)
                .opt(&format!("distinct_4_T{t}"), *distinct);
        }
        let loop_greedy = row.get("loop_frac_greedy").parse::<f64>().ok();
        let alert = (cfg.alert).flag(draws.t1.entropy, loop_greedy, self.h_ref());
        row.opt("alert", alert);
        if let Some((entropy, distinct)) = draws.nucleus {
            row.num("fr_entropy_top_p", entropy)
                .opt("distinct_4_top_p", distinct);
        }
        let (t1, greedy) = (&draws.t1.samples, &draws.greedy.samples);
        self.write_samples(step, scene.tokenizer, prompts, t1, greedy)?;
        self.eval_s += clock.elapsed().as_secs_f64();
        Ok(row)
    }

    /// The columns of the T = 1 and greedy samples (§4.1–§4.3): the model's view along them, the
    /// reference model's NLL of them, and the sample metrics against the real continuations.
    fn sample_columns(
        &self,
        row: &mut Row,
        scene: &Scene,
        prompts: &[Vec<u32>],
        draws: &Draws,
        len: usize,
        final_eval: bool,
    ) {
        let (e, t1, greedy) = (&scene.cfg.eval, &draws.t1, &draws.greedy);
        let real: Vec<Vec<u32>> = (self.proto.real[..prompts.len()].iter())
            .map(|r| r[..len].to_vec())
            .collect();
        let ref_nll_t1 = ref_nll(&self.proto.reference, prompts, &t1.samples);
        row.num("fr_entropy_t1", t1.entropy)
            .num("fr_nll_t1", t1.nll)
            .opt(
                "fr_entropy_greedy",
                (!greedy.samples.is_empty()).then_some(greedy.entropy),
            )
            .num("top1_mass_fr", t1.top1)
            .opt("gen_ref_nll_t1", ref_nll_t1)
            .opt("rev_kl_proxy", ref_nll_t1.map(|r| r - t1.nll));
        let opts = MetricOptions {
            self_bleu: e.self_bleu == When::Every || (final_eval && e.self_bleu == When::Final),
            mauve: e.mauve,
            mauve_seed: scene.cfg.seed,
        };
        let vocab = scene.tokenizer.vocab_size();
        let sm = sample_metrics(
            &t1.samples,
            &greedy.samples,
            &real,
            &self.index,
            vocab,
            &opts,
        );
        for (name, v) in SampleMetrics::columns().iter().zip(sm.values()) {
            row.opt(name, v);
        }
    }

    /// `samples/[<prefix>]eval_<step>.jsonl`: prompt, continuation, decoding and stream seed per sample.
    fn write_samples(
        &self,
        step: u64,
        tok: &Tokenizer,
        prompts: &[Vec<u32>],
        t1: &[Vec<u32>],
        greedy: &[Vec<u32>],
    ) -> Result<()> {
        let name = format!("{}eval_{step}.jsonl", self.samples_prefix);
        let path = self.samples_dir.join(name);
        let mut out = Vec::new();
        let runs = [("t1", t1), ("greedy", greedy)];
        for (decoding, samples) in runs {
            for (i, (p, s)) in prompts.iter().zip(samples).enumerate() {
                let line = json!({
                    "index": i,
                    "decoding": decoding,
                    "eval_index": self.evals,
                    "prompt": tok.decode(p)?,
                    "continuation": tok.decode(s)?,
                });
                writeln!(out, "{line}")?;
            }
        }
        crate::run::write_atomic(&path, &out)
    }

    /// `summary.json`: the final row plus the run-level scalars of §4.7.
    pub fn finish(self, t: &Trainer, run: &Run) -> Result<()> {
        let mut s = self.last.as_ref().map(summary_of).unwrap_or_default();
        let num = |v: Option<f64>| v.map_or(Value::Null, Value::from);
        s.insert(
            "arch".into(),
            json!(format!("{:?}", t.cfg.model.kind).to_lowercase()),
        );
        s.insert("condition".into(), json!(t.cfg.condition.name()));
        s.insert("seed".into(), json!(t.cfg.seed));
        s.insert("params".into(), json!(nn::num_parameters(&*t.model)));
        s.insert("best_val_loss".into(), num(self.best.map(|b| b.0)));
        s.insert("best_val_step".into(), num(self.best.map(|b| b.1 as f64)));
        s.insert("h_ref".into(), num(self.h_ref()));
        let source = if self.true_rate.is_some() {
            "analytic entropy rate"
        } else {
            "best val loss"
        };
        s.insert("h_ref_source".into(), json!(source));
        s.insert(
            "stab_loss_jitter".into(),
            num(stability::late_mean(&self.jitters)),
        );
        s.insert(
            "stab_gen_std".into(),
            num(stability::late_mean(&self.gen_stds)),
        );
        let acting = (t.ctrl.enabled() && t.measured_active > 0)
            .then(|| t.measured_acting as f64 / t.measured_active as f64);
        s.insert("ctrl_active_frac".into(), num(acting));
        s.insert(
            "final_eval_index".into(),
            json!(self.evals.saturating_sub(1)),
        );
        s.insert(
            "run_wall_s".into(),
            json!(self.started.elapsed().as_secs_f64()),
        );
        s.insert("eval_wall_s".into(), json!(self.eval_s));
        s.insert("eval_sampling_wall_s".into(), json!(self.sampling_s));
        run.write_summary(&Value::Object(s))
    }
}

/// The cells of a metrics row as a JSON object (numbers; empty cells are null).
pub fn summary_of(row: &Row) -> Map<String, Value> {
    row.columns()
        .iter()
        .map(|name| {
            let v = row.get(name).parse::<f64>().ok();
            (name.clone(), v.map_or(Value::Null, Value::from))
        })
        .collect()
}
