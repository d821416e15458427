//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use serde_json::Value;

/// The pinned catalog.
pub fn pinned_catalog() -> passage_catalog::Catalog {
    passage_catalog::Catalog::from_slice(include_bytes!("../../../catalog/providers.json"))
        .expect("pinned catalog parses")
}

/// The first difference between a decoded-and-re-serialized result and the JSON it came from
/// (path from `$`), through `passage_samples::json_diff`, the workspace's one JSON equality:
/// numbers compare by value, and a missing field is **not** `null`, with one exception the API
/// defines: a *declared* field whose value is `null` may come back absent (Passage treats a
/// missing field and `null` alike, and the generated types read both as `None`). Fields the
/// types do not declare (the drift generator's `unknownField_<n>`) must come back exactly,
/// `null` included: a decoder that drops them loses data.
pub fn semantic_diff(expected: &Value, actual: &Value) -> Option<String> {
    passage_samples::json_diff(
        &without_declared_nulls(expected),
        &without_declared_nulls(actual),
    )
}

/// `value` without the object members that are `null` and not `unknownField_<n>`.
fn without_declared_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, v)| !v.is_null() || key.starts_with("unknownField_"))
                .map(|(key, v)| (key.clone(), without_declared_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_declared_nulls).collect()),
        other => other.clone(),
    }
}
