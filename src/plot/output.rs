//! Where a plot goes: a folder that can hold it, and a `-o FILE` that does not replace the
//! user's own file unless `--force`, which moves it aside instead of deleting it.
use crate::error::usage;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

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

/// With `--force`, keep the old `-o FILE` as `FILE.replaced-<time>` (a hard link, or a copy
/// where links are not possible) while it stays in place, so that a plot that then fails to
/// be written leaves the old file where it was. Returns the kept name ([`settle_aside`] says
/// where it went or takes it back).
pub fn keep_aside(file: &Path) -> Result<Option<PathBuf>> {
    if std::fs::symlink_metadata(file).is_err() {
        return Ok(None);
    }
    let aside = crate::run::aside_name(file);
    std::fs::hard_link(file, &aside)
        .or_else(|_| std::fs::copy(file, &aside).map(|_| ()))
        .with_context(|| format!("keeping the old {} as {}", file.display(), aside.display()))?;
    Ok(Some(aside))
}

/// After the plot was written in place of `file` (`written`), say where the old one is; if it
/// was not, the old file is still at `file`, so its kept copy goes.
pub fn settle_aside(file: &Path, aside: Option<PathBuf>, written: bool) {
    let Some(aside) = aside else { return };
    if written {
        eprintln!(
            "--force: the old {} is now {}",
            file.display(),
            aside.display()
        );
    } else {
        let _ = std::fs::remove_file(&aside);
    }
}
