//! Minimal SVG line plots (no plotting dependency): Figure 1 of the finance mode and the
//! benchmark's log–log scaling plot.

/// One curve: label and (x, y) points.
pub type Curve = (String, Vec<(f64, f64)>);

/// Plot `curves` on linear or log10 axes; `title`, axis labels as given.
pub fn svg(curves: &[Curve], log_axes: bool, title: &str, x_label: &str, y_label: &str) -> String {
    let tf = |v: f64| if log_axes { v.max(1e-300).log10() } else { v };
    let pts: Vec<(f64, f64)> = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|&(x, y)| (tf(x), tf(y))))
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = pts.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    if log_axes {
        (x0, x1, y0, y1) = (x0.floor(), x1.ceil(), y0.floor(), y1.ceil());
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let px = |x: f64| 70.0 + 500.0 * (tf(x) - x0) / (x1 - x0);
    let py = |y: f64| 340.0 - 290.0 * (tf(y) - y0) / (y1 - y0);
    let colors = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    ];
    let fmt = |v: f64| {
        if log_axes {
            format!("1e{v}")
        } else {
            format!("{v:.3}")
        }
    };
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400" font-family="sans-serif" font-size="11"><text x="70" y="20" font-size="13">{title}</text><rect x="70" y="50" width="500" height="290" fill="none" stroke="black"/><text x="70" y="355">{}</text><text x="540" y="355">{}</text><text x="5" y="340">{}</text><text x="5" y="60">{}</text><text x="280" y="385">{x_label}</text><text x="5" y="40">{y_label}</text>"#,
        fmt(x0),
        fmt(x1),
        fmt(y0),
        fmt(y1)
    );
    for (k, (name, p)) in curves.iter().enumerate() {
        let c = colors[k % colors.len()];
        let line: Vec<String> = p
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        s += &format!(
            r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
            line.join(" ")
        );
        s += &format!(
            r#"<text x="80" y="{}" fill="{c}">{name}</text>"#,
            66 + 14 * k
        );
    }
    s + "</svg>\n"
}
