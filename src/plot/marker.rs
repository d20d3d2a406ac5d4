//! Scatter dots of each [`Marker`] shape, on a chart (data coordinates) or at a pixel (legend).
use super::series::Marker;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Half the width of a dot, in pixels.
const R: i32 = 4;

/// One dot of shape `marker` per point.
pub fn on_chart<DB: DrawingBackend>(
    chart: &mut Chart<DB>,
    marker: Marker,
    points: &[(f64, f64)],
    color: RGBColor,
) -> DrawResult<DB> {
    let pts = points.iter().copied();
    let fill = color.filled();
    match marker {
        Marker::Circle => chart.draw_series(pts.map(|p| Circle::new(p, R, fill)))?,
        Marker::Square => chart.draw_series(pts.map(|p| EmptyElement::at(p) + square(fill)))?,
        Marker::Triangle => chart.draw_series(pts.map(|p| TriangleMarker::new(p, R + 1, fill)))?,
        Marker::Cross => chart.draw_series(pts.map(|p| Cross::new(p, R, color.stroke_width(2))))?,
    };
    Ok(())
}

/// One dot of shape `marker` at pixel `p` of `area`.
pub fn at_pixel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    marker: Marker,
    p: (i32, i32),
    color: RGBColor,
) -> DrawResult<DB> {
    let fill = color.filled();
    match marker {
        Marker::Circle => area.draw(&Circle::new(p, R, fill)),
        Marker::Square => area.draw(&(EmptyElement::at(p) + square(fill))),
        Marker::Triangle => area.draw(&TriangleMarker::new(p, R + 1, fill)),
        Marker::Cross => area.draw(&Cross::new(p, R, color.stroke_width(2))),
    }
}

fn square(style: ShapeStyle) -> Rectangle<(i32, i32)> {
    Rectangle::new([(-R, -R), (R, R)], style)
}

#[cfg(test)]
mod tests {
    use crate::plot::render::{save, Figure};
    use crate::plot::series::{Curve, Marker, Style};

    /// The SVG of 3 points (and 1 legend entry) drawn with `marker`.
    fn svg(marker: Marker) -> String {
        let mut curve = Curve::scatter("runs", &[(0.0, 1.0), (1.0, 2.0), (2.0, 0.5)]);
        curve.style = Style {
            marker,
            ..Style::default()
        };
        let fig = Figure {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            logx: false,
            logy: false,
            curves: vec![curve],
            notes: vec![],
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.svg");
        save(&fig, &path).expect("drawn");
        std::fs::read_to_string(&path).expect("written")
    }

    #[test]
    fn each_marker_draws_its_own_shape_for_points_and_legend() {
        let circles = svg(Marker::Circle);
        let squares = svg(Marker::Square);
        assert_eq!(circles.matches("<circle").count(), 3 + 1);
        assert_eq!(squares.matches("<circle").count(), 0);
        let rects = |s: &str| s.matches("<rect").count();
        assert_eq!(rects(&squares), rects(&circles) + 3 + 1);
        let triangles = svg(Marker::Triangle);
        assert_eq!(triangles.matches("<circle").count(), 0);
        let (dots, legend) = (3, 1);
        assert!(triangles.matches("<polygon").count() >= dots + legend);
    }
}
