//! Rows a resumed run carries over from the run it continues: the old CSV's rows up to the
//! checkpoint, copied into the new run's CSV before it writes its own. The old file must have
//! this build's columns, and a numbered file (one row per step, epoch or iteration) must hold
//! exactly the rows 1, 2, …, last before the checkpoint: a missing or repeated row would
//! leave a gap the continued run cannot fill, so it is refused (exit 2) naming the file.
use super::Metrics;
use crate::error::usage;
use anyhow::Result;
use std::path::Path;

/// Which rows of the old file to keep.
#[derive(Clone, Copy, Debug)]
pub enum Upto {
    /// Rows numbered 1..=last in `column`, each exactly once and in order; later rows dropped.
    Numbered(u64),
    /// Rows whose `column` is at most this value (any count, e.g. episodes by env step).
    AtMost(f64),
}

/// Copy the rows of `path` that `upto` keeps into `out` (module doc); errors name the
/// `resume_from` key and the file.
pub fn carry_rows(path: &Path, column: &str, upto: Upto, out: &mut Metrics) -> Result<()> {
    carry_rows_blanking(path, column, upto, None, out)
}

/// [`carry_rows`], with the cells of the columns `blank.1` emptied in the row whose `column`
/// is `blank.0` (a value the continued run would not have written there).
pub fn carry_rows_blanking(
    path: &Path,
    column: &str,
    upto: Upto,
    blank: Option<(u64, &[&str])>,
    out: &mut Metrics,
) -> Result<()> {
    let name = path.display();
    let bad = |what: String| usage(format!("resume_from: {name}: {what}"));
    let file = crate::input::open_result(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let mut reader = csv::Reader::from_reader(file);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(format!("cannot read the header: {e}")))?
        .iter()
        .map(String::from)
        .collect();
    if header != out.new_row().columns() {
        return Err(bad(
            "has other columns than this build writes; cannot continue it".into(),
        ));
    }
    let at = header
        .iter()
        .position(|h| h == column)
        .ok_or_else(|| bad(format!("has no `{column}` column")))?;
    let mut next = 1u64;
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| bad(format!("line {line}: {e}")))?;
        let cell = row.get(at).unwrap_or("");
        // A non-finite value would fail every `<=` and drop its row without a word.
        let value: f64 = cell
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| bad(format!("line {line}: `{column}` is `{cell}`, not a number")))?;
        let keep = match upto {
            Upto::AtMost(max) => value <= max,
            Upto::Numbered(last) if value <= last as f64 => {
                if value != next as f64 {
                    return Err(bad(format!(
                        "line {line}: `{column}` is {cell} where {next} was due; the rows up \
                         to the checkpoint ({column} {last}) must all be there, once each"
                    )));
                }
                next += 1;
                true
            }
            Upto::Numbered(_) => false,
        };
        if keep {
            let mut cells: Vec<String> = row.iter().map(String::from).collect();
            // The reader refuses a row of another length than the header's.
            if let Some((_, columns)) = blank.filter(|(at, _)| *at as f64 == value) {
                for (cell, h) in cells.iter_mut().zip(&header) {
                    if columns.contains(&h.as_str()) {
                        cell.clear();
                    }
                }
            }
            out.carried(&cells)?;
        }
    }
    if let Upto::Numbered(last) = upto {
        if next <= last {
            return Err(bad(format!(
                "ends at `{column}` {} but the checkpoint is at {last}; the rows up to it must \
                 all be there to continue the run",
                next - 1
            )));
        }
    }
    Ok(())
}
