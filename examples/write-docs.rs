//! Writes the generated documentation: the JSON Schema of every report
//! kind in docs/schema/ (from the Rust types, see docs/contract.md) and the
//! findings catalogue in docs/findings.md (from the rule registry). Run it
//! after changing a serialized type or the registry, and commit what it
//! writes:
//!
//! ```sh
//! cargo run --example write-docs
//! ```
//!
//! Tests fail with this command in their message when a checked-in file
//! differs from what the code generates.

use std::fs;
use std::path::Path;

use etcd_doctor::contract::ReportKind;
use etcd_doctor::findings::registry::{catalogue, CATALOGUE_END, CATALOGUE_START};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    fs::create_dir_all(docs.join("schema"))?;
    for kind in ReportKind::ALL {
        let path = docs.join("schema").join(format!("{}.json", kind.name()));
        write_if_changed(&path, &kind.schema_text())?;
    }
    write_catalogue(&docs.join("findings.md"))?;
    Ok(())
}

/// Writes `text` to `path` unless it already holds it.
fn write_if_changed(path: &Path, text: &str) -> Result<(), Box<dyn std::error::Error>> {
    if fs::read_to_string(path).ok().as_deref() != Some(text) {
        fs::write(path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Replaces the catalogue's generated part in `path` (the markers and what
/// lies between them) with the registry's list.
fn write_catalogue(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let text = fs::read_to_string(path)?;
    let (Some(start), Some(end)) = (text.find(CATALOGUE_START), text.find(CATALOGUE_END)) else {
        return Err(format!(
            "{}: no {CATALOGUE_START} ... {CATALOGUE_END} block",
            path.display()
        )
        .into());
    };
    let end = end + CATALOGUE_END.len() + 1;
    let new = format!(
        "{}{}{}",
        &text[..start],
        catalogue(),
        &text[end.min(text.len())..]
    );
    if new != text {
        fs::write(path, new)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
