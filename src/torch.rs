//! Loading libtorch on demand. A `lab` process starts without libtorch (see `build.rs`): runs
//! that use tensors call [`load`] first (the launcher does, for experiments with
//! `Experiment::USES_TORCH`), and CUDA's half of libtorch is opened only by [`load_cuda`], when a
//! CUDA device is asked for or present. Calling a tch function before [`load`] ends the process
//! with "symbol lookup error", so every entry point that touches tch goes through here.
use anyhow::{bail, Result};
use std::sync::Mutex;

/// What of libtorch this process has loaded, for `meta.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    None,
    Cpu,
    CpuAndCuda,
}

static STATE: Mutex<Loaded> = Mutex::new(Loaded::None);

/// What is loaded now.
pub fn loaded() -> Loaded {
    *STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether libtorch (at least its CPU side) is loaded.
pub fn is_loaded() -> bool {
    loaded() != Loaded::None
}

/// `"none"`, `"cpu"` or `"cpu+cuda"`.
pub fn loaded_name() -> &'static str {
    match loaded() {
        Loaded::None => "none",
        Loaded::Cpu => "cpu",
        Loaded::CpuAndCuda => "cpu+cuda",
    }
}

/// Make libtorch's CPU side (and tch's wrapper) available; idempotent.
pub fn load() -> Result<()> {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if *state == Loaded::None {
        imp::load_wrapper()?;
        *state = Loaded::Cpu;
    }
    Ok(())
}

/// Also open libtorch_cuda, which registers the CUDA backend; idempotent.
pub fn load_cuda() -> Result<()> {
    load()?;
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if *state != Loaded::CpuAndCuda {
        imp::load_cuda()?;
        *state = Loaded::CpuAndCuda;
    }
    Ok(())
}

/// Whether this machine has an NVIDIA driver, without loading anything (for `--device auto`).
pub fn gpu_present() -> bool {
    std::path::Path::new("/proc/driver/nvidia/version").exists()
        || std::path::Path::new("/dev/nvidiactl").exists()
}

/// The libtorch directory the binary was built against.
pub const LIB_DIR: &str = env!("LAB_TORCH_LIB_DIR");

#[cfg(lazy_torch)]
mod imp {
    use super::*;
    use std::ffi::{CStr, CString};
    use std::io::Write;
    use std::os::fd::FromRawFd;

    /// tch's wrapper, built by build.rs and carried inside the binary.
    static WRAPPER: &[u8] = include_bytes!(env!("LAB_LIBTCH_SO"));

    pub fn load_wrapper() -> Result<()> {
        // The wrapper travels inside the binary; dlopen reads it from an anonymous file.
        // SAFETY: plain libc calls on a name and buffer we own.
        let fd = unsafe { libc::memfd_create(c"liblabtch.so".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            bail!(
                "cannot create an in-memory file for libtorch's wrapper: {}",
                errno()
            );
        }
        // SAFETY: `fd` is ours and open; the File closes it when dropped.
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        file.write_all(WRAPPER)
            .map_err(|e| anyhow::anyhow!("cannot write libtorch's wrapper to memory: {e}"))?;
        // libtorch first, binding its own symbols first (see `open`): its matrix products then
        // run on the MKL it carries, as under PyTorch, instead of on the binary's OpenBLAS.
        let cpu = format!("{LIB_DIR}/libtorch_cpu.so");
        let opened =
            open(&cpu, libc::RTLD_DEEPBIND).and_then(|()| open(&format!("/proc/self/fd/{fd}"), 0));
        drop(file); // the loader keeps its own mapping
        opened.map_err(|why| {
            anyhow::anyhow!(
                "cannot load libtorch ({why}); lab was built against {LIB_DIR}: \
                 is that venv still there? `make build` recreates it"
            )
        })
    }

    pub fn load_cuda() -> Result<()> {
        let path = format!("{LIB_DIR}/libtorch_cuda.so");
        if !std::path::Path::new(&path).exists() {
            bail!("this libtorch has no CUDA support ({path} is missing)");
        }
        open(&path, 0).map_err(|why| anyhow::anyhow!("cannot load {path}: {why}"))
    }

    /// dlopen `path` with RTLD_NOW | RTLD_GLOBAL (the symbols are visible to the binary's lazily
    /// bound calls) and `flags`. With RTLD_DEEPBIND the object and what it loads resolve their
    /// own references among themselves before the process's global scope: libtorch_cpu.so
    /// defines the BLAS symbols of its MKL (`sgemm_`, …), and without it they bind to the
    /// OpenBLAS that the binary links and loads first, whose pthreads then also spin against
    /// libtorch's OpenMP threads. ndarray-linalg's calls from the binary still bind to OpenBLAS
    /// (the global scope lists it before anything dlopened; `device::blas` checks).
    fn open(path: &str, flags: libc::c_int) -> std::result::Result<(), String> {
        let c_path = CString::new(path).map_err(|e| e.to_string())?;
        // SAFETY: dlopen with a valid C string.
        let handle =
            unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL | flags) };
        if handle.is_null() {
            // SAFETY: dlerror returns a thread-local message after a failed dlopen.
            let msg = unsafe { libc::dlerror() };
            let text = if msg.is_null() {
                "unknown dlopen error".to_string()
            } else {
                unsafe { CStr::from_ptr(msg) }
                    .to_string_lossy()
                    .into_owned()
            };
            return Err(text);
        }
        Ok(())
    }

    fn errno() -> std::io::Error {
        std::io::Error::last_os_error()
    }
}

/// Where the build linked libtorch directly (not x86-64 Linux): always loaded.
#[cfg(not(lazy_torch))]
mod imp {
    use super::*;

    pub fn load_wrapper() -> Result<()> {
        Ok(())
    }

    pub fn load_cuda() -> Result<()> {
        if !tch::Cuda::is_available() {
            bail!("libtorch sees no CUDA device");
        }
        Ok(())
    }
}
