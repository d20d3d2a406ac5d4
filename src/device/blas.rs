//! The BLAS/LAPACK library of `lab`'s own linear algebra (OpenBLAS, which ndarray-linalg calls;
//! libtorch binds the MKL it carries, see `torch::load`), its thread count, and its kernel set.
//!
//! OpenBLAS built with DYNAMIC_ARCH (Debian's is) picks its kernels from the CPU model when it
//! loads. A release older than the CPU does not know the model and falls back to its generic
//! pre-AVX core, "Prescott": Debian 12's OpenBLAS 0.3.21 does this on Intel's Emerald Rapids
//! (family 6, model 207), where its dgemm ran 6.6–9.4 GFLOP/s instead of 38–69 with the AVX-512
//! kernels (n = 64–512, one thread). [`fit_blas_core`] catches that one case, a pre-AVX core on
//! a CPU that has AVX, and restarts the process with `OPENBLAS_CORETYPE` naming the best core the
//! CPU's instruction set supports; a detection above the fallback, or a user's
//! `OPENBLAS_CORETYPE`, is left alone.
use serde::Serialize;
use std::ffi::{c_char, c_int, CStr};
use std::sync::OnceLock;

extern "C" {
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_num_threads() -> c_int;
    fn openblas_get_config() -> *const c_char;
    fn openblas_get_corename() -> *const c_char;
    // The LAPACK/BLAS entry points ndarray-linalg calls; their addresses tell which library
    // answers them (see [`blas`]).
    fn dgemm_();
    fn dpotrf_();
    fn dsyevd_();
}

/// The environment variable OpenBLAS reads to force its kernel set.
const CORETYPE_VAR: &str = "OPENBLAS_CORETYPE";

/// Set OpenBLAS's thread count alone (libtorch's is left as it is).
pub fn set_blas_threads(n: usize) {
    // SAFETY: plain setter in the linked OpenBLAS; called before any BLAS work starts.
    unsafe { openblas_set_num_threads(n.max(1) as c_int) };
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
    /// The kernel set in use, and who chose it.
    pub core: BlasCore,
}

/// Who chose OpenBLAS's kernel set.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CoreChooser {
    /// OpenBLAS's own CPU detection.
    Openblas,
    /// The user's `OPENBLAS_CORETYPE`.
    Environment,
    /// [`fit_blas_core`], over OpenBLAS's generic fallback.
    Lab,
}

/// What [`fit_blas_core`] found and did.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct BlasCore {
    /// The core OpenBLAS picked when it loaded (e.g. `Prescott`, `Haswell`, `Zen`).
    pub detected: String,
    /// The core whose kernels run now.
    pub active: String,
    pub chosen_by: CoreChooser,
}

/// The x86 instruction-set levels OpenBLAS has kernels for, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IsaLevel {
    /// SSE only (OpenBLAS's generic and pre-2011 cores).
    PreAvx,
    Avx,
    /// AVX2 and FMA.
    Avx2,
    /// AVX-512 F, CD, BW, DQ and VL.
    Avx512,
    /// The above and AVX-512 BF16.
    Avx512Bf16,
}

/// The level of OpenBLAS core `name` (its `openblas_get_corename`, any case); None for a name
/// this table does not know (left alone).
pub fn core_level(name: &str) -> Option<IsaLevel> {
    const PRE_AVX: [&str; 19] = [
        "unknown",
        "katmai",
        "coppermine",
        "northwood",
        "prescott",
        "banias",
        "atom",
        "core2",
        "penryn",
        "dunnington",
        "nehalem",
        "athlon",
        "opteron",
        "opteron_sse3",
        "barcelona",
        "bobcat",
        "nano",
        "generic",
        "sse3",
    ];
    let name = name.trim().to_ascii_lowercase();
    Some(match name.as_str() {
        n if PRE_AVX.contains(&n) => IsaLevel::PreAvx,
        "sandybridge" | "bulldozer" | "piledriver" => IsaLevel::Avx,
        "haswell" | "zen" | "steamroller" | "excavator" => IsaLevel::Avx2,
        "skylakex" => IsaLevel::Avx512,
        "cooperlake" | "sapphirerapids" => IsaLevel::Avx512Bf16,
        _ => return None,
    })
}

/// The OpenBLAS core whose kernels need at most `level`.
pub fn core_for(level: IsaLevel) -> Option<&'static str> {
    match level {
        IsaLevel::PreAvx => None,
        IsaLevel::Avx => Some("Sandybridge"),
        IsaLevel::Avx2 => Some("Haswell"),
        IsaLevel::Avx512 => Some("SkylakeX"),
        IsaLevel::Avx512Bf16 => Some("Cooperlake"),
    }
}

/// The core to load instead of `detected` on a CPU of `cpu` level, or None to keep it: only a
/// pre-AVX fallback on a CPU with AVX is replaced, and never when the user set
/// `OPENBLAS_CORETYPE` (`forced`).
pub fn refit(detected: &str, cpu: IsaLevel, forced: bool) -> Option<&'static str> {
    if forced || core_level(detected) != Some(IsaLevel::PreAvx) {
        return None;
    }
    core_for(cpu)
}

/// This CPU's level (as the OS enables it).
pub fn cpu_level() -> IsaLevel {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let avx512 = has!("avx512f")
            && has!("avx512cd")
            && has!("avx512bw")
            && has!("avx512dq")
            && has!("avx512vl");
        if avx512 && has!("avx512bf16") {
            IsaLevel::Avx512Bf16
        } else if avx512 {
            IsaLevel::Avx512
        } else if has!("avx2") && has!("fma") {
            IsaLevel::Avx2
        } else if has!("avx") {
            IsaLevel::Avx
        } else {
            IsaLevel::PreAvx
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    IsaLevel::PreAvx
}

fn corename() -> String {
    // SAFETY: plain getter of the linked OpenBLAS; the name is a static string.
    unsafe { CStr::from_ptr(openblas_get_corename()) }
        .to_string_lossy()
        .trim()
        .to_string()
}

static CORE: OnceLock<BlasCore> = OnceLock::new();

/// Set by [`fit_blas_core`]'s restart to `<detected>:<core>`, beside `OPENBLAS_CORETYPE=<core>`
/// (children inherit both and keep lab's choice without another exec).
const RESTART_VAR: &str = "LAB_OPENBLAS_RESTART";

/// Replace OpenBLAS's generic fallback kernels by those of the best core this CPU supports (see
/// the module doc); idempotent. OpenBLAS fixes its kernel table when it loads, before `main`,
/// so the fix is to start the process again (same pid, arguments and environment) with
/// `OPENBLAS_CORETYPE` set: call this first thing in a process, before any other thread starts
/// and before any side effect. `lab`'s `main` and the test and bench binaries do. If the exec
/// fails, the process goes on with the kernels it has, and `meta.json` says which.
pub fn fit_blas_core() -> &'static BlasCore {
    CORE.get_or_init(|| {
        if let Some(detected) = restarted_from() {
            return BlasCore {
                detected,
                active: corename(),
                chosen_by: CoreChooser::Lab,
            };
        }
        let loaded = unfitted();
        let forced = loaded.chosen_by == CoreChooser::Environment;
        if let Some(core) = refit(&loaded.detected, cpu_level(), forced) {
            restart_with_core(core, &loaded.detected);
        }
        loaded
    })
}

/// The core OpenBLAS detected before [`restart_with_core`], if this process is such a restart:
/// `LAB_OPENBLAS_RESTART` is `<detected>:<core>` and `OPENBLAS_CORETYPE` still names `<core>`.
fn restarted_from() -> Option<String> {
    let marker = std::env::var(RESTART_VAR).ok()?;
    let (detected, core) = marker.split_once(':')?;
    let forced = std::env::var(CORETYPE_VAR).ok()?;
    (forced == core).then(|| detected.to_string())
}

/// exec this program again with `OPENBLAS_CORETYPE=core`; returns only if that fails.
fn restart_with_core(core: &str, detected: &str) {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let Some(argv0) = args.next() else {
        return;
    };
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(argv0)
        .args(args)
        .env(CORETYPE_VAR, core)
        .env(RESTART_VAR, format!("{detected}:{core}"))
        .exec();
    eprintln!("warning: OpenBLAS runs its generic {detected} kernels: restarting with {CORETYPE_VAR}={core} failed: {err}");
}

/// The core as OpenBLAS loaded it, for a process that never called [`fit_blas_core`].
fn unfitted() -> BlasCore {
    let active = corename();
    BlasCore {
        detected: active.clone(),
        active,
        chosen_by: if std::env::var_os(CORETYPE_VAR).is_some() {
            CoreChooser::Environment
        } else {
            CoreChooser::Openblas
        },
    }
}

/// Which library answers `dgemm_`, `dpotrf_` and `dsyevd_` in this process. It is an error for
/// them to resolve to different libraries, or to one that is not OpenBLAS (libtorch carries
/// MKL, which would answer if it came first in the symbol search order).
pub fn blas() -> anyhow::Result<Blas> {
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
        let cfg = CStr::from_ptr(openblas_get_config());
        (
            openblas_get_num_threads(),
            cfg.to_string_lossy().trim().to_string(),
        )
    };
    Ok(Blas {
        library,
        threads: threads.max(0) as usize,
        config,
        core: CORE.get().cloned().unwrap_or_else(unfitted),
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
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    let path = std::path::Path::new(name.to_str().ok()?);
    Some(
        std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
    )
}
