//! Device, threads and the BLAS library, shared by every subcommand.
use crate::error::usage;
use crate::torch;
use anyhow::Result;
use serde::Serialize;
use tch::Device;

/// Parse `auto|cpu|cuda|cuda:N`. `auto` is CUDA when the run uses libtorch and libtorch sees a
/// GPU, else the CPU. CUDA's half of libtorch is loaded only here, and only for a CUDA choice
/// (or for `auto` on a machine with an NVIDIA driver).
pub fn select(spec: &str, uses_torch: bool) -> Result<Device> {
    match spec {
        "auto" => {
            if !(uses_torch && torch::gpu_present()) {
                return Ok(Device::Cpu);
            }
            if let Err(e) = torch::load_cuda() {
                eprintln!(
                    "warning: --device auto: a GPU driver is present but {e:#}; using the CPU"
                );
                return Ok(Device::Cpu);
            }
            Ok(if tch::Cuda::is_available() {
                Device::Cuda(0)
            } else {
                Device::Cpu
            })
        }
        "cpu" => Ok(Device::Cpu),
        _ => {
            let index = match spec.strip_prefix("cuda") {
                Some("") => 0,
                Some(rest) => rest
                    .strip_prefix(':')
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| usage(bad(spec)))?,
                None => return Err(usage(bad(spec))),
            };
            torch::load_cuda().map_err(|e| usage(format!("--device {spec}: {e:#}")))?;
            let count = tch::Cuda::device_count().max(0) as usize;
            if index >= count {
                return Err(usage(format!(
                    "--device {spec}: libtorch sees {count} CUDA device(s)"
                )));
            }
            Ok(Device::Cuda(index))
        }
    }
}

fn bad(spec: &str) -> String {
    format!("--device `{spec}`: expected auto, cpu, cuda or cuda:N")
}

pub fn name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

extern "C" {
    fn openblas_set_num_threads(n: std::os::raw::c_int);
    fn openblas_get_num_threads() -> std::os::raw::c_int;
    fn openblas_get_config() -> *const std::os::raw::c_char;
    // The LAPACK/BLAS entry points ndarray-linalg calls; their addresses tell which library
    // answers them (see [`blas`]).
    fn dgemm_();
    fn dpotrf_();
    fn dsyevd_();
}

/// Set OpenBLAS's thread count, and libtorch's when it is loaded; default: all cores. Returns
/// the count used.
pub fn set_threads(requested: Option<usize>) -> Result<usize> {
    let n = match requested {
        Some(0) => return Err(usage("--threads must be >= 1")),
        Some(n) => n,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    if torch::is_loaded() {
        tch::set_num_threads(n as i32);
    }
    set_blas_threads(n);
    Ok(n)
}

/// Set OpenBLAS's thread count alone (libtorch's is left as it is).
pub fn set_blas_threads(n: usize) {
    // SAFETY: plain setter in the linked OpenBLAS; called before any BLAS work starts.
    unsafe { openblas_set_num_threads(n.max(1) as std::os::raw::c_int) };
}

/// Seed every generator a run uses: a ChaCha RNG for Rust-side sampling, and libtorch's when
/// it is loaded.
pub fn seed_all(seed: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    if torch::is_loaded() {
        tch::manual_seed(seed as i64);
    }
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

/// The BLAS/LAPACK library that answers ndarray-linalg's calls, for `meta.json`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Blas {
    /// The shared object that `dgemm_`, `dpotrf_` and `dsyevd_` resolve to.
    pub library: String,
    /// OpenBLAS's thread count (`--threads`).
    pub threads: usize,
    /// OpenBLAS's build description (version, kernel, threading).
    pub config: String,
}

/// Which library answers `dgemm_`, `dpotrf_` and `dsyevd_` in this process. It is an error for
/// them to resolve to different libraries, or to one that is not OpenBLAS (libtorch carries
/// MKL, which would answer if it came first in the symbol search order).
pub fn blas() -> Result<Blas> {
    let symbols: [(&str, *const ()); 3] = [
        ("dgemm_", dgemm_ as *const ()),
        ("dpotrf_", dpotrf_ as *const ()),
        ("dsyevd_", dsyevd_ as *const ()),
    ];
    let mut library: Option<String> = None;
    for (name, ptr) in symbols {
        let lib = library_of(ptr).unwrap_or_else(|| "unknown".into());
        match &library {
            None => library = Some(lib),
            Some(first) if *first != lib => {
                anyhow::bail!("BLAS symbols resolve to two libraries: {first} and {lib} ({name})")
            }
            Some(_) => {}
        }
    }
    let library = library.unwrap_or_default();
    if !library.contains("openblas") {
        anyhow::bail!("ndarray-linalg's BLAS resolves to {library}, not OpenBLAS");
    }
    // SAFETY: plain getters of the linked OpenBLAS; the config string is static.
    let (threads, config) = unsafe {
        let cfg = std::ffi::CStr::from_ptr(openblas_get_config());
        (
            openblas_get_num_threads(),
            cfg.to_string_lossy().trim().to_string(),
        )
    };
    Ok(Blas {
        library,
        threads: threads.max(0) as usize,
        config,
    })
}

/// The path of the shared object that holds address `ptr` (dladdr).
fn library_of(ptr: *const ()) -> Option<String> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the loader's tables; `info` is a valid out-parameter.
    let found = unsafe { libc::dladdr(ptr.cast(), &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname points to the loader's NUL-terminated path of that object.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = std::path::Path::new(name.to_str().ok()?);
    Some(
        std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
    )
}
