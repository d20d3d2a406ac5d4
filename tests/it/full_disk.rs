//! Real write failures (issue 16, "A full disk"): a file-size limit (RLIMIT_FSIZE, the write
//! fails with EFBIG as it would with ENOSPC), set before `lab` starts or (prlimit) on a running
//! study.
//! A failed write exits non-zero, names the file, marks the run `failed`, and leaves no
//! half-written file under an output's final name; "done" is never printed. A study that
//! cannot write a run's output.log or complete its meta.json fails that run, naming the file.
use super::common::{code, json, lab, read_csv, stderr, stdout, temp_files, wait_until, LAB};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const SMOKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/decompose/smoke.yaml");
const FINANCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/configs/decompose/finance.yaml"
);

/// `lab decompose` on the smoke config plus `sets`, no file may grow past `limit` bytes.
fn decompose_limited(dir: &Path, limit: u64, sets: &[&str]) -> Output {
    decompose_limited_from(dir, SMOKE, limit, sets)
}

/// `lab decompose --config config` plus `sets`, no file may grow past `limit` bytes.
fn decompose_limited_from(dir: &Path, config: &str, limit: u64, sets: &[&str]) -> Output {
    let mut args = vec!["decompose", "--config", config, "--out", "run"];
    for s in sets {
        args.extend(["--set", s]);
    }
    lab_limited(dir, &args, limit)
}

/// `lab args` in `dir`, no file may grow past `limit` bytes.
fn lab_limited(dir: &Path, args: &[&str], limit: u64) -> Output {
    let mut cmd = Command::new(LAB);
    cmd.args(args).current_dir(dir);
    // SAFETY: setrlimit and signal are async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Without this the kernel kills the writer with SIGXFSZ instead of failing the write.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    cmd.output().expect("the lab binary runs")
}

fn assert_failed_naming(o: &Output, dir: &Path, file: &str) {
    let err = stderr(o);
    assert_eq!(code(o), 1, "{err}");
    let named = format!("writing run/{file}: ");
    assert!(err.contains(&named), "the error names {file}: {err}");
    assert!(
        !err.contains(" done"),
        "no `done` after a failed write: {err}"
    );
    assert!(!stdout(o).contains("results:"), "{}", stdout(o));
    let meta = json(&dir.join("run/meta.json"));
    assert_eq!(meta["status"], "failed", "{meta}");
    let why = meta["error"].as_str().unwrap_or_default();
    assert!(why.starts_with(&named), "meta.json names {file}: {why}");
    assert_eq!(temp_files(&dir.join("run")), Vec::<String>::new());
}

#[test]
fn a_matrix_that_does_not_fit_leaves_no_npy_and_a_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    // B.npy and C.npy are 320 KB each; every other file of the run is under 2 KB.
    let o = decompose_limited(
        dir.path(),
        64 * 1024,
        &["matrix.n=200", "subspace.density=0.02"],
    );
    assert_failed_naming(&o, dir.path(), "B.npy");
    for f in ["B.npy", "C.npy", "summary.json"] {
        assert!(!dir.path().join("run").join(f).exists(), "{f} written");
    }
    // The same run without the limit writes them whole.
    let free = tempfile::tempdir().unwrap();
    let o = decompose_limited(
        free.path(),
        u64::MAX,
        &["matrix.n=200", "subspace.density=0.02"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let npy = std::fs::metadata(free.path().join("run/C.npy")).unwrap();
    assert_eq!(npy.len(), 128 + 200 * 200 * 8);
}

#[test]
fn a_metrics_row_that_does_not_fit_keeps_the_whole_rows_before_it() {
    let dir = tempfile::tempdir().unwrap();
    // 18 rows of ~120 bytes without the limit; config.yaml and meta.json fit under it.
    let sets = [
        "matrix.condition=1e6",
        "matrix.n=60",
        "subspace.density=0.3",
    ];
    let o = decompose_limited(dir.path(), 1500, &sets);
    assert_failed_naming(&o, dir.path(), "metrics.csv");
    assert!(
        stderr(&o).contains("rows before this one are kept"),
        "{}",
        stderr(&o)
    );
    let path = dir.path().join("run/metrics.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'), "no half row: {text:?}");
    let (header, rows) = read_csv(&path);
    assert!(rows.len() >= 3, "earlier rows kept: {text}");
    assert!(rows.iter().all(|r| r.len() == header.len()), "{text}");
}

#[test]
fn a_finance_row_that_does_not_fit_keeps_the_whole_rows_before_it() {
    let dir = tempfile::tempdir().unwrap();
    // 30 H values x 2 closed-form structures: 60 rows, ~4 KB; config.yaml (~950 bytes) and
    // the failed meta.json (~1100) fit under the limit, figure1.svg would come after.
    let hurst: Vec<String> = (0..30).map(|k| format!("0.{}", 30 + 2 * k)).collect();
    let hurst = format!("mode.hurst=[{}]", hurst.join(","));
    let sets = ["mode.periods=6", "mode.structures=[sum, full]", &hurst];
    let o = decompose_limited_from(dir.path(), FINANCE, 2000, &sets);
    assert_failed_naming(&o, dir.path(), "finance.csv");
    let path = dir.path().join("run/finance.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'), "no half row: {text:?}");
    let (header, rows) = read_csv(&path);
    assert_eq!(header[..2], ["hurst", "structure"]);
    assert!(rows.len() >= 10, "earlier rows kept: {text}");
    assert!(rows.iter().all(|r| r.len() == header.len()), "{text}");
    assert!(!dir.path().join("run/figure1.svg").exists());
}

/// A run directory holding one finished decompose run, for `lab report`.
fn runs_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = lab(
        dir.path(),
        &["decompose", "--quiet", "--config", SMOKE, "--out", "runs/a"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    dir
}

#[test]
fn a_report_table_on_a_full_disk_is_not_left_half_written() {
    let dir = runs_dir();
    let runs = dir.path().join("runs");
    // The table of one run is a few hundred bytes; 64 do not hold it.
    let o = lab_limited(dir.path(), &["report", "runs"], 64);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains("writing runs/summary.csv: File too large"),
        "{err}"
    );
    assert!(!runs.join("summary.csv").exists(), "half-written table");
    assert_eq!(temp_files(&runs), Vec::<String>::new(), "temp file left");
    assert!(
        !runs.join("report.md").exists(),
        "a report without its table"
    );
    let o = lab(dir.path(), &["report", "runs"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::metadata(runs.join("summary.csv")).unwrap().len() > 64);
}

#[test]
fn an_output_that_links_to_a_full_device_is_replaced_not_written_through() {
    // Atomic writes rename over the final name: a link there is replaced by the new file
    // (nothing is written to where it pointed), so the report succeeds.
    let dir = runs_dir();
    let runs = dir.path().join("runs");
    let table = runs.join("summary.csv");
    std::os::unix::fs::symlink("/dev/full", &table).unwrap();
    let o = lab(dir.path(), &["report", "runs"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!table.symlink_metadata().unwrap().is_symlink());
    let (header, rows) = read_csv(&table);
    assert_eq!(header[0], "cell");
    assert!(!rows.is_empty());
}

/// `lab plot` of the runs in `runs/` (decompose's decrement by iteration) to `p.png`.
const PLOT_TO_P_PNG: [&str; 8] = [
    "plot",
    "runs",
    "--x",
    "iter",
    "--y",
    "decrement",
    "-o",
    "p.png",
];

#[test]
fn a_plot_on_a_full_disk_names_its_file_and_leaves_none() {
    let dir = runs_dir();
    let plot = dir.path().join("p.png");
    let args = PLOT_TO_P_PNG;
    let o = lab_limited(dir.path(), &args, 512);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("writing p.png: File too large"), "{err}");
    assert!(!plot.exists());
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    let o = lab(dir.path(), &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bytes = std::fs::read(&plot).unwrap();
    assert!(
        bytes.len() > 512 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "a PNG"
    );
}

/// A one-run decompose study whose run reads its matrix from the FIFO `a.npy`: returned once
/// the run opened it (its directory and meta.json written, nothing more until the matrix
/// comes), with the study process, the run's directory, the run's pid and the FIFO's write end.
fn study_reading_a_fifo(dir: &Path) -> (Child, PathBuf, i32, File) {
    let fifo = std::ffi::CString::new(dir.join("a.npy").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let yaml = "matrix: {kind: file, path: a.npy}\n\
                subspace: {kind: random-pattern, density: 0.3}\n\
                output: {save_matrices: false}\n\
                study: {name: logs, seeds: [0], grid: {solver.max_iter: [100]}}\n";
    std::fs::write(dir.join("logs.yaml"), yaml).unwrap();
    let study = Command::new(LAB)
        .args(["decompose", "--config", "logs.yaml"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A non-blocking open for writing fails until the run opens the FIFO for reading.
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(dir.join("a.npy"))
    };
    let mut fifo = None;
    wait_until("the run to open a.npy", Duration::from_secs(60), || {
        fifo = open().ok();
        fifo.is_some()
    });
    let run = dir.join("results/decompose/logs/solver.max_iter=100/seed-0");
    let pid = json(&run.join("meta.json"))["pid"].as_i64().unwrap();
    (study, run, pid as i32, fifo.unwrap())
}

/// An 8 x 8 SPD matrix (I + 0.1·11ᵀ) as float64 `.npy` bytes.
fn npy_matrix() -> Vec<u8> {
    let n = 8;
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {n}), }}");
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for i in 0..n {
        for j in 0..n {
            let a: f64 = if i == j { 1.1 } else { 0.1 };
            bytes.extend(a.to_le_bytes());
        }
    }
    bytes
}

#[test]
fn a_study_that_cannot_save_a_runs_log_fails_that_run_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (study, run, _, mut fifo) = study_reading_a_fifo(dir.path());
    std::fs::create_dir(run.join("output.log")).unwrap(); // where the log must go
    fifo.write_all(&npy_matrix()).unwrap();
    drop(fifo);
    let o = study.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    let log = "results/decompose/logs/solver.max_iter=100/seed-0/output.log";
    assert!(
        err.contains(&format!("writing {log}: Is a directory")),
        "{err}"
    );
    assert!(err.contains("1 of 1 runs failed"), "{err}");
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["status"], "failed", "{meta}");
    let why = meta["error"].as_str().unwrap();
    assert!(
        why.contains("the run completed") && why.contains(log),
        "{why}"
    );
    assert!(
        run.join("summary.json").exists(),
        "the run's results are kept"
    );
    assert_eq!(temp_files(&run), Vec::<String>::new(), "temp file left");
}

#[test]
fn a_study_that_cannot_complete_a_dead_runs_meta_fails_it_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (study, run, pid, fifo) = study_reading_a_fifo(dir.path());
    // From now on the study (not its run, started already) may not write a file as big as the
    // run's meta.json: the completed one (status, end, error) is bigger, its log is smaller.
    let size = std::fs::metadata(run.join("meta.json")).unwrap().len();
    let lim = libc::rlimit {
        rlim_cur: size,
        rlim_max: size,
    };
    // SAFETY: prlimit(2) on the study this test started, with a valid rlimit.
    let set = unsafe {
        libc::prlimit(
            study.id() as i32,
            libc::RLIMIT_FSIZE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(set, 0, "{}", std::io::Error::last_os_error());
    // SAFETY: kill(2) on the run this test started (it waits for its matrix).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let o = study.wait_with_output().unwrap();
    drop(fifo); // only now: an end of file would fail the run by itself
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    let meta = "results/decompose/logs/solver.max_iter=100/seed-0/meta.json";
    assert!(
        err.contains(&format!(
            "killed by signal 9); writing {meta}: File too large"
        )),
        "{err}"
    );
    assert!(run.join("output.log").is_file(), "the log is still saved");
    assert_eq!(temp_files(&run), Vec::<String>::new(), "temp file left");
}

/// `lab plot -o FILE --force` whose plot cannot be written leaves the user's FILE where it was
/// (no `.replaced-` copy left behind); once it can, FILE is the plot and the old one is kept.
#[test]
fn a_forced_plot_that_cannot_be_written_leaves_the_old_file_in_place() {
    let dir = runs_dir();
    let mine = dir.path().join("p.png");
    std::fs::write(&mine, "my own figure").unwrap();
    let args = [&PLOT_TO_P_PNG[..], &["--force"]].concat();
    let replaced = || -> Vec<PathBuf> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("p.png.replaced-"))
            .collect()
    };
    let o = lab_limited(dir.path(), &args, 512);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("writing p.png: File too large"), "{err}");
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my own figure");
    assert_eq!(replaced(), Vec::<PathBuf>::new());
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    let o = lab(dir.path(), &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::read(&mine).unwrap().starts_with(b"\x89PNG"));
    let kept = replaced();
    assert_eq!(kept.len(), 1, "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&kept[0]).unwrap(), "my own figure");
}
