//! Range and relation checks of the `lab entropy-probe` config ([`EntropyConfig`], whose
//! types and defaults are in `config.rs`): every key's bounds, counts within [`MAX_TOKENS`],
//! the model against its block size, and the keys each task needs.
use super::config::{EntropyConfig, EvalSection, EvalWeights, Overrides, Task, TrainSection};
use super::controller::MIN_TEMPERATURE;
use crate::config::{Checker, Validate};

impl Validate for EntropyConfig {
    fn validate(&self, c: &mut Checker) {
        c.threads("torch_threads", self.torch_threads);
        self.data.corpus.validate_at(c, "data.corpus");
        self.data.split.validate_at(c, "data.split");
        self.data.tokenizer.validate_at(c, "data.tokenizer");
        if let Err(e) = self.model.validate() {
            c.check("model", false, e.to_string());
        }
        validate_train(&self.train, c);
        self.validate_sizes(c);
        validate_overrides(&self.overrides, c);
        validate_eval(&self.eval, c);
        self.alert.validate(c);
        // A probe's model is the probed run's (checked against it in `probe_check.rs`) or a
        // TorchScript module (`checkpoint.context`), not this config's `model`.
        if self.task == Task::Train {
            self.model_fit(c);
        }
        let plan = super::condition::Plan::resolve(self);
        c.relation(
            "overrides.eval_weights",
            &["condition", "overrides.weight_ema"],
            plan.eval_weights == EvalWeights::Live || plan.weight_ema.is_some(),
            "is ema, but no weight EMA is kept (set overrides.weight_ema, e.g. 0.999)",
        );
        if self.task == Task::Train && plan.controller_on {
            // The controller measures at the multiples of `every` and acts only after warm-up:
            // without such a step the run would be labelled by its condition (and paired as
            // one in the verdicts) though nothing ever controlled it.
            let (t, every) = (&self.train, self.controller.every);
            let last = t.steps.checked_div(every).map_or(0, |n| n * every);
            let mut why = vec!["train.steps", "train.warmup", "condition"];
            if self.overrides.controller.is_some() {
                why.push("overrides.controller");
            }
            c.relation(
                "controller.every",
                &why,
                every == 0 || last > t.warmup,
                format!(
                    "is {every}, but with train.steps = {} and train.warmup = {} the controller \
                     of this run never acts: it measures at the multiples of controller.every \
                     and stays inactive during warm-up, so {}; lower controller.every or \
                     train.warmup, or raise train.steps",
                    t.steps,
                    t.warmup,
                    if last == 0 {
                        "it never measures".to_string()
                    } else {
                        format!("its last measurement (step {last}) falls in the warm-up")
                    }
                ),
            );
        }
        c.check(
            "controller.probe.len",
            self.controller.statistic != super::controller::Statistic::SeqRep4
                || self.controller.probe.len >= 4,
            "statistic seq_rep_4 needs probe generations of at least 4 tokens",
        );
        for p in self.controller.problems("controller") {
            let (key, why) = p.split_once(": ").unwrap_or(("controller", p.as_str()));
            c.check(key, false, why.to_string());
        }
        super::unread::check(self, c);
        match self.task {
            Task::Text => c.check(
                "text.samples",
                self.text.samples.is_some(),
                "task text needs the samples file: --set text.samples=PATH",
            ),
            Task::Probe => super::probe::validate_probe(&self.checkpoint, &self.eval, c),
            Task::Theory => {
                c.check(
                    "theory.orders",
                    !self.theory.orders.is_empty(),
                    "needs at least one order",
                );
                c.check(
                    "theory.orders",
                    self.theory.orders.iter().all(|k| *k <= 16),
                    "orders above 16 are not supported (contexts are packed in 128 bits)",
                );
                c.positive("theory.delta", self.theory.delta);
            }
            Task::Train => {}
        }
    }
}

/// Most tokens one training batch, one evaluation's (or the controller probe's) generations,
/// or one call of a TorchScript module may span: 2^28, far beyond any sensible config; a count
/// past it is a usage error naming the key instead of an allocation failure that aborts.
pub const MAX_TOKENS: usize = 1 << 28;

impl EntropyConfig {
    /// Counts times lengths within [`MAX_TOKENS`] (module doc of the constant).
    fn validate_sizes(&self, c: &mut Checker) {
        let (t, e, p) = (&self.train, &self.eval, &self.controller.probe);
        let k = &self.checkpoint;
        let batch_len = t.seq_len.saturating_add(1);
        let mut sizes = vec![
            ("train.batch", "train.seq_len + 1", t.batch, batch_len),
            (
                "eval.samples",
                "eval.prompt_len + eval.sample_len",
                e.samples,
                e.prompt_len.saturating_add(e.sample_len),
            ),
            (
                "eval.final_samples",
                "eval.prompt_len + eval.final_len",
                e.final_samples,
                e.prompt_len.saturating_add(e.final_len),
            ),
            (
                "controller.probe.prompts",
                "controller.probe.prompt_len + controller.probe.len",
                p.prompts,
                p.prompt_len.saturating_add(p.len),
            ),
        ];
        if let Some(b) = self.overrides.batch {
            sizes.push(("overrides.batch", "train.seq_len + 1", b, batch_len));
        }
        if let Some(b) = k.fixed_batch {
            sizes.push(("checkpoint.fixed_batch", "checkpoint.context", b, k.context));
        }
        for (key, per, n, len) in sizes {
            c.check(
                key,
                n.checked_mul(len).is_some_and(|x| x <= MAX_TOKENS),
                format!(
                    "is {n}: {n} x ({per} = {len}) tokens is more than the {MAX_TOKENS} lab \
                     allows at once"
                ),
            );
        }
    }

    /// The tokens of one teacher-forced scoring window and the key that sets it: the model's
    /// block size, or `train.seq_len` for a model without one (an RNN).
    pub(super) fn scoring_window(&self) -> (usize, &'static str) {
        match self.model.block_size() {
            Some(b) => (b as usize, "model.block_size"),
            None => (self.train.seq_len, "train.seq_len"),
        }
    }

    /// Windows, prompts and generations must fit the model's context; a training run's
    /// teacher-forced scoring reads whole windows of it. Task train only: a probe's model is
    /// the probed run's (`probe_check.rs`).
    fn model_fit(&self, c: &mut Checker) {
        let (window, key) = self.scoring_window();
        let e = &self.eval;
        for (k, n) in [
            ("eval.val_tokens", e.val_tokens),
            ("eval.train_probe_tokens", e.train_probe_tokens),
        ] {
            c.relation(
                k,
                &[key],
                n == 0 || n >= window,
                format!(
                    "is {n}, fewer than one teacher-forced scoring window of {key} = \
                     {window} tokens{}",
                    if k == "eval.val_tokens" {
                        " (0 = the whole val split)"
                    } else {
                        ""
                    }
                ),
            );
        }
        let Some(block) = self.model.block_size() else {
            return;
        };
        let block = block as usize;
        c.relation(
            "train.seq_len",
            &["model.block_size"],
            self.train.seq_len <= block,
            format!(
                "is {} but the model sees at most block_size = {block} tokens",
                self.train.seq_len
            ),
        );
        let probe = &self.controller.probe;
        c.relation(
            "controller.probe.prompt_len",
            &["model.block_size"],
            probe.prompt_len <= block,
            format!("is {} but the block size is {block}", probe.prompt_len),
        );
        c.relation(
            "eval.prompt_len",
            &["model.block_size"],
            self.eval.prompt_len <= block,
            format!("is {} but the block size is {block}", self.eval.prompt_len),
        );
    }
}

fn validate_train(t: &TrainSection, c: &mut Checker) {
    c.check("train.steps", t.steps >= 1, "must be >= 1");
    c.at_least("train.batch", t.batch, 1);
    c.at_least("train.seq_len", t.seq_len, 1);
    if let Some(lr) = t.lr {
        c.positive("train.lr", lr);
    }
    let [b1, b2] = t.betas;
    c.check(
        "train.betas",
        (0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2),
        format!("each must be in [0, 1), got [{b1}, {b2}]"),
    );
    c.positive("train.eps", t.eps);
    c.check(
        "train.weight_decay",
        t.weight_decay >= 0.0 && t.weight_decay.is_finite(),
        format!("must be >= 0, got {}", t.weight_decay),
    );
}

fn validate_overrides(o: &Overrides, c: &mut Checker) {
    if let Some(v) = o.lr_mult {
        c.positive("overrides.lr_mult", v);
    }
    if let Some(b) = o.batch {
        c.at_least("overrides.batch", b, 1);
    }
    if let Some(v) = o.min_lr_frac {
        c.check(
            "overrides.min_lr_frac",
            (0.0..=1.0).contains(&v),
            format!("must be in [0, 1], got {v}"),
        );
    }
    if let Some(v) = o.grad_clip {
        c.check(
            "overrides.grad_clip",
            v >= 0.0 && v.is_finite(),
            format!("must be >= 0 (0 = off), got {v}"),
        );
    }
    if let Some(v) = o.weight_ema {
        c.check(
            "overrides.weight_ema",
            (0.0..1.0).contains(&v),
            format!("must be in [0, 1) (0 = off), got {v}"),
        );
    }
}

fn validate_eval(e: &EvalSection, c: &mut Checker) {
    c.check("eval.every", e.every >= 1, "must be >= 1");
    c.at_least("eval.samples", e.samples, 1);
    c.check(
        "eval.greedy_samples",
        e.greedy_samples <= e.samples,
        format!(
            "is {} but only eval.samples = {} prompts exist",
            e.greedy_samples, e.samples
        ),
    );
    c.at_least("eval.prompt_len", e.prompt_len, 1);
    c.at_least("eval.sample_len", e.sample_len, 1);
    c.at_least("eval.final_samples", e.final_samples, 1);
    c.at_least("eval.final_len", e.final_len, 1);
    c.at_least("eval.train_probe_tokens", e.train_probe_tokens, 2);
    c.check(
        "eval.temperatures",
        e.temperatures
            .iter()
            .all(|t| t.is_finite() && *t >= MIN_TEMPERATURE),
        format!(
            "each must be at least {MIN_TEMPERATURE} (greedy, T -> 0, is always run; below \
             that sampling is greedy in all but name, and near 1e-305 the tempered logits \
             overflow and the sampled tokens are garbage), got {:?}",
            e.temperatures
        ),
    );
    let twice = e
        .temperatures
        .iter()
        .enumerate()
        .find(|(i, t)| e.temperatures[..*i].contains(t));
    c.check(
        "eval.temperatures",
        twice.is_none(),
        format!(
            "lists {} twice (each temperature adds the columns fr_entropy_T{{t}} and \
             distinct_4_T{{t}}, which would repeat)",
            twice.map_or(0.0, |(_, t)| *t)
        ),
    );
    c.check(
        "eval.top_p",
        e.top_p == 0.0 || (e.top_p > 0.0 && e.top_p <= 1.0),
        format!("must be in (0, 1], or 0 = off, got {}", e.top_p),
    );
    c.check(
        "eval.ref_ngram_order",
        e.ref_ngram_order <= 16,
        "must be <= 16",
    );
}
