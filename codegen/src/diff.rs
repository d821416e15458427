//! The change report of `cargo xtask regen`: what changed between two catalogs, per operation,
//! with each change marked breaking or compatible for code built on the generated types.
//!
//! Fields are compared by their JSON path (`billing[].amountDue`) after following `$ref`s. For
//! results (data we read), an added field or enum value is compatible (the tolerant reader keeps
//! it); a removed field, a retyped field or a field that became optional breaks code that reads
//! it. For arguments (data we send), a new *required* field breaks callers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use passage_catalog::Catalog;
use serde_json::Value;

use crate::SchemaRole;

/// Whether a change can break code compiled against the previous generated types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impact {
    /// Existing code keeps compiling and decoding.
    Compatible,
    /// Existing code may stop compiling or decoding.
    Breaking,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `integration resource/action`.
    pub operation: String,
    /// What changed.
    pub description: String,
    /// Its impact.
    pub impact: Impact,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.impact {
            Impact::Breaking => "BREAKING  ",
            Impact::Compatible => "compatible",
        };
        write!(f, "{tag} {}: {}", self.operation, self.description)
    }
}

/// All changes between two catalogs, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeReport {
    /// The changes.
    pub changes: Vec<Change>,
}

impl ChangeReport {
    /// Whether any change is breaking.
    pub fn has_breaking(&self) -> bool {
        self.changes.iter().any(|c| c.impact == Impact::Breaking)
    }
}

impl fmt::Display for ChangeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return writeln!(f, "no catalog changes");
        }
        let breaking = self
            .changes
            .iter()
            .filter(|c| c.impact == Impact::Breaking)
            .count();
        writeln!(
            f,
            "{} catalog change(s), {breaking} breaking:",
            self.changes.len()
        )?;
        for change in &self.changes {
            writeln!(f, "  {change}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct FieldShape {
    types: BTreeSet<String>,
    required: bool,
    enum_values: Option<BTreeSet<String>>,
}

/// (integration, resource, action).
type OperationKey = (String, String, String);
/// (result schema, arguments schema).
type SchemaPair = (Option<Value>, Option<Value>);

/// Compares two catalogs.
pub fn compare(old: &Catalog, new: &Catalog) -> ChangeReport {
    let index = |catalog: &Catalog| -> BTreeMap<OperationKey, SchemaPair> {
        catalog
            .operations()
            .map(|op| {
                (
                    (
                        op.integration.to_string(),
                        op.resource.to_string(),
                        op.action.to_string(),
                    ),
                    (op.spec.result.clone(), op.spec.arguments.clone()),
                )
            })
            .collect()
    };
    let old_ops = index(old);
    let new_ops = index(new);
    let mut changes = Vec::new();
    for (key, (old_result, old_args)) in &old_ops {
        let name = format!("{} {}/{}", key.0, key.1, key.2);
        match new_ops.get(key) {
            None => changes.push(Change {
                operation: name,
                description: "operation removed".into(),
                impact: Impact::Breaking,
            }),
            Some((new_result, new_args)) => {
                compare_schema(
                    &name,
                    SchemaRole::Result,
                    old_result,
                    new_result,
                    &mut changes,
                );
                compare_schema(
                    &name,
                    SchemaRole::Arguments,
                    old_args,
                    new_args,
                    &mut changes,
                );
            }
        }
    }
    for key in new_ops.keys().filter(|k| !old_ops.contains_key(*k)) {
        changes.push(Change {
            operation: format!("{} {}/{}", key.0, key.1, key.2),
            description: "operation added".into(),
            impact: Impact::Compatible,
        });
    }
    ChangeReport { changes }
}

fn compare_schema(
    operation: &str,
    role: SchemaRole,
    old: &Option<Value>,
    new: &Option<Value>,
    changes: &mut Vec<Change>,
) {
    let label = match role {
        SchemaRole::Result => "result",
        SchemaRole::Arguments => "arguments",
    };
    let mut push = |description: String, impact: Impact| {
        changes.push(Change {
            operation: operation.to_string(),
            description: format!("{label} {description}"),
            impact,
        })
    };
    let (old, new) = match (old, new) {
        (None, None) => return,
        (Some(_), None) => return push("schema removed".into(), Impact::Breaking),
        (None, Some(_)) => {
            let impact = if role == SchemaRole::Result {
                Impact::Breaking
            } else {
                Impact::Compatible
            };
            return push("schema added".into(), impact);
        }
        (Some(a), Some(b)) if a == b => return,
        (Some(a), Some(b)) => (a, b),
    };
    let old_fields = flatten(old);
    let new_fields = flatten(new);
    for (path, before) in &old_fields {
        let Some(after) = new_fields.get(path) else {
            push(format!("field `{path}` removed"), Impact::Breaking);
            continue;
        };
        if before.types != after.types {
            push(
                format!(
                    "field `{path}` retyped: {} -> {}",
                    join(&before.types),
                    join(&after.types)
                ),
                Impact::Breaking,
            );
        }
        if before.required != after.required {
            let (text, impact) = match (role, after.required) {
                (SchemaRole::Result, false) => ("became optional", Impact::Breaking),
                (SchemaRole::Result, true) => ("became required", Impact::Compatible),
                (SchemaRole::Arguments, true) => ("became required", Impact::Breaking),
                (SchemaRole::Arguments, false) => ("became optional", Impact::Compatible),
            };
            push(format!("field `{path}` {text}"), impact);
        }
        if let (Some(a), Some(b)) = (&before.enum_values, &after.enum_values) {
            for value in b.difference(a) {
                push(
                    format!("field `{path}` enum value `{value}` added"),
                    Impact::Compatible,
                );
            }
            for value in a.difference(b) {
                push(
                    format!("field `{path}` enum value `{value}` removed"),
                    Impact::Breaking,
                );
            }
        }
    }
    for (path, after) in &new_fields {
        if old_fields.contains_key(path) {
            continue;
        }
        let impact = if role == SchemaRole::Arguments && after.required {
            Impact::Breaking
        } else {
            Impact::Compatible
        };
        push(
            format!("field `{path}` added ({})", join(&after.types)),
            impact,
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(result: Value, arguments: Value) -> Catalog {
        Catalog::from_value(
            serde_json::json!({"providers":[{"id":"x","name":"X","resources":[
            {"name":"r","operations":{"read":{"arguments":arguments,"result":result}}}]}]}),
        )
        .unwrap()
    }

    #[test]
    fn classifies_field_and_enum_changes() {
        let old = catalog(
            serde_json::json!({"type":"object","required":["a","b"],"properties":{
                "a":{"type":"string"},"b":{"type":"number"},"c":{"type":"string","enum":["x","y"]}}}),
            serde_json::json!({"type":"object","properties":{"limit":{"type":"number"}}}),
        );
        let new = catalog(
            serde_json::json!({"type":"object","required":["a"],"properties":{
                "a":{"type":"integer"},"b":{"type":"number"},"c":{"type":"string","enum":["x","z"]},"d":{"type":"string"}}}),
            serde_json::json!({"type":"object","required":["token"],"properties":{"limit":{"type":"number"},"token":{"type":"string"}}}),
        );
        let report = compare(&old, &new);
        let text = report.to_string();
        assert!(
            text.contains("BREAKING   x r/read: result field `$.a` retyped: string -> integer"),
            "{text}"
        );
        assert!(
            text.contains("BREAKING   x r/read: result field `$.b` became optional"),
            "{text}"
        );
        assert!(
            text.contains("compatible x r/read: result field `$.c` enum value `z` added"),
            "{text}"
        );
        assert!(
            text.contains("BREAKING   x r/read: result field `$.c` enum value `y` removed"),
            "{text}"
        );
        assert!(
            text.contains("compatible x r/read: result field `$.d` added (string)"),
            "{text}"
        );
        assert!(
            text.contains("BREAKING   x r/read: arguments field `$.token` added (string)"),
            "{text}"
        );
        assert!(report.has_breaking());
    }

    #[test]
    fn operations_added_and_removed() {
        let old = catalog(serde_json::json!({"type":"object"}), Value::Null);
        let new = Catalog::from_value(
            serde_json::json!({"providers":[{"id":"y","name":"Y","resources":[
            {"name":"r","operations":{"read":{"arguments":null,"result":{"type":"object"}}}}]}]}),
        )
        .unwrap();
        let text = compare(&old, &new).to_string();
        assert!(
            text.contains("BREAKING   x r/read: operation removed"),
            "{text}"
        );
        assert!(
            text.contains("compatible y r/read: operation added"),
            "{text}"
        );
    }

    #[test]
    fn identical_catalogs_report_nothing() {
        let a = catalog(
            serde_json::json!({"$defs":{"N":{"type":"object","properties":{"n":{"$ref":"#/$defs/N"}}}},"$ref":"#/$defs/N"}),
            Value::Null,
        );
        assert_eq!(compare(&a, &a).to_string(), "no catalog changes\n");
    }
}
