//! The end of a run's progress output: one line of its own with the run's whole time and the
//! solve's time beside it, on a terminal (a bar) and off one (plain lines).
use crate::common::*;

/// `decompose done in T s (K Newton steps in S s)` from `stderr`: (T, S).
fn end_line(stderr: &str) -> (f64, f64) {
    let line = stderr
        .lines()
        .find_map(|l| l.find("decompose done in ").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no end line in {stderr:?}"));
    let secs = |s: &str| -> f64 {
        let s = s.trim_end_matches(')').trim_end_matches('s');
        s.parse().unwrap_or_else(|_| panic!("{s} in {line}"))
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(words[4].starts_with('('), "{line}");
    assert!(line.contains(" Newton steps in "), "{line}");
    (secs(words[3]), secs(words[words.len() - 1]))
}

#[test]
fn the_done_line_gives_the_whole_time_and_the_solve_time() {
    let tmp = tempfile::tempdir().unwrap();
    let out = lab(
        tmp.path(),
        &["decompose", "--out", "r", "--set", "matrix.n=150"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (total, solve) = end_line(&stderr(&out));
    let duration = json(&tmp.path().join("r/meta.json"))["duration_s"]
        .as_f64()
        .unwrap();
    assert!(
        (total - duration).abs() <= 0.051,
        "{total} vs meta {duration}"
    );
    assert!(solve <= total, "solve {solve} > total {total}");
}

#[test]
fn on_a_terminal_the_bar_ends_its_line_before_results() {
    let tmp = tempfile::tempdir().unwrap();
    let command = format!("{LAB} decompose --out r");
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(tmp.path())
        .output()
        .expect("script(1) from util-linux runs a command on a pseudo-terminal");
    let tty = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{tty}");
    let at = tty.find("results: ").unwrap_or_else(|| panic!("{tty:?}"));
    assert!(
        tty[..at].ends_with('\n'),
        "results: not at a line start: {tty:?}"
    );
    end_line(&tty.replace("\r\n", "\n"));
}
