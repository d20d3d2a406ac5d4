//! Draw a [`Figure`] with plotters to PNG or SVG: mean lines, shaded standard-error bands (or
//! dots, for a scatter), legend, axis labels and title. Text uses the DejaVu Sans font shipped in src/plot/fonts.
use super::axis::{self, log_or, min_max, widen, x_axis};
use super::legend::{Entry, Strip};
use super::marker;
use super::series::Curve;
use crate::error::usage;
use crate::run::write_atomic;
use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

const FONT: &str = "sans-serif";
const SIZE: (u32, u32) = (900, 560);
/// Tableau 10: distinguishable and colour-blind friendlier than plotters' default palette.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Everything drawn in one picture.
pub struct Figure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Log10 x axis (points with x <= 0 are left out).
    pub logx: bool,
    pub logy: bool,
    pub curves: Vec<Curve>,
    /// Lines printed under the legend (what the band is, points left out, ...).
    pub notes: Vec<String>,
}

/// Write `fig` to `path` (atomically, see [`write_atomic`]); the extension (`.png` or
/// `.svg`) picks the format.
pub fn save(fig: &Figure, path: &Path) -> Result<()> {
    save_grid(std::slice::from_ref(fig), 1, path)
}

/// Write `figs` as panels of one picture, `columns` to a row (row by row), each panel the size
/// of a single figure; otherwise as [`save`].
pub fn save_grid(figs: &[Figure], columns: usize, path: &Path) -> Result<()> {
    register_font();
    let columns = columns.clamp(1, figs.len().max(1));
    let rows = figs.len().div_ceil(columns).max(1);
    let size = (SIZE.0 * columns as u32, SIZE.1 * rows as u32);
    let format = format_of(path)?;
    super::output::make_parent(path)?;
    let failed = |e| anyhow!("drawing {}: {e}", path.display());
    match format {
        Format::Png => {
            let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
            let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
            draw_panels(root, figs, columns).map_err(failed)?;
            write_atomic(path, &encode_png(&rgb, size)?)
        }
        Format::Svg => {
            let mut svg = String::new();
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            draw_panels(root, figs, columns).map_err(failed)?;
            write_atomic(path, svg.as_bytes())
        }
    }
}

/// A picture format `lab` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

/// The format a plot file's extension names (`.png` or `.svg`, in any case); a usage error
/// naming the file otherwise.
pub fn format_of(path: &Path) -> Result<Format> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "png" => Ok(Format::Png),
        "svg" => Ok(Format::Svg),
        _ => Err(usage(format!(
            "{}: the plot file must end in .png or .svg",
            path.display()
        ))),
    }
}

/// An RGB image of `size` as PNG bytes.
fn encode_png(rgb: &[u8], size: (u32, u32)) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, size.0, size.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // As plotters (through `image`) encoded them: about a third of the default size.
    encoder.set_filter(png::FilterType::Paeth);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("fonts/DejaVuSans.ttf");
        // The font is embedded and known good; failure would only mean text is not drawn.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, bytes);
    });
}

/// A curve ready to draw: the mean line and the outline of its band, in axis units (log10 of
/// the data on a log axis, so ticks stay readable over any number of decades).
struct Line<'a> {
    label: &'a str,
    mean: Vec<(f64, f64)>,
    band: Vec<(f64, f64)>,
    /// Where fewer of the curve's runs go on: (x, y) in axis units and the runs left.
    fewer: Vec<(f64, f64, usize)>,
    points_only: bool,
}

/// At most this many `n=k` marks per curve (the first ones).
const MAX_MARKS: usize = 6;

/// The figures in a grid of `columns`, one per sub-area, on a white picture.
fn draw_panels<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    figs: &[Figure],
    columns: usize,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{e:?}");
    root.fill(&WHITE).map_err(err)?;
    let rows = figs.len().div_ceil(columns).max(1);
    for (area, fig) in root.split_evenly((rows, columns)).into_iter().zip(figs) {
        draw(&area, fig)?;
    }
    root.present().map_err(err)
}

/// The palette colour of the `i`-th curve of a figure.
fn color(i: usize, curve: &Curve) -> RGBColor {
    COLORS[curve.style.color.unwrap_or(i) % COLORS.len()]
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{e:?}");
    let size = root.dim_in_pixel();
    let (y0, y1) = y_range(fig);
    let lines: Vec<Line> = fig.curves.iter().map(|c| line(c, fig, y0)).collect();
    let (x0, x1) = x_range(fig);
    let entries = lines
        .iter()
        .zip(&fig.curves)
        .enumerate()
        .map(|(i, (l, c))| Entry {
            label: l.label,
            color: color(i, c),
            marker: c.points_only.then_some(c.style.marker),
            dashed: c.style.dashed,
        })
        .collect();
    let strip = Strip::new(root, entries, &fig.notes, FONT, size);
    let (top, bottom) = root.split_vertically(size.1.saturating_sub(strip.height()));
    let mut chart = ChartBuilder::on(&top)
        .caption(&fig.title, (FONT, 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(78)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let count = x_label_count(fig);
    let x_lin = axis::linear(x0, x1, count);
    let y_lin = axis::linear(y0, y1, 10);
    let (logx, logy) = (fig.logx, fig.logy);
    let (x_log, y_log) = (axis::log(x0, x1), axis::log(y0, y1));
    let x_fmt = move |v: &f64| if logx { x_log(v) } else { x_lin(v) };
    let y_fmt = move |v: &f64| if logy { y_log(v) } else { y_lin(v) };
    chart
        .configure_mesh()
        .x_desc(fig.x_label.as_str())
        .y_desc(fig.y_label.as_str())
        .x_labels(count)
        .y_labels(10)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for (i, (l, curve)) in lines.into_iter().zip(&fig.curves).enumerate() {
        let color = color(i, curve);
        if l.points_only {
            marker::on_chart(&mut chart, curve.style.marker, &l.mean, color).map_err(err)?;
            continue;
        }
        let band = Polygon::new(l.band, color.mix(0.22).filled());
        chart.draw_series(std::iter::once(band)).map_err(err)?;
        if curve.style.dashed {
            let dashes = DashedLineSeries::new(l.mean, 8, 5, color.stroke_width(2));
            chart.draw_series(dashes).map_err(err)?;
        } else {
            chart
                .draw_series(LineSeries::new(l.mean, color.stroke_width(2)))
                .map_err(err)?;
        }
        let marks = l.fewer.into_iter().map(|(x, y, n)| {
            Text::new(
                format!("n={n}"),
                (x, y),
                (FONT, 12).into_font().color(&color),
            )
        });
        chart.draw_series(marks).map_err(err)?;
    }
    strip.draw(&bottom).map_err(err)
}

/// Integer steps (no 1.5, 2.5, ...) when x is a small integer count such as iterations.
fn x_label_count(fig: &Figure) -> usize {
    let xs = || fig.curves.iter().flat_map(|c| c.x.iter().copied());
    let (lo, hi) = min_max(xs());
    let integers = xs().all(|x| x.fract() == 0.0);
    if integers && hi - lo < 10.0 && !fig.logx {
        (hi - lo) as usize + 1
    } else {
        10
    }
}

/// Mean line and band outline (upper edge forward, lower edge back), kept above `floor`, and
/// the points where fewer runs go on.
fn line<'a>(curve: &'a Curve, fig: &Figure, floor: f64) -> Line<'a> {
    let logy = fig.logy;
    let axis = |v: f64| if logy { log_or(v, floor) } else { v.max(floor) };
    let rows = || {
        (0..curve.x.len()).filter_map(|i| {
            let x = x_axis(curve.x[i], fig.logx)?;
            Some((i, x, curve.mean[i], curve.se[i]))
        })
    };
    let edge = |i: usize, m: f64, s: f64, up: bool| match &curve.range {
        Some((lo, hi)) => (if up { hi } else { lo })[i],
        None if up => m + s,
        None => m - s,
    };
    let upper = rows().map(|(i, x, m, s)| (x, axis(edge(i, m, s, true))));
    let lower = rows()
        .rev()
        .map(|(i, x, m, s)| (x, axis(edge(i, m, s, false))));
    let runs = |i: usize| curve.runs.get(i).copied().unwrap_or(1);
    let fewer = rows()
        .filter(|(i, ..)| *i > 0 && runs(*i) < runs(i - 1))
        .map(|(i, x, m, _)| (x, axis(m), runs(i)))
        .take(MAX_MARKS);
    Line {
        label: &curve.label,
        mean: rows().map(|(_, x, m, _)| (x, axis(m))).collect(),
        band: upper.chain(lower).collect(),
        fewer: fewer.collect(),
        points_only: curve.points_only,
    }
}

fn x_range(fig: &Figure) -> (f64, f64) {
    let xs = fig.curves.iter().flat_map(|c| c.x.iter().copied());
    widen(min_max(xs.filter_map(|x| x_axis(x, fig.logx))))
}

/// Y span (in axis units) of the means and of the bands' positive parts.
fn y_range(fig: &Figure) -> (f64, f64) {
    let values = fig.curves.iter().flat_map(|c| {
        let band = c.mean.iter().zip(&c.se).enumerate().map(|(i, (m, s))| {
            c.range
                .as_ref()
                .map_or((m - s, m + s), |(lo, hi)| (lo[i], hi[i]))
        });
        band.zip(&c.mean).flat_map(|((lo, hi), m)| [lo, hi, *m])
    });
    if fig.logy {
        return widen(min_max(values.filter(|v| *v > 0.0).map(f64::log10)));
    }
    widen(min_max(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(logx: bool) -> Figure {
        let points = [(0.0, 1.0), (10.0, 2.0), (1000.0, 3.0)];
        Figure {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            logx,
            logy: false,
            curves: vec![Curve::exact("c", &points)],
            notes: vec!["a note".into()],
        }
    }

    #[test]
    fn log_x_axis_spans_decades_and_drops_nonpositive_x() {
        let (lo, hi) = x_range(&figure(true));
        assert!(
            (lo - 0.9).abs() < 1e-12 && (hi - 3.1).abs() < 1e-12,
            "{lo} {hi}"
        );
        let fig = figure(true);
        let l = line(&fig.curves[0], &fig, 0.0);
        assert_eq!(l.mean, [(1.0, 2.0), (3.0, 3.0)]);
        assert_eq!(x_range(&figure(false)), (-50.0, 1050.0));
    }

    #[test]
    fn a_scatter_draws_one_dot_per_point_and_no_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let svg = |fig: &Figure| {
            let path = dir.path().join("s.svg");
            save(fig, &path).expect("drawn");
            std::fs::read_to_string(&path).expect("written")
        };
        let mut fig = figure(false);
        let points = [(3.0, 1.0), (1.0, 2.0), (2.0, 5.0), (2.5, 0.5)];
        fig.curves = vec![
            Curve::scatter("a", &points[..3]),
            Curve::scatter("b", &points[3..]),
        ];
        let dots = svg(&fig);
        for c in &mut fig.curves {
            c.points_only = false;
        }
        let lines = svg(&fig);
        // One dot per point, and one per legend entry (a scatter's legend shows its dot).
        assert_eq!(dots.matches("<circle").count(), 4 + 2, "one dot per point");
        assert_eq!(lines.matches("<circle").count(), 0, "lines have no dots");
        let (a, b) = (
            dots.matches("<polyline").count(),
            lines.matches("<polyline").count(),
        );
        assert!(a < b, "no mean lines in a scatter: {a} vs {b} polylines");
    }

    #[test]
    fn log_log_figure_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut fig = figure(true);
        fig.logy = true;
        for name in ["f.svg", "f.png"] {
            save(&fig, &dir.path().join(name)).expect("drawn");
            let len = std::fs::metadata(dir.path().join(name))
                .expect("written")
                .len();
            assert!(len > 1000, "{name}: {len} bytes");
        }
    }
}
