//! `metrics.csv` and friends: a CSV with a fixed header, one flushed row per call, rows built
//! by column name, numbers printed to round-trip, and which columns are timings.
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A CSV file with a fixed header, one flushed row per call. The step is the `iter`, `step` or
/// `env_steps` column if there is one, else the first column.
/// Timing columns are named by [`is_timing_column`] (excluded from determinism comparisons).
pub struct Metrics {
    file: File,
    path: PathBuf,
    /// Bytes of whole rows written so far (a failed row is cut back to this).
    len: u64,
    columns: Vec<String>,
    step_column: usize,
    /// Counts the rows of the run's own work written (not those a resume carried over);
    /// shared by the run's CSVs ([`crate::run::Run::fresh_rows`]).
    fresh: Arc<AtomicU64>,
}

impl Metrics {
    pub fn create(path: &Path, columns: &[&str]) -> Result<Metrics> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let step_column = ["iter", "step", "env_steps"]
            .iter()
            .find_map(|name| columns.iter().position(|c| c == name))
            .unwrap_or(0);
        let mut metrics = Metrics {
            file,
            path: path.to_path_buf(),
            len: 0,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            step_column,
            fresh: Arc::default(),
        };
        metrics.append(columns)?;
        Ok(metrics)
    }

    /// Count this file's fresh rows into `counter`.
    pub fn counting_into(mut self, counter: Arc<AtomicU64>) -> Metrics {
        self.fresh = counter;
        self
    }

    /// Write one CSV record with a single write. If it fails (a full disk), the file is cut
    /// back to its whole rows and the error names the file.
    fn append<T: AsRef<[u8]>>(&mut self, record: &[T]) -> Result<()> {
        let mut line = csv::Writer::from_writer(Vec::new());
        line.write_record(record)?;
        let bytes = line.into_inner().map_err(|e| e.into_error())?;
        if let Err(e) = self.file.write_all(&bytes) {
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            anyhow::bail!(
                "writing {}: {e} (the rows before this one are kept)",
                self.path.display()
            );
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// An empty row with this file's columns, to fill by name and pass to [`Metrics::write`].
    pub fn new_row(&self) -> Row {
        Row {
            columns: self.columns.clone(),
            cells: vec![String::new(); self.columns.len()],
        }
    }

    /// Write a row built by [`Metrics::new_row`]; see [`Metrics::cells`].
    pub fn write(&mut self, row: &Row) -> Result<()> {
        anyhow::ensure!(
            row.columns == self.columns,
            "internal: a row built for other columns"
        );
        self.cells(&row.cells)
    }

    /// Write one row of ready cells: numbers as [`fmt_num`] prints them, text, or empty. A
    /// NaN/inf number is written, then reported as an error naming the column and the step, so
    /// the run stops with every earlier row kept.
    pub fn cells(&mut self, cells: &[String]) -> Result<()> {
        self.put(cells, true)
    }

    /// [`Metrics::cells`] for a row a resume copies from the run it continues.
    pub fn carried(&mut self, cells: &[String]) -> Result<()> {
        self.put(cells, false)
    }

    fn put(&mut self, cells: &[String], fresh: bool) -> Result<()> {
        anyhow::ensure!(
            cells.len() == self.columns.len(),
            "internal: {} values for {} columns",
            cells.len(),
            self.columns.len()
        );
        self.append(cells)?;
        if fresh {
            self.fresh.fetch_add(1, Ordering::Relaxed);
        }
        let non_finite = |c: &String| matches!(c.as_str(), "NaN" | "inf" | "-inf");
        if let Some(i) = cells.iter().position(non_finite) {
            anyhow::bail!(
                "non-finite value ({}) in column `{}` at {} {}; stopping (rows so far are kept)",
                cells[i],
                self.columns[i],
                self.columns[self.step_column],
                cells[self.step_column]
            );
        }
        Ok(())
    }
}

/// One metrics row under construction, cells named by column; every cell starts empty (an
/// empty cell is a metric this row does not have). Naming an unknown column is a bug in the
/// caller and panics with the name.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Vec<String>,
    cells: Vec<String>,
}

impl Row {
    fn index(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("internal: unknown metrics column `{name}`"))
    }

    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        let i = self.index(name);
        self.cells[i] = value.to_string();
        self
    }

    pub fn num(&mut self, name: &str, value: f64) -> &mut Self {
        let i = self.index(name);
        self.cells[i] = fmt_num(value);
        self
    }

    /// A number when there is one; the cell stays empty otherwise.
    pub fn opt(&mut self, name: &str, value: Option<f64>) -> &mut Self {
        if let Some(v) = value {
            self.num(name, v);
        }
        self
    }

    /// The column names, in file order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The cell of column `name` as written (empty when unset).
    pub fn get(&self, name: &str) -> &str {
        &self.cells[self.index(name)]
    }
}

/// Timing columns (wall-clock seconds, milliseconds, rates per second) end in one of these;
/// they are the columns that differ between two runs of the same config and seed.
pub const TIMING_SUFFIXES: &[&str] = &["_s", "_ms"];

/// Whether metrics column `name` holds a wall-clock timing (see [`TIMING_SUFFIXES`]).
pub fn is_timing_column(name: &str) -> bool {
    TIMING_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Integers print without a fraction; other numbers with the fewest digits that read back to
/// the same f64, in scientific form when very small or large (`5.008e-26`, not 26 zeros).
pub fn fmt_num(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_finite() && v != 0.0 && !(1e-4..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_finite_metric_is_written_then_reported_with_its_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let mut m = Metrics::create(&path, &["algo", "iter", "loss"]).unwrap();
        m.cells(&["pg".into(), "1".into(), "".into()]).unwrap();
        let mut row = m.new_row();
        row.text("algo", "pg").num("iter", 2.0).num("loss", 0.5);
        m.write(&row).unwrap();
        row.num("iter", 3.0).num("loss", f64::NAN);
        let err = m.write(&row).unwrap_err().to_string();
        assert!(err.contains("column `loss` at iter 3"), "{err}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "algo,iter,loss\npg,1,\npg,2,0.5\npg,3,NaN\n");
        assert!(m.cells(&["1".into()]).is_err(), "row width is checked");
    }

    #[test]
    fn named_rows_fill_their_columns_and_leave_the_rest_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let mut m = Metrics::create(&path, &["algo", "iter", "loss", "wall_s"]).unwrap();
        let mut row = m.new_row();
        row.text("algo", "pg").num("iter", 4.0).opt("loss", None);
        assert_eq!(row.get("iter"), "4");
        m.write(&row).unwrap();
        let other = Metrics::create(&dir.path().join("o.csv"), &["iter"]).unwrap();
        assert!(
            m.write(&other.new_row()).is_err(),
            "rows of another file are refused"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "algo,iter,loss,wall_s\npg,4,,\n");
    }

    #[test]
    #[should_panic(expected = "unknown metrics column `los`")]
    fn a_misspelt_column_is_a_loud_bug() {
        let dir = tempfile::tempdir().unwrap();
        let m = Metrics::create(&dir.path().join("m.csv"), &["loss"]).unwrap();
        m.new_row().num("los", 1.0);
    }

    #[test]
    fn numbers_print_short_and_read_back_exactly() {
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(-0.25), "-0.25");
        assert_eq!(fmt_num(5.008e-26), "5.008e-26");
        assert_eq!(fmt_num(1.6598289857427287e24), "1.6598289857427287e24");
        assert_eq!(fmt_num(0.0001), "0.0001");
        assert_eq!(fmt_num(f64::NAN), "NaN");
        let mut x = 1.2345678901234567e-300;
        while x < 1e300 {
            for v in [x, -x, x * 3.7] {
                let text = fmt_num(v);
                assert_eq!(text.parse::<f64>().unwrap(), v, "{text}");
                assert!(text.len() <= 24, "{text}");
            }
            x *= 13.7;
        }
    }

    #[test]
    fn timing_columns_are_named_by_suffix() {
        for c in ["wall_s", "steps_per_s", "update_ms", "solve_time_s"] {
            assert!(is_timing_column(c), "{c}");
        }
        for c in ["iter", "loss", "sps", "steps", "ms_count"] {
            assert!(!is_timing_column(c), "{c}");
        }
    }
}
