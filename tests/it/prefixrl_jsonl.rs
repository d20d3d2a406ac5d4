//! JSONL files of §7.2: round trips, and every refused line named by file and line.
use lab::prefixrl::jsonl::{
    read_prefixes, read_problems, read_traces, write_jsonl, PrefixRecord, TraceRecord,
};
use lab::prefixrl::task::Problem;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn trace(id: &str, source: &str) -> TraceRecord {
    TraceRecord {
        problem_id: id.into(),
        trace: "3*7=21;21+5=26;".into(),
        source: source.into(),
        attempts: 317,
        gen_tokens: 20544,
        flops: 1.32e10,
        reward: 1.0,
        behaviour_logprobs: Some(vec![-0.41, -2.3, 0.0]),
    }
}

#[test]
fn records_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let problems = vec![
        Problem {
            id: "cd3-0".into(),
            task: "countdown".into(),
            difficulty: 3,
            prompt: "3,5,7>26|".into(),
            meta: serde_json::json!({"numbers": [3, 5, 7], "target": 26}),
            oracle: Some("3*7=21;21+5=26;".into()),
        },
        Problem {
            id: "cd3-1".into(),
            task: "countdown".into(),
            difficulty: 3,
            prompt: "1,2,3>9|".into(),
            meta: serde_json::Value::Null,
            oracle: None,
        },
    ];
    let path = dir.path().join("problems.jsonl");
    write_jsonl(&path, &problems).expect("write");
    assert_eq!(read_problems(&path).expect("read"), problems);
    assert_eq!(super::common::temp_files(dir.path()), Vec::<String>::new());

    let mut t2 = trace("cd3-0", "oracle");
    t2.behaviour_logprobs = None;
    let traces = vec![trace("cd3-0", "rejection:base"), t2];
    let path = dir.path().join("traces.jsonl");
    write_jsonl(&path, &traces).expect("write");
    assert_eq!(read_traces(&path).expect("read"), traces);

    let prefixes = vec![
        PrefixRecord {
            problem_id: "cd3-0".into(),
            prefix_id: 0,
            h_tokens: 5,
            frac: 0.33,
            prefix: "3*7=2".into(),
            base_success: Some(0.19),
        },
        PrefixRecord {
            problem_id: "cd3-0".into(),
            prefix_id: 1,
            h_tokens: 11,
            frac: 0.7,
            prefix: "3*7=21;21+5".into(),
            base_success: None,
        },
    ];
    let path = dir.path().join("prefixes.jsonl");
    write_jsonl(&path, &prefixes).expect("write");
    assert_eq!(read_prefixes(&path).expect("read"), prefixes);
}

#[test]
fn spec_example_lines_parse_with_unknown_fields_and_blank_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        dir.path(),
        "p.jsonl",
        "\n{\"id\": \"cd6-000123\", \"task\": \"countdown\", \"difficulty\": 6, \
         \"prompt\": \"7,12,3,25,9,4>323|\", \"meta\": {\"numbers\": [7,12,3,25,9,4], \
         \"target\": 323}, \"new_field\": 1}\n   \n",
    );
    let problems = read_problems(&p).expect("read");
    assert_eq!(problems.len(), 1);
    assert_eq!(
        (problems[0].difficulty, problems[0].oracle.clone()),
        (6, None)
    );
}

/// The error of reading `text` with `read` names `file:line` and contains `want`.
fn refused<T: std::fmt::Debug>(
    read: fn(&Path) -> anyhow::Result<Vec<T>>,
    text: &str,
    at: &str,
    want: &str,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "f.jsonl", text);
    let err = read(&path).expect_err(want);
    let msg = err.to_string();
    assert!(msg.contains(&format!("f.jsonl:{at}")), "{msg}");
    assert!(msg.contains(want), "{msg}");
    assert_eq!(lab::error::exit_code(&err), 2, "{msg}");
}

const P: &str = r#"{"id":"a","task":"countdown","difficulty":2,"prompt":"3,5>8|"}"#;

#[test]
fn bad_problem_lines_are_named() {
    refused(
        read_problems,
        &format!("{P}\n\n{{\"id\":\"b\"}}\n"),
        "3:",
        "missing field",
    );
    refused(read_problems, &format!("{P}\nnot json\n"), "2:", "expected");
    refused(
        read_problems,
        &format!("{P}\n{P}\n"),
        "2:",
        "(also on line 1)",
    );
    refused(
        read_problems,
        &P.replace("\"a\"", "\"\""),
        "1:",
        "empty `id`",
    );
}

fn line(t: &TraceRecord) -> String {
    serde_json::to_string(t).expect("json")
}

#[test]
fn bad_trace_lines_are_named() {
    let ok = line(&trace("a", "s"));
    let mut wrong = trace("b", "s");
    wrong.reward = 0.0;
    refused(
        read_traces,
        &format!("{ok}\n{}\n", line(&wrong)),
        "2:",
        "reward 0",
    );
    let mut empty = trace("b", "s");
    empty.trace.clear();
    refused(
        read_traces,
        &format!("{}\n", line(&empty)),
        "1:",
        "empty `trace`",
    );
    let mut pos = trace("b", "s");
    pos.behaviour_logprobs = Some(vec![-1.0, 0.5]);
    refused(
        read_traces,
        &format!("{ok}\n{}\n", line(&pos)),
        "2:",
        "behaviour_logprobs[1]",
    );
    let dup = format!("{ok}\n{}\n{ok}\n", line(&trace("a", "t")));
    refused(read_traces, &dup, "3:", "(also on line 1)");
    let nan = ok.replace("\"flops\":13200000000.0", "\"flops\":-1.0");
    refused(read_traces, &nan, "1:", "`flops`");
    refused(
        read_traces,
        "{\"problem_id\":\"a\"}\n",
        "1:",
        "missing field",
    );
}

fn prefix(id: u32, frac: f64) -> String {
    let p = PrefixRecord {
        problem_id: "a".into(),
        prefix_id: id,
        h_tokens: 3,
        frac,
        prefix: "3*7".into(),
        base_success: None,
    };
    serde_json::to_string(&p).expect("json")
}

#[test]
fn bad_prefix_lines_are_named() {
    let ok = prefix(0, 0.5);
    refused(
        read_prefixes,
        &format!("{ok}\n{}\n", prefix(1, 1.0)),
        "2:",
        "`frac`",
    );
    refused(
        read_prefixes,
        &format!("{}\n", prefix(1, 0.0)),
        "1:",
        "`frac`",
    );
    refused(
        read_prefixes,
        &format!("{ok}\n{}\n{ok}\n", prefix(1, 0.2)),
        "3:",
        "(also on line 1)",
    );
    let bs = ok.replace("}", ",\"base_success\":1.5}");
    refused(read_prefixes, &bs, "1:", "`base_success`");
}

#[test]
fn missing_file_is_a_usage_error() {
    let err = read_traces(Path::new("/nonexistent/t.jsonl")).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/t.jsonl"), "{err}");
    assert_eq!(lab::error::exit_code(&err), 2);
}
