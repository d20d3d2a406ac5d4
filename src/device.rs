//! Device and thread selection shared by every subcommand.
use crate::error::usage;
use anyhow::Result;
use tch::Device;

/// Parse `auto|cpu|cuda|cuda:N`; `auto` is CUDA when libtorch sees a GPU, else CPU.
pub fn select(spec: &str) -> Result<Device> {
    let cuda_count = || tch::Cuda::device_count().max(0) as usize;
    match spec {
        "auto" => Ok(if tch::Cuda::is_available() {
            Device::Cuda(0)
        } else {
            Device::Cpu
        }),
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
            if index >= cuda_count() {
                return Err(usage(format!(
                    "--device {spec}: libtorch sees {} CUDA device(s)",
                    cuda_count()
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
}

/// Set libtorch's and OpenBLAS's thread counts; default: all cores. Returns the count used.
pub fn set_threads(requested: Option<usize>) -> Result<usize> {
    let n = match requested {
        Some(0) => return Err(usage("--threads must be >= 1")),
        Some(n) => n,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    tch::set_num_threads(n as i32);
    // SAFETY: plain setter in the linked OpenBLAS; called before any BLAS work starts.
    unsafe { openblas_set_num_threads(n as std::os::raw::c_int) };
    Ok(n)
}

/// Seed every generator a run uses: libtorch's and a ChaCha RNG for Rust-side sampling.
pub fn seed_all(seed: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    tch::manual_seed(seed as i64);
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}
