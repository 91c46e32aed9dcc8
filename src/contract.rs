//! The JSON contract's report kinds: which object each command prints with
//! `-w json`, and its JSON Schema, generated from the Rust types that write
//! it (`schemars`, in serialization mode: a field is required when it is
//! always written). The checked-in schemas (docs/schema/) are written by
//! `cargo run --example write-docs`; tests keep them equal to these and
//! validate every JSON output of the test suite against them.

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::Value;

use crate::compare::Comparison;
use crate::facts::Report;
use crate::fleet::FleetReport;
use crate::report::format::snapshot::{StateReport, StatusReport};

/// One kind of JSON object the commands print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// [`Report`]: `disk`, `net`, `qualify`, `diagnose`, `cluster`, `logs`,
    /// `load`, `snapshot analyze`.
    Report,
    /// [`Comparison`]: `compare`.
    Comparison,
    /// [`FleetReport`]: `merge`.
    Fleet,
    /// [`StatusReport`]: `snapshot save`, `snapshot verify`.
    SnapshotStatus,
    /// [`StateReport`]: `snapshot inspect-db`.
    DbState,
}

impl ReportKind {
    /// Every kind, in the order docs/contract.md lists them.
    pub const ALL: [ReportKind; 5] = [
        ReportKind::Report,
        ReportKind::Comparison,
        ReportKind::Fleet,
        ReportKind::SnapshotStatus,
        ReportKind::DbState,
    ];

    /// The schema's file name in docs/schema/, without `.json`.
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Report => "report",
            ReportKind::Comparison => "comparison",
            ReportKind::Fleet => "fleet",
            ReportKind::SnapshotStatus => "snapshot-status",
            ReportKind::DbState => "inspect-db",
        }
    }

    /// The kind a JSON object's `command` field says it is.
    pub fn of_command(command: &str) -> ReportKind {
        match command {
            "compare" => ReportKind::Comparison,
            "merge" => ReportKind::Fleet,
            "snapshot save" | "snapshot verify" => ReportKind::SnapshotStatus,
            "snapshot inspect-db" => ReportKind::DbState,
            _ => ReportKind::Report,
        }
    }

    /// The kind's JSON Schema (draft 2020-12).
    pub fn schema(self) -> Value {
        match self {
            ReportKind::Report => schema_of::<Report>(),
            ReportKind::Comparison => schema_of::<Comparison>(),
            ReportKind::Fleet => schema_of::<FleetReport>(),
            ReportKind::SnapshotStatus => schema_of::<StatusReport<'static>>(),
            ReportKind::DbState => schema_of::<StateReport<'static>>(),
        }
    }

    /// What this version accepts when it reads the kind back (`compare`,
    /// `merge`): fields added since a report was written are not required.
    /// The checked-in example reports are validated against it.
    pub fn reader_schema(self) -> Value {
        match self {
            ReportKind::Report => reader_schema_of::<Report>(),
            ReportKind::Comparison => reader_schema_of::<Comparison>(),
            ReportKind::Fleet => reader_schema_of::<FleetReport>(),
            // Written only, never read back.
            ReportKind::SnapshotStatus | ReportKind::DbState => self.schema(),
        }
    }

    /// The schema as checked in: pretty-printed, one trailing newline.
    pub fn schema_text(self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema())
            .expect("a schema is plain JSON and always serializes");
        text.push('\n');
        text
    }
}

/// The schema of what deserializing `T` accepts.
fn reader_schema_of<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

/// The schema of what serializing `T` writes.
fn schema_of<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    generator.into_root_schema_for::<T>().to_value()
}
