//! `lab npg-rank1`: the rank-1 Sherman–Morrison natural policy gradient (SMAC) and its
//! baselines (spec §1, §3). The pure math lives here; the training loop builds on it.
pub mod cg;
pub mod rank1;
pub mod step;
