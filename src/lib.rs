//! etcd-doctor: qualifies hosts for etcd, diagnoses live etcd clusters and
//! catches performance regressions in CI.
//!
//! Data flows one way: command-line arguments become typed plans
//! ([`cli`]), plans drive probes and collectors ([`probe`], [`host`],
//! [`cluster`]), which produce serde facts gathered in a [`facts::Report`];
//! rules ([`rules`]) turn facts into findings ([`findings`]); renderers ([`report`]) write
//! finished reports to any `io::Write`. Probes never print; renderers never
//! measure.

pub mod app;
pub mod archive;
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod contract;
pub mod discover;
pub mod facts;
pub mod files;
pub mod findings;
pub mod fleet;
pub mod fuzzing;
pub mod host;
pub mod interrupt;
pub mod keyspace;
pub mod load;
pub mod logs;
pub mod measure;
pub mod member;
pub mod outcome;
pub mod probe;
pub mod progress;
pub mod report;
pub mod rules;
pub mod snapshot;
pub mod text;
pub mod units;
pub mod watch;

pub use app::run;
pub use outcome::Outcome;
