//! Snapshots and recovery runbooks: the field guide's Section 4 (backup and
//! restore) and its failed rejoin, made checkable. [`save`] streams a
//! snapshot from one member into a file that appears only when whole and
//! verified; [`verify`] checks a file with a read-only bbolt reader
//! ([`bbolt`]) and reproduces `etcdutl snapshot status`; [`plan`] builds the
//! restore, force-new-cluster and rejoin runbooks as data, which
//! `report/format/runbook.rs` writes as a runnable shell script or Markdown
//! (`report/format/snapshot.rs` renders the status and inspect-db tables).

pub mod analyze;
pub mod bbolt;
pub mod dbstate;
pub mod keytable;
pub mod mvcc;
pub mod plan;
pub mod save;
pub mod verify;

pub use verify::{verify, SnapshotStatus, VerifyError};
