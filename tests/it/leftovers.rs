//! Leftovers of earlier review rounds: a run or study folder name longer than the file system
//! takes is a usage error naming it and the limit, not a raw OS error with exit 1.
use crate::common::{code, lab, stderr, text};

/// `--out` and `--name` with a 300-byte folder name exit 2 naming the name and the 255-byte
/// limit, and make no folder (before: "File name too long (os error 36)", exit 1, after
/// `--out`'s parent folders were made). A 255-byte name runs.
#[test]
fn a_run_folder_name_too_long_for_the_file_system_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let long = "a".repeat(300);
    let out = format!("x/{long}");
    for (flag, value) in [("--out", out.as_str()), ("--name", long.as_str())] {
        let args = ["decompose", "--quiet", "--set", "matrix.n=6", flag, value];
        let o = lab(dir, &args);
        assert_eq!(code(&o), 2, "{flag}: {}", text(&o));
        let err = stderr(&o);
        assert!(err.contains(&long), "{flag}: {err}");
        assert!(
            err.contains(&format!(
                "is 300 bytes, over the 255 a file name may have; pick a shorter {flag}"
            )),
            "{flag}: {err}"
        );
    }
    assert!(!dir.join("x").exists() && !dir.join("results").exists());
    let fits = "b".repeat(255);
    let o = lab(
        dir,
        &[
            "decompose",
            "--quiet",
            "--set",
            "matrix.n=6",
            "--out",
            &fits,
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
}
