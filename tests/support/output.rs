//! Checks on a finished command's output.

use std::process::Output;

/// Asserts the command succeeded (its stderr is the failure message) and
/// returns its standard output as text.
pub fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Parses `bytes` (a command's `-w json` output or a report file) as JSON
/// and checks it against the JSON Schema of its report kind (chosen by its
/// `command` field), with unknown fields forbidden, so every test that
/// reads our JSON also checks the contract (docs/contract.md). Panics with
/// the schema's complaints.
pub fn json(bytes: &[u8]) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)));
    validate(&value);
    value
}

/// [`json`], then deserialized into `T` (a report type of the crate).
pub fn parsed<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> T {
    serde_json::from_value(json(bytes)).unwrap_or_else(|e| panic!("not the report type: {e}"))
}

/// [`parsed`], with the command's `stderr` in the message when `bytes` is
/// not JSON (the command failed before writing its report).
pub fn parsed_with<T: serde::de::DeserializeOwned>(bytes: &[u8], stderr: &[u8]) -> T {
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(stderr)
        );
    }
    parsed(bytes)
}

/// [`parsed_with`] of a finished command's standard output and error.
pub fn parsed_from<T: serde::de::DeserializeOwned>(out: &Output) -> T {
    parsed_with(&out.stdout, &out.stderr)
}

/// Checks `value` against its report kind's schema (see [`json`]).
pub fn validate(value: &serde_json::Value) {
    validate_as(value, false)
}

/// Checks `value` against its report kind's schema: the writer's (what
/// this version writes), or with `reading` the reader's (what it reads
/// back: fields added since are optional; for checked-in reports).
pub fn validate_as(value: &serde_json::Value, reading: bool) {
    use etcd_doctor::contract::ReportKind;
    let command = value["command"].as_str().unwrap_or_else(|| {
        panic!("a report without a command field: {value:#}");
    });
    let kind = ReportKind::of_command(command);
    let errors: Vec<String> = validator(kind, reading)
        .iter_errors(value)
        .take(10)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "`{command}` output does not match docs/schema/{}.json{}:\n{}",
        kind.name(),
        if reading { " (as read back)" } else { "" },
        errors.join("\n")
    );
    eprintln!(
        "contract: `{command}` output valid against docs/schema/{}.json",
        kind.name()
    );
}

/// The validator of `kind`'s schema as the types generate it, made strict
/// (see [`strict`]); compiled once per test binary.
fn validator(
    kind: etcd_doctor::contract::ReportKind,
    reading: bool,
) -> &'static jsonschema::Validator {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Cache = HashMap<(&'static str, bool), &'static jsonschema::Validator>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache.entry((kind.name(), reading)).or_insert_with(|| {
        let mut schema = match reading {
            true => kind.reader_schema(),
            false => kind.schema(),
        };
        strict(&mut schema);
        let v = jsonschema::validator_for(&schema).expect("the generated schema compiles");
        Box::leak(Box::new(v))
    })
}

/// Forbids properties a schema does not name, in every object schema that
/// names its properties: the published schema allows them (readers must
/// ignore new fields), but a field we write must be described.
pub fn strict(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), false.into());
            }
            map.values_mut().for_each(strict);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}
