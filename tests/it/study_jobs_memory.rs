//! Memory with `--jobs` (issue 16, "Sizes and resources"): a study starts a run beside others
//! only when the estimates of all of them fit the memory available together. Two cells that
//! fit alone but not together run one after the other (read off their meta.json times), both
//! complete, and the study says the second one waited.
use crate::common::*;
use std::path::Path;

/// Two cells of the same size: auto picks the explicit-Hessian Newton (n = 100, m ≈ 500),
/// estimated at about 19 MB each, with `limits.max_memory_gb` as the memory available.
fn two_cells(dir: &Path, gb: f64) -> std::process::Output {
    let yaml = format!(
        "matrix: {{kind: random-spd, n: 100, condition: 10.0}}\n\
         subspace: {{kind: random-pattern, density: 0.1}}\n\
         output: {{save_matrices: false}}\n\
         limits: {{max_memory_gb: {gb}}}\n\
         study:\n  name: mem\n  seeds: [0]\n  grid: {{matrix.condition: [10.0, 20.0]}}\n"
    );
    std::fs::write(dir.join("mem.yaml"), yaml).unwrap();
    let args = [
        "decompose",
        "--config",
        "mem.yaml",
        "--jobs",
        "2",
        "--threads",
        "1",
    ];
    lab(dir, &args)
}

/// The (start, end) times of a run, from its meta.json.
fn span(
    run: &Path,
) -> (
    chrono::DateTime<chrono::FixedOffset>,
    chrono::DateTime<chrono::FixedOffset>,
) {
    let meta = json(&run.join("meta.json"));
    let time = |key: &str| {
        let text = meta[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key}: {meta}"));
        chrono::DateTime::parse_from_rfc3339(text).unwrap()
    };
    (time("start_time"), time("end_time"))
}

fn runs(dir: &Path) -> Vec<std::path::PathBuf> {
    let study = dir.join("results/decompose/mem");
    ["matrix.condition=10.0", "matrix.condition=20.0"]
        .iter()
        .map(|cell| study.join(cell).join("seed-0"))
        .collect()
}

#[test]
fn cells_that_fit_alone_but_not_together_run_one_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    // 30 MB: one run (~19 MB) fits, two (~38 MB) do not.
    let out = two_cells(dir.path(), 0.03);
    assert!(out.status.success(), "{}", text(&out));
    let runs = runs(dir.path());
    for run in &runs {
        assert_eq!(status(run), "completed", "{}", run.display());
        let est = json(&run.join("summary.json"))["memory_estimate_mb"]
            .as_f64()
            .unwrap();
        assert!(
            (15.0..30.0).contains(&est),
            "fits alone, not twice: {est} MB"
        );
    }
    let (first, second) = (span(&runs[0]), span(&runs[1]));
    assert!(first.0 <= first.1 && second.0 <= second.1);
    assert!(
        first.1 <= second.0,
        "the second run started ({}) before the first ended ({})",
        second.0,
        first.1
    );
    // The second run says why it waits — unless the first one had already ended by the time
    // the second worker looked (a scheduling accident on a loaded machine, not a failure: the
    // order above is what matters; study::memory's unit tests pin the waiting rule itself).
    let err = stderr(&out);
    if err.contains("waits for memory") {
        let waited = format!(
            "{} waits for memory",
            runs[1].strip_prefix(dir.path()).unwrap().display()
        );
        assert!(err.contains(&waited), "{err}");
        assert!(err.contains("of 30 MB available"), "{err}");
    }
}

#[test]
fn cells_that_fit_together_do_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let out = two_cells(dir.path(), 0.05); // 50 MB: both fit at once
    assert!(out.status.success(), "{}", text(&out));
    for run in runs(dir.path()) {
        assert_eq!(status(&run), "completed", "{}", run.display());
    }
    assert!(!stderr(&out).contains("waits for memory"), "{}", text(&out));
}
