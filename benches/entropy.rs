//! `make bench`: `lab entropy-probe` at the sizes of issue 11's performance line ("probe and
//! text on 1 MB in seconds"), each a `lab` process timed by wall clock, medians of `ROUNDS`.
//!
//! - `task: text` on 1 MiB of samples (4096 lines of 256 KJV characters, newlines as spaces)
//!   against the whole KJV file (4.1 MB) as the reference, self-BLEU off (it is O(samples²);
//!   the other columns all run), alternated with the NumPy peer `scripts/entropy_text_peer.py`
//!   (dev venv) which computes 14 of those columns the way a reader would with NumPy. Before
//!   timing, both run on the first 64 samples and every peer column must equal lab's (1e-9).
//! - `task: probe` of a gpt-tiny checkpoint (20 training steps on KJV, untimed) with the
//!   default evaluation: 64 × 256 sampled characters, T = 1 and greedy, 20k val and 20k train
//!   positions teacher-forced, every §4 column.
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "common/devvenv.rs"]
mod devvenv;

const ROUNDS: usize = 3;
const LAB: &str = env!("CARGO_BIN_EXE_lab");
/// Columns the peer computes (all are lab `task: text` columns).
const PEER_COLUMNS: [&str; 14] = [
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "distinct_4",
    "seq_rep_1_t1",
    "seq_rep_4_t1",
    "loop_frac_t1",
    "copy_rate_32_t1",
    "top10_share_4",
    "uni_entropy_gen",
    "uni_entropy_data",
    "kl_uni_fwd",
    "kl_uni_rev",
    "js_uni",
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Run `cmd` to completion (panics with its stderr on failure); wall seconds and stdout.
fn timed(cmd: &mut Command) -> (f64, String) {
    let t = Instant::now();
    let out = cmd.output().expect("the process starts");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (secs, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn lab_text(dir: &Path, samples: &Path, reference: &Path, out: &str) -> Command {
    let mut cmd = Command::new(LAB);
    cmd.current_dir(dir)
        .args(["entropy-probe", "--quiet", "--out", out]);
    for set in [
        "task=text".to_string(),
        format!("text.samples={}", samples.display()),
        format!("data.corpus={{kind: file, path: {}}}", reference.display()),
        "eval.self_bleu=off".to_string(),
    ] {
        cmd.args(["--set", &set]);
    }
    cmd
}

/// The one-row metrics.csv of a `task: text` run, by column.
fn text_row(path: &Path) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_path(path).expect("metrics.csv");
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let row = r.records().next().expect("one row").expect("row");
    header
        .into_iter()
        .zip(row.iter().map(String::from))
        .collect()
}

/// Every peer column equals lab's on the small input.
fn check_peer(dir: &Path, python: &Path, small: &Path, reference: &Path) {
    timed(&mut lab_text(dir, small, reference, "check"));
    let lab = text_row(&dir.join("check/metrics.csv"));
    let (_, out) = timed(
        Command::new(python)
            .arg(peer_script())
            .arg(small)
            .arg(reference),
    );
    let peer: Value = serde_json::from_str(out.lines().last().unwrap_or("")).expect("peer JSON");
    for name in PEER_COLUMNS {
        let ours: f64 = lab
            .iter()
            .find(|(c, _)| c == name)
            .map(|(_, v)| v.parse().expect("a number"))
            .unwrap_or_else(|| panic!("lab has no column {name}"));
        let theirs = peer[name].as_f64().unwrap_or(f64::NAN);
        assert!(
            (ours - theirs).abs() <= 1e-9 * ours.abs().max(1.0),
            "{name}: lab {ours} vs peer {theirs}"
        );
    }
}

fn peer_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/entropy_text_peer.py")
}

/// 1 MiB of samples (4096 × 256 chars) and its first 64 lines, from the KJV text.
fn write_samples(dir: &Path, kjv: &str) -> (PathBuf, PathBuf) {
    let chars: Vec<char> = kjv
        .chars()
        .take(1 << 20)
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    let lines: Vec<String> = chars.chunks(256).map(|c| c.iter().collect()).collect();
    let (big, small) = (dir.join("samples_1mb.txt"), dir.join("samples_small.txt"));
    std::fs::write(&big, lines.join("\n") + "\n").expect("write samples");
    std::fs::write(&small, lines[..64].join("\n") + "\n").expect("write samples");
    (big, small)
}

fn probe_seconds(dir: &Path, kjv: &Path) -> f64 {
    let corpus = format!("data.corpus={{kind: file, path: {}}}", kjv.display());
    let train = [
        "task=train",
        "train.steps=20",
        "eval.every=20",
        corpus.as_str(),
    ];
    let mut cmd = Command::new(LAB);
    cmd.current_dir(dir)
        .args(["entropy-probe", "--quiet", "--out", "trained"]);
    for s in train {
        cmd.args(["--set", s]);
    }
    timed(&mut cmd);
    let checkpoint = format!("checkpoint.path={}", dir.join("trained").display());
    median(
        (0..ROUNDS)
            .map(|i| {
                let mut cmd = Command::new(LAB);
                cmd.current_dir(dir)
                    .args(["entropy-probe", "--quiet", "--out", &format!("probe{i}")])
                    .args(["--set", "task=probe", "--set", &checkpoint]);
                timed(&mut cmd).0
            })
            .collect(),
    )
}

fn main() {
    let kjv = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/generated/kjv.txt");
    let Ok(text) = std::fs::read_to_string(&kjv) else {
        println!(
            "== entropy: skipped ({} missing: run `make data`)",
            kjv.display()
        );
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let (big, small) = write_samples(dir, &text);
    let python = devvenv::devvenv_python();
    if let Some(py) = &python {
        check_peer(dir, py, &small, &kjv);
    }
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        ours.push(timed(&mut lab_text(dir, &big, &kjv, &format!("text{i}"))).0);
        if let Some(py) = &python {
            theirs.push(timed(Command::new(py).arg(peer_script()).arg(&big).arg(&kjv)).0);
        }
    }
    println!("== entropy: lab entropy-probe on 1 MB (wall clock per process, medians of {ROUNDS})");
    let lab_s = median(ours);
    let mb = |p: &Path| std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / 1e6);
    print!(
        "task text, {:.2} MB samples vs {:.2} MB reference (self-BLEU off): lab {lab_s:.2} s",
        mb(&big),
        mb(&kjv)
    );
    match theirs.is_empty() {
        true => println!("; NumPy peer skipped (no dev venv)"),
        false => {
            let peer = median(theirs);
            println!(
                "; NumPy peer ({} of lab's columns, checked equal) {peer:.2} s; lab/peer {:.2}",
                PEER_COLUMNS.len(),
                lab_s / peer
            );
        }
    }
    let probe = probe_seconds(dir, &kjv);
    println!(
        "task probe, gpt-tiny checkpoint, default evaluation (64 x 256 sampled chars, 20k + 20k \
         teacher-forced): lab {probe:.2} s"
    );
}
