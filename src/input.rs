//! Reading a file the user named (a config, a matrix, a corpus, a samples or traces file):
//! drop-in replacements for `std::fs::read` and `read_to_string` that first refuse what is
//! neither a regular file nor a folder. A FIFO would block the read forever and a device such
//! as /dev/zero never end it (filling memory); a folder keeps the system's own "Is a
//! directory" error, as before. The error is an `io::Error`, so each caller words it with the
//! key or file it names, as it does for a missing file.
use std::io;
use std::path::Path;

/// An error unless `path` is a regular file or a folder (symbolic links followed).
pub fn check(path: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() || meta.is_dir() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file (a FIFO, a socket or a device)",
    ))
}

/// [`std::fs::read`] of a regular file (see [`check`]).
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    check(path)?;
    std::fs::read(path)
}

/// [`std::fs::read_to_string`] of a regular file (see [`check`]).
pub fn read_to_string(path: &Path) -> io::Result<String> {
    check(path)?;
    std::fs::read_to_string(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_refused_files_read_and_folders_keep_their_error() {
        let err = read(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a.txt");
        std::fs::write(&file, "text").unwrap();
        assert_eq!(read_to_string(&file).unwrap(), "text");
        let folder = read(tmp.path()).unwrap_err();
        assert_ne!(folder.kind(), io::ErrorKind::InvalidInput, "{folder}");
        let missing = read(&tmp.path().join("none")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
