//! Real write failures (issue 16, "A full disk"): a file-size limit (RLIMIT_FSIZE, the write
//! fails with EFBIG as it would with ENOSPC) or a temp file that is a link to /dev/full (ENOSPC).
//! A failed write exits non-zero, names the file, marks the run `failed`, and leaves no
//! half-written file under an output's final name; "done" is never printed.
use super::common::{code, json, lab, read_csv, stderr, stdout, LAB};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

const SMOKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/decompose/smoke.yaml");

/// `lab decompose` on the smoke config plus `sets`, no file may grow past `limit` bytes.
fn decompose_limited(dir: &Path, limit: u64, sets: &[&str]) -> Output {
    let mut args = vec!["decompose", "--config", SMOKE, "--out", "run"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let mut cmd = Command::new(LAB);
    cmd.args(&args).current_dir(dir);
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
    assert!(
        !dir.join(format!("run/{file}.tmp")).exists(),
        "temp file left"
    );
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
    std::os::unix::fs::symlink("/dev/full", runs.join("summary.csv.tmp")).unwrap();
    let o = lab(dir.path(), &["report", "runs"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains("writing runs/summary.csv: No space left on device"),
        "{err}"
    );
    assert!(!runs.join("summary.csv").exists(), "half-written table");
    assert!(!runs.join("summary.csv.tmp").exists(), "temp link left");
    assert!(
        !runs.join("report.md").exists(),
        "a report without its table"
    );
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

#[test]
fn a_plot_on_a_full_disk_names_its_file_and_leaves_none() {
    let dir = runs_dir();
    let plot = dir.path().join("p.png");
    std::os::unix::fs::symlink("/dev/full", dir.path().join("p.png.tmp")).unwrap();
    let args = [
        "plot",
        "runs",
        "--x",
        "iter",
        "--y",
        "decrement",
        "-o",
        "p.png",
    ];
    let o = lab(dir.path(), &args);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains("writing p.png: No space left on device"),
        "{err}"
    );
    assert!(!plot.exists() && !dir.path().join("p.png.tmp").exists());
    let o = lab(dir.path(), &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bytes = std::fs::read(&plot).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
}
