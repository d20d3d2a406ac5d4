//! Where a plot goes: a folder that can hold it.
use crate::error::usage;
use anyhow::{Context, Result};
use std::path::Path;

/// Create the folder `path` goes in. A file where a folder has to be (`-o notes.txt/fig.png`,
/// a file named `plots` in a run) is a usage error naming it.
pub fn make_parent(path: &Path) -> Result<()> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let blocker = parent
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .find(|a| a.exists() && !a.is_dir());
    if let Some(file) = blocker {
        return Err(usage(format!(
            "cannot write {}: {} is a file, not a directory",
            path.display(),
            file.display()
        )));
    }
    std::fs::create_dir_all(parent).with_context(|| {
        format!(
            "creating directory {} for {}",
            parent.display(),
            path.display()
        )
    })
}
