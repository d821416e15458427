//! What the generator does with each JSON Schema keyword (2020-12 and draft-07), as a checked
//! table. Each row puts a tiny schema using the keyword at property `a` of an object and claims
//! one treatment:
//!
//! - **typed**: the type accepts what the schema allows, no more: a Rust type (or
//!   `serde_json::Value` where the schema allows any value), and the generator neither warns nor
//!   notes an unenforced constraint;
//! - **loosened**: `a` is typed, but the type accepts more than the schema (the generator says
//!   so: a warning, or "not enforced when decoding" in the docs, or the row's evidence text);
//! - **raw**: `a` is `serde_json::Value` and the generator warns.
//!
//! Every row's instances are checked to be valid against its schema (`jsonschema`), so the table
//! cannot claim instances the schema refuses. Decoding them needs the generated crate compiled:
//! that is the corpus's job (`cargo xtask corpus --corpus codegen/tests/corpus --strict`, the
//! `adversarial` cases); this test stays at the generator's output so that it is cheap on CI.

use passage_codegen::{generate, Settings};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Treatment {
    Typed,
    Loosened,
    Raw,
}
use Treatment::{Loosened, Raw, Typed};

struct Row {
    keyword: &'static str,
    schema: Value,
    instances: Vec<Value>,
    treatment: Treatment,
    /// For `Loosened` rows whose evidence is neither a warning nor an unenforced constraint.
    evidence: Option<&'static str>,
}

fn row(keyword: &'static str, schema: Value, instances: Vec<Value>, treatment: Treatment) -> Row {
    Row {
        keyword,
        schema,
        instances,
        treatment,
        evidence: None,
    }
}

fn table() -> Vec<Row> {
    let obj = |p: Value| json!({"type": "object", "properties": p});
    vec![
        row("type", json!({"type": "string"}), vec![json!("x")], Typed),
        row(
            "type (list)",
            json!({"type": ["string", "null"]}),
            vec![json!("x"), json!(null)],
            Typed,
        ),
        row(
            "enum (strings)",
            json!({"type": "string", "enum": ["a", "b"]}),
            vec![json!("a")],
            Typed,
        ),
        Row {
            evidence: Some("Values: "),
            ..row(
                "enum (numbers)",
                json!({"enum": [1, 2]}),
                vec![json!(1), json!(2.0)],
                Loosened,
            )
        },
        row(
            "const (string)",
            json!({"const": "x"}),
            vec![json!("x")],
            Typed,
        ),
        Row {
            evidence: Some("always `7`"),
            ..row(
                "const (number)",
                json!({"const": 7}),
                vec![json!(7)],
                Loosened,
            )
        },
        row(
            "properties",
            obj(json!({"n": {"type": "integer"}})),
            vec![json!({"n": 1}), json!({})],
            Typed,
        ),
        row(
            "properties without type",
            json!({"properties": {"n": {"type": "integer"}}}),
            vec![json!({"n": 1}), json!(12), json!(null)],
            Typed,
        ),
        row(
            "required",
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
            vec![json!({"n": 1})],
            Typed,
        ),
        row(
            "additionalProperties (schema)",
            json!({"type": "object", "additionalProperties": {"type": "integer"}}),
            vec![json!({"x": 1})],
            Typed,
        ),
        row(
            "additionalProperties: false",
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "additionalProperties": false}),
            vec![json!({"n": 1})],
            Typed,
        ),
        row(
            "patternProperties",
            json!({"type": "object", "patternProperties": {"^x-": {"type": "string"}}}),
            vec![json!({"x-a": "b"})],
            Loosened,
        ),
        row(
            "items",
            json!({"type": "array", "items": {"type": "integer"}}),
            vec![json!([1, 2.0])],
            Typed,
        ),
        // Not a list: `Other`, as allowed; a list whose items do not fit lands there too.
        Row {
            evidence: Some("a value that is not a list is valid too"),
            ..row(
                "items without type",
                json!({"items": {"type": "integer"}}),
                vec![json!([1, 2.0]), json!(5), json!(null), json!({"k": 1})],
                Loosened,
            )
        },
        Row {
            evidence: Some("a value that is not an object is valid too"),
            ..row(
                "additionalProperties without type",
                json!({"additionalProperties": {"type": "integer"}}),
                vec![json!({"x": 1}), json!(5), json!(null)],
                Loosened,
            )
        },
        row(
            "prefixItems",
            json!({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": false, "minItems": 2}),
            vec![json!([1, "x"])],
            Typed,
        ),
        row(
            "items (draft-07 tuple)",
            json!({"type": "array", "items": [{"type": "integer"}, {"type": "string"}], "additionalItems": false, "minItems": 2}),
            vec![json!([1, "x"])],
            Typed,
        ),
        row(
            "contains",
            json!({"type": "array", "items": {"type": "integer"}, "contains": {"const": 1}}),
            vec![json!([1, 2])],
            Loosened,
        ),
        row(
            "minItems",
            json!({"type": "array", "items": {"type": "integer"}, "minItems": 1}),
            vec![json!([1])],
            Loosened,
        ),
        row(
            "uniqueItems",
            json!({"type": "array", "items": {"type": "integer"}, "uniqueItems": true}),
            vec![json!([1, 2])],
            Loosened,
        ),
        row(
            "allOf",
            json!({"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"type": "object", "properties": {"b": {"type": "integer"}}}]}),
            vec![json!({"a": "x", "b": 1})],
            Typed,
        ),
        // A member without `type` does not narrow the kinds the other members allow.
        row(
            "allOf (a member without type)",
            json!({"allOf": [{"type": ["boolean", "object"]}, {"properties": {"a": {"type": "string"}}}]}),
            vec![json!(true), json!({"a": "x"})],
            Typed,
        ),
        row(
            "anyOf",
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
            vec![json!("x"), json!(1)],
            Typed,
        ),
        row(
            "oneOf",
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
            vec![json!("x"), json!(1)],
            Typed,
        ),
        row(
            "not",
            json!({"not": {"type": "string"}}),
            vec![json!(1), json!(null)],
            Raw,
        ),
        row(
            "if/then/else",
            json!({"type": "object", "if": {"properties": {"k": {"const": 1}}}, "then": {"required": ["v"]}}),
            vec![json!({"k": 2})],
            Loosened,
        ),
        row(
            "$ref",
            json!({"$ref": "#/definitions/N"}),
            vec![json!(1)],
            Typed,
        ),
        row("$defs", json!({"$ref": "#/$defs/N"}), vec![json!(1)], Typed),
        row(
            "format",
            json!({"type": "string", "format": "date-time"}),
            vec![json!("2026-01-01T00:00:00Z")],
            Loosened,
        ),
        row(
            "minimum",
            json!({"type": "integer", "minimum": 1}),
            vec![json!(1)],
            Loosened,
        ),
        row(
            "maximum",
            json!({"type": "number", "maximum": 1}),
            vec![json!(0.5)],
            Loosened,
        ),
        row(
            "exclusiveMinimum",
            json!({"type": "number", "exclusiveMinimum": 0}),
            vec![json!(0.5)],
            Loosened,
        ),
        row(
            "multipleOf",
            json!({"type": "integer", "multipleOf": 2}),
            vec![json!(4)],
            Loosened,
        ),
        row(
            "pattern",
            json!({"type": "string", "pattern": "^a"}),
            vec![json!("ab")],
            Loosened,
        ),
        row(
            "minLength",
            json!({"type": "string", "minLength": 1}),
            vec![json!("a")],
            Loosened,
        ),
        row(
            "maxLength",
            json!({"type": "string", "maxLength": 3}),
            vec![json!("a")],
            Loosened,
        ),
        row(
            "minProperties",
            json!({"type": "object", "minProperties": 1}),
            vec![json!({"x": 1})],
            Loosened,
        ),
        row(
            "propertyNames",
            json!({"type": "object", "propertyNames": {"pattern": "^x"}}),
            vec![json!({"xa": 1})],
            Loosened,
        ),
        row(
            "dependentRequired",
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "dependentRequired": {"a": ["b"]}}),
            vec![json!({"a": "x", "b": "y"}), json!({})],
            Loosened,
        ),
        row(
            "dependentSchemas",
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "dependentSchemas": {"a": {"required": ["b"]}}}),
            vec![json!({"a": "x", "b": 1})],
            Loosened,
        ),
        row(
            "unevaluatedProperties",
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "unevaluatedProperties": false}),
            vec![json!({"a": "x"})],
            Loosened,
        ),
        row(
            "unevaluatedItems",
            json!({"type": "array", "items": {"type": "integer"}, "unevaluatedItems": false}),
            vec![json!([1])],
            Loosened,
        ),
        row(
            "$dynamicRef",
            json!({"$dynamicAnchor": "meta", "$dynamicRef": "#meta"}),
            vec![json!(1), json!("x")],
            Raw,
        ),
        // `x-*` extensions are annotations: the subschema allows any value, and so does its type.
        row(
            "x- extension",
            json!({"x-frobnicate": 3}),
            vec![json!(1)],
            Typed,
        ),
        row(
            "unknown keyword",
            json!({"frobnicate": 3}),
            vec![json!(1), json!({"a": 1})],
            Raw,
        ),
    ]
}

/// The resource name of a row (`kw-3`) and the types file the generator writes for it.
fn resource(index: usize) -> String {
    format!("kw-{index}")
}

#[test]
fn every_keyword_row_holds() {
    let rows = table();
    let resources: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({"name": resource(i), "operations": {"read": {"arguments": null, "result": {
                "type": "object", "required": ["a"], "properties": {"a": r.schema},
                "definitions": {"N": {"type": "integer"}}, "$defs": {"N": {"type": "integer"}}
            }}}})
        })
        .collect();
    let catalog = json!({"providers": [{"id": "kw", "name": "Keywords", "resources": resources}]});
    let generated = generate(&serde_json::to_vec(&catalog).unwrap(), &Settings::default())
        .expect("generation never fails on one schema");
    let mut failures = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let mut root = json!({"type": "object", "required": ["a"], "properties": {"a": r.schema},
            "definitions": {"N": {"type": "integer"}}, "$defs": {"N": {"type": "integer"}}});
        if r.keyword.contains("draft-07") {
            root["$schema"] = json!("http://json-schema.org/draft-07/schema#");
        }
        match jsonschema::validator_for(&root) {
            Ok(validator) => {
                for instance in &r.instances {
                    if !validator.is_valid(&json!({"a": instance})) {
                        failures.push(format!("{}: instance {instance} is not valid", r.keyword));
                    }
                }
            }
            Err(err) => failures.push(format!("{}: schema does not compile: {err}", r.keyword)),
        }
        let name = resource(i);
        let warned = generated.warnings.iter().any(|w| w.resource == name);
        let file_name = format!("src/types/{}_read_result.rs", name.replace('-', "_"));
        let Some(text) = generated.files.get(&file_name) else {
            failures.push(format!("{}: no {file_name}", r.keyword));
            continue;
        };
        let raw = field_type(text, "a").is_some_and(|ty| {
            ty.replace(' ', "").contains("serde_json::Value") && !ty.contains("Map")
        });
        let unenforced = text.contains("not enforced when decoding")
            || r.evidence.is_some_and(|e| text.contains(e));
        let seen = if raw && warned {
            Raw
        } else if !raw && (warned || unenforced) {
            Loosened
        } else {
            // Not raw: the type is exact. Raw without a warning: the schema allows any value.
            Typed
        };
        if seen != r.treatment {
            failures.push(format!(
                "{}: claimed {:?}, generator gives {seen:?} (warned: {warned}, raw: {raw}, unenforced: {unenforced})",
                r.keyword, r.treatment
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The type of field `field` of the root struct (`...ReadResult`), as token text.
fn field_type(text: &str, field: &str) -> Option<String> {
    let file = syn::parse_file(text).ok()?;
    file.items.iter().find_map(|item| match item {
        syn::Item::Struct(s) if s.ident.to_string().ends_with("ReadResult") => {
            s.fields.iter().find_map(|f| {
                (f.ident.as_ref().is_some_and(|i| i == field)).then(|| {
                    let ty = &f.ty;
                    quote::quote!(#ty).to_string()
                })
            })
        }
        _ => None,
    })
}
