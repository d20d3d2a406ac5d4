//! The `fortunes` corpus: the plain-text files of Debian's `fortunes` package.
//!
//! Files: the regular files directly in the directory, skipping symbolic links (the package's
//! `.u8` names are links to the plain files), `.dat` index files (binary, made by `strfile`)
//! and `.u8` names, sorted by file name (byte order). Join: the files' texts one after another,
//! each followed by a `\n` if it does not already end in one; nothing else is added or removed
//! (the `%` lines that separate fortunes stay).
use super::corpus::read_text;
use crate::error::usage;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Where Debian installs the files.
pub const DEFAULT_DIR: &str = "/usr/share/games/fortunes";
/// The Debian package that provides them.
pub const PACKAGE: &str = "fortunes";

/// The files that make up the corpus, in join order.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let missing = || {
        usage(format!(
            "fortunes directory {} not found or empty: install Debian's `{PACKAGE}` package \
             (`apt-get install {PACKAGE}`, or `make data-kjv`, which installs it)",
            dir.display()
        ))
    };
    let entries = std::fs::read_dir(dir).map_err(|_| missing())?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if kind.is_file() && !name.ends_with(".dat") && !name.ends_with(".u8") {
            out.push(entry.path());
        }
    }
    if out.is_empty() {
        return Err(missing());
    }
    out.sort();
    Ok(out)
}

/// The joined text (module doc).
pub fn load(dir: &Path) -> Result<String> {
    let mut text = String::new();
    for path in files(dir)? {
        text.push_str(&read_text(&path, None)?);
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_plain_files_in_name_order_and_skips_indexes_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("b"), "second\n%\n").unwrap();
        std::fs::write(p.join("a"), "first").unwrap();
        std::fs::write(p.join("a.dat"), [0u8, 159, 146, 150]).unwrap();
        std::os::unix::fs::symlink(p.join("a"), p.join("a.u8")).unwrap();
        std::os::unix::fs::symlink(p.join("b"), p.join("c-link")).unwrap();
        std::fs::create_dir(p.join("off")).unwrap();
        assert_eq!(load(p).unwrap(), "first\nsecond\n%\n");
    }

    #[test]
    fn a_missing_directory_names_it_and_the_package() {
        let err = load(Path::new("/nonexistent/fortunes")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/fortunes"), "{msg}");
        assert!(msg.contains("apt-get install fortunes"), "{msg}");
        assert!(err.downcast_ref::<crate::error::UsageError>().is_some());
    }
}
