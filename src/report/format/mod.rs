//! The output formats, one file each, over the shared view in
//! `report/view/`: each writes to any `io::Write`, so tests capture bytes.

pub mod comparison;
pub mod fleet;
pub mod html;
pub mod json;
pub mod junit;
pub mod keyspace_plot;
pub mod markdown;
pub mod plots;
pub mod prometheus;
pub mod runbook;
pub mod snapshot;
pub mod table;
