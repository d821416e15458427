//! Helpers shared by the integration tests: a `jsonschema` validator per schema (draft from
//! `$schema`, format validation on) and walkers over generated values.
#![allow(dead_code)]

use jsonschema::{Draft, Validator};
use serde_json::Value;

/// How many seeds the validity tests try: `default`, or `PASSAGE_SAMPLES_SEEDS` when set (for
/// longer local runs).
pub fn seeds(default: u64) -> u64 {
    std::env::var("PASSAGE_SAMPLES_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The draft a schema declares with `$schema` (draft-07 when it declares none).
pub fn draft_of(schema: &Value) -> Draft {
    match schema.get("$schema").and_then(Value::as_str) {
        Some(s) if s.contains("2020-12") => Draft::Draft202012,
        Some(s) if s.contains("2019-09") => Draft::Draft201909,
        Some(s) if s.contains("draft-04") => Draft::Draft4,
        Some(s) if s.contains("draft-06") => Draft::Draft6,
        _ => Draft::Draft7,
    }
}

/// A validator with format assertions switched on.
pub fn validator(schema: &Value) -> Validator {
    jsonschema::options()
        .with_draft(draft_of(schema))
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("jsonschema rejects the schema itself: {e}\n{schema:#}"))
}

/// Validation errors of `instance`, each with its instance path and schema path.
pub fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| {
            format!(
                "instance {} / schema {}: {}",
                e.instance_path(),
                e.schema_path(),
                e
            )
        })
        .collect()
}

/// Every JSON object inside `value` (including `value` itself).
pub fn objects(value: &Value) -> Vec<&serde_json::Map<String, Value>> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                out.push(map);
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}

/// Every string inside `value`, keys excluded.
pub fn strings(value: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => out.push(s.as_str()),
            Value::Object(map) => stack.extend(map.values()),
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}

/// Every string listed in an `enum` (`consts == false`) or given as a `const` (`consts == true`)
/// anywhere in `schema`.
pub fn listed_strings(schema: &Value, consts: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![schema];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child, consts) {
                        ("enum", Value::Array(values), false) => {
                            out.extend(values.iter().filter_map(Value::as_str).map(str::to_string))
                        }
                        ("const", Value::String(s), true) => out.push(s.clone()),
                        _ => stack.push(child),
                    }
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}
