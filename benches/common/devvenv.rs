//! The dev venv's python, where benches time their Python peers (`$LAB_DEVVENV`, default
//! ~/.cache/lab/devvenv); `None` when it is not there (the peer's line is then skipped).
use std::path::PathBuf;

pub fn devvenv_python() -> Option<PathBuf> {
    let root = std::env::var_os("LAB_DEVVENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lab/devvenv"))
        })?;
    let py = root.join("bin/python");
    py.exists().then_some(py)
}
