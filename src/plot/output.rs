//! Where a plot goes: a folder that can hold it, and a `-o FILE` that does not replace the
//! user's own file unless `--force`, which moves it aside instead of deleting it.
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

/// Refuse `lab plot -o FILE` where FILE already exists (a directory always, anything else
/// unless `force`), before anything is drawn.
pub fn check_free(file: &Path, force: bool) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(file) else {
        return Ok(());
    };
    if meta.is_dir() {
        return Err(usage(format!(
            "lab plot -o {}: that is a directory; give a file name ending in .png or .svg",
            file.display()
        )));
    }
    if !force {
        return Err(usage(format!(
            "lab plot -o {}: the file already exists; pick another -o FILE, or --force to move \
             it aside to {0}.replaced-<time> and write the plot in its place",
            file.display()
        )));
    }
    Ok(())
}

/// With `--force`, move an existing `-o FILE` aside (never deleting it) just before the new
/// plot is written in its place, and say where it went.
pub fn set_aside(file: &Path) -> Result<()> {
    if std::fs::symlink_metadata(file).is_err() {
        return Ok(());
    }
    if let Some(aside) = crate::run::move_aside(file)? {
        eprintln!(
            "--force: the old {} is now {}",
            file.display(),
            aside.display()
        );
    }
    Ok(())
}
