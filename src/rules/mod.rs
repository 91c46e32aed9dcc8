//! Rules turn collected facts into findings. Every rule is a pure function
//! over facts and a profile's thresholds; no rule measures or prints.

pub mod finding;
pub mod net;

pub use finding::{Evidence, Finding, FindingId, Severity, Verdict};
