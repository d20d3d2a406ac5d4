//! Runs and studies are never created inside another run's folder: `report`, `plot` and
//! `compare` take a folder with meta.json for one run and look no further into it, so a run or
//! study below one would never be listed, and `--force` over the outer run would move it away.
use super::owner::is_lab_run;
use crate::error::usage;
use anyhow::Result;
use std::path::{Component, Path, PathBuf};

/// A usage error when a folder above `dir` (the cwd's included, for a relative `dir`) is a
/// lab run (has a meta.json that lab wrote: JSON with `lab_version`; another tool's meta.json
/// in a parent folder does not count). `what` is `run` or `study`; `from_out` says whether `dir` came
/// from `--out`.
pub fn no_run_above(dir: &Path, what: &str, from_out: bool) -> Result<()> {
    let full = resolved(dir);
    let Some(run) = full.ancestors().skip(1).find(|a| is_lab_run(a)) else {
        return Ok(());
    };
    let given = if from_out { "--out " } else { "" };
    Err(usage(format!(
        "cannot create the {what} directory {given}{} inside the lab run {} (it has a \
         meta.json): report, plot and a study's --resume take that folder for one run and would \
         never see this {what}, and --force over that run would move it away; pick a folder \
         outside it",
        dir.display(),
        run.display()
    )))
}

/// `dir` as an absolute path: its deepest existing folder with links resolved, then the rest.
fn resolved(dir: &Path) -> PathBuf {
    let base = std::env::current_dir().unwrap_or_default().join(dir);
    let mut rest = Vec::new();
    let mut at = base.as_path();
    loop {
        if let Ok(real) = at.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                match part {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(p) => out.push(p),
                    _ => {}
                }
            }
            return out;
        }
        let (Some(parent), Some(last)) = (at.parent(), at.components().next_back()) else {
            return base;
        };
        rest.push(last);
        at = parent;
    }
}

/// The most bytes one file name may have (Linux's NAME_MAX, that of ext4, xfs, btrfs, tmpfs).
pub const NAME_MAX: usize = 255;

/// A usage error when a folder name in `dir` is longer than [`NAME_MAX`] bytes: creating it
/// failed with the system's bare "File name too long (os error 36)", exit 1, after the folders
/// above it were made. `what` is `run` or `study`; `from_out` says whether `dir` came from
/// `--out` (else from `--name`).
pub fn name_fits(dir: &Path, what: &str, from_out: bool) -> Result<()> {
    let long = dir.components().find_map(|c| match c {
        Component::Normal(name) if name.len() > NAME_MAX => Some(name.len()),
        _ => None,
    });
    let Some(len) = long else {
        return Ok(());
    };
    let given = if from_out { "--out" } else { "--name" };
    Err(usage(format!(
        "cannot create the {what} directory {}: a folder name in it is {len} bytes, over the \
         {NAME_MAX} a file name may have; pick a shorter {given}",
        dir.display()
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_tail_is_kept_after_the_existing_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().canonicalize().unwrap();
        let got = super::resolved(&tmp.path().join("a/b/../c"));
        assert_eq!(got, real.join("a/c"));
    }
}
