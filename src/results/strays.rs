//! Run folders inside a study folder that its record does not plan (a run copied or moved in
//! by hand, a study made inside another): `report`, `plot` and `compare` read a study's cells
//! from study.json only, so such a run was left out without a word. It is still left out (its
//! cell and seed would be guesses, and one extra seed in a cell changes that cell's statistics),
//! but a note names it and says how to report it.
use super::record::StudyRecord;
use std::path::{Path, PathBuf};

/// How far below the study folder runs are looked for (its own are 2 levels down).
const DEPTH: usize = 4;
/// How many such runs a note names before it only counts the rest.
const SHOWN: usize = 3;

/// A note naming the runs below `root` that `record` does not plan, if there are any. The
/// earlier attempts a resumed study set aside (`<cell>/seed-<k>.replaced-<time>`) are not
/// named: the study said where they went when it moved them.
pub fn note(root: &Path, record: &StudyRecord) -> Option<String> {
    let mut found = Vec::new();
    walk(root, root, record, 0, &mut found);
    found.sort();
    let first = found.first()?;
    let more = match found.len() {
        1 => String::new(),
        n if n <= SHOWN => format!(" (and {})", shown(&found[1..])),
        n => format!(" (and {}, and {} more)", shown(&found[1..SHOWN]), n - SHOWN),
    };
    let (is, it) = match found.len() {
        1 => ("is a lab run", "it is"),
        _ => ("are lab runs", "they are"),
    };
    Some(format!(
        "{}{more} {is} inside this study but not among the runs study.json plans \
         (<cell>/seed-<k> for its cells and seeds), so {it} left out of these results; \
         report one on its own with `lab report {}`, or run it as part of a study",
        first.display(),
        first.display()
    ))
}

fn shown(runs: &[PathBuf]) -> String {
    let names: Vec<String> = runs.iter().map(|r| r.display().to_string()).collect();
    names.join(", ")
}

/// Run folders below `dir` that are neither planned nor set-aside attempts, into `out`.
/// Folders that cannot be read are passed over (the note is a courtesy, not a check).
fn walk(root: &Path, dir: &Path, record: &StudyRecord, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        if planned(rel, record) {
            continue;
        }
        if path.join("meta.json").exists() {
            if !set_aside(rel, record) {
                out.push(path);
            }
        } else if depth + 1 < DEPTH {
            walk(root, &path, record, depth + 1, out);
        }
    }
}

/// Whether `rel` (relative to the study folder) is one of the record's run folders.
fn planned(rel: &Path, record: &StudyRecord) -> bool {
    record.cells.iter().any(|cell| {
        (record.seeds.iter()).any(|&seed| rel == StudyRecord::run_dir(&cell.name, seed))
    })
}

/// Whether `rel` is `<cell>/seed-<k>.replaced-...`: an attempt a resume moved aside.
fn set_aside(rel: &Path, record: &StudyRecord) -> bool {
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return false;
    };
    let name = name.to_string_lossy();
    record.cells.iter().any(|c| parent == Path::new(&c.name))
        && (record.seeds.iter()).any(|s| name.starts_with(&format!("seed-{s}.replaced-")))
}
