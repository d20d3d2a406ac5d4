//! prefixrl evaluator (spec §5.2, §7.9): on a tiny fresh GPT and a hand-made task that logs
//! every check, the pass@k columns equal `algo::pass_at_k` of the successes counted from the
//! log; columns with k above the samples stay empty; the panel scores each problem's trace
//! cut at each fraction; strategy agreement compares first steps; exact KL to an identical
//! base is 0 and to another model positive; the same seed and step give the same row.
use crate::common::torch_lock;
use lab::nn::{self, LanguageModel, ModelConfig};
use lab::prefixrl::algo::pass_at_k;
use lab::prefixrl::config::EvalSection;
use lab::prefixrl::jsonl::{PrefixRecord, TraceRecord};
use lab::prefixrl::stages::evaluate::{evaluate, EvalCtx, EvalData, EvalRow};
use lab::prefixrl::stages::evaluate_parts::*;
use lab::prefixrl::stages::load::Codec;
use lab::prefixrl::task::{Problem, Task, Verdict};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};
use tch::Device;

/// Every check: (problem id, full solution, reward), in call order.
type Log = Arc<Mutex<Vec<(String, String, f64)>>>;

/// Solutions over `a b |`; correct when the first character is `a`; steps end at `|`.
struct Coin {
    log: Log,
}

impl Task for Coin {
    fn name(&self) -> &'static str {
        "coin"
    }
    fn alphabet(&self) -> Option<Vec<char>> {
        Some(vec!['a', 'b', '|'])
    }
    fn sample(&self, _: &mut ChaCha8Rng, _: u32, _: String) -> anyhow::Result<Problem> {
        anyhow::bail!("coin problems are hand-made")
    }
    fn check(&mut self, p: &Problem, solution: &str, _ended: bool) -> Verdict {
        let v = if solution.starts_with('a') {
            Verdict::pass()
        } else {
            Verdict::fail("target")
        };
        let mut log = self.log.lock().unwrap();
        log.push((p.id.clone(), solution.to_string(), v.reward));
        v
    }
    fn oracle(&self, _: &Problem) -> Option<String> {
        None
    }
    fn step_delimiter(&self) -> Option<char> {
        Some('|')
    }
}

const TRACE: &str = "ab|ba|a";

fn problem(id: &str) -> Problem {
    Problem {
        id: id.into(),
        task: "coin".into(),
        difficulty: 1,
        prompt: "ab|".into(),
        meta: serde_json::Value::Null,
        oracle: None,
    }
}

fn trace(id: &str) -> TraceRecord {
    TraceRecord {
        problem_id: id.into(),
        trace: TRACE.into(),
        source: "hand".into(),
        attempts: 1,
        gen_tokens: 7,
        flops: 0.0,
        reward: 1.0,
        behaviour_logprobs: None,
    }
}

fn problems(prefix: &str, n: usize) -> Vec<Problem> {
    (0..n).map(|i| problem(&format!("{prefix}{i}"))).collect()
}

fn data() -> EvalData {
    let train = problems("t", 5).into_iter().map(|p| {
        let t = trace(&p.id);
        (p, t)
    });
    let prefix = |id: &str, k: u32| PrefixRecord {
        problem_id: id.into(),
        prefix_id: k,
        h_tokens: 3,
        frac: 0.4,
        prefix: "ab|".into(),
        base_success: None,
    };
    EvalData {
        train: train.collect(),
        prefixes: vec![prefix("t0", 0), prefix("t1", 0), prefix("other", 0)],
        heldout: problems("h", 4),
        ood: problems("o", 3),
        easy: problems("e", 2),
    }
}

fn section(k_eval: usize, pass_k: Vec<u64>) -> EvalSection {
    EvalSection {
        every: 1,
        k_eval,
        pass_k,
        n_heldout: 4,
        n_ood: 2,
        panel: 2,
        panel_fracs: vec![0.0, 0.5, 0.9],
        checkpoint: None,
        k_final: None,
    }
}

fn model_config() -> ModelConfig {
    let mut c = ModelConfig::gpt_nano();
    c.block_size = 64;
    c
}

fn model(codec: &Codec, seed: i64) -> Box<dyn LanguageModel> {
    let _g = torch_lock();
    tch::manual_seed(seed);
    nn::build(&model_config(), codec.vocab(), Device::Cpu).expect("build")
}

/// A context over the hand-made sets, its task logging into the returned log.
fn ctx(sec: &EvalSection, base_seed: Option<i64>) -> (EvalCtx, Log) {
    let log: Log = Arc::default();
    let task = Coin { log: log.clone() };
    let codec = Codec::for_task(&task).expect("codec");
    let base = base_seed.map(|s| model(&codec, s));
    let ctx =
        EvalCtx::new(Box::new(task), codec, data(), base, sec, &model_config(), 6).expect("ctx");
    (ctx, log)
}

/// Mean over the problems of a logged set of pass@k from its counted successes.
fn expected_pass(rows: &[(String, String, f64)], samples: usize, k: u64) -> f64 {
    let counts: Vec<u64> = rows
        .chunks(samples)
        .map(|g| g.iter().filter(|r| r.2 > 0.5).count() as u64)
        .collect();
    let sum: f64 = counts
        .iter()
        .map(|&c| pass_at_k(samples as u64, c, k).unwrap())
        .sum();
    sum / counts.len() as f64
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a value");
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

#[test]
fn pass_columns_equal_pass_at_k_of_the_logged_successes() {
    let k = 8;
    let sec = section(k, vec![1, 8, 64]);
    let (mut c, log) = ctx(&sec, None);
    let m = model(&c.codec, 1);
    let row = evaluate(&mut c, m.as_ref(), 3, 7).unwrap();
    let log = log.lock().unwrap().clone();
    // Call order: train 5, held-out 4, OOD 2 (cut by n_ood), prefixed 2 (`other` is not a
    // training problem), panel 2 per fraction, easy 2.
    let sizes = [5, 4, 2, 2, 2, 2, 2, 2];
    assert_eq!(log.len(), sizes.iter().sum::<usize>() * k);
    let mut sets = Vec::new();
    let mut at = 0;
    for n in sizes {
        sets.push(&log[at..at + n * k]);
        at += n * k;
    }
    assert!(sets[0].iter().all(|r| r.0.starts_with('t')));
    assert!(sets[1].iter().all(|r| r.0.starts_with('h')));
    let total: usize = sets[0].iter().filter(|r| r.2 > 0.5).count();
    assert!(
        total > 0 && total < 5 * k,
        "{total} successes: not a useful test"
    );
    close(row.train_unpref_pass1, expected_pass(sets[0], k, 1));
    close(row.train_unpref_pass8, expected_pass(sets[0], k, 8));
    close(row.heldout_pass1, expected_pass(sets[1], k, 1));
    close(row.heldout_pass8, expected_pass(sets[1], k, 8));
    close(row.ood_pass1, expected_pass(sets[2], k, 1));
    close(row.ood_pass8, expected_pass(sets[2], k, 8));
    close(row.train_pref_pass1, expected_pass(sets[3], k, 1));
    close(row.easy_pass1, expected_pass(sets[7], k, 1));
    for (i, (f, v)) in row.panel.iter().enumerate() {
        close(*v, expected_pass(sets[4 + i], k, 1));
        assert_eq!(row.get(&format!("panel_frac_{f:.1}")), *v);
    }
    assert_eq!(row.heldout_pass64, None, "64 > 8 samples");
    assert!(
        sets[3].iter().all(|r| r.1.starts_with("ab|")),
        "prefix kept"
    );
    assert!(row.flops > 0.0);
    // No base model: its columns stay empty.
    assert_eq!((row.kl_base_eval, row.strategy_agree_base), (None, None));
}

#[test]
fn columns_with_k_above_the_samples_or_not_asked_for_stay_empty() {
    let (mut c, _) = ctx(&section(4, vec![1, 8, 64]), None);
    let m = model(&c.codec, 1);
    let row = evaluate(&mut c, m.as_ref(), 0, 0).unwrap();
    assert!(row.train_unpref_pass1.is_some() && row.heldout_pass1.is_some());
    for col in [
        "train_unpref_pass8",
        "heldout_pass8",
        "heldout_pass64",
        "ood_pass8",
    ] {
        assert_eq!(row.get(col), None, "{col}");
    }
    let (mut c, _) = ctx(&section(8, vec![1]), None);
    let row = evaluate(&mut c, m.as_ref(), 0, 0).unwrap();
    assert_eq!(row.train_unpref_pass8, None, "pass@8 not in eval.pass_k");
    assert!(row.train_unpref_pass1.is_some());
}

#[test]
fn the_panel_scores_each_trace_cut_at_each_fraction() {
    assert_eq!(panel_cut(7, 0.0), 0);
    assert_eq!(panel_cut(7, 0.5), 4); // round(3.5)
    assert_eq!(panel_cut(7, 0.9), 6);
    assert_eq!(panel_cut(2, 0.9), 1, "one token is always left to generate");
    assert_eq!(panel_cut(1, 0.5), 0);
    let k = 2;
    let (mut c, log) = ctx(&section(k, vec![1]), None);
    let m = model(&c.codec, 2);
    evaluate(&mut c, m.as_ref(), 1, 1).unwrap();
    let log = log.lock().unwrap().clone();
    let start = (5 + 4 + 2 + 2) * k;
    for (i, cut) in [0, 4, 6].into_iter().enumerate() {
        let set = &log[start + i * 2 * k..start + (i + 1) * 2 * k];
        for (id, solution, reward) in set {
            assert!(
                id == "t0" || id == "t1",
                "panel = first 2 training problems"
            );
            assert!(
                solution.starts_with(&TRACE[..cut]),
                "{solution} after cut {cut}"
            );
            assert_eq!(*reward > 0.5, solution.starts_with('a'));
        }
    }
}

#[test]
fn strategy_agreement_compares_first_steps() {
    assert_eq!(first_step("12+3=15|15*2=30", '|'), "12+3=15");
    assert_eq!(first_step("no delimiter", '|'), "no delimiter");
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    let pairs = [
        pair("a|b", "a|a"),
        pair("ab|", "ab|b"),
        pair("b|a", "a|a"),
        pair("a", "a|b"),
    ];
    assert_eq!(strategy_agreement(&pairs, Some('|')), Some(0.75));
    assert_eq!(strategy_agreement(&pairs, None), None, "no step delimiter");
    assert_eq!(
        strategy_agreement(&[], Some('|')),
        None,
        "no correct sample"
    );
}

#[test]
fn kl_to_an_identical_base_is_zero_and_to_another_model_positive() {
    let sec = section(2, vec![1]);
    let (mut same, _) = ctx(&sec, Some(5));
    let m = model(&same.codec, 5);
    let row = evaluate(&mut same, m.as_ref(), 0, 0).unwrap();
    let kl = row.kl_base_eval.expect("kl");
    assert!(kl.abs() < 1e-6, "KL to itself {kl}");
    assert!(row.flops_diag > 0.0);
    let ln_v = (same.codec.vocab() as f64).ln();
    let h = row.entropy_eval_unpref.expect("entropy");
    assert!(h > 0.0 && h <= ln_v + 1e-9, "entropy {h} outside (0, ln V]");
    let (mut other, _) = ctx(&sec, Some(6));
    let row = evaluate(&mut other, m.as_ref(), 0, 0).unwrap();
    assert!(row.kl_base_eval.expect("kl") > 1e-6);
    // The base agreement is computed once and then cached.
    assert!(other.base_agree.is_some());
}

#[test]
fn the_same_seed_and_step_give_the_same_row() {
    let sec = section(4, vec![1, 8]);
    let rows: Vec<EvalRow> = (0..2)
        .map(|_| {
            let (mut c, _) = ctx(&sec, Some(3));
            let m = model(&c.codec, 4);
            evaluate(&mut c, m.as_ref(), 10, 42).unwrap()
        })
        .collect();
    assert_eq!(rows[0], rows[1]);
    let (mut c, _) = ctx(&sec, Some(3));
    let m = model(&c.codec, 4);
    let later = evaluate(&mut c, m.as_ref(), 20, 42).unwrap();
    assert_ne!(later.entropy_eval_unpref, rows[0].entropy_eval_unpref);
}

/// `lab prefixrl --quiet --config smoke.yaml` with tiny sizes and `sets`, into `root/out`.
fn stage(root: &std::path::Path, out: &str, sets: &[String]) -> (i32, String) {
    let cfg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/prefixrl/smoke.yaml");
    let mut args: Vec<String> = ["prefixrl", "--quiet", "--config"]
        .map(String::from)
        .to_vec();
    args.extend([cfg.display().to_string(), "--out".into(), out.into()]);
    let tiny = [
        "data.n_pretrain=100",
        "data.pool_size=8",
        "pretrain.steps=5",
        "train.n_problems=4",
    ];
    for s in tiny
        .iter()
        .map(|s| s.to_string())
        .chain(sets.iter().cloned())
    {
        args.extend(["--set".into(), s]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = crate::common::lab(root, &refs);
    (crate::common::code(&o), crate::common::stderr(&o))
}

#[test]
fn the_eval_stage_writes_one_full_row_for_the_base_model() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let set = |k: &str, out: &str| format!("{k}={}", root.join(out).display());
    for (out, sets) in [
        ("gd", vec!["stage=gen-data".to_string()]),
        (
            "pt",
            vec!["stage=pretrain".into(), set("inputs.data", "gd")],
        ),
        (
            "co",
            vec![
                "stage=collect".into(),
                "traces.source=oracle".into(),
                set("inputs.data", "gd"),
            ],
        ),
    ] {
        let (rc, err) = stage(root, out, &sets);
        assert_eq!(rc, 0, "{out}: {err}");
    }
    let eval = |out: &str, extra: &[String]| {
        let mut sets = vec![
            "stage=eval".to_string(),
            set("inputs.data", "gd"),
            set("inputs.base", "pt"),
            set("inputs.traces", "co"),
        ];
        sets.extend(extra.iter().cloned());
        stage(root, out, &sets)
    };
    let (rc, err) = eval("ev", &[]);
    assert_eq!(rc, 0, "{err}");
    let (header, rows) = crate::common::read_csv(&root.join("ev/eval.csv"));
    let fracs: Vec<f64> = (0..10).map(|i| i as f64 / 10.0).collect();
    assert_eq!(header, lab::prefixrl::columns::eval(&fracs));
    assert_eq!(rows.len(), 1);
    let cell = |name: &str| rows[0][crate::common::col(&header, name)].clone();
    assert_eq!(
        (cell("method"), cell("step")),
        ("base".to_string(), "0".to_string())
    );
    let pass1: f64 = cell("train_unpref_pass1").parse().expect("train pass@1");
    assert!((0.0..=1.0).contains(&pass1));
    let kl: f64 = cell("kl_base_eval").parse().expect("kl");
    assert!(kl.abs() < 1e-6, "the base against itself: {kl}");
    assert_eq!(
        cell("train_unpref_pass8"),
        "",
        "2 samples per problem in smoke"
    );
    let (rc, err) = eval("bad", &[set("eval.checkpoint", "gd")]);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("eval.checkpoint"), "{err}");
}
