//! What a default plot is: each subcommand declares its list as `Experiment::PLOTS`, and
//! `lab report` draws them (none declared: a report without plots).

/// The default plots each subcommand declares, by subcommand name (from the subcommand list);
/// `lab plot` and `lab report` take it, so that neither names a paper.
pub type PlotsFor<'a> = &'a dyn Fn(&str) -> &'static [DefaultPlot];

/// One default plot: columns of metrics.csv.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DefaultPlot {
    pub x: &'static str,
    pub y: &'static str,
    pub logy: bool,
    /// In a study with an axis of one of these names, one figure per value of that axis
    /// (e.g. one learning-curve plot per environment); otherwise one figure.
    pub split: &'static [&'static str],
    /// A summary.json scalar drawn as a horizontal reference line labelled with its
    /// value, when every run drawn in the figure has the same value (e.g. a true entropy rate).
    pub reference: Option<&'static str>,
}
