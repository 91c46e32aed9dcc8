//! The JSON contract (docs/contract.md): the checked-in schemas are what
//! the types generate, and the checked-in example reports validate against
//! them. (Every JSON output the other tests parse is validated through
//! `support::output`.)

use std::path::Path;

use etcd_doctor::contract::ReportKind;

const REGENERATE: &str = "cargo run --example write-docs";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn checked_in_schemas_are_what_the_types_generate() {
    for kind in ReportKind::ALL {
        let path = root()
            .join("docs/schema")
            .join(format!("{}.json", kind.name()));
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == kind.schema_text(),
            "{} differs from what the types generate: run `{REGENERATE}` and commit it",
            path.display()
        );
    }
}

#[test]
fn every_command_maps_to_its_kind() {
    assert_eq!(ReportKind::of_command("disk"), ReportKind::Report);
    assert_eq!(
        ReportKind::of_command("snapshot analyze"),
        ReportKind::Report
    );
    assert_eq!(ReportKind::of_command("compare"), ReportKind::Comparison);
    assert_eq!(ReportKind::of_command("merge"), ReportKind::Fleet);
    assert_eq!(
        ReportKind::of_command("snapshot verify"),
        ReportKind::SnapshotStatus
    );
    assert_eq!(
        ReportKind::of_command("snapshot inspect-db"),
        ReportKind::DbState
    );
}

#[test]
fn checked_in_reports_of_the_current_schema_validate() {
    // Written by earlier builds of schema 2, so checked as this version
    // reads them back (fields added since are optional). reports/v1/disk.json
    // is schema 1, which the schemas do not describe; compare_noise reads it
    // back through `compare`.
    for name in ["disk.json", "disk-baseline.json", "example/report.json"] {
        let bytes = std::fs::read(root().join("reports").join(name)).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        crate::support::output::validate_as(&value, true);
    }
}

#[test]
fn a_field_the_schema_does_not_name_fails_validation() {
    let bytes = std::fs::read(root().join("reports/disk.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    crate::support::output::validate_as(&value, true);
    value["disk"][0]["surprise"] = 1.into();
    let caught = std::panic::catch_unwind(|| crate::support::output::validate_as(&value, true));
    assert!(
        caught.is_err(),
        "an undescribed field passed the strict schema"
    );
    value["disk"][0].as_object_mut().unwrap().remove("surprise");
    value["disk"][0]["ops"] = "many".into();
    let caught = std::panic::catch_unwind(|| crate::support::output::validate_as(&value, true));
    assert!(caught.is_err(), "a mistyped field passed the schema");
}
