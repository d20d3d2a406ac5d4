//! Build script: locate the project's libtorch, build tch's C++ wrapper so that libtorch is loaded
//! only by runs that use tensors, give the binary an rpath to the MuJoCo wheel, and record the git
//! commit for `meta.json`.
//!
//! # Lazy libtorch (x86-64 Linux)
//! `.cargo/config.toml` replaces torch-sys's build script (which would link libtorch, and with it
//! the CUDA libraries, into every process). Here the same wrapper sources (`libtch/*.cpp` of the
//! torch-sys crate) are compiled once and linked twice:
//! - `liblabtch.so`, linked against libtorch_cpu and libc10: embedded in the binary and opened by
//!   `lab::torch::load` (RTLD_GLOBAL) when a run first needs tensors; libtorch_cuda is opened only
//!   when a CUDA device is asked for.
//! - a link-time stand-in with the same symbols whose SONAME is `libanl.so.1`, a tiny library of
//!   glibc itself: the linker gives each wrapper function a lazily bound PLT slot and
//!   records no dependency on libtorch. `-z lazy` keeps those slots unresolved until first call,
//!   which happens only after `load` made the symbols visible.
use std::path::{Path, PathBuf};
use std::process::Command;

const HELP: &str = "lab needs libtorch from PyTorch 2.13.0. Run `make build` (or `make test`): it installs \
torch==2.13.0 into a venv (default ~/.cache/lab/venv) and builds with LIBTORCH_USE_PYTORCH=1 and that venv active.";
/// The torch-sys release whose wrapper sources are compiled (must match Cargo.lock).
const TORCH_SYS: &str = "torch-sys-0.26.0";
/// The name the stand-in records as the binary's dependency: a tiny library of glibc itself
/// (present wherever glibc is) that nothing else links, so linkers keep the stand-in's symbols
/// (they skip a second library with a SONAME already seen, such as libgcc_s's).
const HOST_SONAME: &str = "libanl.so.1";

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=VIRTUAL_ENV");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(lazy_torch)");
    let torch = match torch_dir() {
        Ok(dir) => dir,
        Err(why) => fail(&why),
    };
    let lib_dir = torch.join("lib");
    println!("cargo:rustc-env=LAB_TORCH_LIB_DIR={}", lib_dir.display());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    let target = std::env::var("TARGET").unwrap_or_default();
    if target == "x86_64-unknown-linux-gnu" {
        let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
        if !flags
            .split('\x1f')
            .any(|f| f.ends_with("relro-level=partial"))
        {
            fail(
                "lab must be compiled with `-C relro-level=partial` (set in .cargo/config.toml; \
                 a RUSTFLAGS variable replaces it: add the flag there)",
            );
        }
        match build_wrapper(&torch) {
            Ok(()) => println!("cargo:rustc-cfg=lazy_torch"),
            Err(why) => fail(&why),
        }
    }
    match mujoco_lib_dir() {
        Ok(dir) => println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display()),
        Err(why) => fail_mujoco(&why),
    }
    println!("cargo:rustc-env=LAB_GIT_COMMIT={}", git_commit());
    if let Some(head) = git_head_path() {
        println!("cargo:rerun-if-changed={}", head.display());
    }
}

fn fail(why: &str) -> ! {
    eprintln!("error: {why}\n{HELP}");
    println!("cargo:warning={why}. {HELP}");
    std::process::exit(1);
}

const MUJOCO_HELP: &str = "lab links MuJoCo 3.17.0 from the PyPI wheel `mujoco==3.17.0`. Run \
`make build` (or `make mujoco`): it installs the wheel into the venv and makes \
data/generated/mujoco/lib/libmujoco.so, the directory MUJOCO_DYNAMIC_LINK_DIR names.";

fn fail_mujoco(why: &str) -> ! {
    eprintln!("error: {why}\n{MUJOCO_HELP}");
    println!("cargo:warning={why}. {MUJOCO_HELP}");
    std::process::exit(1);
}

/// The wheel's `mujoco/` directory: where `$MUJOCO_DYNAMIC_LINK_DIR/libmujoco.so` points. The
/// binary records the wheel's SONAME (`libmujoco.so.3.17.0`) and finds it through this rpath.
fn mujoco_lib_dir() -> Result<PathBuf, String> {
    println!("cargo:rerun-if-env-changed=MUJOCO_DYNAMIC_LINK_DIR");
    let dir = std::env::var("MUJOCO_DYNAMIC_LINK_DIR")
        .map_err(|_| "MUJOCO_DYNAMIC_LINK_DIR is not set".to_string())?;
    let link = Path::new(&dir).join("libmujoco.so");
    let real = std::fs::canonicalize(&link)
        .map_err(|e| format!("cannot resolve {}: {e}", link.display()))?;
    println!("cargo:rerun-if-changed={}", link.display());
    real.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} has no parent directory", real.display()))
}

/// The torch package directory: `$LIBTORCH`, or that of the active venv's python.
fn torch_dir() -> Result<PathBuf, String> {
    if let Ok(root) = std::env::var("LIBTORCH") {
        return Ok(PathBuf::from(root));
    }
    if std::env::var("LIBTORCH_USE_PYTORCH").is_err() {
        return Err("neither LIBTORCH_USE_PYTORCH nor LIBTORCH is set".into());
    }
    let python = if std::env::var_os("VIRTUAL_ENV").is_some() {
        "python"
    } else {
        "python3"
    };
    let script = "import os, torch; print(os.path.dirname(torch.__file__))";
    let out = Command::new(python)
        .args(["-c", script])
        .output()
        .map_err(|e| format!("cannot run `{python}` to locate torch: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{python}` cannot import torch (is the venv active?)"
        ));
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !dir.join("lib/libtorch_cpu.so").exists() {
        return Err(format!("no libtorch_cpu.so in {}/lib", dir.display()));
    }
    Ok(dir)
}

/// Build (once per torch install) and link the wrapper and its stand-in; see the module doc.
fn build_wrapper(torch: &Path) -> Result<(), String> {
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let real = out.join("liblabtch.so");
    let stub_dir = out.join("stub");
    let stub = stub_dir.join("liblabtch.so");
    let stamp = out.join("labtch.stamp");
    // A reinstalled torch (another version in the same venv) changes libtorch_cpu.so's size.
    let cpu_lib = torch.join("lib/libtorch_cpu.so");
    let size = std::fs::metadata(&cpu_lib).map(|m| m.len()).unwrap_or(0);
    let key = format!("{TORCH_SYS} {HOST_SONAME} {} {size}", torch.display());
    let fresh = std::fs::read_to_string(&stamp).is_ok_and(|s| s == key);
    if !(fresh && real.exists() && stub.exists()) {
        let objects = compile_wrapper(torch)?;
        let lib = torch.join("lib");
        let lib_arg = format!("-L{}", lib.display());
        let rpath = format!("-Wl,-rpath,{}", lib.display());
        link_shared(
            &objects,
            &real,
            "liblabtch.so",
            &[&lib_arg, &rpath, "-ltorch_cpu", "-lc10"],
        )?;
        std::fs::create_dir_all(&stub_dir).map_err(|e| e.to_string())?;
        link_shared(&objects, &stub, HOST_SONAME, &[])?;
        std::fs::write(&stamp, key).map_err(|e| e.to_string())?;
    }
    println!("cargo:rustc-env=LAB_LIBTCH_SO={}", real.display());
    // Link against the stand-in (its symbols, no new dependency), then bind lazily: rustc's
    // default `-z now` would resolve every wrapper symbol at start-up, before `load`.
    // The stand-in's own references to libtorch stay unresolved.
    println!("cargo:rustc-link-arg=-Wl,--allow-shlib-undefined");
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg={}", stub.display());
    println!("cargo:rustc-link-arg=-Wl,--as-needed");
    println!("cargo:rustc-link-arg=-Wl,-z,lazy");
    Ok(())
}

/// Compile torch-sys's `libtch` wrapper sources (from the cargo registry) into objects.
fn compile_wrapper(torch: &Path) -> Result<Vec<PathBuf>, String> {
    let src = torch_sys_src()?.join("libtch");
    let include = torch.join("include");
    let objects = cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .files([
            src.join("torch_api.cpp"),
            src.join("torch_api_generated.cpp"),
        ])
        .try_compile_intermediates()
        .map_err(|e| format!("compiling tch's C++ wrapper: {e}"))?;
    Ok(objects)
}

fn link_shared(objects: &[PathBuf], to: &Path, soname: &str, extra: &[&str]) -> Result<(), String> {
    let compiler = cc::Build::new().cpp(true).get_compiler();
    let status = compiler
        .to_command()
        .arg("-shared")
        .arg(format!("-Wl,-soname,{soname}"))
        .args(objects)
        .args(extra)
        .arg("-o")
        .arg(to)
        .status()
        .map_err(|e| format!("running the C++ linker: {e}"))?;
    if !status.success() {
        return Err(format!("linking {} failed", to.display()));
    }
    Ok(())
}

/// The torch-sys sources cargo unpacked: `$CARGO_HOME/registry/src/<index>/torch-sys-<ver>`.
fn torch_sys_src() -> Result<PathBuf, String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let registry = home.join("registry/src");
    let entries =
        std::fs::read_dir(&registry).map_err(|e| format!("reading {}: {e}", registry.display()))?;
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(TORCH_SYS))
        .find(|p| p.join("libtch/torch_api.cpp").exists())
        .ok_or_else(|| format!("no {TORCH_SYS} sources under {}", registry.display()))
}

fn git_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn git_head_path() -> Option<PathBuf> {
    let out = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Some(dir.join("logs").join("HEAD")).filter(|p| p.exists())
}
