//! "Never fails on one schema": schemas typify cannot type (or panics on) degrade to
//! `serde_json::Value` at the smallest failing subschema, with a warning naming the integration,
//! the operation and the JSON pointer, and the rest of the catalog is generated as usual.

use passage_codegen::{generate, Settings};
use serde_json::json;

fn catalog(operations: serde_json::Value) -> Vec<u8> {
    let resources: Vec<_> = operations
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, result)| json!({"name": name, "operations": {"read": {"arguments": null, "result": result}}}))
        .collect();
    serde_json::to_vec(&json!({"providers": [
        {"id": "hostile", "name": "Hostile", "resources": resources},
        {"id": "fine", "name": "Fine", "resources": [{"name": "ok", "operations": {"read": {
            "arguments": null,
            "result": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}}]}
    ]}))
    .unwrap()
}

#[test]
fn hostile_schemas_degrade_with_warnings_and_regen_goes_on() {
    let bytes = catalog(json!({
        "notKeyword": {"type": "object", "properties": {"a": {"not": {"type": "string"}}}},
        "refOutsideDefinitions": {"type": "object", "properties": {
            "a": {"type": "string"}, "b": {"$ref": "#/properties/a"}}},
        "symbolEnum": {"type": "object", "properties": {"op": {"type": "string", "enum": ["+", "-", "*"]}}},
        "ifThenElse": {"type": "object", "if": {"properties": {"a": {"const": 1}}}, "then": {"required": ["b"]}},
        "notAnObject": 42,
        "mistypedProperties": {"type": "object", "properties": 5},
        "rootRecursion": {"type": "object", "properties": {"child": {"$ref": "#"}}},
        "patternProps": {"type": "object", "patternProperties": {"^x-": {"type": "string"}}},
        "conflictingAllOf": {"allOf": [{"type": "string"}, {"type": "integer"}]},
        "danglingRef": {"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}},
    }));
    let generated =
        generate(&bytes, &Settings::default()).expect("generation never fails on one schema");
    let lib = &generated.files["src/lib.rs"];
    for resource in [
        "notKeyword",
        "symbolEnum",
        "rootRecursion",
        "danglingRef",
        "ok",
    ] {
        assert!(
            lib.contains(&format!("resource: \"{resource}\"")),
            "{resource} missing from registry"
        );
    }
    for file in generated.files.values() {
        if !file.starts_with('#') {
            syn::parse_file(file).expect("every generated file is valid Rust");
        }
    }
    let warnings: Vec<String> = generated.warnings.iter().map(ToString::to_string).collect();
    let has = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(
        has("hostile notKeyword/read result schema at /properties/a/not"),
        "{warnings:#?}"
    );
    assert!(
        has("hostile refOutsideDefinitions/read result schema at /properties/b/$ref"),
        "{warnings:#?}"
    );
    assert!(
        has("hostile ifThenElse/read result schema at /if"),
        "{warnings:#?}"
    );
    assert!(
        has("hostile patternProps/read result schema at /patternProperties"),
        "{warnings:#?}"
    );
    assert!(
        has("hostile notAnObject/read result schema at /: not a schema object"),
        "{warnings:#?}"
    );
    assert!(
        !warnings.iter().any(|w| w.starts_with("fine ")),
        "{warnings:#?}"
    );
    insta::assert_snapshot!("hostile_warnings", warnings.join("\n"));
}

/// The degraded output is not only valid syntax: it compiles. The generated crate for the hostile
/// catalog is written to `target/hostile-schemas/` inside a stand-in workspace and checked with
/// `cargo check --offline` (dependencies resolved from the workspace's own `Cargo.lock`).
#[test]
fn hostile_schema_output_compiles() {
    let bytes = catalog(json!({
        "notKeyword": {"type": "object", "properties": {"a": {"not": {"type": "string"}}}},
        "symbolEnum": {"type": "object", "properties": {"op": {"type": "string", "enum": ["+", "-", "*"]}}},
        "conflictingAllOf": {"allOf": [{"type": "string"}, {"type": "integer"}]},
        "danglingRef": {"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}},
        "rootRecursion": {"type": "object", "properties": {"child": {"$ref": "#"}}},
        "notAnObject": 42,
    }));
    let generated = generate(&bytes, &Settings::default()).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = root.join("target/hostile-schemas");
    let _ = std::fs::remove_dir_all(work.join("generated/src"));
    for (path, contents) in &generated.files {
        let target = work.join("generated").join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, contents).unwrap();
    }
    std::fs::write(
        work.join("Cargo.toml"),
        r#"[workspace]
members = ["generated"]
resolver = "2"
[workspace.package]
edition = "2021"
rust-version = "1.85"
license = "MIT OR Apache-2.0"
repository = "https://github.com/passage-rs/passage-rs"
version = "0.0.0"
publish = false
[workspace.dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = { version = "1", features = ["float_roundtrip", "raw_value"] }
serde_path_to_error = "0.1"
"#,
    )
    .unwrap();
    std::fs::copy(root.join("Cargo.lock"), work.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "check",
            "--offline",
            "--quiet",
            "--all-features",
            "--target-dir",
        ])
        .arg(work.join("target"))
        .current_dir(&work)
        .env_remove("CARGO_TARGET_DIR")
        .env("RUSTFLAGS", "-D warnings")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "generated code for hostile schemas does not compile:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
