//! Recovery runbooks as data: the field guide's Section 4 restore (every
//! member restored from one snapshot with its own name and the full
//! initial-cluster list), its force-new-cluster path (one member keeps its
//! data, the others are added back one by one) and the fix for its failed
//! rejoin (a wiped member still listed). A [`Runbook`] is variables plus
//! steps of shell commands; [`super::render`] turns it into a script or
//! Markdown, so both formats carry exactly the same commands.
//!
//! Every command on a member's host runs as `$ON_<n> "<command>"`: `ON_<n>`
//! defaults to `ssh root@<host>`, and any runner taking the command as one
//! argument works (`ip netns exec NS sh -c`, `sh -c` for the local host).

mod model;
mod rejoin;
mod restore;
pub mod source;
mod steps;

pub use model::*;
pub use rejoin::rejoin_runbook;
pub use restore::restore_runbook;
