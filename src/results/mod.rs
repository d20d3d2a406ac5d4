//! Reading what runs wrote, below `report`, `plot` and `compare`: the study record, the run
//! directories grouped into cells, statistics across seeds and number formatting. It knows no
//! subcommand and imports nothing above `run`.
pub mod by_config;
pub mod columns;
pub mod flat;
pub mod format;
pub mod paired;
pub mod record;
pub mod runs;
pub mod stats;
mod strays;
pub mod summary;
