//! `report.md` and `summary.csv` are replaced by each new report, but only when a report wrote
//! them: in a run's own folder `summary.csv` may be the run's data (grng writes its §6.3 table
//! there), and a user may keep notes as `report.md`. Those are refused before anything is
//! written, never overwritten.
use crate::error::usage;
use anyhow::Result;
use std::io::BufRead;
use std::path::Path;

/// How to tell a file that a report wrote, from its first line.
type Ours = fn(&str) -> bool;

/// The files a report writes in its folder.
const OWN: [(&str, Ours); 2] = [("report.md", is_report), ("summary.csv", is_table)];

/// An error naming the first of `dir`'s report.md and summary.csv that is a regular file, not
/// empty, and was not written by `lab report`.
pub fn check(dir: &Path) -> Result<()> {
    for (name, ours) in OWN {
        let path = dir.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        // Only a file's content can be lost: a link is replaced by the new file (its target is
        // never written), and an empty file holds nothing.
        if !meta.is_file() || meta.len() == 0 {
            continue;
        }
        if first_line(&path).is_some_and(|line| ours(&line)) {
            continue;
        }
        return Err(usage(format!(
            "{}: not written by `lab report` (a run's own file, or yours), so the report will \
             not replace it; move it away, or report the folder that holds this one",
            path.display()
        )));
    }
    Ok(())
}

/// The first line of a regular file (at most 4 KiB of it), if it can be read.
fn first_line(path: &Path) -> Option<String> {
    let file = crate::input::open_result(path).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(std::io::Read::take(file, 4096))
        .read_line(&mut line)
        .ok()?;
    Some(line)
}

/// report.md's title line (markdown::header).
fn is_report(line: &str) -> bool {
    line.starts_with("# Study `") || line.starts_with("# Runs in `")
}

/// summary.csv's header (`write_csv`): cell, grid keys, then the counts and statistics.
fn is_table(line: &str) -> bool {
    let line = line.trim_end();
    line.starts_with("cell,") && line.ends_with(",metric,runs,mean,se,ci95_low,ci95_high")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_reports_own_files_are_replaceable() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert!(check(dir).is_ok(), "nothing there yet");
        std::fs::write(dir.join("report.md"), "# Runs in `x`\n\n- runs: 1\n").unwrap();
        let table = "cell,matrix.n,completed,failed,metric,runs,mean,se,ci95_low,ci95_high\n";
        std::fs::write(dir.join("summary.csv"), table).unwrap();
        assert!(check(dir).is_ok(), "a report's own files");
        std::fs::write(dir.join("summary.csv"), "run_id,optimizer,seed\n").unwrap();
        let err = check(dir).unwrap_err().to_string();
        assert!(
            err.contains("summary.csv: not written by `lab report`"),
            "{err}"
        );
        std::fs::write(dir.join("summary.csv"), "").unwrap();
        std::fs::write(dir.join("report.md"), "my notes\n").unwrap();
        let err = check(dir).unwrap_err().to_string();
        assert!(
            err.contains("report.md: not written by `lab report`"),
            "{err}"
        );
    }
}
