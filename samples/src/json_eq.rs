//! JSON equality with numbers compared by value (`85` equals `85.0`), the one implementation the
//! generator's validator and the workspace's tests share. A missing field is **not** equal to
//! `null`: a decoder that drops a field, or turns an absent one into `null`, is a difference.

use serde_json::Value;

/// Whether two numbers are the same value (`1`, `1.0` and `1e0` are).
fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        x == y
    } else if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        x == y
    } else {
        a.as_f64().is_some() && a.as_f64() == b.as_f64()
    }
}

/// The first difference between `expected` and `actual`, as `path: what`, with `path` a JSON
/// path from `$`; `None` when they are equal (numbers by value, a missing field differs from
/// `null`).
///
/// ```
/// use serde_json::json;
/// use passage_samples::json_diff;
/// assert_eq!(json_diff(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})), None);
/// assert_eq!(
///     json_diff(&json!({"a": null}), &json!({})).as_deref(),
///     Some("$.a: present (null) != absent")
/// );
/// assert_eq!(json_diff(&json!([1]), &json!(["1"])).as_deref(), Some("$[0]: 1 != \"1\""));
/// ```
pub fn json_diff(expected: &Value, actual: &Value) -> Option<String> {
    diff_at(expected, actual, "$")
}

/// Whether `a` and `b` are equal JSON, numbers compared by value (see [`json_diff`]).
///
/// ```
/// use serde_json::json;
/// assert!(passage_samples::json_eq(&json!({"amountDue": 85}), &json!({"amountDue": 85.0})));
/// assert!(!passage_samples::json_eq(&json!({"x": null}), &json!({})));
/// ```
pub fn json_eq(a: &Value, b: &Value) -> bool {
    json_diff(a, b).is_none()
}

fn diff_at(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => {
            (!same_number(a, b)).then(|| format!("{path}: {a} != {b}"))
        }
        (Value::Object(a), Value::Object(b)) => {
            for (key, x) in a {
                let inner = format!("{path}.{key}");
                match b.get(key) {
                    Some(y) => {
                        if let Some(diff) = diff_at(x, y, &inner) {
                            return Some(diff);
                        }
                    }
                    None => return Some(format!("{inner}: present ({x}) != absent")),
                }
            }
            b.iter()
                .find(|(key, _)| !a.contains_key(*key))
                .map(|(key, y)| format!("{path}.{key}: absent != present ({y})"))
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Some(format!("{path}: length {} != {}", a.len(), b.len()));
            }
            a.iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (x, y))| diff_at(x, y, &format!("{path}[{i}]")))
        }
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: {a} != {b}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn absent_is_not_null_either_way_and_numbers_compare_by_value() {
        assert_eq!(
            json_diff(&json!({}), &json!({"b": null})).as_deref(),
            Some("$.b: absent != present (null)")
        );
        assert_eq!(
            json_diff(&json!({"o": {"x": 1}}), &json!({"o": {"x": 2}})).as_deref(),
            Some("$.o.x: 1 != 2")
        );
        assert!(json_eq(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!json_eq(&json!(u64::MAX), &json!(-1)));
        assert!(json_eq(&json!(0.5), &json!(0.5)));
        assert!(!json_eq(&json!(1), &json!(true)));
        assert_eq!(
            json_diff(&json!([1, 2]), &json!([1])).as_deref(),
            Some("$: length 2 != 1")
        );
    }
}
