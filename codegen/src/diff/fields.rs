//! The field-level view of a schema change: both schemas flattened to JSON paths
//! (`billing[].amountDue`, `$refs` followed, cycles cut) and compared path by path. It names
//! what changed; whether a change breaks is proved in `compat`, and this module only says which
//! changes *may* break for the schema's role (the ones a counterexample is looked for).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::SchemaRole;

/// One difference at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldChange {
    /// The field path (`$.billing[].amountDue`), union members as `<anyOf0>`.
    pub path: String,
    /// What changed, without the role.
    pub description: String,
    /// Whether the change can break code of this role: results are read by old code, so
    /// fewer accepted payloads on the old side break it; arguments are written by old code,
    /// so fewer accepted payloads on the new side do.
    pub may_break: bool,
}

/// The field changes between two schemas of one role.
pub(crate) fn field_changes(role: SchemaRole, old: &Value, new: &Value) -> Vec<FieldChange> {
    let reads = role == SchemaRole::Result;
    let old_fields = flatten(old);
    let new_fields = flatten(new);
    let mut out = Vec::new();
    let mut push = |path: &str, description: String, may_break: bool| {
        out.push(FieldChange {
            path: path.to_string(),
            description,
            may_break,
        })
    };
    for (path, before) in &old_fields {
        let Some(after) = new_fields.get(path) else {
            push(path, format!("field `{path}` removed"), true);
            continue;
        };
        if before.types != after.types {
            let text = format!(
                "field `{path}` retyped: {} -> {}",
                join(&before.types),
                join(&after.types)
            );
            push(path, text, true);
        }
        if before.required != after.required {
            let text = if after.required {
                "became required"
            } else {
                "became optional"
            };
            // A reader needs what it read to stay there; a writer must not be asked for more.
            let may_break = if reads {
                !after.required
            } else {
                after.required
            };
            push(path, format!("field `{path}` {text}"), may_break);
        }
        if let (Some(a), Some(b)) = (&before.enum_values, &after.enum_values) {
            // Result enums are open (`Unknown(String)`): a value added or removed still decodes.
            for value in b.difference(a) {
                push(
                    path,
                    format!("field `{path}` enum value `{value}` added"),
                    false,
                );
            }
            for value in a.difference(b) {
                push(
                    path,
                    format!("field `{path}` enum value `{value}` removed"),
                    !reads,
                );
            }
        }
    }
    for (path, after) in &new_fields {
        if !old_fields.contains_key(path) {
            let text = format!("field `{path}` added ({})", join(&after.types));
            push(path, text, !reads && after.required);
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct FieldShape {
    types: BTreeSet<String>,
    required: bool,
    enum_values: Option<BTreeSet<String>>,
}

fn join(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "any".into()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join("|")
    }
}

/// Flattens a schema into field paths → shapes, following local `$ref`s (cycles cut).
fn flatten(schema: &Value) -> BTreeMap<String, FieldShape> {
    let mut out = BTreeMap::new();
    walk(schema, schema, "$", true, &mut Vec::new(), &mut out);
    out
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

fn walk(
    root: &Value,
    schema: &Value,
    path: &str,
    required: bool,
    stack: &mut Vec<String>,
    out: &mut BTreeMap<String, FieldShape>,
) {
    let Value::Object(map) = schema else {
        out.entry(path.to_string()).or_insert(FieldShape {
            required,
            ..Default::default()
        });
        return;
    };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        if stack.iter().any(|r| r == reference) {
            out.entry(path.to_string())
                .or_default()
                .types
                .insert(format!("ref {reference}"));
            return;
        }
        if let Some(target) = resolve(root, reference) {
            stack.push(reference.to_string());
            walk(root, target, path, required, stack, out);
            stack.pop();
        }
        return;
    }
    let shape = out.entry(path.to_string()).or_default();
    shape.required = required;
    match map.get("type") {
        Some(Value::String(t)) => {
            shape.types.insert(t.clone());
        }
        Some(Value::Array(ts)) => {
            shape
                .types
                .extend(ts.iter().filter_map(Value::as_str).map(String::from));
        }
        _ => {}
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        shape.enum_values = Some(
            values
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
        );
    }
    if let Some(value) = map.get("const") {
        shape.enum_values = Some(
            [value
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| value.to_string())]
            .into(),
        );
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(members)) = map.get(key) {
            for (i, member) in members.iter().enumerate() {
                // Members are identified by position; a nullable member shows as type `null`.
                let member_path = format!("{path}<{key}{i}>");
                if member.get("type") == Some(&Value::String("null".into())) {
                    out.entry(path.to_string())
                        .or_default()
                        .types
                        .insert("null".into());
                    continue;
                }
                walk(root, member, &member_path, true, stack, out);
            }
        }
    }
    let required_set: BTreeSet<&str> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(Value::Object(props)) = map.get("properties") {
        for (name, prop) in props {
            let child = format!("{path}.{name}");
            walk(
                root,
                prop,
                &child,
                required_set.contains(name.as_str()),
                stack,
                out,
            );
        }
    }
    if let Some(items) = map.get("items") {
        match items {
            Value::Array(tuple) => {
                for (i, item) in tuple.iter().enumerate() {
                    walk(root, item, &format!("{path}[{i}]"), true, stack, out);
                }
            }
            Value::Object(_) => walk(root, items, &format!("{path}[]"), true, stack, out),
            _ => {}
        }
    }
    if let Some(Value::Array(tuple)) = map.get("prefixItems") {
        for (i, item) in tuple.iter().enumerate() {
            walk(root, item, &format!("{path}[{i}]"), true, stack, out);
        }
    }
    if let Some(values @ Value::Object(_)) = map.get("additionalProperties") {
        walk(root, values, &format!("{path}{{*}}"), true, stack, out);
    }
}
