//! `snapshot save`: streams a snapshot from one member (etcd's Maintenance
//! Snapshot RPC: the bbolt file followed by its sha256) into a temporary file
//! beside the destination, fsyncs and verifies it, then renames it into
//! place ([`crate::files::Output`]: only a regular file or a symlink's
//! regular-file target is replaced) and fsyncs the directory. A failed, stalled or interrupted save
//! (SIGINT, SIGTERM, SIGHUP, member gone mid-stream) leaves neither the destination
//! nor the temporary file behind: the temporary file is removed when it is
//! dropped, and the signals are caught so that drop runs.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use etcd_client::Client;

use super::verify::{verify, SnapshotStatus};
use crate::files::Output;
use crate::interrupt;

/// How long the stream may stay silent before the save gives up.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Streams a snapshot from `client`'s member into `path`; returns the
/// verified status. `path` appears only once whole and verified.
pub async fn save(client: &mut Client, path: &Path, idle: Duration) -> Result<SnapshotStatus> {
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    let output = Output::check("snapshot save", path)?;
    let mut tmp = output.temp(&format!(".{name}."), ".part")?;
    tokio::select! {
        streamed = stream_into(client, tmp.as_file_mut(), idle) => streamed?,
        () = interrupt::wait() => bail!(
            "interrupted by {}: removed the partial snapshot, {} not written",
            interrupt::signal_name(),
            path.display()
        ),
    };
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("syncing {}", tmp.path().display()))?;
    let mut status = verify(tmp.path()).context("the member sent a broken snapshot")?;
    if interrupt::interrupted() {
        bail!(
            "interrupted by {}: removed the snapshot, {} not written",
            interrupt::signal_name(),
            path.display()
        );
    }
    output.commit(tmp)?;
    status.file = path.to_path_buf();
    Ok(status)
}

/// A refusal for the user's role as "lacks the root role" (etcd 3.6 sends
/// it as the stream's first message, 3.5 as the call's answer), any other
/// error as it is.
fn role(e: etcd_client::Error) -> anyhow::Error {
    match crate::cluster::dial::permission_denied(&e) {
        Some(denied) => denied.into(),
        None => e.into(),
    }
}

/// Copies the snapshot stream into `out` until the member ends it (its last
/// message is the sha256, which `verify` checks); fails when the stream
/// breaks or stays silent longer than `idle`.
async fn stream_into(client: &mut Client, out: &mut File, idle: Duration) -> Result<u64> {
    let mut stream = client
        .snapshot()
        .await
        .map_err(role)
        .context("the member refused the snapshot request")?;
    let mut written = 0u64;
    loop {
        let message = tokio::time::timeout(idle, stream.message())
            .await
            .with_context(|| {
                format!(
                    "snapshot stream silent for {} s after {written} bytes",
                    idle.as_secs()
                )
            })?
            .map_err(role)
            .with_context(|| format!("snapshot stream broke after {written} bytes"))?;
        let Some(message) = message else {
            return Ok(written);
        };
        out.write_all(message.blob())
            .context("writing the snapshot")?;
        written += message.blob().len() as u64;
    }
}
