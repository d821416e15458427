//! Schema normalization: rewrites a catalog JSON Schema (draft-07 or 2020-12, as zod emits them)
//! into the draft-07 subset typify types well, and loosens it for a tolerant reader.
//!
//! Every rewrite here exists because typify would otherwise mis-type or reject the schema (see
//! `../shared/codegen-notes.md`): `prefixItems` tuples, `$defs`, `const`, closed objects, string
//! constraints that would turn plain strings into validated newtypes, and keywords it panics on.
//! Constraints we remove are kept as text in the field's doc comment, so nothing is silently lost.

use serde_json::{Map, Value};

/// Whether the schema describes data we receive (results) or data we send (arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaRole {
    /// Data Passage sends us: closed objects are opened and keep unknown fields in `extra`.
    Result,
    /// Data we send: closed objects become plain structs without an `extra` map.
    Arguments,
}

/// A note about something normalization dropped or could not keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizeNote {
    /// JSON pointer into the original schema.
    pub pointer: String,
    /// What was done there.
    pub message: String,
}

/// The output of [`normalize`]: a draft-07 root schema plus notes.
#[derive(Debug, Clone)]
pub struct NormalizedSchema {
    /// The rewritten schema (draft-07, definitions at the root).
    pub schema: Value,
    /// Things dropped on the way that a reviewer should know about.
    pub notes: Vec<NormalizeNote>,
}

/// Keywords that only constrain values: dropping them makes the type more tolerant, never wrong.
const CONSTRAINT_KEYWORDS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "propertyNames",
    "dependentRequired",
    "contentEncoding",
    "contentMediaType",
];

/// Keywords that carry no type information for us.
const METADATA_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "$anchor",
    "$vocabulary",
    "examples",
    "readOnly",
    "writeOnly",
    "deprecated",
    "nullable",
];

/// Keywords whose meaning we cannot express in a Rust type; dropped with a note.
const UNTYPABLE_KEYWORDS: &[&str] = &[
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "dependentSchemas",
    "dependencies",
    "unevaluatedProperties",
    "unevaluatedItems",
];

/// Normalizes one operation's schema. `title` names the root type.
pub fn normalize(schema: &Value, title: &str, role: SchemaRole) -> NormalizedSchema {
    let mut notes = Vec::new();
    let mut definitions = Map::new();
    let mut root = schema.clone();
    // Hoist root-level `$defs` / `definitions` so every `$ref` points into `#/definitions`.
    if let Value::Object(map) = &mut root {
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(defs)) = map.remove(key) {
                for (name, def) in defs {
                    let pointer = format!("/{}/{}", key, escape_pointer(&name));
                    let def = rewrite(&def, &pointer, role, &mut notes);
                    definitions.insert(name, def);
                }
            }
        }
    }
    let mut root = rewrite(&root, "", role, &mut notes);
    if let Value::Object(map) = &mut root {
        map.insert("title".into(), Value::String(title.to_string()));
        if !definitions.is_empty() {
            map.insert("definitions".into(), Value::Object(definitions));
        }
    } else {
        // `true` / `false` / garbage at the root: type it as any JSON value.
        let mut map = Map::new();
        map.insert("title".into(), Value::String(title.to_string()));
        root = Value::Object(map);
    }
    NormalizedSchema {
        schema: root,
        notes,
    }
}

fn rewrite(
    schema: &Value,
    pointer: &str,
    role: SchemaRole,
    notes: &mut Vec<NormalizeNote>,
) -> Value {
    let map = match schema {
        Value::Object(map) => map,
        // `true` and `{}` accept anything; `false` accepts nothing, which a reader cannot use.
        Value::Bool(true) => return Value::Object(Map::new()),
        Value::Bool(false) => return Value::Object(Map::new()),
        _ => {
            notes.push(NormalizeNote {
                pointer: pointer_or_root(pointer),
                message: "not a schema object; typed as any JSON value".into(),
            });
            return Value::Object(Map::new());
        }
    };
    let mut out = Map::new();
    let mut doc_notes: Vec<String> = Vec::new();
    let mut nullable = false;
    for (key, value) in map {
        let child = |suffix: &str| format!("{pointer}/{}/{}", key, escape_pointer(suffix));
        match key.as_str() {
            k if METADATA_KEYWORDS.contains(&k) => {
                if k == "nullable" && value == &Value::Bool(true) {
                    nullable = true;
                }
            }
            k if CONSTRAINT_KEYWORDS.contains(&k) => {
                doc_notes.push(format!("`{k}`: `{value}`"));
            }
            k if UNTYPABLE_KEYWORDS.contains(&k) => {
                notes.push(NormalizeNote {
                    pointer: format!("{pointer}/{k}"),
                    message: format!("keyword `{k}` cannot be expressed as a Rust type; dropped"),
                });
            }
            "format" => doc_notes.push(format!("format: `{}`", value_text(value))),
            "pattern" => doc_notes.push(format!("pattern: `{}`", value_text(value))),
            "$defs" | "definitions" => {
                // Nested definitions are rare in zod output; typify only reads root ones.
                notes.push(NormalizeNote {
                    pointer: format!("{pointer}/{key}"),
                    message: "nested definitions are not supported; dropped".into(),
                });
            }
            "$ref" => match value.as_str().and_then(rewrite_ref) {
                Some(reference) => {
                    out.insert("$ref".into(), Value::String(reference));
                }
                None => {
                    notes.push(NormalizeNote {
                        pointer: format!("{pointer}/$ref"),
                        message: format!("reference {value} does not point into the definitions; typed as any JSON value"),
                    });
                }
            },
            "const" => match value {
                Value::String(_) => {
                    out.insert("enum".into(), Value::Array(vec![value.clone()]));
                    if !map.contains_key("type") {
                        out.insert("type".into(), Value::String("string".into()));
                    }
                }
                Value::Bool(_) => {
                    out.entry("type").or_insert(Value::String("boolean".into()));
                    doc_notes.push(format!("always `{value}`"));
                }
                Value::Number(_) => {
                    out.entry("type").or_insert(Value::String("number".into()));
                    doc_notes.push(format!("always `{value}`"));
                }
                Value::Null => {
                    out.insert("type".into(), Value::String("null".into()));
                }
                _ => doc_notes.push(format!("always `{value}`")),
            },
            "enum" => {
                let values = value.as_array().cloned().unwrap_or_default();
                let all_strings = values.iter().all(|v| v.is_string() || v.is_null());
                if all_strings && !values.is_empty() && nameable(&values) {
                    out.insert("enum".into(), Value::Array(values));
                } else if all_strings && !values.is_empty() {
                    // typify panics when values cannot name distinct variants (`+`, `-`): keep
                    // the field typed as a string rather than losing it to `Value`.
                    notes.push(NormalizeNote {
                        pointer: format!("{pointer}/enum"),
                        message:
                            "enum values cannot name distinct Rust variants; typed as a string"
                                .into(),
                    });
                    doc_notes.push(format!("one of: `{value}`"));
                    if values.iter().any(Value::is_null) {
                        out.insert("type".into(), serde_json::json!(["string", "null"]));
                    } else {
                        out.entry("type").or_insert(Value::String("string".into()));
                    }
                } else {
                    doc_notes.push(format!("one of: `{value}`"));
                }
            }
            "type" => {
                out.insert("type".into(), value.clone());
            }
            "properties" => {
                let mut props = Map::new();
                match value {
                    Value::Object(p) => {
                        for (name, prop) in p {
                            props.insert(name.clone(), rewrite(prop, &child(name), role, notes));
                        }
                    }
                    other => notes.push(NormalizeNote {
                        pointer: format!("{pointer}/properties"),
                        message: format!("`properties` is not an object ({other}); ignored"),
                    }),
                }
                out.insert("properties".into(), Value::Object(props));
            }
            "additionalProperties" => match value {
                Value::Bool(false) => {}
                Value::Bool(true) => {}
                other => {
                    out.insert(
                        key.clone(),
                        rewrite(other, &format!("{pointer}/{key}"), role, notes),
                    );
                }
            },
            "items" => match value {
                Value::Array(items) => {
                    let items: Vec<Value> = items
                        .iter()
                        .enumerate()
                        .map(|(i, s)| rewrite(s, &child(&i.to_string()), role, notes))
                        .collect();
                    out.insert("items".into(), Value::Array(items));
                }
                Value::Bool(false) => {
                    if !map.contains_key("prefixItems") {
                        out.insert("maxItems".into(), Value::from(0));
                    }
                }
                other => {
                    let rewritten = rewrite(other, &format!("{pointer}/items"), role, notes);
                    if map.contains_key("prefixItems") {
                        out.insert("additionalItems".into(), rewritten);
                    } else {
                        out.insert("items".into(), rewritten);
                    }
                }
            },
            "prefixItems" => {
                let items: Vec<Value> = value
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, s)| rewrite(s, &child(&i.to_string()), role, notes))
                            .collect()
                    })
                    .unwrap_or_default();
                let len = items.len();
                out.insert("items".into(), Value::Array(items));
                // A closed tuple (`items: false`) gets a fixed length so typify emits a Rust tuple.
                if map.get("items") == Some(&Value::Bool(false)) {
                    out.insert("minItems".into(), Value::from(len));
                    out.insert("maxItems".into(), Value::from(len));
                    out.insert("additionalItems".into(), Value::Bool(false));
                }
            }
            "minItems" | "maxItems" => {
                // Tuple lengths are set with prefixItems; other bounds only constrain.
                if !map.contains_key("prefixItems") {
                    doc_notes.push(format!("`{key}`: `{value}`"));
                }
            }
            "additionalItems" => {
                if !map.contains_key("prefixItems") {
                    out.insert(
                        key.clone(),
                        rewrite(value, &format!("{pointer}/{key}"), role, notes),
                    );
                }
            }
            "anyOf" | "oneOf" | "allOf" => {
                let members: Vec<Value> = value
                    .as_array()
                    .map(|members| {
                        members
                            .iter()
                            .enumerate()
                            .map(|(i, s)| rewrite(s, &child(&i.to_string()), role, notes))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Array(members));
            }
            "default" if role == SchemaRole::Result => {
                // A reader must not invent data: a missing field stays missing (and is not
                // re-serialized), so a decode/encode round trip changes nothing.
                doc_notes.push(format!("default: `{value}`"));
            }
            "required" | "title" | "description" | "default" => {
                out.insert(key.clone(), value.clone());
            }
            _ => {
                // Unknown keywords (vendor extensions, typos): ignored by design, but visible.
                notes.push(NormalizeNote {
                    pointer: format!("{pointer}/{}", escape_pointer(key)),
                    message: format!("unknown keyword `{key}` ignored"),
                });
            }
        }
    }
    if nullable {
        if let Some(Value::String(t)) = out.get("type").cloned() {
            out.insert(
                "type".into(),
                Value::Array(vec![Value::String(t), "null".into()]),
            );
        }
    }
    let is_object =
        out.contains_key("properties") || out.get("type") == Some(&Value::String("object".into()));
    if is_object && role == SchemaRole::Result && !out.contains_key("additionalProperties") {
        // An empty schema for additional properties makes typify keep unknown fields in a
        // flattened `extra` map, so fields Passage adds later survive a decode/encode round trip.
        out.insert("additionalProperties".into(), Value::Object(Map::new()));
    }
    if !doc_notes.is_empty() {
        let extra = format!(
            "Constraints (not enforced when decoding): {}.",
            doc_notes.join(", ")
        );
        let description = match out.get("description").and_then(Value::as_str) {
            Some(text) => format!("{text}\n\n{extra}"),
            None => extra,
        };
        out.insert("description".into(), Value::String(description));
    }
    Value::Object(out)
}

/// Whether string enum values give distinct Rust variant names (typify panics otherwise).
fn nameable(values: &[Value]) -> bool {
    let mut names = std::collections::BTreeSet::new();
    values.iter().filter_map(Value::as_str).all(|v| {
        v.chars().any(|c| c.is_ascii_alphanumeric()) && names.insert(crate::naming::pascal(v))
    })
}

/// Rewrites `#/$defs/X` and `#/definitions/X` to `#/definitions/X`; other references are refused.
fn rewrite_ref(reference: &str) -> Option<String> {
    let name = reference
        .strip_prefix("#/$defs/")
        .or_else(|| reference.strip_prefix("#/definitions/"))?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    Some(format!("#/definitions/{name}"))
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pointer_or_root(pointer: &str) -> String {
    if pointer.is_empty() {
        "/".into()
    } else {
        pointer.into()
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
