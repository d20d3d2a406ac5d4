//! `lab prefixrl` stages gen-data, pretrain, collect and make-prefixes (spec §2.2, §2.3,
//! §7.4, §7.5) run one at a time on a tiny config, each reading the previous run through
//! `inputs.*`: the files they write, their consistency with each other and with the task's
//! checker, the prefix cut and rejection charging rules. Determinism for a seed, errors
//! naming a bad traces line and `stage: all`: `prefixrl_stages_runs`.
use crate::common::*;
use lab::prefixrl::jsonl::{self, PrefixRecord, TraceRecord};
use lab::prefixrl::stages::collect_sample::{charge_until_success, Spent};
use lab::prefixrl::stages::load::{self, Codec, Split};
use lab::prefixrl::stages::prefixes::{cut, snap, step_ends};
use lab::prefixrl::{algo::FlopsModel, task, PrefixrlConfig};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The tiny config over smoke.yaml: pretrain 30 steps, pool 12, R 8.
const TINY: &[&str] = &[
    "data.n_pretrain=200",
    "data.pool_size=12",
    "pretrain.steps=30",
    "pretrain.batch=8",
    "traces.budget_r=8",
    "hard.k_probe=2",
    "train.n_problems=8",
    "prefix.per_trace=3",
    "calibrate.problems=2",
    "calibrate.samples=2",
    "calibrate.prefix_samples=2",
];

fn smoke_cfg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/prefixrl/smoke.yaml")
}

/// `lab prefixrl --quiet` on the tiny config with `sets`, into `root/out`: (exit code, stderr).
pub fn stage(root: &Path, out: &str, sets: &[String]) -> (i32, String) {
    stage_with(root, out, sets, true)
}

pub fn stage_with(root: &Path, out: &str, sets: &[String], quiet: bool) -> (i32, String) {
    let cfg = smoke_cfg();
    let mut args: Vec<String> = vec!["prefixrl".into()];
    if quiet {
        args.push("--quiet".into());
    }
    args.extend(["--config".into(), cfg.display().to_string()]);
    args.extend(["--out".into(), out.into()]);
    for s in TINY
        .iter()
        .map(|s| s.to_string())
        .chain(sets.iter().cloned())
    {
        args.extend(["--set".into(), s]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = lab(root, &refs);
    (code(&o), stderr(&o))
}

/// Run a stage that must succeed; its run directory.
pub fn ok_stage(root: &Path, out: &str, sets: &[String]) -> PathBuf {
    let (rc, err) = stage(root, out, sets);
    assert_eq!(rc, 0, "{out}: {err}");
    root.join(out)
}

pub fn set(key: &str, dir: &Path) -> String {
    format!("{key}={}", dir.display())
}

/// The pipeline, run once for all tests: (root, gen-data, pretrain, collect, make-prefixes).
pub struct Pipeline {
    pub root: PathBuf,
    pub data: PathBuf,
    pub base: PathBuf,
    pub traces: PathBuf,
    pub prefixes: PathBuf,
}

pub fn pipeline() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        let root = tempfile::tempdir().unwrap().keep();
        let data = ok_stage(&root, "gd", &["stage=gen-data".into()]);
        let base = ok_stage(
            &root,
            "pt",
            &["stage=pretrain".into(), set("inputs.data", &data)],
        );
        let traces = ok_stage(
            &root,
            "co",
            &[
                "stage=collect".into(),
                set("inputs.data", &data),
                set("inputs.base", &base),
            ],
        );
        let prefixes = ok_stage(
            &root,
            "mp",
            &["stage=make-prefixes".into(), set("inputs.traces", &traces)],
        );
        Pipeline {
            root,
            data,
            base,
            traces,
            prefixes,
        }
    })
}

/// The resolved config a run wrote.
fn config_of(run: &Path) -> PrefixrlConfig {
    serde_yaml_ng::from_str(&read(&run.join("config.yaml"))).expect("config.yaml parses")
}

#[test]
fn gen_data_writes_every_split_with_unique_ids_and_a_disjoint_held_out_set() {
    let p = pipeline();
    let cfg = config_of(&p.data);
    let split = |s| load::read_split(&p.data, s).unwrap();
    let (pre, pool, held, ood, easy) = (
        split(Split::Pretrain),
        split(Split::Pool),
        split(Split::Heldout),
        split(Split::Ood),
        split(Split::Easy),
    );
    assert_eq!(
        (pre.len(), pool.len(), held.len(), ood.len(), easy.len()),
        (200, 12, 8, 4, 100)
    );
    let all: Vec<&task::Problem> = [&pre, &pool, &held, &ood, &easy]
        .into_iter()
        .flatten()
        .collect();
    let ids: HashSet<&str> = all.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "ids are unique across the files");
    let hard = cfg.data.hard_level;
    assert!(pool.iter().chain(&held).all(|p| p.difficulty == hard));
    assert!(ood.iter().all(|p| p.difficulty == hard + 1));
    // Pretraining levels in the configured shares (smoke: [2, 3] at 0.5 each), all solved.
    let twos = pre.iter().filter(|p| p.difficulty == 2).count();
    assert_eq!(twos, 100);
    assert!(pre
        .iter()
        .all(|p| p.oracle.is_some() && cfg.data.easy_levels.contains(&p.difficulty)));
    let pool_prompts: HashSet<&str> = pool.iter().map(|p| p.prompt.as_str()).collect();
    assert_eq!(pool_prompts.len(), pool.len(), "pool prompts are distinct");
    assert!(held
        .iter()
        .all(|p| !pool_prompts.contains(p.prompt.as_str())));
}

#[test]
fn pretrain_writes_its_csv_and_a_base_model_that_loads() {
    let p = pipeline();
    let (header, rows) = read_csv(&p.base.join("pretrain.csv"));
    assert_eq!(header, lab::prefixrl::stages::pretrain::COLUMNS);
    assert_eq!(rows.len(), 30);
    let loss = |r: &Vec<String>| r[1].parse::<f64>().unwrap();
    assert!(rows.iter().all(|r| loss(r).is_finite()));
    assert!(
        loss(&rows[29]) < loss(&rows[0]),
        "the loss falls: {} -> {}",
        loss(&rows[0]),
        loss(&rows[29])
    );
    let _guard = torch_lock();
    let base = load::load_base(&p.base, tch::Device::Cpu).unwrap();
    let cfg = config_of(&p.base);
    let t = task::build(&cfg.task).unwrap();
    assert_eq!(
        base.codec.vocab(),
        Codec::for_task(t.as_ref()).unwrap().vocab()
    );
    assert_eq!(base.config.d_model, cfg.model.d_model);
}

#[test]
fn collect_keeps_checked_traces_in_pool_order_with_their_costs() {
    let p = pipeline();
    let cfg = config_of(&p.traces);
    let pool = load::read_split(&p.data, Split::Pool).unwrap();
    let traces = jsonl::read_traces(&p.traces.join("traces.jsonl")).unwrap();
    let mut t = task::build(&cfg.task).unwrap();
    let codec = Codec::for_task(t.as_ref()).unwrap();
    for tr in &traces {
        let prob = pool
            .iter()
            .find(|q| q.id == tr.problem_id)
            .expect("trace of a pool problem");
        let v = load::score(
            t.as_mut(),
            prob,
            "",
            &codec.completion(&tr.trace).unwrap(),
            &codec,
        )
        .unwrap();
        assert_eq!(v.reward, 1.0, "{tr:?}");
        match tr.source.as_str() {
            "oracle" => assert_eq!((tr.attempts, tr.flops), (0, 0.0)),
            _ => {
                assert!((1..=8).contains(&tr.attempts) && tr.flops > 0.0, "{tr:?}");
                let lp = tr
                    .behaviour_logprobs
                    .as_ref()
                    .expect("sampled traces keep log-probs");
                assert_eq!(
                    lp.len(),
                    tr.trace.chars().count() + 1,
                    "one per token, <eos> included"
                );
            }
        }
    }
    let order: Vec<usize> = traces
        .iter()
        .map(|tr| pool.iter().position(|q| q.id == tr.problem_id).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "pool order, one per problem"
    );
    // collect.csv: one row per pool problem, agreeing with the summary.
    let (header, rows) = read_csv(&p.traces.join("collect.csv"));
    assert_eq!(rows.len(), pool.len());
    let s = &json(&p.traces.join("summary.json"))["collect"];
    let passed = rows
        .iter()
        .filter(|r| r[col(&header, "passed_filter")] == "1")
        .count();
    assert_eq!(s["passed_filter"], passed);
    let fallback = traces.iter().filter(|t| t.source == "oracle").count();
    assert_eq!(
        s["oracle_fallback"], fallback,
        "smoke allows the oracle fallback, counted"
    );
    assert_eq!(
        s["with_trace"],
        traces.len() - fallback,
        "fallbacks left out"
    );
    assert_eq!(
        s["fraction_with_trace"].as_f64(),
        Some((traces.len() - fallback) as f64 / passed as f64)
    );
    // Every attempt is charged (§2.2): a found trace's row is its record; a filtered problem
    // without one (fallback) has all R attempts, summed into flops_failed in pool order.
    let mut failed = 0.0;
    for r in &rows {
        let at = |name: &str| r[col(&header, name)].clone();
        if at("passed_filter") != "1" {
            continue;
        }
        let flops: f64 = at("flops").parse().unwrap();
        match traces.iter().find(|t| t.problem_id == at("problem_id")) {
            Some(t) if t.source != "oracle" => {
                assert_eq!((at("attempts"), flops), (t.attempts.to_string(), t.flops))
            }
            _ => {
                assert_eq!(at("attempts"), "8", "{r:?}");
                assert!(flops > 0.0, "{r:?}");
                failed += flops;
            }
        }
    }
    let kept: f64 = traces.iter().fold(0.0, |sum, t| sum + t.flops);
    assert_eq!(s["flops_traces"].as_f64(), Some(kept));
    assert_eq!(s["flops_failed"].as_f64(), Some(failed));
    assert_eq!(s["flops_rejection"].as_f64(), Some(kept + failed));
    // The probe's FLOPs lie between k_probe samples of 1 token and of max_new tokens per problem.
    let fm = FlopsModel::new(&cfg.model, codec.vocab() as i64).unwrap();
    let (mut lo, mut hi) = (0.0, 0.0);
    for q in &pool {
        let c = codec.prompt(q).unwrap().len() as u64;
        lo += 2.0 * fm.sampling(c, 1);
        hi += 2.0 * fm.sampling(c, cfg.rl.max_new_tokens as u64);
    }
    let probe = s["flops_probe"].as_f64().unwrap();
    assert!(lo <= probe && probe <= hi, "{lo} <= {probe} <= {hi}");
}

#[test]
fn prefixes_are_strict_prefixes_cut_inside_the_fraction_range() {
    let p = pipeline();
    let cfg = config_of(&p.prefixes);
    let traces = jsonl::read_traces(&p.traces.join("traces.jsonl")).unwrap();
    let prefixes: Vec<PrefixRecord> =
        jsonl::read_prefixes(&p.prefixes.join("prefixes.jsonl")).unwrap();
    let d: Vec<&TraceRecord> = traces.iter().take(cfg.train.n_problems).collect();
    assert_eq!(prefixes.len(), d.len() * cfg.prefix.per_trace);
    for t in &d {
        let mine: Vec<&PrefixRecord> = prefixes
            .iter()
            .filter(|r| r.problem_id == t.problem_id)
            .collect();
        let ids: Vec<u32> = mine.iter().map(|r| r.prefix_id).collect();
        assert_eq!(ids, (0..cfg.prefix.per_trace as u32).collect::<Vec<_>>());
        let len = t.trace.chars().count(); // countdown: one token per char
        for r in mine {
            let h = r.h_tokens as usize;
            assert!(1 <= h && h < len, "{r:?}");
            assert!(
                t.trace.starts_with(&r.prefix) && r.prefix.chars().count() == h,
                "{r:?}"
            );
            assert_eq!(r.frac, h as f64 / len as f64);
            let slack = 0.5 / len as f64 + 1e-12;
            assert!(
                r.frac >= cfg.prefix.frac_lo - slack && r.frac <= cfg.prefix.frac_hi + slack,
                "{r:?}"
            );
        }
    }
}

#[test]
fn cut_and_snap_follow_the_rounding_rule() {
    assert_eq!(cut(0.5, 10), Some(5));
    assert_eq!(cut(0.04, 10), Some(1)); // clamped up to 1
    assert_eq!(cut(0.99, 10), Some(9)); // clamped down to |y| - 1
    assert_eq!(cut(0.5, 1), None);
    // "1+2=3;3*4=12;" with ';' = 9: step ends after tokens 6 and 13 (the last is the end).
    let ids = [1, 0, 2, 0, 3, 9, 3, 0, 4, 0, 1, 2, 9];
    let ends = step_ends(&ids, 9);
    assert_eq!(ends, vec![6, 13]);
    assert_eq!(snap(10, &ends, 13), Some(6), "the trace's end is not a cut");
    assert_eq!(snap(4, &[3, 5], 13), Some(3), "ties go to the earlier end");
    assert_eq!(snap(4, &[13], 13), None);
}

/// §2.2: a problem pays for every attempt up to and including the first success, not for the
/// rest of the batched block (those are not even scored), and for all of them when none
/// succeeds (collect then adds them to `flops_failed`: `prefixrl_collect_flops`).
#[test]
fn rejection_charges_every_attempt_up_to_the_first_success() {
    let mut spent = Spent {
        attempts: 8,
        gen_tokens: 80,
        flops: 800.0,
    }; // an earlier round
    let mut scored = 0;
    let block = [
        (5, 50.0, false),
        (7, 70.0, false),
        (4, 40.0, true),
        (9, 90.0, true),
        (3, 30.0, false),
    ];
    let rows = block.iter().map(|&a| {
        scored += 1;
        Ok(a)
    });
    let hit = charge_until_success(&mut spent, rows).unwrap();
    assert_eq!(hit, Some(2));
    assert_eq!(
        spent,
        Spent {
            attempts: 11,
            gen_tokens: 96,
            flops: 960.0
        }
    );
    assert_eq!(scored, 3);
    let mut none = Spent::default();
    let misses = block.iter().map(|&(t, f, _)| Ok((t, f, false)));
    assert_eq!(charge_until_success(&mut none, misses).unwrap(), None);
    assert_eq!(
        none,
        Spent {
            attempts: 5,
            gen_tokens: 28,
            flops: 280.0
        }
    );
}
