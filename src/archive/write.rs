//! Writing a bundle: the files gathered in memory (each bounded), then
//! one gzip tar written to a file created new (an existing file is never
//! replaced) and removed again when writing fails.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{sha256, FileEntry, Manifest, FORMAT, MANIFEST, MAX_ENTRY_BYTES, REPORT};
use crate::facts::Report;
use crate::watch::follow::Follower;

/// The files of a bundle, in order.
#[derive(Debug, Default)]
pub struct Contents {
    files: Vec<(String, Vec<u8>)>,
}

impl Contents {
    /// The report and its sections as files; the keyspace section is
    /// left out (it is read from the keyspace).
    pub fn new(report: &Report) -> Result<Contents> {
        let mut report = report.clone();
        report.keyspace = None;
        let mut c = Contents::default();
        c.json(REPORT, &report)?;
        c.json("host.json", &report.host)?;
        if !report.disk.is_empty() {
            c.json("probes/disk.json", &report.disk)?;
        }
        if !report.net.is_empty() {
            c.json("probes/net.json", &report.net)?;
        }
        if let Some(cl) = &report.cluster {
            c.json("cluster/status.json", &cl.endpoints)?;
            c.json("cluster/members.json", &cl.members)?;
            c.json("cluster/health.json", &cl.health)?;
            c.json("cluster/alarms.json", &cl.alarms)?;
            c.json("cluster/metrics-summary.json", &cl.metrics)?;
            let versions: Vec<_> = cl
                .endpoints
                .iter()
                .map(|e| (e.endpoint.clone(), e.version.clone()))
                .collect();
            c.json("cluster/versions.json", &versions)?;
        }
        if let Some(logs) = &report.logs {
            c.json("logs/summary.json", logs)?;
        }
        Ok(c)
    }

    fn json<T: serde::Serialize>(&mut self, name: &str, value: &T) -> Result<()> {
        self.add(name, serde_json::to_vec_pretty(value)?);
        Ok(())
    }

    /// Adds a file (cut at [`MAX_ENTRY_BYTES`]).
    pub fn add(&mut self, name: &str, mut data: Vec<u8>) {
        data.truncate(MAX_ENTRY_BYTES as usize);
        self.files.push((name.to_string(), data));
    }

    /// Adds member `i`'s raw /metrics page.
    pub fn metrics_page(&mut self, i: usize, url: &str, page: &str) {
        let text = format!("# etcd-doctor: scraped from {url}\n{page}");
        self.add(&format!("metrics/member-{i}.prom"), text.into_bytes());
    }

    /// Adds the catalogue's lines of each log file (plain files; gzip
    /// rotations are left out), at most what [`Follower`] keeps per read.
    pub fn log_excerpts(&mut self, files: &[PathBuf]) {
        for (i, path) in files.iter().enumerate() {
            let mut f = Follower::from_start(path.clone());
            let e = f.read();
            let text = match e.error {
                Some(err) => format!("# etcd-doctor: {err}\n"),
                None => format!(
                    "# etcd-doctor: lines of {} the catalogue reads\n{}",
                    e.source, e.lines
                ),
            };
            self.add(&format!("logs/source-{i}.log"), text.into_bytes());
        }
    }

    /// Writes the bundle to `path`, which must not exist.
    pub fn write(self, path: &Path) -> Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("--bundle {}: cannot create it", path.display()))?;
        let written = self.write_to(&mut file).and_then(|()| Ok(file.sync_all()?));
        if written.is_err() {
            let _ = std::fs::remove_file(path);
        }
        written.with_context(|| format!("--bundle {}", path.display()))
    }

    fn write_to(self, out: &mut dyn Write) -> Result<()> {
        let manifest = Manifest {
            format: FORMAT,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            created_unix_s: (crate::logs::time::now_ms() / 1000).max(0) as u64,
            files: self
                .files
                .iter()
                .map(|(name, data)| FileEntry {
                    name: name.clone(),
                    bytes: data.len() as u64,
                    sha256: sha256(data),
                })
                .collect(),
        };
        let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mut put = |name: &str, data: &[u8]| -> Result<()> {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(manifest.created_unix_s);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, name, data)?;
            Ok(())
        };
        put(MANIFEST, &serde_json::to_vec_pretty(&manifest)?)?;
        for (name, data) in &self.files {
            put(name, data)?;
        }
        tar.into_inner()?.finish()?.flush()?;
        Ok(())
    }
}
