//! The plots each subcommand declares for `lab report` (x column, y column, log y axis).
//! A subcommand that is not listed gets a report without plots; add a line here to give it some.

/// One default plot: columns of metrics.csv.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DefaultPlot {
    pub x: &'static str,
    pub y: &'static str,
    pub logy: bool,
}

const DECOMPOSE: &[DefaultPlot] = &[DefaultPlot {
    x: "iter",
    y: "decrement",
    logy: true,
}];

/// Default plots of subcommand `sub` (empty when it declares none).
pub fn for_subcommand(sub: &str) -> &'static [DefaultPlot] {
    match sub {
        "decompose" => DECOMPOSE,
        _ => &[],
    }
}
