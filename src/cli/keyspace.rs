//! Keyspace flags shared by `snapshot analyze`, `cluster keyspace` and
//! `diagnose --keyspace`: how keys are grouped (`--prefix`, `--depth`) and
//! how gently a live cluster is read (`--max-rps`), checked at once into a
//! [`Grouping`] and a [`LivePlan`] with errors that name the flag.

use clap::Args;
use thiserror::Error;

use crate::keyspace::live::{LivePlan, DEFAULT_MAX_RPS};
use crate::keyspace::{Grouping, DEFAULT_DEPTH, DEFAULT_PREFIX, MAX_DEPTH};

/// Most `--max-rps`: above it the count is no longer gentle.
pub const MAX_RPS: f64 = 1000.0;
/// Longest `--prefix`, bytes (etcd's keys are at most 1.5 MiB; a grouping
/// prefix is a path).
pub const MAX_PREFIX_BYTES: usize = 4096;

/// How keys are grouped.
#[derive(Debug, Clone, Args)]
pub struct GroupingArgs {
    /// Keys under this prefix are grouped; others are counted as one group.
    #[arg(long, value_name = "PREFIX", default_value = DEFAULT_PREFIX)]
    pub prefix: String,
    /// Path segments after --prefix that name a group (Kubernetes: 1 = resource, 2 = resource and namespace).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DEPTH)]
    pub depth: usize,
}

/// `--max-rps` for live counts.
#[derive(Debug, Clone, Args)]
pub struct RateArgs {
    /// Most range requests per second sent to the cluster.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_RPS)]
    pub max_rps: f64,
}

/// A keyspace flag out of range.
#[derive(Debug, Error, PartialEq)]
pub enum KeyspaceArgsError {
    /// `--depth` 0 or too deep.
    #[error("--depth must be between 1 and {MAX_DEPTH}, got {0}")]
    Depth(usize),
    /// `--prefix` too long.
    #[error("--prefix must be at most {MAX_PREFIX_BYTES} bytes, got {0}")]
    Prefix(usize),
    /// `--max-rps` not a rate.
    #[error("--max-rps must be above 0 and at most {MAX_RPS}, got {0}")]
    MaxRps(f64),
}

impl GroupingArgs {
    /// The grouping, checked.
    pub fn into_grouping(self) -> Result<Grouping, KeyspaceArgsError> {
        if self.depth == 0 || self.depth > MAX_DEPTH {
            return Err(KeyspaceArgsError::Depth(self.depth));
        }
        if self.prefix.len() > MAX_PREFIX_BYTES {
            return Err(KeyspaceArgsError::Prefix(self.prefix.len()));
        }
        Ok(Grouping {
            prefix: self.prefix,
            depth: self.depth,
        })
    }
}

/// The live plan of `grouping` and `rate`.
pub fn live_plan(grouping: GroupingArgs, rate: RateArgs) -> Result<LivePlan, KeyspaceArgsError> {
    if !(rate.max_rps > 0.0 && rate.max_rps <= MAX_RPS) {
        return Err(KeyspaceArgsError::MaxRps(rate.max_rps));
    }
    Ok(LivePlan {
        grouping: grouping.into_grouping()?,
        max_rps: rate.max_rps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_the_flag() {
        let g = |prefix: &str, depth| GroupingArgs {
            prefix: prefix.to_string(),
            depth,
        };
        assert!(g("/registry/", 0)
            .into_grouping()
            .unwrap_err()
            .to_string()
            .starts_with("--depth"));
        assert!(g(&"x".repeat(5000), 2)
            .into_grouping()
            .unwrap_err()
            .to_string()
            .starts_with("--prefix"));
        for rps in [0.0, -1.0, f64::NAN, 1e9] {
            let e = live_plan(g("/", 1), RateArgs { max_rps: rps }).unwrap_err();
            assert!(e.to_string().starts_with("--max-rps"), "{e}");
        }
        let p = live_plan(g("/", 1), RateArgs { max_rps: 5.0 }).unwrap();
        assert_eq!((p.grouping.depth, p.max_rps), (1, 5.0));
    }
}
