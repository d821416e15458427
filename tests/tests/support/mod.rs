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
/// numbers compare by value, and a missing field is **not** `null`. An optional field that
/// allows `null` is `Option<Option<T>>` in the generated types, so an explicit `null` comes
/// back as `null` and an absent field stays absent: nothing is excused.
pub fn semantic_diff(expected: &Value, actual: &Value) -> Option<String> {
    passage_samples::json_diff(expected, actual)
}
