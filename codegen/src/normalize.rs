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
    // Editor annotations common in public schemas (SchemaStore, VS Code): text only.
    "markdownDescription",
    "markdownEnumDescriptions",
    "enumDescriptions",
    "deprecationMessage",
    "errorMessage",
    "defaultSnippets",
    "allowTrailingCommas",
    "allowComments",
    "id",
];

/// Keywords whose meaning we cannot express in a Rust type; dropped with a note.
const UNTYPABLE_KEYWORDS: &[&str] = &[
    "not",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "dependencies",
    "unevaluatedProperties",
    "unevaluatedItems",
];

/// Normalizes one operation's schema. `title` names the root type.
pub fn normalize(schema: &Value, title: &str, role: SchemaRole) -> NormalizedSchema {
    let mut notes = Vec::new();
    let mut definitions = Map::new();
    let mut root = hoist_references(schema);
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
        // typify cannot name a union that is the value type of a map at the root; name it.
        if let Some(Value::Object(values)) = map.get_mut("additionalProperties") {
            let is_union = values.contains_key("anyOf") || values.contains_key("oneOf");
            if is_union && !values.contains_key("title") {
                values.insert("title".into(), Value::String(format!("{title}Value")));
            }
        }
        if !definitions.is_empty() {
            map.insert("definitions".into(), Value::Object(definitions));
        }
        mark_typeless_all_of(&mut root);
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
    rewrite_in(schema, pointer, role, notes, Position::Alone)
}

/// Where a schema sits, for what its missing `type` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Anywhere but an `allOf`: a schema without `type` allows every kind of value.
    Alone,
    /// A member of an `allOf`: the intersection's kinds come from the other members (and the
    /// owner), so a member without `type` must not narrow them (see [`mark_typeless_all_of`]).
    AllOfMember,
}

fn rewrite_in(
    schema: &Value,
    pointer: &str,
    role: SchemaRole,
    notes: &mut Vec<NormalizeNote>,
    position: Position,
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
    let mut union_of_any = false;
    let tuple = ["prefixItems", "items"]
        .iter()
        .any(|k| map.get(*k).is_some_and(Value::is_array));
    for (key, value) in map {
        let child = |suffix: &str| format!("{pointer}/{}/{}", key, escape_pointer(suffix));
        match key.as_str() {
            "items" | "prefixItems" | "additionalItems" | "minItems" | "maxItems" if tuple => {}
            k if METADATA_KEYWORDS.contains(&k) => {
                if k == "nullable" && value == &Value::Bool(true) {
                    nullable = true;
                }
            }
            // zod puts the safe-integer bounds (±2^53 - 1) on every `z.int()`: not a constraint
            // a reader needs to see.
            "minimum" | "maximum" if is_safe_integer_bound(value) => {}
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
                // Nested definitions that are referenced were hoisted to the root by
                // `hoist_references`; the others are not part of any type.
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
            "patternProperties" => {
                pattern_properties(map, value, pointer, role, notes, &mut out, &mut doc_notes)
            }
            "additionalProperties" if map.contains_key("patternProperties") => {}
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
            // Tuple forms (`items: [..]`, `prefixItems`) are handled by `tuple_form` below.
            "items" => match value {
                Value::Bool(false) => {
                    out.insert("maxItems".into(), Value::from(0));
                }
                Value::Bool(true) => {}
                other => {
                    let rewritten = rewrite(other, &format!("{pointer}/items"), role, notes);
                    out.insert("items".into(), rewritten);
                }
            },
            "minItems" | "maxItems" => doc_notes.push(format!("`{key}`: `{value}`")),
            // Without positional items, `additionalItems` and `prefixItems` say nothing.
            "additionalItems" | "prefixItems" => {}
            "anyOf" | "oneOf" | "allOf" => {
                // `anyOf` is typed as `oneOf`: typify renders `anyOf` as a struct of optional
                // flattened parts, which cannot hold a scalar member; for decoding, "the first
                // member that fits" is what both mean.
                let key = if key == "anyOf" && !map.contains_key("oneOf") {
                    &"oneOf".to_string()
                } else {
                    key
                };
                let mut members: Vec<Value> = value
                    .as_array()
                    .map(|members| {
                        members
                            .iter()
                            .enumerate()
                            .map(|(i, s)| {
                                let position = if key == "allOf" {
                                    Position::AllOfMember
                                } else {
                                    Position::Alone
                                };
                                rewrite_in(s, &child(&i.to_string()), role, notes, position)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if key == "allOf" {
                    // typify's merge of the members drops the descriptions of their own
                    // properties, and with them the mark that widens a typeless object: such a
                    // property would become a plain struct refusing the other kinds the schema
                    // allows. Until the mark survives the merge, it is typed as any JSON value
                    // (its nested schemas keep their marks: only the member's own properties
                    // lose them). Reproduced by adversarial `typeless-in-all-of-member`.
                    for (i, member) in members.iter_mut().enumerate() {
                        let Some(Value::Object(properties)) = member.get_mut("properties") else {
                            continue;
                        };
                        for (name, property) in properties.iter_mut() {
                            if !is_marked_object(property) {
                                continue;
                            }
                            let text = property
                                .get("description")
                                .map(|d| without_typeless_marks(&value_text(d)))
                                .unwrap_or_default();
                            let mut raw = Map::new();
                            let sentence = "Typed as any JSON value: an object schema without \
                                            `type` whose mark an `allOf` merge drops.";
                            raw.insert(
                                "description".into(),
                                Value::String(if text.is_empty() {
                                    sentence.to_owned()
                                } else {
                                    format!("{text}\n\n{sentence}")
                                }),
                            );
                            *property = Value::Object(raw);
                            notes.push(NormalizeNote {
                                pointer: format!(
                                    "{}/properties/{}",
                                    child(&i.to_string()),
                                    escape_pointer(name)
                                ),
                                message: "an object schema without `type` as a property of an \
                                          `allOf` member: typed as serde_json::Value (the \
                                          members' merge would drop the mark that widens it to \
                                          every kind of value)"
                                    .into(),
                            });
                        }
                    }
                    // typify asserts that merged `allOf` members carry no metadata (it panics
                    // on a described member); their text goes to the parent's doc instead.
                    for member in &mut members {
                        if let Value::Object(member) = member {
                            for meta in ["title", "description", "default"] {
                                if let Some(text) = member.remove(meta) {
                                    if meta == "description" {
                                        // A typeless-schema mark is about the member's own
                                        // type, which the merge dissolves: on the owner's doc
                                        // it would widen the owner too.
                                        let text = without_typeless_marks(&value_text(&text));
                                        if !text.is_empty() {
                                            doc_notes.push(text);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                if key != "allOf" && members.iter().any(is_marked_object) {
                    // A member that is an object schema without `type` allows every kind of
                    // value, and so does the union. typify makes the member a struct variant
                    // (nothing to widen), so the union gets a last member for the other kinds.
                    members.push(any_other_value(
                        "A value of another kind: a member of the union gives no `type`.",
                    ));
                    union_of_any = true;
                }
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
            // Vendor extensions (`x-intellij-...`, `x-rust-type`, `tsType`): not JSON Schema.
            k if k.starts_with("x-") || k.starts_with("ts") => {}
            _ => {
                // Unknown keywords (typos, drafts we do not know): ignored by design, but visible.
                notes.push(NormalizeNote {
                    pointer: format!("{pointer}/{}", escape_pointer(key)),
                    message: format!("unknown keyword `{key}` ignored"),
                });
            }
        }
    }
    if tuple {
        tuple_form(map, pointer, role, notes, &mut out, &mut doc_notes);
    }
    mark_nullable_optional(map, &mut out);
    if !out.contains_key("type") {
        if let Some(Value::Array(values)) = map.get("enum") {
            // Non-string enums keep their values as doc text; their kind still types them.
            if let Some(kind) = common_kind(values) {
                out.insert("type".into(), Value::String(kind.into()));
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
    // In an `allOf`, `type: object` would narrow the intersection to objects (a member
    // `{"properties": ..}` beside `{"type": ["boolean", "object"]}` allows `true`); whether the
    // whole `allOf` is a typeless object is decided at its owner (`mark_typeless_all_of`).
    let typeless_object = position == Position::Alone
        && !out.contains_key("type")
        && out.contains_key("properties")
        && !["$ref", "anyOf", "oneOf", "allOf", "enum"]
            .iter()
            .any(|k| out.contains_key(*k));
    if typeless_object {
        // typify reads it as an object; the post-processing step widens the struct it makes
        // into an enum of the struct and any other JSON value (see [`TYPELESS_OBJECT_DOC`]).
        out.insert("type".into(), Value::String("object".into()));
        let description = match out.get("description").and_then(Value::as_str) {
            Some(text) => format!("{text}\n\n{TYPELESS_OBJECT_DOC}"),
            None => TYPELESS_OBJECT_DOC.to_string(),
        };
        out.insert("description".into(), Value::String(description));
    }
    let typeless_array = !out.contains_key("type")
        && out.get("items").is_some_and(Value::is_object)
        && !["properties", "$ref", "anyOf", "oneOf", "allOf", "enum"]
            .iter()
            .any(|k| out.contains_key(*k));
    if typeless_array {
        // An array schema without `type` allows every value that is not an array too: a union
        // of the list and any other value (kept raw).
        let mut array = std::mem::take(&mut out);
        if let Some(title) = array.remove("title") {
            out.insert("title".into(), title);
        }
        // The marker also tells post-processing that `null` is a value of this type, not
        // absence (see `postprocess/typeless_objects.rs`).
        let description = match array.remove("description").as_ref().and_then(Value::as_str) {
            Some(text) => format!("{text}\n\n{TYPELESS_ARRAY_DOC}"),
            None => TYPELESS_ARRAY_DOC.to_string(),
        };
        out.insert("description".into(), Value::String(description));
        array.insert("type".into(), Value::String("array".into()));
        // `oneOf`, not `anyOf`: typify makes an untagged enum of a `oneOf` (tried in order, so
        // a list is a list) and a struct of optional members of an `anyOf`.
        out.insert(
            "oneOf".into(),
            Value::Array(vec![
                Value::Object(array),
                any_other_value(
                    "A value that is not a list: valid where the schema gives no `type`.",
                ),
            ]),
        );
    }
    let is_object =
        out.contains_key("properties") || out.get("type") == Some(&Value::String("object".into()));
    if is_object && role == SchemaRole::Result && !out.contains_key("additionalProperties") {
        // An empty schema for additional properties makes typify keep unknown fields in a
        // flattened `extra` map, so fields Passage adds later survive a decode/encode round trip.
        out.insert("additionalProperties".into(), Value::Object(Map::new()));
    }
    let typeless_map = !map.contains_key("type")
        && !out.contains_key("properties")
        && ["additionalProperties", "patternProperties"]
            .iter()
            .any(|k| map.contains_key(*k))
        && !["$ref", "anyOf", "oneOf", "allOf", "enum"]
            .iter()
            .any(|k| out.contains_key(*k));
    if typeless_map {
        // A map schema without `type` (`additionalProperties` / `patternProperties`, no
        // `properties`) allows every value that is not an object too: as for arrays, a union of the object
        // and any other value (kept raw).
        let mut object = std::mem::take(&mut out);
        if let Some(title) = object.remove("title") {
            out.insert("title".into(), title);
        }
        let description = match object
            .remove("description")
            .as_ref()
            .and_then(Value::as_str)
        {
            Some(text) => format!("{text}\n\n{TYPELESS_MAP_DOC}"),
            None => TYPELESS_MAP_DOC.to_string(),
        };
        out.insert("description".into(), Value::String(description));
        object.insert("type".into(), Value::String("object".into()));
        out.insert(
            "oneOf".into(),
            Value::Array(vec![
                Value::Object(object),
                any_other_value(
                    "A value that is not an object: valid where the schema gives no `type`.",
                ),
            ]),
        );
    }
    if union_of_any {
        // Also tells post-processing that `null` is a value of this union, not absence.
        let description = match out.get("description").and_then(Value::as_str) {
            Some(text) => format!("{text}\n\n{TYPELESS_UNION_DOC}"),
            None => TYPELESS_UNION_DOC.to_string(),
        };
        out.insert("description".into(), Value::String(description));
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

/// Types the tuple forms: draft-07 `items: [..]` (+ `additionalItems`) and 2020-12
/// `prefixItems` (+ `items`). A tuple whose every position is required and that admits nothing
/// after them becomes a Rust tuple; any other (optional trailing positions, open rest) becomes a
/// list of the union of its position types, which keeps every valid instance, in order.
fn tuple_form(
    map: &Map<String, Value>,
    pointer: &str,
    role: SchemaRole,
    notes: &mut Vec<NormalizeNote>,
    out: &mut Map<String, Value>,
    doc_notes: &mut Vec<String>,
) {
    let (positional_key, rest_key) = if map.get("prefixItems").is_some_and(Value::is_array) {
        ("prefixItems", "items")
    } else {
        ("items", "additionalItems")
    };
    let positional: Vec<Value> = map[positional_key]
        .as_array()
        .map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(i, s)| rewrite(s, &format!("{pointer}/{positional_key}/{i}"), role, notes))
                .collect()
        })
        .unwrap_or_default();
    let len = positional.len() as u64;
    let min = map.get("minItems").and_then(Value::as_u64).unwrap_or(0);
    let max = map.get("maxItems").and_then(Value::as_u64);
    let rest = match map.get(rest_key) {
        Some(Value::Bool(false)) => None,
        Some(Value::Object(o)) if !o.is_empty() => Some(rewrite(
            &Value::Object(o.clone()),
            &format!("{pointer}/{rest_key}"),
            role,
            notes,
        )),
        _ => Some(any_other_value("Any value after the positional items.")),
    };
    let closed = rest.is_none() || max == Some(len);
    // Array keywords constrain arrays only: without a `type`, other kinds stay allowed (an
    // `allOf` member that adds `items` to a boolean-or-array rule must not make it array-only).
    if len > 0 && closed && min >= len {
        out.insert("items".into(), Value::Array(positional));
        out.insert("minItems".into(), Value::from(len));
        out.insert("maxItems".into(), Value::from(len));
        out.insert("additionalItems".into(), Value::Bool(false));
        return;
    }
    doc_notes.push(format!(
        "a tuple of {len} position(s){}, typed as a list of their union",
        if min > 0 {
            format!(", at least {min} present")
        } else {
            String::new()
        }
    ));
    let mut members: Vec<Value> = Vec::new();
    for member in positional.into_iter().chain(rest) {
        if !members.contains(&member) {
            members.push(member);
        }
    }
    let item = match members.len() {
        0 => Value::Object(Map::new()),
        1 => members.remove(0),
        _ => {
            let mut union = Map::new();
            union.insert("oneOf".into(), Value::Array(members));
            Value::Object(union)
        }
    };
    out.insert("items".into(), item);
}

/// "Any JSON value" as a union member. Not `{}`: typify reads a bare `{}` member of a union as
/// an object and types it as a struct.
fn any_other_value(description: &str) -> Value {
    let mut map = Map::new();
    map.insert("description".into(), Value::String(description.into()));
    Value::Object(map)
}

/// `patternProperties`: an object whose keys follow patterns becomes a map. Its value type is
/// the pattern schemas' union, plus "any value" when keys outside the patterns are allowed.
/// Beside declared `properties`, unknown keys stay in the untyped `extra` map.
fn pattern_properties(
    map: &Map<String, Value>,
    value: &Value,
    pointer: &str,
    role: SchemaRole,
    notes: &mut Vec<NormalizeNote>,
    out: &mut Map<String, Value>,
    doc_notes: &mut Vec<String>,
) {
    let Some(patterns) = value.as_object() else {
        return;
    };
    let names: Vec<String> = patterns.keys().map(|p| format!("`{p}`")).collect();
    doc_notes.push(format!("keys match {}", names.join(" or ")));
    let has_properties = map
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    out.entry("type").or_insert(Value::String("object".into()));
    if has_properties {
        out.insert("additionalProperties".into(), Value::Object(Map::new()));
        return;
    }
    let mut members: Vec<Value> = Vec::new();
    for (pattern, schema) in patterns {
        let member = rewrite(
            schema,
            &format!("{pointer}/patternProperties/{}", escape_pointer(pattern)),
            role,
            notes,
        );
        if !members.contains(&member) {
            members.push(member);
        }
    }
    match map.get("additionalProperties") {
        Some(Value::Bool(false)) => {}
        Some(other @ Value::Object(o)) if !o.is_empty() => {
            let member = rewrite(
                other,
                &format!("{pointer}/additionalProperties"),
                role,
                notes,
            );
            if !members.contains(&member) {
                members.push(member);
            }
        }
        _ => members.push(any_other_value("The value of a key outside the patterns.")),
    }
    let item = if members.len() == 1 {
        members.remove(0)
    } else {
        let mut union = Map::new();
        union.insert("oneOf".into(), Value::Array(members));
        Value::Object(union)
    };
    out.insert("additionalProperties".into(), item);
}

/// The doc sentence that marks an object schema without `type` (`{"properties": ..}`): it also
/// allows every JSON value that is not an object, so its struct is widened by
/// post-processing into an enum of the struct (`Object`) and the raw value (`Other`).
pub(crate) const TYPELESS_OBJECT_DOC: &str =
    "The schema gives no `type`: a value that is not an object is valid too, kept raw.";

/// Marks every `allOf` owner that is an object schema without `type` (see
/// [`TYPELESS_OBJECT_DOC`]), after its members were left unmarked (`Position::AllOfMember`):
/// the owner has no `type`, `$ref`, `oneOf`/`anyOf` or `enum`, the owner or a member declares
/// `properties` or is a marked definition, and no member restricts the kind of value (a member
/// with no `type`, `enum`, `oneOf`/`anyOf`, nested `allOf` or `$ref`, or a `$ref` to a marked
/// definition). Such an `allOf` allows every JSON value, and typify merges it into one struct:
/// marked, the post-processing step widens it as it widens any typeless object. An `allOf` with a
/// member that has a `type` keeps the kinds of that member (typify intersects them).
/// Repeated until nothing changes, since a marked definition can make another owner typeless.
fn mark_typeless_all_of(root: &mut Value) {
    loop {
        let marked: std::collections::BTreeSet<String> = root
            .get("definitions")
            .and_then(Value::as_object)
            .map(|defs| {
                defs.iter()
                    .filter(|(_, def)| is_marked_object(def))
                    .map(|(name, _)| format!("#/definitions/{name}"))
                    .collect()
            })
            .unwrap_or_default();
        let mut changed = false;
        visit_schemas_mut(root, &mut |schema| {
            let Value::Object(map) = schema else { return };
            if !is_typeless_all_of(map, &marked) {
                return;
            }
            map.insert("type".into(), Value::String("object".into()));
            let description = match map.get("description").and_then(Value::as_str) {
                Some(text) => format!("{text}\n\n{TYPELESS_OBJECT_DOC}"),
                None => TYPELESS_OBJECT_DOC.to_string(),
            };
            map.insert("description".into(), Value::String(description));
            changed = true;
        });
        if !changed {
            return;
        }
    }
}

/// An object schema normalization marked as typeless (`type: object` and the mark).
fn is_marked_object(schema: &Value) -> bool {
    schema.get("type") == Some(&Value::String("object".into()))
        && schema
            .get("description")
            .and_then(Value::as_str)
            .is_some_and(|text| text.contains(TYPELESS_OBJECT_DOC))
}

/// See [`mark_typeless_all_of`]. `marked`: references to marked definitions.
fn is_typeless_all_of(
    map: &Map<String, Value>,
    marked: &std::collections::BTreeSet<String>,
) -> bool {
    let Some(Value::Array(members)) = map.get("allOf") else {
        return false;
    };
    const KINDS: &[&str] = &["type", "$ref", "oneOf", "anyOf", "enum"];
    if KINDS.iter().any(|k| map.contains_key(*k)) {
        return false;
    }
    let is_marked_ref = |member: &Value| {
        member
            .get("$ref")
            .and_then(Value::as_str)
            .is_some_and(|r| marked.contains(r))
    };
    let kind_free = |member: &Value| {
        is_marked_ref(member)
            || member.as_object().is_some_and(|m| {
                !KINDS.iter().any(|k| m.contains_key(*k)) && !m.contains_key("allOf")
            })
    };
    let has_properties = |schema: &Value| schema.get("properties").is_some_and(Value::is_object);
    members.iter().all(kind_free)
        && (map.get("properties").is_some_and(Value::is_object)
            || members
                .iter()
                .any(|m| has_properties(m) || is_marked_ref(m)))
}

/// Calls `f` on every schema of a normalized schema, children first: the root, definitions,
/// properties, `additionalProperties`, `items` (one or a list), `additionalItems` and the
/// members of `allOf` / `anyOf` / `oneOf`.
fn visit_schemas_mut(schema: &mut Value, f: &mut impl FnMut(&mut Value)) {
    if let Value::Object(map) = schema {
        for (key, value) in map.iter_mut() {
            match (key.as_str(), value) {
                ("definitions" | "properties", Value::Object(children)) => {
                    for child in children.values_mut() {
                        visit_schemas_mut(child, f);
                    }
                }
                ("allOf" | "anyOf" | "oneOf" | "items", Value::Array(children)) => {
                    for child in children {
                        visit_schemas_mut(child, f);
                    }
                }
                (
                    "additionalProperties" | "additionalItems" | "items",
                    child @ Value::Object(_),
                ) => visit_schemas_mut(child, f),
                _ => {}
            }
        }
    }
    f(schema);
}

/// `text` without the typeless-schema marks ([`TYPELESS_OBJECT_DOC`], [`TYPELESS_ARRAY_DOC`],
/// [`TYPELESS_MAP_DOC`], [`TYPELESS_UNION_DOC`]) and the blank lines around them.
fn without_typeless_marks(text: &str) -> String {
    let marks = [
        TYPELESS_OBJECT_DOC,
        TYPELESS_ARRAY_DOC,
        TYPELESS_MAP_DOC,
        TYPELESS_UNION_DOC,
    ];
    if !marks.iter().any(|mark| text.contains(mark)) {
        return text.to_string();
    }
    let mut text = text.to_string();
    for mark in marks {
        text = text.replace(mark, "");
    }
    text.split("\n\n")
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The doc sentence that marks a union (`oneOf` / `anyOf`) with a member that is an object
/// schema without `type` (see [`TYPELESS_OBJECT_DOC`]): normalization adds a last member for any
/// other value, and an optional field of the union reads `null` as a value, not as absent.
pub(crate) const TYPELESS_UNION_DOC: &str =
    "A member gives no `type`: a value of any kind is valid, one no other member takes is kept raw.";

/// The doc sentence that marks an array schema without `type` (`{"items": ..}`), typed as a
/// union of the list and any other value (kept raw).
pub(crate) const TYPELESS_ARRAY_DOC: &str =
    "The schema gives no `type`: a value that is not a list is valid too, kept raw.";

/// The doc sentence that marks a map schema without `type` (`{"additionalProperties": ..}` or
/// `patternProperties`, no `properties`), typed as a union of the map and any other value.
pub(crate) const TYPELESS_MAP_DOC: &str =
    "The schema gives no `type`: a value that is not an object is valid too, kept raw (`Other`).";

/// The doc sentence that marks an optional property whose schema allows `null`: such a property
/// is typed `Option<Option<T>>` so that an explicit `null` survives a round trip.
pub(crate) const NULLABLE_OPTIONAL_DOC: &str =
    "Optional, and `null` is kept apart from absent: `None` is absent, `Some(None)` is `null`.";

/// Marks optional properties that allow `null` (see [`NULLABLE_OPTIONAL_DOC`]) and makes them
/// required for typify, so it types them `Option<T>` without a default; the post-processing step
/// then makes them `Option<Option<T>>` with a default.
fn mark_nullable_optional(map: &Map<String, Value>, out: &mut Map<String, Value>) {
    let required: Vec<String> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let Some(Value::Object(props)) = out.get_mut("properties") else {
        return;
    };
    let mut marked = Vec::new();
    for (name, prop) in props.iter_mut() {
        if required.contains(name) || !allows_null(prop) {
            continue;
        }
        if let Value::Object(prop) = prop {
            let description = match prop.get("description").and_then(Value::as_str) {
                Some(text) => format!("{text}\n\n{NULLABLE_OPTIONAL_DOC}"),
                None => NULLABLE_OPTIONAL_DOC.to_string(),
            };
            prop.insert("description".into(), Value::String(description));
            marked.push(name.clone());
        }
    }
    if !marked.is_empty() {
        let all: Vec<Value> = required
            .into_iter()
            .chain(marked)
            .map(Value::String)
            .collect();
        out.insert("required".into(), Value::Array(all));
    }
}

fn allows_null(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) if t == "null" => return true,
        Some(Value::Array(types)) if types.iter().any(|t| t == "null") => return true,
        _ => {}
    }
    ["anyOf", "oneOf"].iter().any(|key| {
        schema
            .get(*key)
            .and_then(Value::as_array)
            .is_some_and(|members| {
                members
                    .iter()
                    .any(|m| m.get("type") == Some(&Value::String("null".into())))
            })
    })
}

/// The JSON Schema type all enum values share, when there is one.
fn common_kind(values: &[Value]) -> Option<&'static str> {
    if values.is_empty() {
        return None;
    }
    if values.iter().all(|v| v.is_i64() || v.is_u64()) {
        Some("integer")
    } else if values.iter().all(Value::is_number) {
        Some("number")
    } else if values.iter().all(Value::is_boolean) {
        Some("boolean")
    } else {
        None
    }
}

/// `9007199254740991` or `-9007199254740991` (JavaScript's `Number.MAX_SAFE_INTEGER` bounds).
fn is_safe_integer_bound(value: &Value) -> bool {
    const SAFE: i64 = 9_007_199_254_740_991;
    value.as_i64().is_some_and(|v| v == SAFE || v == -SAFE)
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

/// Makes every `$ref` inside the document point at a root definition: references to any JSON
/// pointer (`#/properties/a`, a nested `definitions` entry) and to anchors (`#item`, via
/// `$anchor` or a fragment `$id`) are resolved against the original document, and their targets
/// copied into the root definitions under a derived name. typify reads `#/definitions/X` only.
fn hoist_references(schema: &Value) -> Value {
    let mut anchors = std::collections::BTreeMap::new();
    collect_anchors(schema, "", &mut anchors);
    let mut references = std::collections::BTreeSet::new();
    collect_ref_strings(schema, &mut references);
    let existing: std::collections::BTreeSet<String> = ["definitions", "$defs"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_object))
        .flat_map(|defs| defs.keys().cloned())
        .collect();
    let mut taken = existing.clone();
    // reference → (target pointer, new definition name)
    let mut mapping: std::collections::BTreeMap<String, (String, String)> = Default::default();
    let mut by_target: std::collections::BTreeMap<String, String> = Default::default();
    for reference in &references {
        if rewrite_ref(reference).is_some() {
            continue;
        }
        let Some(target) = resolve_reference(reference, &anchors) else {
            continue;
        };
        if schema.pointer(&target).is_none() {
            continue;
        }
        let name = by_target
            .entry(target.clone())
            .or_insert_with(|| {
                let stem = definition_name(&target);
                let mut name = stem.clone();
                let mut n = 2;
                while !taken.insert(name.clone()) {
                    name = format!("{stem}{n}");
                    n += 1;
                }
                name
            })
            .clone();
        mapping.insert(reference.clone(), (target, name));
    }
    if mapping.is_empty() {
        return schema.clone();
    }
    let mut out = schema.clone();
    rewrite_ref_strings(&mut out, &mapping);
    let mut hoisted = Map::new();
    for (target, name) in by_target {
        if let Some(value) = out.pointer(&target) {
            let mut value = value.clone();
            if target.is_empty() {
                // `$ref: "#"` (root recursion): the root's shape, without its definitions.
                if let Value::Object(map) = &mut value {
                    map.remove("definitions");
                    map.remove("$defs");
                    map.remove("$schema");
                    map.remove("$id");
                }
            }
            hoisted.insert(name, value);
        }
    }
    if let Value::Object(map) = &mut out {
        let defs = map
            .entry("definitions")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(defs) = defs {
            defs.extend(hoisted);
        }
    }
    out
}

fn collect_anchors(
    schema: &Value,
    pointer: &str,
    out: &mut std::collections::BTreeMap<String, String>,
) {
    match schema {
        Value::Object(map) => {
            if let Some(anchor) = map.get("$anchor").and_then(Value::as_str) {
                out.entry(anchor.to_string()).or_insert(pointer.to_string());
            }
            if let Some(id) = map.get("$id").and_then(Value::as_str) {
                if let Some(anchor) = id.strip_prefix('#') {
                    out.entry(anchor.to_string()).or_insert(pointer.to_string());
                }
            }
            for (key, value) in map {
                collect_anchors(value, &format!("{pointer}/{}", escape_pointer(key)), out);
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                collect_anchors(value, &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn collect_ref_strings(schema: &Value, out: &mut std::collections::BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => {
                        out.insert(reference.clone());
                    }
                    // `enum`/`const`/`default`/`examples` hold data, not schemas.
                    ("enum" | "const" | "default" | "examples", _) => {}
                    _ => collect_ref_strings(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_ref_strings(v, out)),
        _ => {}
    }
}

fn rewrite_ref_strings(
    schema: &mut Value,
    mapping: &std::collections::BTreeMap<String, (String, String)>,
) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match (key.as_str(), &*value) {
                    ("$ref", Value::String(reference)) => {
                        if let Some((_, name)) = mapping.get(reference) {
                            *value = Value::String(format!("#/definitions/{name}"));
                        }
                    }
                    ("enum" | "const" | "default" | "examples", _) => {}
                    _ => rewrite_ref_strings(value, mapping),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| rewrite_ref_strings(v, mapping)),
        _ => {}
    }
}

/// `#/a/b~1c` → `/a/b~1c` (percent-decoded); `#name` → the anchor's pointer.
fn resolve_reference(
    reference: &str,
    anchors: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let fragment = reference.strip_prefix('#')?;
    if fragment.is_empty() || fragment.starts_with('/') {
        Some(percent_decode(fragment))
    } else {
        anchors.get(fragment).cloned()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A definition name for a hoisted target: its last named segments
/// (`/properties/typedef/definitions/options/items` → `TypedefOptionsItems`).
fn definition_name(pointer: &str) -> String {
    const STRUCTURAL: &[&str] = &[
        "properties",
        "definitions",
        "$defs",
        "anyOf",
        "oneOf",
        "allOf",
        "additionalProperties",
        "patternProperties",
        "prefixItems",
    ];
    let segments: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .filter(|s| !STRUCTURAL.contains(&s.as_str()))
        .collect();
    let tail: Vec<&str> = segments
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    if tail.is_empty() {
        return "RecursiveRoot".into();
    }
    crate::naming::pascal(&tail.join("-"))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::{
        normalize, SchemaRole, TYPELESS_ARRAY_DOC, TYPELESS_OBJECT_DOC, TYPELESS_UNION_DOC,
    };

    fn normalized(schema: Value) -> Value {
        normalize(&schema, "T", SchemaRole::Result).schema
    }

    fn is_marked(schema: &Value) -> bool {
        schema.get("type") == Some(&json!("object"))
            && schema["description"]
                .as_str()
                .is_some_and(|d| d.contains(TYPELESS_OBJECT_DOC))
    }

    #[test]
    fn a_typeless_all_of_member_does_not_narrow_the_intersection() {
        // tslint's rules: `{"type": ["boolean", "object", "array"]}` and a member with
        // `properties` but no `type`; `true` and `[true]` are valid.
        let out = normalized(json!({"type": "object", "properties": {"r": {"allOf": [
            {"type": ["boolean", "object", "array"]},
            {"properties": {"a": {"type": "string"}}, "items": {"type": "boolean"}},
        ]}}}));
        let r = &out["properties"]["r"];
        assert_eq!(r["allOf"][1].get("type"), None, "{r}");
        assert!(!is_marked(r), "{r}");
        assert!(
            !r.get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| d.contains("The schema gives no `type`")),
            "{r}"
        );
    }

    #[test]
    fn an_all_of_of_typeless_objects_is_marked_at_its_owner() {
        let out = normalized(json!({"allOf": [
            {"properties": {"a": {"type": "string"}}},
            {"properties": {"b": {"type": "string"}}},
        ]}));
        assert!(is_marked(&out), "{out}");
        assert_eq!(out["allOf"][0].get("type"), None, "{out}");
    }

    #[test]
    fn an_all_of_of_references_to_typeless_objects_is_marked_at_its_owner() {
        let out = normalized(json!({
            "definitions": {
                "a": {"properties": {"a": {"type": "string"}}},
                "b": {"allOf": [{"$ref": "#/definitions/a"}, {"properties": {"b": {}}}]},
                "typed": {"type": "object", "properties": {"c": {}}},
            },
            "type": "object",
            "properties": {
                "x": {"allOf": [{"$ref": "#/definitions/a"}, {"$ref": "#/definitions/b"}]},
                "y": {"allOf": [{"$ref": "#/definitions/a"}, {"$ref": "#/definitions/typed"}]},
            },
        }));
        assert!(is_marked(&out["definitions"]["a"]), "{out}");
        assert!(is_marked(&out["definitions"]["b"]), "{out}");
        assert!(is_marked(&out["properties"]["x"]), "{out}");
        assert!(!is_marked(&out["properties"]["y"]), "{out}");
    }

    #[test]
    fn a_typeless_array_member_mark_does_not_reach_the_owner() {
        let out = normalized(json!({"type": "object", "properties": {"x": {"allOf": [
            {"type": "object", "properties": {"a": {}}},
            {"description": "listy", "items": {"type": "string"}},
        ]}}}));
        let doc = out["properties"]["x"]["description"].as_str().unwrap_or("");
        assert!(!doc.contains(TYPELESS_ARRAY_DOC), "{doc}");
        assert!(doc.contains("listy"), "{doc}");
    }

    #[test]
    fn a_union_with_a_typeless_object_member_takes_every_other_value() {
        let out = normalized(json!({"type": "object", "properties": {
            "u": {"anyOf": [{"properties": {"a": {"type": "string"}}}, {"type": "string"}]},
            "typed": {"oneOf": [{"type": "object", "properties": {"a": {}}}, {"type": "string"}]},
        }}));
        let u = &out["properties"]["u"];
        let members = u["oneOf"].as_array().expect("anyOf is typed as oneOf");
        assert_eq!(members.len(), 3, "{u}");
        assert!(is_marked(&members[0]), "{u}");
        assert_eq!(members[2].get("type"), None, "{u}");
        assert!(u["description"]
            .as_str()
            .is_some_and(|d| d.contains(TYPELESS_UNION_DOC)));
        let typed = &out["properties"]["typed"];
        assert_eq!(typed["oneOf"].as_array().map(Vec::len), Some(2), "{typed}");
        assert_eq!(typed.get("description"), None, "{typed}");
    }
}
