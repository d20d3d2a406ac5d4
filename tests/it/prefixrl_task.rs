//! Tasks (spec §7.1, §7.10 item 6, §8): countdown's checker on the hand-made table, the
//! generator's oracle always passing, the random solver's success rate, path, exact-answer,
//! configs and tokenizers (the external checker process: prefixrl_task_external.rs).
use lab::prefixrl::task::{
    self, Countdown, CountdownConfig, ExactAnswer, ExactConfig, PathConfig, PathTask, Problem,
    Task, TaskConfig, Verdict,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

fn countdown(vmax: u64, ops: &str) -> Countdown {
    Countdown::new(CountdownConfig {
        vmax,
        ops: ops.into(),
        ..CountdownConfig::default()
    })
}

pub(super) fn problem(task: &str, prompt: &str) -> Problem {
    Problem {
        id: "p".into(),
        task: task.into(),
        difficulty: 0,
        prompt: prompt.into(),
        meta: serde_json::Value::Null,
        oracle: None,
    }
}

/// Score a §7.10 table string: a trailing literal `<eos>` is stripped and means ended.
fn score(t: &mut dyn Task, p: &Problem, text: &str) -> Verdict {
    match text.strip_suffix("<eos>") {
        Some(s) => t.check(p, s, true),
        None => t.check(p, text, false),
    }
}

#[test]
fn countdown_checker_table() {
    // §7.10 item 6: numbers {3, 5, 7}, target 26, vmax 999.
    let mut t = countdown(999, "+-*");
    let p = problem("countdown", "3,5,7>26|");
    let table: [(&str, f64, Option<&str>); 11] = [
        ("3*7=21;21+5=26;<eos>", 1.0, None),
        ("7*3=21;5+21=26;<eos>", 1.0, None),
        ("3*7=21;21+5=27;<eos>", 0.0, Some("arithmetic")),
        ("3*7=21;21+4=25;<eos>", 0.0, Some("unavailable")),
        ("3*7=21;21+21=42;<eos>", 0.0, Some("unavailable")),
        ("3*7=21;<eos>", 0.0, Some("unused")),
        ("3*7=21;21+5=26;x<eos>", 0.0, Some("format")),
        ("3*7=21;21+5=26;", 0.0, Some("no_eos")),
        ("", 0.0, Some("empty")),
        ("3-7=-4;-4*5=-20;<eos>", 0.0, Some("range")),
        // prefix `3*7=2` ⊕ completion `1;21+5=26;<eos>`
        (concat!("3*7=2", "1;21+5=26;<eos>"), 1.0, None),
    ];
    for (text, reward, reason) in table {
        let v = score(&mut t, &p, text);
        assert_eq!(
            (v.reward, v.reason, v.error),
            (reward, reason, false),
            "{text:?}"
        );
    }
    // The empty completion, ended or not.
    assert_eq!(t.check(&p, "", true).reason, Some("empty"));
    // A wrong final target with valid steps; an op the task does not allow.
    assert_eq!(
        score(&mut t, &p, "3*5=15;15+7=22;<eos>").reason,
        Some("target")
    );
    assert_eq!(
        score(&mut t, &countdown_prompt(), "6/3=2;<eos>").reason,
        Some("op")
    );
    // Over vmax.
    let mut small = countdown(20, "+-*");
    assert_eq!(
        score(&mut small, &p, "3*7=21;21+5=26;<eos>").reason,
        Some("range")
    );
}

fn countdown_prompt() -> Problem {
    problem("countdown", "6,3>2|")
}

#[test]
fn countdown_division_exact_only() {
    let mut t = countdown(999, "+-*/");
    let p = problem("countdown", "6,4>1|");
    assert_eq!(score(&mut t, &p, "6/4=1;<eos>").reward, 0.0);
    assert_eq!(score(&mut t, &p, "6/4=1;<eos>").reason, Some("arithmetic"));
    let exact = problem("countdown", "6,3>2|");
    assert_eq!(score(&mut t, &exact, "6/3=2;<eos>").reward, 1.0);
    assert_eq!(
        score(&mut t, &problem("countdown", "6,0>0|"), "6/0=0;<eos>").reward,
        0.0
    );
}

#[test]
fn countdown_oracle_passes_and_a_mutated_target_fails() {
    let mut t = countdown(999, "+-*");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for i in 0..500 {
        let level = 2 + i % 5;
        let p = t
            .sample(&mut rng, level, format!("cd-{i}"))
            .expect("sample");
        assert_eq!(p.difficulty, level);
        let numbers = p.meta["numbers"].as_array().expect("numbers");
        assert_eq!(numbers.len(), level as usize);
        let target = p.meta["target"].as_u64().expect("target");
        assert!((100..=999).contains(&target), "{}", p.prompt);
        let oracle = t.oracle(&p).expect("oracle");
        assert_eq!(oracle.matches(';').count(), level as usize - 1);
        assert_eq!(
            t.check(&p, &oracle, true),
            Verdict::pass(),
            "{} {oracle}",
            p.prompt
        );
        // Change one digit of the final result (the last step's `=c`).
        let eq = oracle.rfind('=').expect("a step");
        let digits = oracle.len() - 1 - (eq + 1);
        let at = eq + 1 + rng.gen_range(0..digits);
        let old = oracle.as_bytes()[at];
        let new = loop {
            let d = b'0' + rng.gen_range(0..10u8);
            if d != old {
                break d;
            }
        };
        let mut bad = oracle.clone().into_bytes();
        bad[at] = new;
        let bad = String::from_utf8(bad).expect("ascii");
        assert_eq!(t.check(&p, &bad, true).reward, 0.0, "{} {bad}", p.prompt);
    }
}

#[test]
fn countdown_random_solver_rate_matches_spec() {
    // §7.1 table: 1..12, vmax 200, tmin 10, n = 3 → about 8 %.
    let t = Countdown::new(CountdownConfig {
        lo: 1,
        hi: 12,
        vmax: 200,
        tmin: 10,
        ..CountdownConfig::default()
    });
    let mut t2 = Countdown::new(t.config().clone());
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let draws = 10_000;
    let mut wins = 0;
    for i in 0..draws {
        let p = t.sample(&mut rng, 3, i.to_string()).expect("sample");
        let numbers: Vec<u64> = serde_json::from_value(p.meta["numbers"].clone()).expect("nums");
        let (steps, _) = t.random_walk(&numbers, &mut rng).expect("a walk");
        wins += (t2.check(&p, &steps, true).reward == 1.0) as u32;
    }
    let rate = wins as f64 / draws as f64;
    // A Python re-simulation of the same walk gives 8.05 % (20 000 draws); 10 000 draws: σ ≈ 0.3 %.
    assert!((0.06..0.10).contains(&rate), "random solver success {rate}");
}

#[test]
fn countdown_generator_error_names_keys() {
    let t = Countdown::new(CountdownConfig {
        hi: 3,
        tmin: 900,
        max_tries: 50,
        ..CountdownConfig::default()
    });
    let err = t.sample(&mut ChaCha8Rng::seed_from_u64(0), 2, "x".into());
    let msg = err.expect_err("tmin unreachable").to_string();
    assert!(
        msg.contains("task.tmin") && msg.contains("task.max_tries"),
        "{msg}"
    );
    assert!(t
        .sample(&mut ChaCha8Rng::seed_from_u64(0), 1, "x".into())
        .is_err());
}

#[test]
fn countdown_tokenizer_has_22_ids_and_round_trips() {
    let t = countdown(999, "+-*");
    let tok = task::tokenizer(&t).expect("tokenizer");
    assert_eq!(tok.vocab_size(), 22);
    let text = "7,12,3,25,9,4>323|12*25=300;300+9=309;";
    let ids = tok.encode(text).expect("encode");
    assert_eq!(tok.decode(&ids).expect("decode"), text);
    assert!(tok.bos().is_some() && tok.eos().is_some() && tok.pad().is_some());
    assert_eq!(t.step_delimiter(), Some(';'));
}

fn path_task() -> PathTask {
    PathTask::new(PathConfig::default())
}

#[test]
fn path_oracle_passes_at_every_level() {
    let mut t = path_task();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for i in 0..100 {
        let level = 1 + i % 4;
        let p = t
            .sample(&mut rng, level, format!("path-{i}"))
            .expect("sample");
        let oracle = t.oracle(&p).expect("oracle");
        assert_eq!(p.oracle.as_deref(), Some(oracle.as_str()));
        // level hops: level + 1 nodes.
        assert_eq!(oracle.matches(',').count(), level as usize, "{oracle}");
        assert_eq!(
            t.check(&p, &oracle, true),
            Verdict::pass(),
            "{} {oracle}",
            p.prompt
        );
    }
    let tok = task::tokenizer(&t).expect("tokenizer");
    assert_eq!(tok.vocab_size(), 52 + 4 + 3);
}

#[test]
fn path_checker_failures() {
    let mut t = path_task();
    // a→b→d, a→c, d→a; from a to d.
    let p = problem("path", "ab,ac,bd,da>ad|");
    assert_eq!(score(&mut t, &p, "a,b,d;<eos>"), Verdict::pass());
    assert_eq!(score(&mut t, &p, "a,c,d;<eos>").reason, Some("path"));
    assert_eq!(score(&mut t, &p, "a,b;<eos>").reason, Some("endpoints"));
    assert_eq!(score(&mut t, &p, "b,d;<eos>").reason, Some("endpoints"));
    assert_eq!(score(&mut t, &p, "a,b,d<eos>").reason, Some("format"));
    assert_eq!(score(&mut t, &p, "a,b,d;").reason, Some("no_eos"));
    assert_eq!(score(&mut t, &p, "a,bd;<eos>").reason, Some("format"));
    assert_eq!(score(&mut t, &p, "<eos>").reason, Some("empty"));
    assert_eq!(t.oracle(&p).as_deref(), Some("a,b,d;"));
}

pub(super) fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn exact_answer_extracts_after_the_marker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "q.jsonl",
        "{\"id\":\"a\",\"prompt\":\"2+2?\",\"answer\":\"4\",\"difficulty\":1}\n\n\
         {\"id\":\"b\",\"prompt\":\"3*3?\",\"answer\":9,\"extra\":true}\n",
    );
    let cfg = ExactConfig {
        file,
        marker: "####".into(),
    };
    let mut t = ExactAnswer::load(cfg).expect("load");
    let pool = t.fixed_pool().expect("pool").to_vec();
    assert_eq!(pool.len(), 2);
    assert_eq!((pool[0].difficulty, pool[1].difficulty), (1, 0));
    let (a, b) = (&pool[0], &pool[1]);
    assert_eq!(
        score(&mut t, a, "two plus two #### 4 <eos>"),
        Verdict::pass()
    );
    assert_eq!(score(&mut t, a, "#### 1 then #### 4<eos>"), Verdict::pass());
    assert_eq!(score(&mut t, a, "#### 5<eos>").reason, Some("answer"));
    assert_eq!(score(&mut t, a, "#### 44<eos>").reason, Some("answer"));
    assert_eq!(score(&mut t, a, "4<eos>").reason, Some("format"));
    assert_eq!(score(&mut t, a, "#### 4").reason, Some("no_eos"));
    assert_eq!(score(&mut t, b, "so ####9<eos>"), Verdict::pass());
    assert!(t.alphabet().is_none());
    assert_eq!(task::tokenizer(&t).expect("tok").vocab_size(), 259);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert_eq!(
        t.sample(&mut rng, 1, "z".into()).expect("level 1").prompt,
        "2+2?"
    );
    assert!(t.sample(&mut rng, 7, "z".into()).is_err());
}

#[test]
fn exact_answer_bad_file_names_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dup = write(
        dir.path(),
        "d.jsonl",
        "{\"id\":\"a\",\"prompt\":\"p\",\"answer\":\"1\"}\n{\"id\":\"a\",\"prompt\":\"q\",\"answer\":\"2\"}\n",
    );
    let cfg = |file| ExactConfig {
        file,
        marker: "####".into(),
    };
    let msg = ExactAnswer::load(cfg(dup.clone()))
        .err()
        .expect("dup")
        .to_string();
    assert!(msg.contains("d.jsonl:2") && msg.contains("line 1"), "{msg}");
    let bad = write(dir.path(), "b.jsonl", "{\"id\":\"a\",\"prompt\":\"p\"}\n");
    let msg = ExactAnswer::load(cfg(bad)).err().expect("bad").to_string();
    assert!(msg.contains("b.jsonl:1: missing field `answer`"), "{msg}");
}

#[test]
fn configs_parse_validate_and_build() {
    let cfg: TaskConfig = serde_yaml_ng::from_str("kind: countdown\nvmax: 500\n").expect("yaml");
    let TaskConfig::Countdown(c) = &cfg else {
        panic!("countdown expected")
    };
    assert_eq!((c.vmax, c.lo, c.ops.as_str()), (500, 2, "+-*"));
    assert_eq!(task::build(&cfg).expect("build").name(), "countdown");
    assert!(serde_yaml_ng::from_str::<TaskConfig>("kind: countdown\nvmx: 5\n").is_err());
    assert!(serde_yaml_ng::from_str::<TaskConfig>("kind: nope\n").is_err());
    let bad: TaskConfig =
        serde_yaml_ng::from_str("kind: countdown\nops: \"+%\"\ntmin: 2000\n").expect("yaml");
    let msg = task::build(&bad).err().expect("invalid").to_string();
    assert!(
        msg.contains("task.ops") && msg.contains("task.tmin"),
        "{msg}"
    );
    let path: TaskConfig = serde_yaml_ng::from_str("kind: path\nout_degree: 12\n").expect("yaml");
    let msg = task::build(&path).err().expect("degree").to_string();
    assert!(msg.contains("task.out_degree"), "{msg}");
    let exact: TaskConfig =
        serde_yaml_ng::from_str("kind: exact-answer\nfile: /nonexistent.jsonl\n").expect("yaml");
    let msg = task::build(&exact).err().expect("no file").to_string();
    assert!(msg.contains("/nonexistent.jsonl"), "{msg}");
}
