//! The input files a study's cells name (a matrix file, a corpus, data files), fingerprinted
//! by sha256 in study.json when the study is planned, so that `--resume` refuses to run the
//! remaining cells on a file edited since: the finished runs and the resumed ones would else
//! have used different data without a word. Any string of a cell's config that names an
//! existing regular file counts (the config types name their files under many keys); folders
//! (MNIST's, CIFAR's, a run folder a config continues from) are not fingerprinted.
use crate::error::usage;
use crate::results::record::{Cell, InputFile};
use anyhow::Result;
use serde_yaml_ng::Value;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// The files the cells' configs (`configs[i]` is `cells[i]`'s YAML) name, each with its
/// sha256, the keys that name it and the cells whose configs do, in first-named order. A file
/// that cannot be read is left out (the cell's own input check or its run says why).
pub fn fingerprint(cells: &[Cell], configs: &[String]) -> Vec<InputFile> {
    let mut out: Vec<InputFile> = Vec::new();
    for (cell, yaml) in cells.iter().zip(configs) {
        let Ok(value) = serde_yaml_ng::from_str::<Value>(yaml) else {
            continue;
        };
        let mut named = Vec::new();
        file_strings(&value, "", &mut named);
        for (key, path) in named {
            if let Some(known) = out.iter_mut().find(|f| f.path == path) {
                push_new(&mut known.keys, key);
                push_new(&mut known.cells, cell.name.clone());
                continue;
            }
            if let Some(sha256) = sha256_of(Path::new(&path)) {
                out.push(InputFile {
                    path,
                    sha256,
                    keys: vec![key],
                    cells: vec![cell.name.clone()],
                });
            }
        }
    }
    out
}

/// A usage error naming each file of `old` (study.json's) whose contents differ from `now`'s
/// (or that no longer reads) and the cells that use it, unless every such cell is `finished`
/// (nothing would run on the new contents). A study recorded before inputs were fingerprinted
/// has none, and resumes unchecked.
pub fn check_unchanged(
    dir: &Path,
    old: &[InputFile],
    now: &[InputFile],
    finished: impl Fn(&str) -> bool,
) -> Result<()> {
    let changed: Vec<String> = old
        .iter()
        .filter(|was| !was.cells.iter().all(|c| finished(c)))
        .filter_map(|was| {
            let is = now.iter().find(|f| f.path == was.path);
            let what = match is {
                Some(is) if is.sha256 == was.sha256 => return None,
                Some(is) => format!(
                    "its sha256 was {} when the study started and is {} now",
                    short(&was.sha256),
                    short(&is.sha256)
                ),
                None => "it cannot be read now".to_string(),
            };
            Some(format!(
                "{} (`{}` of cell{} {}): {what}",
                was.path,
                was.keys.join("`, `"),
                if was.cells.len() == 1 { "" } else { "s" },
                was.cells.join(", ")
            ))
        })
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(usage(format!(
        "--resume: an input file of the study in {} changed since it started, so its remaining \
         runs would use other data than its finished ones: {}; restore the file to finish the \
         study, or use --force to start over (or another --name)",
        dir.display(),
        changed.join("; ")
    )))
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

fn push_new(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// (key path, text) of every string below `v` that names an existing regular file; a kind
/// or preset tag is a name, not a file, even where a file of that name lies about.
fn file_strings(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => {
            let tag = at
                .rsplit('.')
                .next()
                .is_some_and(|k| k == "kind" || k == "preset");
            if !tag && !s.is_empty() && Path::new(s).is_file() {
                out.push((at.to_string(), s.clone()));
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                file_strings(item, &format!("{at}[{i}]"), out);
            }
        }
        Value::Mapping(m) => {
            for (k, v) in m {
                if let Some(k) = k.as_str() {
                    file_strings(v, &crate::config::join(at, k), out);
                }
            }
        }
        Value::Tagged(t) => file_strings(&t.value, at, out),
        _ => {}
    }
}

/// The sha256 of the file at `path` as hex, read in pieces (a corpus may be large); `None`
/// if it cannot be read.
fn sha256_of(path: &Path) -> Option<String> {
    let mut file = crate::input::open_result(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(format!("{:x}", hasher.finalize()))
}
