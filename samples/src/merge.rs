//! Merging the branches of an `allOf` (and `$ref` with sibling keywords) into one schema object,
//! so that a single value can be generated for all of them.
//!
//! The merge is conservative: keywords it cannot combine exactly (two different `pattern`s, two
//! `anyOf`s...) give [`SampleError::Unsupported`], and the caller re-checks the generated value
//! against every original branch anyway.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::generator::{child, invalid, is_annotation, unsat, Generator, JsonType};
use crate::json_eq;
use crate::SampleError;

/// How many schema objects (through `$ref` and nested `allOf`) one merge may visit: bounds
/// `allOf: [{"$ref": "#"}]`-style cycles.
const FLATTEN_BUDGET: usize = 64;

/// Merges `parts` (each a schema and its pointer) into one schema object without `$ref` or
/// `allOf` at its top level. The flag tells whether a `$ref` was followed.
pub(crate) fn merge(
    generator: &Generator<'_>,
    parts: &[(&Value, String)],
    ptr: &str,
) -> Result<(Map<String, Value>, bool), SampleError> {
    let mut flat = Vec::new();
    let mut budget = FLATTEN_BUDGET;
    for (part, part_ptr) in parts {
        flatten(generator, part, part_ptr, &mut flat, &mut budget)?;
    }

    let mut merged = Map::new();
    for (part, part_ptr) in &flat {
        for (key, value) in part {
            match merged.get_mut(key) {
                None => {
                    merged.insert(key.clone(), value.clone());
                }
                Some(existing) => combine(key, existing, value, part_ptr)?,
            }
        }
    }
    close_properties(&flat, &mut merged, ptr)?;
    let followed_ref =
        parts.iter().any(|(part, _)| part.get("$ref").is_some()) || flat.len() > parts.len();
    Ok((merged, followed_ref))
}

/// Follows `$ref` and nested `allOf`, pushing every schema object met (without those two keys).
fn flatten(
    generator: &Generator<'_>,
    schema: &Value,
    ptr: &str,
    out: &mut Vec<(Map<String, Value>, String)>,
    budget: &mut usize,
) -> Result<(), SampleError> {
    if *budget == 0 {
        return Err(unsat(
            ptr,
            "`allOf`/`$ref` chain does not end (cyclic reference)",
        ));
    }
    *budget -= 1;
    match schema {
        Value::Bool(true) => Ok(()),
        Value::Bool(false) => Err(unsat(ptr, "an `allOf` branch is `false`")),
        Value::Object(map) => {
            let mut rest = map.clone();
            if let Some(reference) = rest.remove("$ref") {
                let reference = reference
                    .as_str()
                    .ok_or_else(|| invalid(&child(ptr, "$ref"), "`$ref` must be a string"))?;
                let (target, target_ptr) = generator.resolve(reference, ptr)?;
                flatten(generator, target, &target_ptr, out, budget)?;
            }
            if let Some(all_of) = rest.remove("allOf") {
                let all_ptr = child(ptr, "allOf");
                let branches = all_of
                    .as_array()
                    .ok_or_else(|| invalid(&all_ptr, "`allOf` must be an array"))?;
                for (i, branch) in branches.iter().enumerate() {
                    flatten(
                        generator,
                        branch,
                        &child(&all_ptr, &i.to_string()),
                        out,
                        budget,
                    )?;
                }
            }
            out.push((rest, ptr.to_string()));
            Ok(())
        }
        other => Err(invalid(
            ptr,
            format!("a schema must be an object or a boolean, found {other}"),
        )),
    }
}

fn unsupported(ptr: &str, keyword: &str) -> SampleError {
    SampleError::Unsupported {
        pointer: ptr.to_string(),
        keyword: format!("allOf/{keyword}"),
    }
}

fn type_set(value: &Value, ptr: &str) -> Result<BTreeSet<JsonType>, SampleError> {
    let parse = |v: &Value| {
        v.as_str()
            .and_then(JsonType::parse)
            .ok_or_else(|| invalid(&child(ptr, "type"), format!("unknown type {v}")))
    };
    match value {
        Value::Array(names) => names.iter().map(parse).collect(),
        other => Ok(BTreeSet::from([parse(other)?])),
    }
}

fn type_name(ty: JsonType) -> &'static str {
    match ty {
        JsonType::Null => "null",
        JsonType::Boolean => "boolean",
        JsonType::Integer => "integer",
        JsonType::Number => "number",
        JsonType::String => "string",
        JsonType::Array => "array",
        JsonType::Object => "object",
    }
}

fn both_schemas(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
        (Value::Bool(true), other) | (other, Value::Bool(true)) => other.clone(),
        _ => json!({ "allOf": [a, b] }),
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Combines `new` into `existing` for the keyword `key`.
fn combine(key: &str, existing: &mut Value, new: &Value, ptr: &str) -> Result<(), SampleError> {
    if existing == new || is_annotation(key) {
        return Ok(());
    }
    let combined = match key {
        "type" => {
            let a = type_set(existing, ptr)?;
            let b = type_set(new, ptr)?;
            let mut both: BTreeSet<JsonType> = a.intersection(&b).copied().collect();
            // `integer` is a subset of `number`.
            if a.contains(&JsonType::Integer) && b.contains(&JsonType::Number)
                || b.contains(&JsonType::Integer) && a.contains(&JsonType::Number)
            {
                both.insert(JsonType::Integer);
            }
            if both.is_empty() {
                return Err(unsat(ptr, "the `allOf` branches allow no common type"));
            }
            Value::Array(both.into_iter().map(|t| type_name(t).into()).collect())
        }
        "properties" => {
            let (Value::Object(a), Value::Object(b)) = (&*existing, new) else {
                return Err(invalid(
                    &child(ptr, "properties"),
                    "`properties` must be an object",
                ));
            };
            let mut out = a.clone();
            for (name, schema) in b {
                let value = match out.get(name) {
                    Some(old) => both_schemas(old, schema),
                    None => schema.clone(),
                };
                out.insert(name.clone(), value);
            }
            Value::Object(out)
        }
        "required" => {
            let (Value::Array(a), Value::Array(b)) = (&*existing, new) else {
                return Err(invalid(
                    &child(ptr, "required"),
                    "`required` must be an array",
                ));
            };
            let mut out = a.clone();
            for name in b {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
            Value::Array(out)
        }
        "minimum" | "exclusiveMinimum" | "minLength" | "minItems" | "minProperties" => {
            match (existing.as_f64(), new.as_f64()) {
                (Some(a), Some(b)) => {
                    if b > a {
                        new.clone()
                    } else {
                        existing.clone()
                    }
                }
                _ => return Err(unsupported(ptr, key)),
            }
        }
        "maximum" | "exclusiveMaximum" | "maxLength" | "maxItems" | "maxProperties" => {
            match (existing.as_f64(), new.as_f64()) {
                (Some(a), Some(b)) => {
                    if b < a {
                        new.clone()
                    } else {
                        existing.clone()
                    }
                }
                _ => return Err(unsupported(ptr, key)),
            }
        }
        "enum" => {
            let (Value::Array(a), Value::Array(b)) = (&*existing, new) else {
                return Err(invalid(&child(ptr, "enum"), "`enum` must be an array"));
            };
            let both: Vec<Value> = a
                .iter()
                .filter(|v| b.iter().any(|w| json_eq(v, w)))
                .cloned()
                .collect();
            if both.is_empty() {
                return Err(unsat(ptr, "the `allOf` branches share no `enum` value"));
            }
            Value::Array(both)
        }
        "const" => {
            if !json_eq(existing, new) {
                return Err(unsat(ptr, "the `allOf` branches have different `const`s"));
            }
            existing.clone()
        }
        "uniqueItems" => Value::Bool(existing == &Value::Bool(true) || new == &Value::Bool(true)),
        "items" | "prefixItems" if existing.is_array() && new.is_array() => {
            let (Value::Array(a), Value::Array(b)) = (&*existing, new) else {
                return Err(unsupported(ptr, key));
            };
            let len = a.len().max(b.len());
            let out = (0..len)
                .map(|i| match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => both_schemas(x, y),
                    (Some(x), None) | (None, Some(x)) => x.clone(),
                    (None, None) => Value::Bool(true),
                })
                .collect();
            Value::Array(out)
        }
        "items" | "additionalItems" | "additionalProperties"
            if !existing.is_array() && !new.is_array() =>
        {
            both_schemas(existing, new)
        }
        "multipleOf" => match (existing.as_u64(), new.as_u64()) {
            (Some(a), Some(b)) if a > 0 && b > 0 => {
                let lcm = (a / gcd(a, b))
                    .checked_mul(b)
                    .ok_or_else(|| unsupported(ptr, key))?;
                Value::from(lcm)
            }
            _ => return Err(unsupported(ptr, key)),
        },
        _ => return Err(unsupported(ptr, key)),
    };
    *existing = combined;
    Ok(())
}

/// Applies each part's `additionalProperties` to the properties other parts declare: a closed
/// part removes them (an error if one is required), a schema part constrains them.
fn close_properties(
    flat: &[(Map<String, Value>, String)],
    merged: &mut Map<String, Value>,
    ptr: &str,
) -> Result<(), SampleError> {
    let Some(Value::Object(properties)) = merged.get("properties").cloned() else {
        return Ok(());
    };
    let mut properties = properties;
    let required: Vec<String> = merged
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for (part, _) in flat {
        let Some(additional) = part.get("additionalProperties") else {
            continue;
        };
        if additional == &Value::Bool(true) {
            continue;
        }
        let declared = part.get("properties").and_then(Value::as_object);
        let undeclared: Vec<String> = properties
            .keys()
            .filter(|name| !declared.is_some_and(|d| d.contains_key(*name)))
            .cloned()
            .collect();
        for name in undeclared {
            if additional == &Value::Bool(false) {
                if required.contains(&name) {
                    return Err(unsat(
                        ptr,
                        format!(
                            "`{name}` is required, but an `allOf` branch closes the object without it"
                        ),
                    ));
                }
                properties.remove(&name);
            } else if let Some(schema) = properties.get(&name) {
                let constrained = both_schemas(schema, additional);
                properties.insert(name, constrained);
            }
        }
    }
    merged.insert("properties".into(), Value::Object(properties));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::SampleOptions;

    fn merge_root(root: &Value) -> Result<Value, SampleError> {
        let options = SampleOptions::default();
        let generator = Generator::new(root, 0, &options);
        let branches = root["allOf"].as_array().cloned().unwrap_or_default();
        let parts: Vec<(&Value, String)> = branches
            .iter()
            .enumerate()
            .map(|(i, b)| (b, format!("/allOf/{i}")))
            .collect();
        merge(&generator, &parts, "").map(|(map, _)| Value::Object(map))
    }

    #[test]
    fn merges_objects_types_and_bounds() {
        let root = json!({"definitions": {"Base": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}},
            "allOf": [{"$ref": "#/definitions/Base"},
                      {"type": "object", "properties": {"id": {"minLength": 2}, "n": {"type": "integer"}}, "required": ["n"], "minProperties": 1},
                      {"type": ["object", "null"], "minProperties": 2}]});
        let merged = merge_root(&root).unwrap();
        assert_eq!(merged["type"], json!(["object"]));
        assert_eq!(merged["required"], json!(["id", "n"]));
        assert_eq!(merged["minProperties"], json!(2));
        assert_eq!(
            merged["properties"]["id"],
            json!({"allOf": [{"type": "string"}, {"minLength": 2}]})
        );
    }

    #[test]
    fn closed_branches_drop_foreign_properties() {
        let root = json!({"allOf": [
            {"properties": {"a": {}, "b": {}}, "additionalProperties": false},
            {"properties": {"b": {}, "c": {}}}]});
        let merged = merge_root(&root).unwrap();
        let names: Vec<&String> = merged["properties"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["a", "b"]);
        let required_foreign = json!({"allOf": [
            {"properties": {"a": {}}, "additionalProperties": false},
            {"properties": {"c": {}}, "required": ["c"]}]});
        assert!(matches!(
            merge_root(&required_foreign),
            Err(SampleError::Unsatisfiable { .. })
        ));
    }

    #[test]
    fn conflicts_are_errors() {
        let types = json!({"allOf": [{"type": "string"}, {"type": "integer"}]});
        assert!(matches!(
            merge_root(&types),
            Err(SampleError::Unsatisfiable { .. })
        ));
        let patterns = json!({"allOf": [{"pattern": "a"}, {"pattern": "b"}]});
        assert!(
            matches!(merge_root(&patterns), Err(SampleError::Unsupported { keyword, .. }) if keyword == "allOf/pattern")
        );
        let int_number = json!({"allOf": [{"type": "integer"}, {"type": "number"}]});
        assert_eq!(merge_root(&int_number).unwrap()["type"], json!(["integer"]));
    }
}
