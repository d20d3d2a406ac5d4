//! Range checks of [`PrefixrlConfig`]: each problem names its key. Method-specific rules:
//! `sft-rl` needs `sft.epochs >= 1`; keys only some methods read (`rl.alpha`, `sft.*`,
//! `offpolicy.*`) are checked in [`super::config_method`]; a single stage needs the `inputs.*`
//! keys of the runs it reads.
use super::config::{IsClip, Method, PrefixMode, PrefixrlConfig, Stage};
use super::inputs;
use crate::config::{Checker, Validate};

impl Validate for PrefixrlConfig {
    fn validate(&self, c: &mut Checker) {
        c.threads("torch_threads", self.torch_threads);
        self.task.validate_at(c, "task");
        check_data(self, c);
        check_pretrain(self, c);
        check_calibrate(self, c);
        c.at_least("hard.k_probe", self.hard.k_probe, 1);
        c.check("traces.budget_r", self.traces.budget_r >= 1, "must be >= 1");
        c.positive("traces.temperature", self.traces.temperature);
        check_prefix(self, c);
        check_rl(self, c);
        check_eval(self, c);
        check_stage_keys(self, c);
        check_inputs(self, c);
        check_toy(self, c);
        super::config_sizes::check(self, c);
    }
}

fn check_data(cfg: &PrefixrlConfig, c: &mut Checker) {
    let d = &cfg.data;
    c.check(
        "data.easy_levels",
        !d.easy_levels.is_empty(),
        "must list at least one level",
    );
    c.relation(
        "data.easy_mix",
        &["data.easy_levels"],
        d.easy_mix.len() == d.easy_levels.len(),
        format!(
            "has {} shares for {} easy levels: give one share per level",
            d.easy_mix.len(),
            d.easy_levels.len()
        ),
    );
    let sum: f64 = d.easy_mix.iter().sum();
    let shares_ok = d.easy_mix.iter().all(|p| p.is_finite() && *p >= 0.0);
    c.check(
        "data.easy_mix",
        shares_ok && (sum - 1.0).abs() <= 1e-6,
        format!("shares must be >= 0 and sum to 1, got sum {sum}"),
    );
    c.at_least("data.n_pretrain", d.n_pretrain, 1);
    c.at_least("data.pool_size", d.pool_size, 1);
    c.relation(
        "train.n_problems",
        &["data.pool_size"],
        (1..=d.pool_size).contains(&cfg.train.n_problems),
        format!(
            "must be in [1, data.pool_size = {}], got {}",
            d.pool_size, cfg.train.n_problems
        ),
    );
}

fn check_pretrain(cfg: &PrefixrlConfig, c: &mut Checker) {
    let p = &cfg.pretrain;
    c.check("pretrain.steps", p.steps >= 1, "must be >= 1");
    c.at_least("pretrain.batch", p.batch, 1);
    c.positive("pretrain.lr", p.lr);
    c.relation(
        "pretrain.lr_min",
        &["pretrain.lr"],
        p.lr_min >= 0.0 && p.lr_min <= p.lr,
        format!("must be in [0, pretrain.lr = {}], got {}", p.lr, p.lr_min),
    );
    c.check(
        "pretrain.prompt_loss_weight",
        p.prompt_loss_weight.is_finite() && p.prompt_loss_weight >= 0.0,
        format!("must be >= 0, got {}", p.prompt_loss_weight),
    );
}

fn check_calibrate(cfg: &PrefixrlConfig, c: &mut Checker) {
    let k = &cfg.calibrate;
    c.at_least("calibrate.problems", k.problems, 1);
    c.at_least("calibrate.samples", k.samples, 1);
    c.at_least("calibrate.prefix_samples", k.prefix_samples, 1);
    c.check(
        "calibrate.fractions",
        k.fractions.iter().all(|f| 0.0 < *f && *f < 1.0)
            && k.fractions.windows(2).all(|w| w[0] < w[1]),
        format!("must be increasing values in (0, 1), got {:?}", k.fractions),
    );
}

fn check_prefix(cfg: &PrefixrlConfig, c: &mut Checker) {
    let p = &cfg.prefix;
    c.at_least("prefix.per_trace", p.per_trace, 1);
    c.check(
        "prefix.frac_lo",
        0.0 < p.frac_lo && p.frac_lo < p.frac_hi && p.frac_hi < 1.0,
        format!(
            "need 0 < frac_lo < frac_hi < 1, got frac_lo {} and frac_hi {}",
            p.frac_lo, p.frac_hi
        ),
    );
    c.check(
        "prefix.fractions",
        p.fractions.iter().all(|f| 0.0 < *f && *f < 1.0),
        format!("each must be in (0, 1), got {:?}", p.fractions),
    );
    // A repeated fraction made a second, identical prefixed problem of every trace.
    let repeated = (1..p.fractions.len()).find(|&i| p.fractions[..i].contains(&p.fractions[i]));
    c.check(
        "prefix.fractions",
        repeated.is_none(),
        format!(
            "lists {} twice: each fraction is one cut, got {:?}",
            repeated.map_or(0.0, |i| p.fractions[i]),
            p.fractions
        ),
    );
    if p.mode == PrefixMode::Fixed {
        c.check(
            "prefix.fractions",
            !p.fractions.is_empty(),
            "mode fixed needs at least one fraction",
        );
    }
    let [lo, hi] = p.band;
    c.check(
        "prefix.band",
        0.0 <= lo && lo <= hi && hi <= 1.0,
        format!("need 0 <= band[0] <= band[1] <= 1, got [{lo}, {hi}]"),
    );
    c.at_least("prefix.m_cal", p.m_cal, 1);
}

fn check_rl(cfg: &PrefixrlConfig, c: &mut Checker) {
    let r = &cfg.rl;
    // §7.10 item 1: a group of one sample has no baseline, so its advantage is always 0.
    c.at_least("rl.n", r.n, 2);
    c.check(
        "rl.alpha",
        (0.0..=1.0).contains(&r.alpha),
        format!("must be in [0, 1], got {}", r.alpha),
    );
    super::config_method::check(cfg, c);
    c.check("rl.steps", r.steps >= 1, "must be >= 1");
    c.at_least("rl.batch_problems", r.batch_problems, 1);
    // A step draws B distinct problems of the training set, which has at most n_problems.
    c.relation(
        "rl.batch_problems",
        &["train.n_problems"],
        r.batch_problems <= cfg.train.n_problems,
        format!(
            "must be <= train.n_problems = {} (a step draws that many distinct training \
             problems), got {}",
            cfg.train.n_problems, r.batch_problems
        ),
    );
    c.positive("rl.lr", r.lr);
    c.check(
        "rl.adv_eps",
        r.adv_eps.is_finite() && r.adv_eps >= 0.0,
        format!("must be >= 0, got {}", r.adv_eps),
    );
    c.at_least("rl.ppo_epochs", r.ppo_epochs, 1);
    c.positive("rl.clip_eps", r.clip_eps);
    c.check(
        "rl.kl_beta",
        r.kl_beta.is_finite() && r.kl_beta >= 0.0,
        format!("must be >= 0, got {}", r.kl_beta),
    );
    c.positive("rl.temperature", r.temperature);
    c.at_least("rl.max_new_tokens", r.max_new_tokens, 1);
    c.positive("rl.grad_clip", r.grad_clip);
    let rows = r.batch_problems.saturating_mul(r.n);
    c.relation(
        "rl.micro_batches",
        &["rl.batch_problems", "rl.n"],
        (1..=rows.max(1)).contains(&r.micro_batches),
        format!(
            "must be in [1, batch_problems x n = {rows}], got {}",
            r.micro_batches
        ),
    );
    if r.method == Method::SftRl {
        c.check(
            "sft.epochs",
            cfg.sft.epochs >= 1,
            "method sft-rl needs sft.epochs >= 1",
        );
    }
    c.positive("sft.lr", cfg.sft.lr);
    c.at_least("sft.batch", cfg.sft.batch, 1);
    if let IsClip::Max(m) = cfg.offpolicy.is_clip {
        c.positive("offpolicy.is_clip", m);
    }
    c.positive("offpolicy.luffy_gamma", cfg.offpolicy.luffy_gamma);
}

fn check_eval(cfg: &PrefixrlConfig, c: &mut Checker) {
    let e = &cfg.eval;
    c.check("eval.every", e.every >= 1, "must be >= 1");
    c.at_least("eval.k_eval", e.k_eval, 1);
    c.check(
        "eval.pass_k",
        !e.pass_k.is_empty() && e.pass_k[0] >= 1 && e.pass_k.windows(2).all(|w| w[0] < w[1]),
        format!("must be increasing values >= 1, got {:?}", e.pass_k),
    );
    c.relation(
        "eval.n_heldout",
        &["data.n_heldout"],
        e.n_heldout <= cfg.data.n_heldout,
        format!(
            "must be <= data.n_heldout = {}, got {}",
            cfg.data.n_heldout, e.n_heldout
        ),
    );
    c.relation(
        "eval.n_ood",
        &["data.n_ood"],
        e.n_ood <= cfg.data.n_ood,
        format!(
            "must be <= data.n_ood = {}, got {}",
            cfg.data.n_ood, e.n_ood
        ),
    );
    c.check(
        "eval.panel_fracs",
        e.panel_fracs.iter().all(|f| (0.0..1.0).contains(f))
            && e.panel_fracs.windows(2).all(|w| w[0] < w[1]),
        format!(
            "must be increasing values in [0, 1), got {:?}",
            e.panel_fracs
        ),
    );
    if let Some(k) = e.k_final {
        c.at_least("eval.k_final", k, 1);
    }
}

/// Keys that only some stages read. `stage: all` evaluates the run's last checkpoint, so it
/// needs `ckpt_every >= 1` (with 0 the final numbers were silently the base model's, method
/// `base` at step 0); `eval.checkpoint` and `eval.k_final` are read by stage eval (and all)
/// only: elsewhere they were ignored without a word (a train run did not start from the
/// checkpoint it named).
fn check_stage_keys(cfg: &PrefixrlConfig, c: &mut Checker) {
    let stage = cfg.stage.name();
    if cfg.stage == Stage::All {
        c.relation(
            "ckpt_every",
            &["stage"],
            cfg.ckpt_every >= 1,
            "must be >= 1 under stage all: its eval stage evaluates the run's last checkpoint \
             (written at the last step), and with 0 there is none; set ckpt_every to rl.steps \
             for just that one",
        );
    }
    if matches!(cfg.stage, Stage::Eval | Stage::All) {
        return;
    }
    c.relation(
        "eval.checkpoint",
        &["stage"],
        cfg.eval.checkpoint.is_none(),
        format!(
            "is read only by stage eval (and all), but stage is {stage}, which would ignore it \
             (training always starts from inputs.base's model; to continue a train run use \
             --resume RUN_DIR): set it to null or run stage eval"
        ),
    );
    c.relation(
        "eval.k_final",
        &["stage"],
        cfg.eval.k_final.is_none(),
        format!(
            "is read only by stage eval (and all), but stage is {stage}, which would ignore it \
             (evaluations during training draw eval.k_eval samples): set it to null"
        ),
    );
}

/// A single stage reads earlier runs: their keys must be set (that they hold what is needed is
/// checked when the stage starts, [`inputs::resolve`]).
fn check_inputs(cfg: &PrefixrlConfig, c: &mut Checker) {
    if cfg.stage == Stage::All {
        return;
    }
    for art in inputs::needs(cfg.stage, cfg) {
        c.check(
            art.key(),
            art.configured(&cfg.inputs).is_some(),
            format!(
                "must be set: stage {} reads {} from the run it names; {}",
                cfg.stage.name(),
                art.file(),
                art.what_to_run()
            ),
        );
    }
}

fn check_toy(cfg: &PrefixrlConfig, c: &mut Checker) {
    c.check(
        "toy.tests",
        !cfg.toy.tests.is_empty(),
        "must name `all` or some of T1..T6",
    );
    // A repeated test ran twice and wrote its rows twice into toy.csv.
    let tests = &cfg.toy.tests;
    let repeated = (1..tests.len()).find(|&i| {
        let all = tests[i].eq_ignore_ascii_case("all");
        tests[..i]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&tests[i]) || all || t.eq_ignore_ascii_case("all"))
    });
    c.check(
        "toy.tests",
        repeated.is_none(),
        format!("names a test twice (`all` is every test), got {tests:?}"),
    );
    for t in &cfg.toy.tests {
        let known =
            t.eq_ignore_ascii_case("all") || t.parse::<crate::prefixrl::toy::ToyTest>().is_ok();
        c.check(
            "toy.tests",
            known,
            format!("`{t}` is not a toy test: expected all or T1..T6"),
        );
    }
}
