//! Reading a bundle back, refusing anything a bundle of ours cannot be
//! before it is trusted: a file too large, a gzip or tar stream cut short,
//! more entries than [`MAX_ENTRIES`], an entry or a total too large, an
//! entry that is not a plain file (links, devices, directories), a path
//! that is absolute, climbs (`..`) or is too deep, a file the manifest
//! does not list or whose SHA-256 differs. Each refusal is one line naming
//! the bundle and what is wrong.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path};

use thiserror::Error;

use super::{
    sha256, Manifest, FORMAT, MANIFEST, MAX_BUNDLE_BYTES, MAX_DEPTH, MAX_ENTRIES, MAX_ENTRY_BYTES,
    MAX_PATH_BYTES, MAX_TOTAL_BYTES, REPORT,
};
use crate::facts::Report;

/// Why a bundle is refused.
#[derive(Debug, Error)]
#[error("--from-bundle {path}: {why}")]
pub struct BundleError {
    path: String,
    why: String,
}

/// A bundle read back: its manifest, report and every file.
#[derive(Debug)]
pub struct Bundle {
    /// `bundle.json`.
    pub manifest: Manifest,
    /// `report.json`.
    pub report: Report,
    /// Every file by name (the manifest and report included).
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Reads and checks the bundle at `path`.
pub fn read(path: &Path) -> Result<Bundle, BundleError> {
    let fail = |why: String| BundleError {
        path: path.display().to_string(),
        why,
    };
    let file = File::open(path).map_err(|e| fail(format!("cannot open it: {e}")))?;
    let meta = file.metadata().map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    if meta.len() > MAX_BUNDLE_BYTES {
        return Err(fail(format!(
            "{} bytes, more than a bundle's {MAX_BUNDLE_BYTES}",
            meta.len()
        )));
    }
    parse(file).map_err(fail)
}

/// Reads and checks a bundle's bytes (a gzip tar) from `bytes`.
pub fn parse(bytes: impl Read) -> Result<Bundle, String> {
    check(entries(bytes)?)
}

/// Every entry of the archive, checked one by one.
fn entries(file: impl Read) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let gz = flate2::read::GzDecoder::new(file.take(MAX_BUNDLE_BYTES));
    let mut archive = tar::Archive::new(gz.take(MAX_TOTAL_BYTES + MAX_ENTRIES as u64 * 2048));
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    let cut = |e: std::io::Error| format!("not a complete gzip tar archive ({e})");
    for (n, entry) in archive.entries().map_err(cut)?.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let mut entry = entry.map_err(cut)?;
        let kind = entry.header().entry_type();
        let name = {
            let p = entry.path().map_err(cut)?;
            entry_name(&p)?
        };
        if !kind.is_file() {
            return Err(format!(
                "{name}: not a plain file ({kind:?}), links are refused"
            ));
        }
        let size = entry.size();
        total = total.saturating_add(size);
        if size > MAX_ENTRY_BYTES || total > MAX_TOTAL_BYTES {
            return Err(format!(
                "{name}: larger than a bundle's files ({size} bytes)"
            ));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry
            .by_ref()
            .take(size)
            .read_to_end(&mut data)
            .map_err(cut)?;
        if data.len() as u64 != size {
            return Err(format!("{name}: cut short"));
        }
        if files.insert(name.clone(), data).is_some() {
            return Err(format!("{name}: twice in the archive"));
        }
    }
    Ok(files)
}

/// A plain relative path of at most [`MAX_DEPTH`] components.
fn entry_name(p: &Path) -> Result<String, String> {
    let text = p.to_string_lossy().into_owned();
    let plain = p.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain || p.components().count() > MAX_DEPTH || text.len() > MAX_PATH_BYTES {
        return Err(format!(
            "entry {:?} is not a plain relative path (absolute, `..` or too deep)",
            text.chars().take(MAX_PATH_BYTES).collect::<String>()
        ));
    }
    Ok(text)
}

/// The manifest, its files' hashes, and the report.
fn check(files: BTreeMap<String, Vec<u8>>) -> Result<Bundle, String> {
    let manifest: Manifest = serde_json::from_slice(
        files
            .get(MANIFEST)
            .ok_or_else(|| format!("no {MANIFEST}: not an etcd-doctor bundle"))?,
    )
    .map_err(|e| format!("{MANIFEST}: {e}"))?;
    if manifest.format != FORMAT {
        return Err(format!("bundle format {} is not {FORMAT}", manifest.format));
    }
    for name in files.keys().filter(|n| *n != MANIFEST) {
        if !manifest.files.iter().any(|f| &f.name == name) {
            return Err(format!("{name}: not listed in {MANIFEST}"));
        }
    }
    for f in &manifest.files {
        let data = files
            .get(&f.name)
            .ok_or_else(|| format!("{}: listed in {MANIFEST} but missing (cut short?)", f.name))?;
        if sha256(data) != f.sha256 {
            return Err(format!("{}: SHA-256 differs from {MANIFEST}", f.name));
        }
    }
    let report: Report = serde_json::from_slice(files.get(REPORT).ok_or("no report.json")?)
        .map_err(|e| format!("{REPORT}: {e}"))?;
    for r in &report.disk {
        r.latency_histogram
            .check()
            .map_err(|e| format!("{REPORT}: disk {}: {e}", r.probe.as_str()))?;
    }
    Ok(Bundle {
        manifest,
        report,
        files,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::archive::write::Contents;
    use crate::host::HostFacts;

    fn good(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("b.tar.gz");
        let report = Report::new("diagnose", HostFacts::default());
        let mut c = Contents::new(&report).unwrap();
        c.metrics_page(0, "http://a:2379/metrics", "etcd_server_has_leader 1\n");
        c.write(&path).unwrap();
        path
    }

    /// A gzip tar of `entries` (name, type, data, link target).
    fn raw(dir: &Path, entries: &[(&str, tar::EntryType, &[u8])]) -> std::path::PathBuf {
        let path = dir.join("raw.tar.gz");
        let gz = flate2::write::GzEncoder::new(File::create(&path).unwrap(), Default::default());
        let mut t = tar::Builder::new(gz);
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            // set_path refuses `..`; write the raw name as an attacker would.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            if kind.is_symlink() {
                h.set_link_name("/etc/passwd").unwrap();
            }
            h.set_cksum();
            t.append(&h, *data).unwrap();
        }
        t.into_inner().unwrap().finish().unwrap().flush().unwrap();
        path
    }

    fn refused(path: &Path, needle: &str) {
        let e = read(path).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }

    #[test]
    fn a_bundle_reads_back_with_its_report() {
        let dir = tempfile::tempdir().unwrap();
        let b = read(&good(dir.path())).unwrap();
        assert_eq!(b.report.command, "diagnose");
        assert!(b.files.contains_key("metrics/member-0.prom"));
        assert!(b.manifest.files.iter().any(|f| f.name == "host.json"));
        // Never replaces a file.
        let again = Contents::new(&b.report)
            .unwrap()
            .write(&dir.path().join("b.tar.gz"));
        assert!(again.is_err());
    }

    #[test]
    fn bad_bundles_are_refused_with_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let whole = std::fs::read(good(dir.path())).unwrap();
        let cut = dir.path().join("cut.tar.gz");
        std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
        refused(&cut, "not a complete gzip tar");
        let junk = dir.path().join("junk.tar.gz");
        std::fs::write(&junk, b"not gzip at all").unwrap();
        refused(&junk, "not a complete gzip tar");
        let f = tar::EntryType::Regular;
        refused(
            &raw(dir.path(), &[("../../etc/x", f, b"x")]),
            "not a plain relative path",
        );
        refused(
            &raw(dir.path(), &[("/etc/x", f, b"x")]),
            "not a plain relative path",
        );
        refused(
            &raw(dir.path(), &[("link", tar::EntryType::Symlink, b"")]),
            "links are refused",
        );
        refused(
            &raw(dir.path(), &[("report.json", f, b"{}")]),
            "no bundle.json",
        );
        let names: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("f{i}")).collect();
        let many: Vec<_> = names.iter().map(|n| (n.as_str(), f, &b""[..])).collect();
        refused(&raw(dir.path(), &many), "more than");
        let big = dir.path().join("big.tar.gz");
        File::create(&big)
            .unwrap()
            .set_len(MAX_BUNDLE_BYTES + 1)
            .unwrap();
        refused(&big, "more than a bundle's");
        refused(&dir.path().join("missing.tar.gz"), "cannot open");
    }

    #[test]
    fn an_edited_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let b = read(&good(dir.path())).unwrap();
        let mut entries: Vec<(&str, tar::EntryType, &[u8])> = b
            .files
            .iter()
            .map(|(n, d)| (n.as_str(), tar::EntryType::Regular, d.as_slice()))
            .collect();
        let edited = b"etcd_server_has_leader 0\n".to_vec();
        for e in &mut entries {
            if e.0 == "metrics/member-0.prom" {
                e.2 = &edited;
            }
        }
        refused(&raw(dir.path(), &entries), "SHA-256 differs");
    }
}
