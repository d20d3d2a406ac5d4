//! What a `lab` process loads: libtorch only for runs that use tensors, CUDA's side of it only
//! when a CUDA device is asked for, and one BLAS (OpenBLAS) for ndarray-linalg.
use crate::common::*;
use std::path::Path;
use std::process::{Command, Output};

/// Run `lab` with the dynamic loader reporting every file it opens (dlopen included).
fn lab_traced<S: AsRef<std::ffi::OsStr>>(cwd: &Path, args: &[S]) -> (Output, Vec<String>) {
    let out = Command::new(LAB)
        .args(args)
        .current_dir(cwd)
        .env("LD_DEBUG", "files")
        .output()
        .expect("the lab binary runs");
    let trace = String::from_utf8_lossy(&out.stderr);
    let mut files: Vec<String> = trace
        .lines()
        .filter_map(|l| l.split("file=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(|f| f.rsplit('/').next().unwrap_or(f).to_string())
        .collect();
    files.sort();
    files.dedup();
    assert!(
        files.iter().any(|f| f.starts_with("libc.so")),
        "LD_DEBUG=files reported nothing: {trace}"
    );
    (out, files)
}

/// A CUDA library other than the two that libtorch_cpu.so of the PyPI wheel itself needs
/// (libcudart and libcupti: they load with any libtorch, CPU runs included).
fn is_cuda_library(file: &str) -> bool {
    let runtime_of_torch_cpu = file.starts_with("libcudart.so") || file.starts_with("libcupti.so");
    let cuda = file.contains("cuda")
        || file.starts_with("libcu")
        || file.starts_with("libnv")
        || file.starts_with("libnccl");
    cuda && !runtime_of_torch_cpu
}

/// `npg-rank1` on its smoke config, then `extra`.
fn npg_smoke(extra: &[&str]) -> Vec<String> {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/npg-rank1/smoke.yaml");
    let head = ["npg-rank1", "--config", cfg.to_str().unwrap()];
    head.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn meta(run: &Path) -> serde_json::Value {
    json(&run.join("meta.json"))
}

#[test]
fn cuda_library_names_are_recognised() {
    for f in [
        "libtorch_cuda.so",
        "libc10_cuda.so",
        "libcublas.so.13",
        "libcudnn.so.9",
    ] {
        assert!(is_cuda_library(f), "{f}");
    }
    for f in [
        "libtorch_cpu.so",
        "libcudart.so.13",
        "libcupti.so.13",
        "libc.so.6",
    ] {
        assert!(!is_cuda_library(f), "{f}");
    }
}

#[test]
fn version_and_decompose_never_load_libtorch() {
    let dir = tempfile::tempdir().unwrap();
    let (out, files) = lab_traced(dir.path(), &["--version"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).starts_with("lab "), "{}", stdout(&out));
    assert!(!files.iter().any(|f| f.contains("torch")), "{files:?}");

    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/decompose/smoke.yaml");
    let cfg = cfg.to_str().unwrap();
    let (out, files) = lab_traced(
        dir.path(),
        &["decompose", "--config", cfg, "--out", "d", "--quiet"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        !files
            .iter()
            .any(|f| f.contains("torch") || f.contains("c10")),
        "{files:?}"
    );
    assert_eq!(meta(&dir.path().join("d"))["libtorch"], "none");
}

#[test]
fn a_cpu_torch_run_loads_libtorch_without_its_cuda_side() {
    let dir = tempfile::tempdir().unwrap();
    let args = npg_smoke(&["--out", "n", "--quiet", "--device", "cpu"]);
    let (out, files) = lab_traced(dir.path(), &args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(files.iter().any(|f| f == "libtorch_cpu.so"), "{files:?}");
    let cuda: Vec<&String> = files.iter().filter(|f| is_cuda_library(f)).collect();
    assert!(
        cuda.is_empty(),
        "CUDA libraries loaded by a CPU run: {cuda:?}"
    );
    assert_eq!(meta(&dir.path().join("n"))["libtorch"], "cpu");
}

#[test]
fn this_test_process_has_libtorch_mapped_but_no_cuda_library() {
    // The test binary loads libtorch before main (its tests call tch), the way a CPU run does.
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let files: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .collect();
    assert!(files.contains(&"libtorch_cpu.so"), "libtorch is not mapped");
    let cuda: Vec<&&str> = files.iter().filter(|f| is_cuda_library(f)).collect();
    assert!(cuda.is_empty(), "CUDA libraries mapped: {cuda:?}");
}

#[test]
fn asking_for_cuda_loads_the_cuda_side_and_names_the_device_count() {
    let dir = tempfile::tempdir().unwrap();
    if lab::torch::gpu_present() {
        let (out, files) = lab_traced(dir.path(), &npg_smoke(&["--device", "cuda", "--out", "n"]));
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert!(files.iter().any(|f| f == "libtorch_cuda.so"), "{files:?}");
        let m = meta(&dir.path().join("n"));
        assert_eq!(
            (&m["device"], &m["libtorch"]),
            (&"cuda:0".into(), &"cpu+cuda".into())
        );
        return;
    }
    let args = npg_smoke(&["--device", "cuda"]);
    let (out, files) = lab_traced(dir.path(), &args);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("--device cuda: libtorch sees 0 CUDA device(s)"),
        "{}",
        stderr(&out)
    );
    assert!(files.iter().any(|f| f == "libtorch_cuda.so"), "{files:?}");
    assert!(!dir.path().join("results").exists(), "nothing is written");
}

#[test]
fn auto_is_cuda_only_where_a_gpu_is_and_loads_cuda_only_then() {
    let dir = tempfile::tempdir().unwrap();
    if lab::torch::gpu_present() {
        let (out, _) = lab_traced(dir.path(), &npg_smoke(&["--out", "n", "--quiet"]));
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert_eq!(meta(&dir.path().join("n"))["device"], "cuda:0");
        return;
    }
    let args = npg_smoke(&["--out", "n", "--quiet"]);
    let (out, files) = lab_traced(dir.path(), &args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!files.iter().any(|f| is_cuda_library(f)), "{files:?}");
    assert_eq!(meta(&dir.path().join("n"))["device"], "cpu");
}

#[test]
fn ndarray_linalg_calls_resolve_to_openblas_even_with_libtorch_loaded() {
    // libtorch_cpu.so exports MKL's dgemm_/dpotrf_/dsyevd_ too, and it is loaded here.
    assert!(lab::torch::is_loaded());
    let blas = lab::device::blas().expect("one BLAS answers");
    assert!(blas.library.contains("openblas"), "{blas:?}");
    assert!(blas.config.starts_with("OpenBLAS"), "{blas:?}");
    // And the same answer as a real factorisation gives: a Cholesky through ndarray-linalg.
    use ndarray_linalg::Cholesky;
    let a = ndarray::array![[4.0, 2.0], [2.0, 3.0]];
    let l = a.cholesky(ndarray_linalg::UPLO::Lower).unwrap();
    assert!((l[[1, 1]] - 2.0f64.sqrt()).abs() < 1e-15);
}

#[test]
fn meta_records_the_blas_library_and_the_threads_it_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/decompose/smoke.yaml");
    let cfg = cfg.to_str().unwrap();
    for threads in ["1", "2"] {
        let out_dir = format!("d{threads}");
        let args = [
            "decompose",
            "--config",
            cfg,
            "--out",
            &out_dir,
            "--quiet",
            "--threads",
            threads,
        ];
        let out = lab(dir.path(), &args);
        assert_eq!(code(&out), 0, "{}", text(&out));
        let m = meta(&dir.path().join(&out_dir));
        assert!(
            m["blas"]["library"].as_str().unwrap().contains("openblas"),
            "{m}"
        );
        assert_eq!(m["blas"]["threads"].to_string(), threads, "{m}");
        assert_eq!(m["threads"].to_string(), threads, "{m}");
    }
}

/// libtorch's matrix products land in OpenBLAS too, so runs whose tensor work is libtorch's
/// give OpenBLAS one thread (two thread pools spinning on the same cores); runs that compute
/// with OpenBLAS themselves (npg's native backend) keep `--threads` for it.
#[test]
fn torch_runs_give_openblas_one_thread_and_native_runs_keep_threads() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = [
        ("grng", "configs/grng/smoke.yaml", vec![], "1"),
        ("npg-rank1", "configs/npg-rank1/smoke.yaml", vec![], "2"),
        (
            "npg-rank1",
            "configs/npg-rank1/smoke.yaml",
            vec!["--set", "backend=torch"],
            "1",
        ),
    ];
    for (i, (sub, cfg, extra, blas_threads)) in cases.iter().enumerate() {
        let cfg = root.join(cfg);
        let out_dir = format!("r{i}");
        let mut args = vec![
            *sub,
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            &out_dir,
            "--quiet",
            "--threads",
            "2",
        ];
        args.extend(extra.iter().copied());
        let out = lab(dir.path(), &args);
        assert_eq!(code(&out), 0, "{sub} {extra:?}: {}", text(&out));
        let m = meta(&dir.path().join(&out_dir));
        assert_eq!(m["threads"], 2, "{sub} {extra:?}: {m}");
        assert_eq!(
            m["blas"]["threads"].to_string(),
            *blas_threads,
            "{sub} {extra:?}: {m}"
        );
    }
}

/// Which object the loader bound `file`'s reference to `symbol` to, from an LD_DEBUG=bindings
/// log (lines "binding file <file> [0] to <target> [0]: normal symbol `<symbol>'").
fn bound_to(log: &str, file: &str, symbol: &str) -> Option<String> {
    let tail = format!("symbol `{symbol}'");
    log.lines()
        .filter(|l| l.trim_end().ends_with(&tail))
        .filter_map(|l| l.split("binding file ").nth(1))
        .filter(|rest| {
            rest.split_whitespace()
                .next()
                .is_some_and(|f| f.ends_with(file))
        })
        .find_map(|rest| rest.split(" to ").nth(1))
        .and_then(|t| t.split_whitespace().next())
        .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
}

/// libtorch's matrix products run on the MKL inside libtorch_cpu.so (as under PyTorch), not on
/// the binary's OpenBLAS: `torch::load` opens libtorch with RTLD_DEEPBIND. The binary's own
/// LAPACK calls (ndarray-linalg) bind to OpenBLAS.
#[test]
fn libtorch_binds_its_own_blas_and_the_binary_binds_openblas() {
    let dir = tempfile::tempdir().unwrap();
    let args = npg_smoke(&["--out", "n", "--quiet", "--device", "cpu"]);
    let out = Command::new(LAB)
        .args(&args)
        .current_dir(dir.path())
        .env("LD_DEBUG", "bindings")
        .env("LD_DEBUG_OUTPUT", dir.path().join("ld"))
        .output()
        .expect("the lab binary runs");
    assert_eq!(code(&out), 0, "{}", text(&out));
    let mut log = String::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("ld.") {
            log.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    assert!(
        log.contains("binding file"),
        "LD_DEBUG=bindings wrote nothing"
    );
    let torch = bound_to(&log, "libtorch_cpu.so", "sgemm_");
    assert_eq!(
        torch.as_deref(),
        Some("libtorch_cpu.so"),
        "libtorch's sgemm_"
    );
    let ours = bound_to(&log, "lab", "dpotrf_").expect("the binary binds dpotrf_");
    assert!(
        ours.contains("openblas"),
        "the binary's dpotrf_ binds to {ours}"
    );
}
