//! Draw a [`Figure`] with plotters to PNG or SVG: mean lines, shaded standard-error bands,
//! legend, axis labels and title. Text uses the DejaVu Sans font shipped in src/plot/fonts.
use super::series::Curve;
use crate::error::usage;
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
}

/// Write `fig` to `path`; the extension (`.png` or `.svg`) picks the format.
pub fn save(fig: &Figure, path: &Path) -> Result<()> {
    register_font();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let drawn = match ext.to_ascii_lowercase().as_str() {
        "png" => draw(BitMapBackend::new(path, SIZE).into_drawing_area(), fig),
        "svg" => draw(SVGBackend::new(path, SIZE).into_drawing_area(), fig),
        _ => {
            return Err(usage(format!(
                "{}: the plot file must end in .png or .svg",
                path.display()
            )))
        }
    };
    drawn.map_err(|e| anyhow!("drawing {}: {e}", path.display()))
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
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, fig: &Figure) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{e:?}");
    root.fill(&WHITE).map_err(err)?;
    let (y0, y1) = y_range(fig);
    let lines: Vec<Line> = fig.curves.iter().map(|c| line(c, fig, y0)).collect();
    let (x0, x1) = x_range(fig);
    let mut chart = ChartBuilder::on(&root)
        .caption(&fig.title, (FONT, 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(78)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let (logx, logy) = (fig.logx, fig.logy);
    let x_fmt = move |v: &f64| sig(if logx { 10f64.powf(*v) } else { *v });
    let y_fmt = move |v: &f64| {
        if logy {
            format!("{:.0e}", 10f64.powf(*v))
        } else {
            sig(*v)
        }
    };
    chart
        .configure_mesh()
        .x_desc(fig.x_label.as_str())
        .y_desc(fig.y_label.as_str())
        .x_labels(x_label_count(fig))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    let corner = legend_corner(&lines, (x0, x1), (y0, y1));
    for (i, l) in lines.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let band = Polygon::new(l.band, color.mix(0.22).filled());
        chart.draw_series(std::iter::once(band)).map_err(err)?;
        chart
            .draw_series(LineSeries::new(l.mean, color.stroke_width(2)))
            .map_err(err)?
            .label(l.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .position(corner)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

fn sig(v: f64) -> String {
    crate::results::format::sig(v)
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

/// Mean line and band outline (upper edge forward, lower edge back), kept above `floor`.
fn line<'a>(curve: &'a Curve, fig: &Figure, floor: f64) -> Line<'a> {
    let logy = fig.logy;
    let axis = |v: f64| if logy { log_or(v, floor) } else { v.max(floor) };
    let at_x = |(x, row): (&f64, _)| Some((x_axis(*x, fig.logx)?, row));
    let rows = || {
        let rows = curve.x.iter().zip(curve.mean.iter().zip(&curve.se));
        rows.filter_map(at_x)
    };
    let upper = rows().map(|(x, (m, s))| (x, axis(m + s)));
    let lower = rows().rev().map(|(x, (m, s))| (x, axis(m - s)));
    Line {
        label: &curve.label,
        mean: rows().map(|(x, (m, _))| (x, axis(*m))).collect(),
        band: upper.chain(lower).collect(),
    }
}

/// x in axis units: log10 on a log axis, where x <= 0 has no place.
fn x_axis(x: f64, log: bool) -> Option<f64> {
    if !log {
        Some(x)
    } else {
        (x > 0.0).then(|| x.log10())
    }
}

fn log_or(v: f64, floor: f64) -> f64 {
    if v > 0.0 {
        v.log10().max(floor)
    } else {
        floor
    }
}

fn x_range(fig: &Figure) -> (f64, f64) {
    let xs = fig.curves.iter().flat_map(|c| c.x.iter().copied());
    widen(min_max(xs.filter_map(|x| x_axis(x, fig.logx))))
}

/// Y span (in axis units) of the means and of the bands' positive parts.
fn y_range(fig: &Figure) -> (f64, f64) {
    let values = fig.curves.iter().flat_map(|c| {
        c.mean
            .iter()
            .zip(&c.se)
            .flat_map(|(m, s)| [m - s, m + s, *m])
    });
    if fig.logy {
        return widen(min_max(values.filter(|v| *v > 0.0).map(f64::log10)));
    }
    widen(min_max(values))
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// Add a 5% margin and make empty or flat spans drawable.
fn widen((lo, hi): (f64, f64)) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        0.05 * span
    } else {
        0.5 * lo.abs().max(1.0)
    };
    (lo - pad, hi + pad)
}

/// The corner whose quarter of the plot holds the fewest points of lines and bands, so the
/// legend hides as little data as possible (ties keep the upper right).
fn legend_corner(
    lines: &[Line],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> SeriesLabelPosition {
    let points = lines.iter().flat_map(|l| l.mean.iter().chain(&l.band));
    let mut counts = [0usize; 4]; // upper right, upper left, lower left, lower right
    for &(x, y) in points {
        let right = (x - x0) / (x1 - x0) > 0.5;
        let upper = (y - y0) / (y1 - y0) > 0.5;
        let i = match (upper, right) {
            (true, true) => 0,
            (true, false) => 1,
            (false, false) => 2,
            (false, true) => 3,
        };
        counts[i] += 1;
    }
    let best = (0..4).min_by_key(|&i| counts[i]).unwrap_or(0);
    match best {
        1 => SeriesLabelPosition::UpperLeft,
        2 => SeriesLabelPosition::LowerLeft,
        3 => SeriesLabelPosition::LowerRight,
        _ => SeriesLabelPosition::UpperRight,
    }
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
