//! Device, threads and the BLAS library, shared by every subcommand.
pub mod blas;
pub mod memory;

use crate::error::usage;
use crate::torch;
use anyhow::Result;
pub use blas::{blas, fit_blas_core, set_blas_threads, Blas, BlasCore};
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

/// The most threads `--threads` or a `torch_threads` key may ask for (each OpenMP or BLAS
/// thread takes a stack; far past the cores a run only slows down).
pub const MAX_THREADS: usize = 1024;

/// Whether `n` is a thread count lab accepts (1 ..= [`MAX_THREADS`]): `--threads`, the
/// `torch_threads` keys and [`set_threads`] all ask this.
pub fn threads_ok(n: usize) -> bool {
    (1..=MAX_THREADS).contains(&n)
}

/// Set OpenBLAS's thread count, and libtorch's when it is loaded; default: all cores. Returns
/// the count used.
pub fn set_threads(requested: Option<usize>) -> Result<usize> {
    let n = match requested {
        Some(n) if !threads_ok(n) => {
            return Err(usage(format!(
                "--threads must be from 1 to {MAX_THREADS}, got {n}"
            )))
        }
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

/// Seed every generator a run uses: a ChaCha RNG for Rust-side sampling, and libtorch's when
/// it is loaded.
pub fn seed_all(seed: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    if torch::is_loaded() {
        tch::manual_seed(seed as i64);
    }
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

/// Prepare a test or bench binary before `main`: fit OpenBLAS's kernels to the CPU
/// ([`crate::device::fit_blas_core`]), load libtorch (their code calls tch directly)
/// and give test threads 16 MiB stacks, because OpenBLAS's threaded LAPACK (e.g. `dgetrf`)
/// overflows the 2 MiB default of the test harness's threads. The `lab` binary fits the kernels
/// in its `main`, loads libtorch only when a run needs it, and computes on the main thread.
#[macro_export]
macro_rules! prepare_test_process {
    () => {
        #[used]
        #[link_section = ".init_array"]
        static PREPARE_TEST_PROCESS: extern "C" fn() = {
            extern "C" fn prepare() {
                if std::env::var_os("RUST_MIN_STACK").is_none() {
                    // Before main: no other thread exists yet.
                    std::env::set_var("RUST_MIN_STACK", "16777216");
                }
                // Before libtorch and any BLAS work, as `lab`'s main does.
                $crate::device::fit_blas_core();
                if let Err(e) = $crate::torch::load() {
                    eprintln!("error: {e:#}");
                    std::process::exit(1);
                }
            }
            prepare
        };
    };
}
