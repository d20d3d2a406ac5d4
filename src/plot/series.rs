//! Curves from metrics.csv files: each run's (x, y) points, put on a common x grid by linear
//! interpolation, then mean and standard error across the runs of a cell at every grid point.
use crate::error::usage;
use anyhow::Result;
use std::path::Path;

/// Largest grid that is the union of the runs' x values; above it, an even grid of `EVEN_GRID`.
const MAX_UNION_GRID: usize = 2000;
const EVEN_GRID: usize = 500;

/// One line of a plot: mean across runs with its standard error (0 where one run covers x).
#[derive(Debug, Clone)]
pub struct Curve {
    pub label: String,
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    pub se: Vec<f64>,
    /// How many runs reach each x (runs that stop early leave the later points to fewer).
    pub runs: Vec<usize>,
    /// Draw the points as dots, without line or band (a scatter).
    pub points_only: bool,
    /// Band edges (lower, upper) at each x, drawn instead of mean ± se (e.g. min–max over
    /// runs, [`aggregate_min_max`]).
    pub range: Option<(Vec<f64>, Vec<f64>)>,
    pub style: Style,
}

/// How a curve is drawn beyond its numbers; the default is the figure's own choice.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Style {
    /// Palette index (None: the curve's position in the figure), so a figure or a set of panels
    /// can keep one colour per group whatever curves it has.
    pub color: Option<usize>,
    /// The dot of a scatter (and of its legend entry).
    pub marker: Marker,
    /// A dashed line (e.g. a reference or set-point).
    pub dashed: bool,
}

/// Dot shapes, so a second grouping (e.g. architecture) can be told apart from the colour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Marker {
    #[default]
    Circle,
    Square,
    Triangle,
    Cross,
}

impl Marker {
    pub const ALL: [Marker; 4] = [
        Marker::Circle,
        Marker::Square,
        Marker::Triangle,
        Marker::Cross,
    ];
}

impl Curve {
    /// A curve of exact points (a single run: no band).
    pub fn exact(label: &str, points: &[(f64, f64)]) -> Curve {
        Curve {
            label: label.to_string(),
            x: points.iter().map(|p| p.0).collect(),
            mean: points.iter().map(|p| p.1).collect(),
            se: vec![0.0; points.len()],
            runs: vec![1; points.len()],
            points_only: false,
            range: None,
            style: Style::default(),
        }
    }

    /// Dots at `points`, in no particular order (a scatter).
    pub fn scatter(label: &str, points: &[(f64, f64)]) -> Curve {
        Curve {
            points_only: true,
            ..Curve::exact(label, points)
        }
    }
}

/// The largest |x| or |y| drawn: beyond it an axis's span, margins or a mean of runs overflow
/// to infinity (where the chart library's tick search never ends), so such rows are left out
/// and counted like NaN ones.
pub const DRAWABLE: f64 = 1e300;

/// A run's points and how many rows were left out: y <= 0 for a log axis (`positive`), x or y
/// NaN or infinite, x or y beyond ±[`DRAWABLE`], or x equal to an earlier row's x (the earlier
/// row is drawn).
pub struct Points {
    pub points: Vec<(f64, f64)>,
    pub nonpositive: usize,
    pub nonfinite: usize,
    pub too_large: usize,
    pub duplicate_x: usize,
}

/// What a run's metrics.csv gave for one pair of columns.
pub enum Read {
    Points(Points),
    /// The run has no metrics.csv.
    NoFile,
    /// Its metrics.csv has no such `column`; `why` names it, the file and the file's columns.
    NoColumn {
        column: String,
        why: String,
    },
}

/// The most characters of a file's text (its columns, a cell) an error message repeats.
const SHOWN_CHARS: usize = 2000;

/// (x, y) points of columns `x` and `y` of a run's metrics.csv, sorted by x. Column names match
/// with surrounding spaces trimmed, as cells are. Rows with an empty x or y cell (not logged
/// that row) are skipped; rows left out for another reason are counted in [`Points`]; a cell
/// that is not a number, a column name the header gives twice, or a metrics.csv that is not a
/// regular file is a usage error naming the file (and line and column).
pub fn read_points(run: &Path, x: &str, y: &str, positive: bool) -> Result<Read> {
    let path = run.join("metrics.csv");
    if !path.exists() {
        return Ok(Read::NoFile);
    }
    let (mut reader, headers) = open_table(&path)?;
    let malformed = |e: csv::Error| malformed(&path, e);
    let (ix, iy) = match (column(&headers, x, &path)?, column(&headers, y, &path)?) {
        (Some(ix), Some(iy)) => (ix, iy),
        (None, _) => return Ok(no_column(&headers, x, &path)),
        (_, None) => return Ok(no_column(&headers, y, &path)),
    };
    let mut points = Vec::new();
    let (mut nonpositive, mut nonfinite, mut too_large) = (0, 0, 0);
    for record in reader.records() {
        let record = record.map_err(malformed)?;
        let line = record.position().map_or(0, |p| p.line());
        let parse = |i: usize, col: &str| -> Result<Option<f64>> {
            let cell = record.get(i).unwrap_or("").trim();
            if cell.is_empty() {
                return Ok(None);
            }
            cell.parse::<f64>().map(Some).map_err(|_| {
                usage(format!(
                    "{} line {line}: `{col}` is {:?}, not a number; fix or remove that line",
                    path.display(),
                    clip(cell)
                ))
            })
        };
        let (Some(px), Some(py)) = (parse(ix, x)?, parse(iy, y)?) else {
            continue;
        };
        if !(px.is_finite() && py.is_finite()) {
            nonfinite += 1;
        } else if px.abs() > DRAWABLE || py.abs() > DRAWABLE {
            too_large += 1;
        } else if positive && py <= 0.0 {
            nonpositive += 1;
        } else {
            points.push((px, py));
        }
    }
    // Stable: of rows with the same x, the first one written stays.
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let before = points.len();
    points.dedup_by(|later, earlier| later.0 == earlier.0);
    Ok(Read::Points(Points {
        duplicate_x: before - points.len(),
        points,
        nonpositive,
        nonfinite,
        too_large,
    }))
}

/// A metrics.csv opened, with its column names trimmed; an error for a file that is not a
/// regular file or has no header.
fn open_table(path: &Path) -> Result<(csv::Reader<std::fs::File>, Vec<String>)> {
    let file = crate::input::open_result(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let mut reader = csv::Reader::from_reader(file);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| malformed(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.is_empty() {
        return Err(usage(format!(
            "{} is empty (no header line); a run writes its columns first",
            path.display()
        )));
    }
    Ok((reader, headers))
}

/// A malformed row is the file's problem, not a failed run: a usage error naming its line.
fn malformed(path: &Path, e: csv::Error) -> anyhow::Error {
    usage(format!(
        "{} is not a well-formed CSV table: {e}; fix or remove that line",
        path.display()
    ))
}

/// The index of column `col` (names trimmed); a name the header gives twice is an error, as
/// either column could be meant.
fn column(headers: &[String], col: &str, path: &Path) -> Result<Option<usize>> {
    let col = col.trim();
    let at: Vec<usize> = (0..headers.len()).filter(|&i| headers[i] == col).collect();
    if let [_, _, ..] = at.as_slice() {
        let numbers: Vec<String> = at.iter().map(|i| (i + 1).to_string()).collect();
        return Err(usage(format!(
            "{}: the header names columns {} all `{col}` (spaces around names are ignored), so \
             which one to read is unclear; rename all but one",
            path.display(),
            numbers.join(", ")
        )));
    }
    Ok(at.first().copied())
}

fn no_column(headers: &[String], col: &str, path: &Path) -> Read {
    let column = clip(col.trim());
    let why = format!(
        "`{column}` is not a column of {}; columns: {}",
        path.display(),
        clip(&headers.join(", "))
    );
    Read::NoColumn { column, why }
}

/// `text` cut to about [`SHOWN_CHARS`] characters, so that a file's one huge line does not
/// become a message as large.
fn clip(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => text.to_string(),
        Some((end, _)) => format!("{}... ({} characters)", &text[..end], text.chars().count()),
    }
}

/// Mean and standard error of `runs` on a common x grid; None if no run has a point.
pub fn aggregate(label: &str, runs: &[Vec<(f64, f64)>]) -> Option<Curve> {
    let runs: Vec<&Vec<(f64, f64)>> = runs.iter().filter(|r| !r.is_empty()).collect();
    if runs.is_empty() {
        return None;
    }
    let grid = common_grid(&runs);
    let mut curve = Curve {
        label: label.to_string(),
        x: Vec::with_capacity(grid.len()),
        mean: Vec::with_capacity(grid.len()),
        se: Vec::with_capacity(grid.len()),
        runs: Vec::with_capacity(grid.len()),
        points_only: false,
        range: None,
        style: Style::default(),
    };
    for g in grid {
        let ys: Vec<f64> = runs.iter().filter_map(|r| interpolate(r, g)).collect();
        if ys.is_empty() {
            continue;
        }
        let se = crate::results::stats::std_error(&ys);
        curve.x.push(g);
        curve.mean.push(crate::results::stats::mean(&ys));
        curve.se.push(if se.is_finite() { se } else { 0.0 });
        curve.runs.push(ys.len());
    }
    Some(curve)
}

/// [`aggregate`] with the band from the smallest to the largest run at each x instead of ± se.
pub fn aggregate_min_max(label: &str, runs: &[Vec<(f64, f64)>]) -> Option<Curve> {
    let mut curve = aggregate(label, runs)?;
    let bounds = curve.x.iter().map(|&g| {
        let ys = runs.iter().filter_map(|r| interpolate(r, g));
        ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        })
    });
    curve.range = Some(bounds.unzip());
    Some(curve)
}

/// The union of all runs' x values, or an even grid over their span when that is too long.
fn common_grid(runs: &[&Vec<(f64, f64)>]) -> Vec<f64> {
    let mut xs: Vec<f64> = runs.iter().flat_map(|r| r.iter().map(|p| p.0)).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() <= MAX_UNION_GRID {
        return xs;
    }
    let (lo, hi) = (xs[0], xs[xs.len() - 1]);
    (0..EVEN_GRID)
        .map(|i| lo + (hi - lo) * i as f64 / (EVEN_GRID - 1) as f64)
        .collect()
}

/// y at `x` by linear interpolation between the run's neighbouring points; None outside its span.
pub fn interpolate(points: &[(f64, f64)], x: f64) -> Option<f64> {
    let first = points.first()?;
    let last = points.last()?;
    if x < first.0 || x > last.0 {
        return None;
    }
    let i = points.partition_point(|p| p.0 < x);
    let hi = points[i];
    if hi.0 == x || i == 0 {
        return Some(hi.1);
    }
    let lo = points[i - 1];
    let t = (x - lo.0) / (hi.0 - lo.0);
    Some(lo.1 + t * (hi.1 - lo.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_inside_and_outside() {
        let pts = [(0.0, 0.0), (2.0, 4.0), (4.0, 0.0)];
        assert_eq!(interpolate(&pts, 1.0), Some(2.0));
        assert_eq!(interpolate(&pts, 2.0), Some(4.0));
        assert_eq!(interpolate(&pts, 3.5), Some(1.0));
        assert_eq!(interpolate(&pts, 4.5), None);
        assert_eq!(interpolate(&pts, -1.0), None);
    }

    #[test]
    fn runs_logging_at_different_x_share_a_grid() {
        let a = vec![(0.0, 0.0), (2.0, 2.0)];
        let b = vec![(0.0, 2.0), (1.0, 4.0), (3.0, 8.0)];
        let c = aggregate("c", &[a, b]).unwrap();
        assert_eq!(c.x, [0.0, 1.0, 2.0, 3.0]);
        // x=1: a interpolates to 1, b is 4 → mean 2.5, se = |4-1|/2
        assert!((c.mean[1] - 2.5).abs() < 1e-12);
        assert!((c.se[1] - 1.5).abs() < 1e-12);
        // x=3: only b covers it → no band
        assert_eq!((c.mean[3], c.se[3]), (8.0, 0.0));
        assert!(aggregate("none", &[vec![]]).is_none());
    }

    #[test]
    fn min_max_band_spans_the_runs() {
        let a = vec![(0.0, 1.0), (2.0, 3.0)];
        let b = vec![(0.0, 5.0), (2.0, 1.0)];
        let c = aggregate_min_max("c", &[a, b, vec![]]).unwrap();
        let (lo, hi) = c.range.unwrap();
        assert_eq!((c.x, c.mean), (vec![0.0, 2.0], vec![3.0, 2.0]));
        assert_eq!((lo, hi), (vec![1.0, 1.0], vec![5.0, 3.0]));
    }
}
