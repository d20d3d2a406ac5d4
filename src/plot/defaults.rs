//! The plots each subcommand declares for `lab report` (x column, y column, log y axis).
//! A subcommand that is not listed gets a report without plots; add a line here to give it some.

/// One default plot: columns of metrics.csv.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DefaultPlot {
    pub x: &'static str,
    pub y: &'static str,
    pub logy: bool,
    /// In a study with an axis of one of these names, one figure per value of that axis
    /// (e.g. one learning-curve plot per environment); otherwise one figure.
    pub split: &'static [&'static str],
}

const DECOMPOSE: &[DefaultPlot] = &[DefaultPlot {
    x: "iter",
    y: "decrement",
    logy: true,
    split: &[],
}];

const NPG_RANK1: &[DefaultPlot] = &[DefaultPlot {
    x: "env_steps",
    y: "eval_return_mean",
    logy: false,
    split: &["env", "env.id", "task"],
}];

/// Default plots of subcommand `sub` (empty when it declares none).
pub fn for_subcommand(sub: &str) -> &'static [DefaultPlot] {
    match sub {
        "decompose" => DECOMPOSE,
        "npg-rank1" => NPG_RANK1,
        _ => &[],
    }
}
