//! Helpers for integration tests: run the real `lab` binary in a temp dir and read what it writes.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const LAB: &str = env!("CARGO_BIN_EXE_lab");

/// Run `lab` with `args` in directory `cwd`; no stdin, output captured.
pub fn lab(cwd: &Path, args: &[&str]) -> Output {
    Command::new(LAB)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the lab binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Names of the atomic writers' temp files left in `dir` (`.<name>.tmp-<pid>-<n>`), sorted.
pub fn temp_files(dir: &Path) -> Vec<String> {
    let mut left: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.contains(".tmp-"))
        .collect();
    left.sort();
    left
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path)).expect("valid JSON")
}

/// A CSV's header and data rows (every row as long as the header: the reader is strict).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let header: Vec<String> = reader
        .headers()
        .unwrap_or_else(|e| panic!("header of {}: {e}", path.display()))
        .iter()
        .map(String::from)
        .collect();
    let rows = reader
        .records()
        .map(|rec| {
            let rec = rec.unwrap_or_else(|e| panic!("row of {}: {e}", path.display()));
            rec.iter().map(String::from).collect()
        })
        .collect();
    (header, rows)
}

/// The index of column `name` in `header`.
pub fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// A CSV as rows (header first) with only the columns whose name passes `keep`.
pub fn csv_keep(path: &Path, keep: impl Fn(&str) -> bool) -> Vec<Vec<String>> {
    let (header, rows) = read_csv(path);
    let kept: Vec<usize> = (0..header.len()).filter(|&i| keep(&header[i])).collect();
    std::iter::once(&header)
        .chain(&rows)
        .map(|r| kept.iter().map(|&i| r[i].clone()).collect())
        .collect()
}

/// A run's metrics.csv without its timing columns (`lab::run::is_timing_column`), header first:
/// what must be equal between two runs of one config and seed.
pub fn untimed(run: &Path) -> Vec<Vec<String>> {
    csv_keep(&run.join("metrics.csv"), |h| !lab::run::is_timing_column(h))
}

/// A CSV as rows (header first) with the named columns removed (e.g. timing columns).
pub fn csv_without(path: &Path, drop: &[&str]) -> Vec<Vec<String>> {
    csv_keep(path, |h| !drop.contains(&h))
}

/// A small, fast decompose study: `grid` and `seeds` are YAML flow text.
pub fn study_yaml(name: &str, grid: &str, seeds: &str) -> String {
    format!(
        "matrix: {{kind: random-spd, n: 8, condition: 10.0}}\n\
         subspace: {{kind: random-pattern, density: 0.3}}\n\
         output: {{save_matrices: false}}\n\
         study:\n  name: {name}\n  seeds: {seeds}\n  grid: {grid}\n"
    )
}

/// [`study_yaml`] written to `dir/<name>.yaml`; that file name.
pub fn write_study(dir: &Path, name: &str, grid: &str, seeds: &str) -> String {
    let file = format!("{name}.yaml");
    std::fs::write(dir.join(&file), study_yaml(name, grid, seeds)).expect("a study config");
    file
}

/// `lab decompose --config <name>.yaml EXTRA` in `dir` on [`write_study`]'s config.
pub fn decompose_study(dir: &Path, name: &str, grid: &str, seeds: &str, extra: &[&str]) -> Output {
    let file = write_study(dir, name, grid, seeds);
    lab(
        dir,
        &[&["decompose", "--config", &file][..], extra].concat(),
    )
}

pub fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The run's meta.json status; panics (saying why) when there is no readable status.
pub fn status(run: &Path) -> String {
    let meta = json(&run.join("meta.json"));
    meta["status"]
        .as_str()
        .unwrap_or_else(|| panic!("no status in {}: {meta}", run.display()))
        .to_string()
}

/// The run's meta.json status, or None while the file is missing or not yet valid: for
/// polling a run that another process is writing.
pub fn try_status(run: &Path) -> Option<String> {
    let text = std::fs::read_to_string(run.join("meta.json")).ok()?;
    let meta: serde_json::Value = serde_json::from_str(&text).ok()?;
    meta["status"].as_str().map(String::from)
}

/// Poll `ready` every 10 ms until it holds; panic naming `what` after `deadline`.
pub fn wait_until(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < deadline,
            "gave up after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// /proc/PID/stat after the command's closing parenthesis (field 3, the state, on); None once
/// the process is gone.
pub fn proc_stat(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit_once(") ")
            .map_or(String::new(), |(_, rest)| rest.to_string()),
    )
}

/// CPU seconds (user + system) process `pid` has used so far, from /proc/PID/stat; 0 once it
/// is gone. Evidence that a child is busy in a long step, where a wall-clock sleep is none.
pub fn cpu_seconds(pid: u32) -> f64 {
    // Fields after the command: state is field 3, utime 14, stime 15.
    let rest = proc_stat(pid).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

/// A child that a failing test does not leave running.
pub struct KillOnDrop(pub std::process::Child);

impl KillOnDrop {
    /// Send the child SIGTERM (once) and wait, at most 60 s, for it to end (`what` names it
    /// in the failure); its exit status.
    pub fn terminate(&mut self, what: &str) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let mut status = None;
        wait_until(what, Duration::from_secs(60), || {
            status = self.0.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serialises the tests that touch libtorch's process-wide state (`tch::manual_seed`, the
/// global RNG that initialises networks, `tch::set_num_threads`): every test of this binary
/// runs as a thread of one process, so hold this guard for the whole test.
pub fn torch_lock() -> MutexGuard<'static, ()> {
    static TORCH: Mutex<()> = Mutex::new(());
    // A test that panicked while holding the guard leaves nothing half-done to protect.
    TORCH
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Mean of summary.json entry `key` over the given run dirs.
pub fn mean_of(runs: &[&Path], key: &str) -> f64 {
    let values: Vec<f64> = runs
        .iter()
        .map(|r| {
            json(&r.join("summary.json"))[key]
                .as_f64()
                .expect("numeric metric")
        })
        .collect();
    values.iter().sum::<f64>() / values.len() as f64
}

/// The cell in `row_label`'s row of the first markdown table whose header has `column`.
pub fn table_cell(markdown: &str, row_label: &str, column: &str) -> String {
    let split = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|s| s.trim().to_string())
            .collect()
    };
    let header = markdown
        .lines()
        .find(|l| l.starts_with("| cell |"))
        .expect("a table header");
    let col = split(header)
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column} in {header}"));
    let row = markdown
        .lines()
        .find(|l| l.starts_with(&format!("| `{row_label}` |")))
        .unwrap_or_else(|| panic!("no row {row_label}"));
    split(row)[col].clone()
}

/// A metric's entry for `row_label` in report.md: its table cell, or for a metric equal in
/// every run its value from the "Same in every completed run" line.
pub fn report_value(markdown: &str, row_label: &str, metric: &str) -> String {
    let tick = format!("`{metric}` = ");
    let same = markdown
        .lines()
        .find(|l| l.starts_with("Same in every completed run:"))
        .and_then(|l| l.split(&tick).nth(1))
        .and_then(|rest| rest.split([',', ' ']).next())
        .map(|v| v.trim_end_matches('.').to_string());
    match same {
        Some(v) => v,
        None => table_cell(markdown, row_label, metric),
    }
}

/// configs/grng/smoke.yaml, the config the `lab grng` tests start from.
pub fn grng_smoke_config() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/grng/smoke.yaml");
    p.to_str().expect("a UTF-8 checkout path").to_string()
}

/// `lab grng --quiet --config <smoke.yaml> --out <out>` in `dir`, each of `sets` as a `--set`.
pub fn grng_smoke(dir: &Path, out: &str, sets: &[&str]) -> Output {
    let cfg = grng_smoke_config();
    grng_with(dir, &["--config", &cfg], out, sets)
}

/// `lab grng --quiet --out <out>` in `dir` on the built-in defaults, each of `sets` as a `--set`.
pub fn grng(dir: &Path, out: &str, sets: &[&str]) -> Output {
    grng_with(dir, &[], out, sets)
}

fn grng_with(dir: &Path, first: &[&str], out: &str, sets: &[&str]) -> Output {
    let mut args = vec!["grng", "--quiet"];
    args.extend(first);
    args.extend(["--out", out]);
    for s in sets {
        args.extend(["--set", s]);
    }
    lab(dir, &args)
}

/// `a.zip(b)` after asserting that both sides have the same length, so a comparison over the
/// pairs cannot pass silently because one side came back shorter.
#[track_caller]
pub fn zip_eq<A, B>(a: A, b: B) -> std::iter::Zip<A::IntoIter, B::IntoIter>
where
    A: IntoIterator,
    B: IntoIterator,
    A::IntoIter: ExactSizeIterator,
    B::IntoIter: ExactSizeIterator,
{
    let (a, b) = (a.into_iter(), b.into_iter());
    assert_eq!(
        a.len(),
        b.len(),
        "zipped lengths differ: {} vs {}",
        a.len(),
        b.len()
    );
    a.zip(b)
}

/// A hostile input's run `o` (given `what`, for messages): exit 2, each of `needles` in stderr,
/// no panic or allocation abort, and no `out` folder left.
pub fn assert_refused(o: &Output, what: &str, needles: &[&str], out: &Path) {
    let err = stderr(o);
    assert_eq!(code(o), 2, "{what}: {}", text(o));
    for n in needles {
        assert!(err.contains(n), "{what}: no `{n}` in {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("memory allocation"),
        "{err}"
    );
    assert!(!out.exists(), "{what} left its folder");
}
