//! The KJV Bible corpus: Debian's `bible-kjv` dump (`bible "Gen1:1-Rev22:21"`), normalised to one
//! verse per line so that the bytes do not depend on the terminal width the dump was wrapped to.
//!
//! Rules (applied line by line to the raw dump):
//! (a) blank lines are dropped;
//! (b) chapter headers are dropped: *unindented* lines made of a book name (optionally `1 `–`3 `
//!     first, then words of letters separated by single spaces), a space and a chapter number,
//!     such as `Genesis 1`, `1 Samuel 3` or `Song of Solomon 2`;
//! (c) an indented line starting with a number begins a new verse; its text is what follows;
//! (d) any other non-blank line continues the current verse (joined with one space);
//! (e) runs of whitespace collapse to one space (and a verse's ends are trimmed);
//! (f) one verse per line, each ending in `\n`.
use crate::error::usage;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where `lab corpus prepare kjv` writes the corpus (relative to the working directory).
pub const DEFAULT_PATH: &str = "data/generated/kjv.txt";
/// The whole Bible, as `bible` takes a range.
pub const RANGE: &str = "Gen1:1-Rev22:21";
pub const EXPECTED_SHA256: &str =
    "376f0fd8429cec6cc77659d428b2debd01f069dbfb3917776a09a36a7cfed5c4";
pub const EXPECTED_VERSES: usize = 31_102;
pub const EXPECTED_CHARS: usize = 4_137_847;
pub const EXPECTED_DISTINCT: usize = 63;

/// Normalise a raw `bible` dump (rules a–f of the module doc). Fails on text before the first
/// verse that is not a header (the dump is not what it should be).
pub fn normalise(raw: &str) -> Result<String> {
    let mut verses: Vec<String> = Vec::new();
    for (no, line) in raw.lines().enumerate() {
        if line.trim().is_empty() || is_chapter_header(line) {
            continue;
        }
        if let Some(text) = verse_start(line) {
            verses.push(text.to_string());
        } else if let Some(last) = verses.last_mut() {
            last.push(' ');
            last.push_str(line);
        } else {
            bail!(
                "line {}: text before the first verse: {:?}",
                no + 1,
                truncate(line)
            );
        }
    }
    let mut out = String::with_capacity(raw.len());
    for verse in &verses {
        let mut words = verse.split_whitespace();
        if let Some(first) = words.next() {
            out.push_str(first);
            for w in words {
                out.push(' ');
                out.push_str(w);
            }
        }
        out.push('\n');
    }
    Ok(out)
}

fn truncate(line: &str) -> String {
    line.chars().take(60).collect()
}

/// Rule (b): `[1-3 ]Word( Word)* N`, unindented.
pub fn is_chapter_header(line: &str) -> bool {
    let line = line.trim_end();
    let Some((name, number)) = line.rsplit_once(' ') else {
        return false;
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let name = match name.split_once(' ') {
        Some(("1" | "2" | "3", rest)) => rest,
        _ => name,
    };
    !name.is_empty()
        && name
            .split(' ')
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_alphabetic()))
        && name.starts_with(|c: char| c.is_uppercase())
}

/// Rule (c): the text of an indented line that starts with a verse number.
fn verse_start(line: &str) -> Option<&str> {
    if !line.starts_with(char::is_whitespace) {
        return None;
    }
    let body = line.trim_start();
    let digits = body.len() - body.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let rest = &body[digits..];
    (digits > 0 && (rest.is_empty() || rest.starts_with(char::is_whitespace))).then_some(rest)
}

/// The path the corpus is read from: `path` as given if it is absolute or exists under the
/// working directory, else the same relative path under the source tree `lab` was built from.
pub fn resolve(path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if built.exists() {
        built
    } else {
        path.to_path_buf()
    }
}

/// Read the prepared corpus and check its sha256.
pub fn load(path: &Path) -> Result<String> {
    let resolved = resolve(path);
    if !resolved.is_file() {
        return Err(usage(format!(
            "KJV corpus {} not found: produce it with `make data-kjv` \
             (or `lab corpus prepare kjv` once Debian's bible-kjv package is installed)",
            resolved.display()
        )));
    }
    super::corpus::read_text(&resolved, Some(EXPECTED_SHA256)).map_err(|e| {
        usage(format!(
            "{e}; remove it and produce it again with `make data-kjv`"
        ))
    })
}

/// Run `bible` on the whole range with an empty standard input and return its output.
pub fn dump() -> Result<String> {
    let out = Command::new("bible")
        .arg(RANGE)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            usage(format!(
                "cannot run `bible` ({e}): install Debian's bible-kjv package \
                 (`make data-kjv` does, with apt-get)"
            ))
        })?;
    if !out.status.success() {
        bail!("`bible {RANGE}` failed ({})", out.status);
    }
    String::from_utf8(out.stdout).context("`bible` printed text that is not UTF-8")
}

/// What differs between a normalised text and the expected corpus (empty when it matches).
pub fn differences(text: &str) -> Vec<String> {
    let stats = super::corpus::TextStats::of(text);
    let mut diffs = Vec::new();
    let mut check = |what: &str, got: String, want: String| {
        if got != want {
            diffs.push(format!("{what}: got {got}, expected {want}"));
        }
    };
    check(
        "verses",
        stats.lines.to_string(),
        EXPECTED_VERSES.to_string(),
    );
    check("chars", stats.chars.to_string(), EXPECTED_CHARS.to_string());
    check(
        "distinct chars",
        stats.distinct.to_string(),
        EXPECTED_DISTINCT.to_string(),
    );
    check("sha256", stats.sha256.clone(), EXPECTED_SHA256.to_string());
    diffs
}

/// `lab corpus prepare kjv`: dump, normalise, check, write atomically. Returns what was done.
/// An existing `out` is never overwritten: the prepared corpus is left as it is, anything else
/// (a user's file, a folder, another text) is a usage error.
pub fn prepare(out: &Path) -> Result<String> {
    if out.is_dir() {
        return Err(usage(format!(
            "lab corpus prepare kjv: --out {} is a directory; give the path of the file to write",
            out.display()
        )));
    }
    if out.exists() || out.is_symlink() {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        if differences(&text).is_empty() {
            return Ok(format!(
                "{}: already prepared (sha256 matches)",
                out.display()
            ));
        }
        return Err(usage(format!(
            "lab corpus prepare kjv: {} exists and is not the kjv corpus (its sha256 differs); \
             refusing to overwrite it: move it away or give another --out",
            out.display()
        )));
    }
    let text = normalise(&dump()?).context("normalising the `bible` dump")?;
    let diffs = differences(&text);
    if !diffs.is_empty() {
        bail!(
            "the normalised KJV text is not the expected corpus; {} was not written:\n  {}",
            out.display(),
            diffs.join("\n  ")
        );
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::run::write_atomic(out, text.as_bytes())?;
    Ok(format!(
        "{}: wrote {EXPECTED_VERSES} verses, {EXPECTED_CHARS} chars, sha256 {EXPECTED_SHA256}",
        out.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_unindented_book_and_number() {
        for h in [
            "Genesis 1",
            "1 Samuel 3",
            "Song of Solomon 2",
            "3 John 1",
            "Psalms 119",
        ] {
            assert!(is_chapter_header(h), "{h}");
        }
        for not in [
            "  1 Samuel 3",
            "the deep. And the Spirit 3",
            "Genesis",
            "4 Samuel x",
            "Genesis 1:2",
            "and the LORD 3",
            "Amen. 2",
        ] {
            assert!(!is_chapter_header(not), "{not}");
        }
    }

    #[test]
    fn verses_join_continuations_and_drop_headers() {
        let raw = "\nGenesis 1\n\n  1 In the beginning\n God   created\tthe heaven.\n  2 And \
                   the earth\n\n1 Samuel 3\n\n  10 Speak; for thy servant heareth.  \n";
        assert_eq!(
            normalise(raw).unwrap(),
            "In the beginning God created the heaven.\nAnd the earth\n\
             Speak; for thy servant heareth.\n"
        );
    }

    #[test]
    fn a_continuation_that_looks_like_a_number_stays_in_its_verse() {
        // Unindented and starting with a digit: not a verse start (rule c needs an indent).
        let raw = "Numbers 1\n  46 Even all they that were numbered were six hundred\n\
                   3 thousand and five hundred and fifty.\n";
        assert_eq!(
            normalise(raw).unwrap(),
            "Even all they that were numbered were six hundred 3 thousand and five hundred and \
             fifty.\n"
        );
    }

    #[test]
    fn text_before_the_first_verse_is_refused() {
        let err = normalise("Genesis 1\nstray text\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("stray text"),
            "{err}"
        );
    }

    #[test]
    fn differences_name_what_is_off() {
        let d = differences("one verse\n");
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(d[0].starts_with("verses: got 1, expected 31102"), "{d:?}");
    }
}
