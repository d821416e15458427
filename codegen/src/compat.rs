//! Wire compatibility of one schema change, decided by the schema's role and proved by a
//! counterexample payload.
//!
//! - A **result** is read by old code: every payload the new schema allows must still be read
//!   by the old generated types. Those types are a tolerant reader, so the old side is the old
//!   schema *as the types read it* ([`reader_view`]): normalized as codegen types it (objects
//!   open, constraints the types do not enforce dropped), enums open (`Unknown(String)`) and
//!   unions with their catch-all (`Unknown` holds any value of a JSON kind some variant has).
//! - **Arguments** are written by old code: everything the old schema let old callers send
//!   must still be accepted by the new schema, which Passage validates as published.
//!
//! A verdict of "breaking" is only given with a payload that the [`jsonschema`] validator
//! accepts under one schema and refuses under the other (for results: under the old schema as
//! published *and* under its reader view). Candidates come from `passage-samples` over seeds and
//! option sets (default, realistic, drifted) and from targeted mutations of those samples (one
//! property removed at a time); none is reported unless the validator agrees. A search that
//! finds nothing gives "compatible": sampling can miss a break (a pattern tightened to exclude
//! one rare string), never invent one.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::SchemaRole;

/// How many seeds each option set is sampled with. 48 × 3 option sets: each optional property
/// is present in some samples and absent in others, each enum value drawn, with near certainty
/// for the schemas of the catalog (at most a dozen enum values per field).
const SEEDS: u64 = 48;

/// Which of the two schemas a counterexample is valid under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// The pinned (previous) catalog's schema.
    Old,
    /// The new catalog's schema.
    New,
}

impl Side {
    /// `old` or `new`, as the report and the counterexample files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

/// A payload that one schema accepts and the other refuses, checked with the validator.
#[derive(Debug, Clone, PartialEq)]
pub struct Witness {
    /// The schema that accepts it: `New` for results, `Old` for arguments.
    pub valid_under: Side,
    /// The payload.
    pub payload: Value,
    /// Why the other schema refuses it: the validator's messages, each with its JSON pointer.
    pub refusals: Vec<Refusal>,
}

/// One error of the refusing schema's validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Where in the payload, as a field path of the change report (`$.billing[].amountDue`).
    pub path: String,
    /// Whether the error is a union (`anyOf`/`oneOf`) refusing the value as a whole: it then
    /// stands for every change inside the union.
    pub union: bool,
    /// The validator's message with its JSON pointer.
    pub message: String,
}

/// The schema pair of one operation and role, compiled for checking.
pub struct SchemaPair {
    role: SchemaRole,
    /// Accepts the payloads searched from.
    source: jsonschema::Validator,
    source_schema: Value,
    /// Must accept them too, or the change breaks. For results: the old reader view.
    target: jsonschema::Validator,
    /// For results: the old schema as published, which must refuse the payload as well.
    target_published: Option<jsonschema::Validator>,
}

/// Why a schema pair could not be checked (a schema the validator does not accept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked(pub String);

impl SchemaPair {
    /// Compiles the pair. A missing schema (`None`) accepts any JSON: a result without one is
    /// typed as `serde_json::Value`, and arguments without one are not checked by anyone.
    pub fn new(
        role: SchemaRole,
        old: Option<&Value>,
        new: Option<&Value>,
    ) -> Result<Self, Unchecked> {
        let any = Value::Bool(true);
        let old = old.filter(|s| !s.is_null()).unwrap_or(&any);
        let new = new.filter(|s| !s.is_null()).unwrap_or(&any);
        let compile = |schema: &Value, which: &str| {
            jsonschema::validator_for(schema)
                .map_err(|err| Unchecked(format!("the {which} schema does not compile: {err}")))
        };
        Ok(match role {
            SchemaRole::Result => SchemaPair {
                role,
                source: compile(new, "new")?,
                source_schema: new.clone(),
                target: compile(&reader_view(old), "old (reader view)")?,
                target_published: Some(compile(old, "old")?),
            },
            SchemaRole::Arguments => SchemaPair {
                role,
                source: compile(old, "old")?,
                source_schema: old.clone(),
                target: compile(new, "new")?,
                target_published: None,
            },
        })
    }

    /// The side the searched payloads are valid under.
    pub fn valid_under(&self) -> Side {
        match self.role {
            SchemaRole::Result => Side::New,
            SchemaRole::Arguments => Side::Old,
        }
    }

    /// Checks one candidate: `Some` when the source accepts it and the target refuses it.
    pub fn check(&self, payload: &Value) -> Option<Witness> {
        if !self.source.is_valid(payload) || self.target.is_valid(payload) {
            return None;
        }
        if let Some(published) = &self.target_published {
            if published.is_valid(payload) {
                return None;
            }
        }
        let refusals = self
            .target
            .iter_errors(payload)
            .map(|err| {
                let union = matches!(
                    err.kind(),
                    jsonschema::error::ValidationErrorKind::AnyOf { .. }
                        | jsonschema::error::ValidationErrorKind::OneOfNotValid { .. }
                        | jsonschema::error::ValidationErrorKind::OneOfMultipleValid { .. }
                );
                let pointer = err.instance_path().to_string();
                let mut path = field_path(&pointer);
                match err.kind() {
                    jsonschema::error::ValidationErrorKind::Required { property } => {
                        if let Some(name) = property.as_str() {
                            path = format!("{path}.{name}");
                        }
                    }
                    jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected }
                        if unexpected.len() == 1 =>
                    {
                        path = format!("{path}.{}", unexpected[0]);
                    }
                    _ => {}
                }
                let at = if pointer.is_empty() { "/" } else { &pointer };
                Refusal {
                    path,
                    union,
                    message: format!("at {at}: {err}"),
                }
            })
            .collect();
        Some(Witness {
            valid_under: self.valid_under(),
            payload: payload.clone(),
            refusals,
        })
    }

    /// Every witness the search finds, smallest payload first (then in search order), without
    /// duplicates. Empty when the change is compatible as far as the search can tell.
    pub fn witnesses(&self) -> Vec<Witness> {
        let mut seen = BTreeSet::new();
        let mut found: Vec<(usize, usize, Witness)> = Vec::new();
        for (order, candidate) in candidates(&self.source_schema).into_iter().enumerate() {
            let text = candidate.to_string();
            if !seen.insert(text.clone()) {
                continue;
            }
            if let Some(witness) = self.check(&candidate) {
                found.push((text.len(), order, witness));
            }
        }
        found.sort_by_key(|(len, order, _)| (*len, *order));
        found.into_iter().map(|(_, _, w)| w).collect()
    }
}

/// The payloads tried, in a fixed order: samples, then each sample with one property removed.
fn candidates(schema: &Value) -> Vec<Value> {
    let options = [
        passage_samples::SampleOptions::default(),
        passage_samples::SampleOptions::realistic(),
        passage_samples::SampleOptions::drifted(),
    ];
    // The smallest documents a schema-less side or an arguments schema may be compared on.
    let mut samples = vec![
        Value::Object(Map::new()),
        Value::Null,
        Value::String("x".into()),
    ];
    for seed in 0..SEEDS {
        for option in &options {
            // A schema the sampler cannot handle leaves only the fixed candidates and the
            // mutations: no witness is better than a panic or a made-up one.
            if let Ok(value) = passage_samples::sample_with(schema, seed, option) {
                samples.push(value);
            }
        }
    }
    let mut out = samples.clone();
    for sample in &samples {
        without_one_property(sample, &mut Vec::new(), sample, &mut out);
    }
    out
}

/// Pushes `root` with one object property removed, for every property at any depth.
fn without_one_property(root: &Value, at: &mut Vec<PathStep>, node: &Value, out: &mut Vec<Value>) {
    match node {
        Value::Object(map) => {
            for (key, child) in map {
                let mut copy = root.clone();
                if let Some(Value::Object(parent)) = walk_mut(&mut copy, at) {
                    parent.remove(key);
                    out.push(copy);
                }
                at.push(PathStep::Key(key.clone()));
                without_one_property(root, at, child, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(PathStep::Index(i));
                without_one_property(root, at, child, out);
                at.pop();
            }
        }
        _ => {}
    }
}

enum PathStep {
    Key(String),
    Index(usize),
}

fn walk_mut<'a>(value: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut node = value;
    for step in path {
        node = match step {
            PathStep::Key(key) => node.get_mut(key.as_str())?,
            PathStep::Index(i) => node.get_mut(*i)?,
        };
    }
    Some(node)
}

/// `/billing/0/amountDue` → `$.billing[].amountDue`: the field paths of the change report,
/// where array positions are not told apart.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::from("$");
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str("[]");
        } else {
            out.push('.');
            out.push_str(&segment);
        }
    }
    out
}

/// The old result schema as the generated types read it: what `normalize` gives typify
/// (closed objects opened, constraints the types do not check dropped), then what
/// `postprocess` and `unions` add to the types: every string enum open (`Unknown(String)`)
/// and every union keeping a value of a JSON kind one of its variants has (`Unknown`).
/// Unions are `anyOf` here: the decoder takes the first variant that fits, where `oneOf` would
/// refuse a value two loosened variants both accept.
pub fn reader_view(schema: &Value) -> Value {
    if schema.is_null() || schema == &Value::Bool(true) {
        return Value::Bool(true);
    }
    let mut view = crate::normalize::normalize(schema, "ReaderView", SchemaRole::Result).schema;
    let definitions = view.get("definitions").cloned().unwrap_or(Value::Null);
    open_up(&mut view, &definitions, 0);
    if let Value::Object(map) = &mut view {
        // Normalized schemas are draft-07 (`definitions`, array-form tuples).
        map.insert(
            "$schema".into(),
            Value::String("http://json-schema.org/draft-07/schema#".into()),
        );
    }
    view
}

fn open_up(schema: &mut Value, definitions: &Value, depth: usize) {
    let Value::Object(map) = schema else { return };
    // Normalization makes an optional property that allows `null` required (so typify types it
    // `Option<T>`, which post-processing makes a defaulted `Option<Option<T>>`): the types read
    // it as optional, and so does the reader view.
    if let (Some(Value::Object(properties)), Some(Value::Array(required))) =
        (map.get("properties"), map.get("required"))
    {
        let kept: Vec<Value> = required
            .iter()
            .filter(|name| {
                !name
                    .as_str()
                    .and_then(|name| properties.get(name))
                    .and_then(|property| property.get("description"))
                    .and_then(Value::as_str)
                    .is_some_and(|text| text.contains(crate::normalize::NULLABLE_OPTIONAL_DOC))
            })
            .cloned()
            .collect();
        map.insert("required".into(), Value::Array(kept));
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        if values.iter().all(|v| v.is_string() || v.is_null()) {
            let nullable = values.iter().any(Value::is_null);
            map.remove("enum");
            let kind = if nullable {
                serde_json::json!(["string", "null"])
            } else {
                Value::String("string".into())
            };
            map.insert("type".into(), kind);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(members)) = map.remove(key) {
            let catch_all = match union_kinds(&members, definitions, depth) {
                Some(kinds) => serde_json::json!({ "type": kinds }),
                None => Value::Object(Map::new()),
            };
            let mut members = members;
            members.push(catch_all);
            map.insert("anyOf".into(), Value::Array(members));
        }
    }
    for (key, value) in map.iter_mut() {
        match key.as_str() {
            "properties" | "definitions" => {
                if let Value::Object(children) = value {
                    for child in children.values_mut() {
                        open_up(child, definitions, depth + 1);
                    }
                }
            }
            "items" | "anyOf" | "allOf" => match value {
                Value::Array(children) => {
                    for child in children {
                        open_up(child, definitions, depth + 1);
                    }
                }
                child => open_up(child, definitions, depth + 1),
            },
            "additionalProperties" | "additionalItems" => open_up(value, definitions, depth + 1),
            _ => {}
        }
    }
}

/// The JSON kinds a union's variants have, following `$ref`s into `definitions`; `None` when
/// some variant accepts any kind (the catch-all then accepts anything too).
fn union_kinds(members: &[Value], definitions: &Value, depth: usize) -> Option<Vec<String>> {
    let mut kinds = BTreeSet::new();
    for member in members {
        kinds.extend(member_kinds(member, definitions, depth)?);
    }
    // `integer` is a `number` to JSON; a union with numbers keeps any number.
    if kinds.contains("number") {
        kinds.remove("integer");
    }
    Some(kinds.into_iter().collect())
}

fn member_kinds(member: &Value, definitions: &Value, depth: usize) -> Option<BTreeSet<String>> {
    if depth > 32 {
        return None;
    }
    let map = member.as_object()?;
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        let name = reference.strip_prefix("#/definitions/")?;
        return member_kinds(definitions.get(name)?, definitions, depth + 1);
    }
    match map.get("type") {
        Some(Value::String(kind)) => Some([kind.clone()].into()),
        Some(Value::Array(kinds)) => Some(
            kinds
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
        ),
        _ => {
            let nested = map.get("anyOf").or_else(|| map.get("oneOf"))?.as_array()?;
            union_kinds(nested, definitions, depth + 1).map(|k| k.into_iter().collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_paths_drop_array_positions() {
        assert_eq!(field_path(""), "$");
        assert_eq!(field_path("/billing/0/amountDue"), "$.billing[].amountDue");
        assert_eq!(field_path("/a~1b"), "$.a/b");
    }

    #[test]
    fn the_reader_view_is_open_where_the_types_are() {
        let schema = json!({"type":"object","additionalProperties":false,"required":["kind"],
            "properties":{"kind":{"type":"string","enum":["a","b"]},
                          "code":{"type":"string","pattern":"^[0-9]+$"}}});
        let view = jsonschema::validator_for(&reader_view(&schema)).unwrap();
        assert!(view.is_valid(&json!({"kind":"c","code":"x","more":1})));
        assert!(!view.is_valid(&json!({"kind":1})));
        assert!(!view.is_valid(&json!({})));
    }

    #[test]
    fn a_removed_required_result_field_has_a_witness_and_an_added_one_has_none() {
        let old = json!({"type":"object","additionalProperties":false,"required":["a"],
            "properties":{"a":{"type":"string"}}});
        let new = json!({"type":"object","additionalProperties":false,"required":["b"],
            "properties":{"b":{"type":"string"}}});
        let pair = SchemaPair::new(SchemaRole::Result, Some(&old), Some(&new)).unwrap();
        let witnesses = pair.witnesses();
        let first = witnesses.first().expect("a witness");
        assert_eq!(first.valid_under, Side::New);
        assert!(first.refusals.iter().any(|r| r.path == "$.a"), "{first:?}");
        // Reading `b` too: old types keep it in `extra`, so widening is compatible.
        let wider = json!({"type":"object","additionalProperties":false,"required":["a"],
            "properties":{"a":{"type":"string"},"b":{"type":"string"}}});
        let pair = SchemaPair::new(SchemaRole::Result, Some(&old), Some(&wider)).unwrap();
        assert!(pair.witnesses().is_empty());
    }

    #[test]
    fn an_optional_field_that_allows_null_stays_optional_in_the_reader_view() {
        // A change report once proved "breaking" an added field with a payload the old types
        // read: the reader view required the optional nullable `note` (as normalization does
        // for typify), so every payload without it was "refused by the old types".
        let old = json!({"type":"object","additionalProperties":false,"required":["a"],
            "properties":{"a":{"type":"string"},"note":{"type":["string","null"]}}});
        let view = reader_view(&old);
        assert_eq!(view["required"], json!(["a"]), "{view}");
        let mut new = old.clone();
        new["properties"]["b"] = json!({"type":"string"});
        let pair = SchemaPair::new(SchemaRole::Result, Some(&old), Some(&new)).unwrap();
        let witnesses = pair.witnesses();
        assert!(witnesses.is_empty(), "{:?}", witnesses.first());
        // Required and nullable stays required: a payload without it is refused.
        let strict = json!({"type":"object","required":["note"],
            "properties":{"note":{"type":["string","null"]}}});
        assert_eq!(reader_view(&strict)["required"], json!(["note"]));
    }
}
