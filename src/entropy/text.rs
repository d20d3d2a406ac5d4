//! The sample metrics under their first name: everything now lives in `metrics/`.
pub use super::metrics::*;
