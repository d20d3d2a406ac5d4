//! `.npy` files checked against their own header before they are parsed. ndarray-npy allocates
//! the shape the header declares before it reads the data, so a small file whose header says
//! (1000000, 1000000) aborted the process on a failed 8 TB allocation (exit 134, the run
//! directory left behind). [`read`] compares the declared shape and element size with the bytes
//! that follow the header and refuses a file that holds less (exit 2, naming it).
use crate::error::usage;
use anyhow::Result;
use std::path::Path;

/// The refusal of a `.npy` whose contents ndarray-npy cannot read as `what` (another dtype
/// such as float32 or int64, another number of dimensions), with the line that converts it.
pub fn not_readable(path: &Path, what: &str, e: impl std::fmt::Display) -> anyhow::Error {
    usage(format!(
        "{}: not {what}: {e}; in numpy, `np.save(path, np.asarray(x, dtype=np.float64))` writes \
         one (a float32 or integer array is not converted silently)",
        path.display()
    ))
}

/// The bytes of the `.npy` file `path` (`what` names it in messages; a read error is worded
/// `path: error`), refused when its header declares more data than the file holds.
pub fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    let bytes = crate::input::read(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    check(path, what, &bytes)?;
    Ok(bytes)
}

/// An error when the header of `bytes` (the file `path`) declares more data than follows it.
pub fn check(path: &Path, what: &str, bytes: &[u8]) -> Result<()> {
    let p = path.display();
    if let Some(h) = header(bytes) {
        let have = bytes.len().saturating_sub(h.data_start);
        let shape = h
            .shape
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let need = h
            .shape
            .iter()
            .try_fold(h.item, |acc, &d| acc.checked_mul(d));
        let declared = match need {
            Some(need) if need <= have => return Ok(()),
            Some(need) => format!("{need} bytes of data"),
            None => "more bytes than any file can hold".to_string(),
        };
        return Err(usage(format!(
            "{p}: not {what}: its header declares shape ({shape}) of {}-byte values, {declared}, \
             but the file holds {have} after the header (truncated, or a wrong header)",
            h.item
        )));
    }
    Ok(())
}

/// What [`read`] needs from a header.
struct Header {
    shape: Vec<usize>,
    /// Bytes per element, from the dtype descriptor ('<f8': 8).
    item: usize,
    /// Offset of the first data byte.
    data_start: usize,
}

/// The header of a version 1–3 `.npy`; None when it does not parse, which leaves the error
/// to ndarray-npy (a bad magic string, a missing key, ...).
fn header(bytes: &[u8]) -> Option<Header> {
    if bytes.get(..6)? != b"\x93NUMPY" {
        return None;
    }
    let (len, start): (usize, usize) = match *bytes.get(6)? {
        1 => (
            u16::from_le_bytes(bytes.get(8..10)?.try_into().ok()?) as usize,
            10,
        ),
        2 | 3 => (
            u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?) as usize,
            12,
        ),
        _ => return None,
    };
    let end = start.checked_add(len)?;
    let text = std::str::from_utf8(bytes.get(start..end)?).ok()?;
    let descr = quoted_after(text, "'descr'")?;
    let item = descr
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    let rest = &text[text.find("'shape'")?..];
    let inner = &rest[rest.find('(')? + 1..rest.find(')')?];
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<Vec<usize>>>()?;
    Some(Header {
        shape,
        item,
        data_start: end,
    })
}

/// The quoted string value that follows `key` (and its colon) in a header dict.
fn quoted_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let rest = &text[text.find(key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let quote = rest.chars().next().filter(|&c| c == '\'' || c == '"')?;
    let body = &rest[1..];
    Some(&body[..body.find(quote)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn header_gives_shape_item_size_and_data_offset() {
        let bytes = npy("<f8", "(2, 3)", &[0; 48]);
        let h = header(&bytes).expect("parses");
        let start = bytes.len() - 48;
        assert_eq!((h.shape, h.item, h.data_start), (vec![2, 3], 8, start));
        assert_eq!(start % 64, 0, "the header is padded to 64 bytes");
        let h = header(&npy("|b1", "(5,)", &[0; 5])).expect("parses");
        assert_eq!((h.shape, h.item), (vec![5], 1));
        assert!(header(b"not an npy file").is_none());
    }

    #[test]
    fn a_file_declaring_more_than_it_holds_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let cases = [
            ("ok.npy", npy("<f8", "(2, 2)", &[0; 32]), None),
            (
                "short.npy",
                npy("<f8", "(2, 2)", &[0; 24]),
                Some("32 bytes of data"),
            ),
            (
                "huge.npy",
                npy("<i8", "(1000000000000, 2)", &[0; 16]),
                Some("16000000000000 bytes"),
            ),
            (
                "overflow.npy",
                npy("<f8", "(4294967296, 4294967296, 2)", &[]),
                Some("more bytes than any file can hold"),
            ),
        ];
        for (name, bytes, want) in cases {
            let path = tmp.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            match (read(&path, "a test array"), want) {
                (Ok(read), None) => assert_eq!(read, bytes),
                (Err(e), Some(want)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(want) && msg.contains(name), "{msg}");
                }
                (got, _) => panic!("{name}: unexpected {got:?}"),
            }
        }
    }
}
