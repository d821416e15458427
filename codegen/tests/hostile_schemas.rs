//! "Never fails on one schema": schemas typify cannot type (or panics on) degrade to
//! `serde_json::Value` at the smallest failing subschema, with a warning naming the integration,
//! the operation and the JSON pointer, and the rest of the catalog is generated as usual.
//!
//! That the output also *compiles* is the compile gate's job (`cargo xtask regen`, and
//! `cargo xtask corpus`, which runs `codegen/tests/corpus/` — these schemas among them — through
//! the gate and an instance round trip in `cargo xtask test`).

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
    // The registry entries live in each integration's own file.
    let registry = format!(
        "{}{}",
        generated.files["src/integrations/hostile.rs"], generated.files["src/integrations/fine.rs"]
    );
    for resource in [
        "notKeyword",
        "symbolEnum",
        "rootRecursion",
        "danglingRef",
        "ok",
    ] {
        assert!(
            registry.contains(&format!("resource: \"{resource}\"")),
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
    // References to any pointer inside the document are resolved (hoisted), not degraded.
    assert!(!has("hostile refOutsideDefinitions"), "{warnings:#?}");
    assert!(!has("hostile rootRecursion"), "{warnings:#?}");
    assert!(
        has("hostile ifThenElse/read result schema at /if"),
        "{warnings:#?}"
    );
    // patternProperties becomes a map (the patterns in its doc), not a dropped keyword.
    assert!(!has("hostile patternProps"), "{warnings:#?}");
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
