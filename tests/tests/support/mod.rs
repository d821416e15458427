//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use serde_json::Value;

/// The pinned catalog.
pub fn pinned_catalog() -> passage_catalog::Catalog {
    passage_catalog::Catalog::from_slice(include_bytes!("../../../catalog/providers.json"))
        .expect("pinned catalog parses")
}

/// JSON equality as Passage's docs define it for payloads: a missing field equals `null`, and
/// numbers compare by value (`85` and `85.0` are the same amount). Returns the path of the first
/// difference.
pub fn semantic_diff(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => {
            let same = match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => a.as_f64() == b.as_f64() && a.as_f64().is_some(),
            };
            (!same).then(|| format!("{path}: {a} != {b}"))
        }
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()) {
                let x = a.get(key).unwrap_or(&Value::Null);
                let y = b.get(key).unwrap_or(&Value::Null);
                if let Some(diff) = semantic_diff(x, y, &format!("{path}.{key}")) {
                    return Some(diff);
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Some(format!("{path}: length {} != {}", a.len(), b.len()));
            }
            a.iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (x, y))| semantic_diff(x, y, &format!("{path}[{i}]")))
        }
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: {a} != {b}")),
    }
}
