//! Reading a file the user named (a config, a matrix, a corpus, a samples or traces file):
//! drop-in replacements for `std::fs::read` and `read_to_string` that first refuse a device or
//! a socket. A device such as /dev/zero never ends a read (it fills memory) and one such as a
//! terminal waits for input no one gives. A FIFO is read as a stream, as the shell's process
//! substitution (`--config <(make-config)`) hands one over; a folder keeps the system's own
//! "Is a directory" error. The error is an `io::Error`, so each caller words it with the key or
//! file it names, as it does for a missing file.
use std::io;
use std::path::Path;

/// An error when `path` is a device or a socket (symbolic links followed).
pub fn check(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::metadata(path)?.file_type();
    if kind.is_char_device() || kind.is_block_device() || kind.is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a device or a socket)",
        ));
    }
    Ok(())
}

/// An error unless `path` is a regular file (symbolic links followed), for the files lab itself
/// writes into a run or study folder (`meta.json`, `metrics.csv`, `config.yaml`, ...), which
/// the reading tools open: a FIFO there would block the reader forever (a first SIGTERM only
/// asks a run to finish its row), a device such as /dev/zero would fill memory and a folder
/// would only give the system's bare "Is a directory".
pub fn check_regular(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::metadata(path)?.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a device"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({what})"),
    ))
}

/// [`std::fs::read_to_string`] of a file lab wrote in a results folder (see [`check_regular`]).
pub fn read_result(path: &Path) -> io::Result<String> {
    check_regular(path)?;
    std::fs::read_to_string(path)
}

/// [`std::fs::File::open`] of a file lab wrote in a results folder (see [`check_regular`]).
pub fn open_result(path: &Path) -> io::Result<std::fs::File> {
    check_regular(path)?;
    std::fs::File::open(path)
}

/// [`std::fs::read`], refusing a device or a socket (see [`check`]).
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    check(path)?;
    std::fs::read(path)
}

/// [`std::fs::read_to_string`], refusing a device or a socket (see [`check`]). Text that is not
/// UTF-8 is refused naming the line of the first bad byte (std's error names no place).
pub fn read_to_string(path: &Path) -> io::Result<String> {
    check(path)?;
    String::from_utf8(std::fs::read(path)?).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not valid UTF-8 text: byte 0x{:02X} on line {line}; save the file as UTF-8",
                bytes[at]
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_refused_files_and_fifos_read_and_folders_keep_their_error() {
        let err = read(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a.txt");
        std::fs::write(&file, "text").unwrap();
        assert_eq!(read_to_string(&file).unwrap(), "text");
        let fifo = tmp.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(check(&fifo).is_ok(), "a FIFO is read as a stream");
        let folder = read(tmp.path()).unwrap_err();
        assert_ne!(folder.kind(), io::ErrorKind::InvalidInput, "{folder}");
        let missing = read(&tmp.path().join("none")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn results_files_must_be_regular_files() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        for (path, what) in [
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a device"),
            (tmp.path(), "a directory"),
        ] {
            let err = read_result(path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains(what), "{err}");
        }
        let file = tmp.path().join("meta.json");
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(read_result(&file).unwrap(), "{}");
    }
}
