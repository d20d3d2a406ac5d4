//! Build script: refuse to build without the project's libtorch, embed an rpath to it so `lab`
//! runs with no environment variables, and record the git commit for `meta.json`.
use std::path::PathBuf;
use std::process::Command;

const HELP: &str = "lab needs libtorch from PyTorch 2.13.0. Run `make build` (or `make test`): it installs \
torch==2.13.0 into a venv (default ~/.cache/lab/venv) and builds with LIBTORCH_USE_PYTORCH=1 and that venv active.";

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=VIRTUAL_ENV");
    println!("cargo:rerun-if-changed=build.rs");
    let lib_dir = match torch_lib_dir() {
        Ok(dir) => dir,
        Err(why) => {
            eprintln!("error: {why}\n{HELP}");
            println!("cargo:warning={why}. {HELP}");
            std::process::exit(1);
        }
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    // Keep libtorch_cuda linked even though no symbol of it is referenced directly; without it
    // libtorch never registers its CUDA backend and `--device cuda` would see no GPU.
    if lib_dir.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{}", lib_dir.display());
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
    println!("cargo:rustc-env=LAB_GIT_COMMIT={}", git_commit());
    if let Some(head) = git_head_path() {
        println!("cargo:rerun-if-changed={}", head.display());
    }
}

/// Where libtorch's shared libraries are: `$LIBTORCH/lib`, or torch/lib of the active venv's python.
fn torch_lib_dir() -> Result<PathBuf, String> {
    if let Ok(root) = std::env::var("LIBTORCH") {
        return Ok(PathBuf::from(root).join("lib"));
    }
    if std::env::var("LIBTORCH_USE_PYTORCH").is_err() {
        return Err("neither LIBTORCH_USE_PYTORCH nor LIBTORCH is set".into());
    }
    let python = if std::env::var_os("VIRTUAL_ENV").is_some() {
        "python"
    } else {
        "python3"
    };
    let script = "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))";
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
    if !dir.join("libtorch.so").exists() && !dir.join("libtorch_cpu.so").exists() {
        return Err(format!("no libtorch shared library in {}", dir.display()));
    }
    Ok(dir)
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
