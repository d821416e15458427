//! One small hand-written schema per keyword family: samples validate with `jsonschema`, and the
//! properties the generator promises (bounds hit, tuples whole, recursion bounded...) hold.

mod common;

use std::collections::BTreeSet;

use passage_samples::{sample, sample_with, SampleError, SampleOptions};
use serde_json::{json, Value};

/// (name, schema): each must validate for every seed.
fn table() -> Vec<(&'static str, Value)> {
    vec![
        ("empty schema", json!({})),
        ("true schema", json!(true)),
        ("type string", json!({"type": "string"})),
        ("type array form", json!({"type": ["string", "null"]})),
        (
            "type integer+number+boolean",
            json!({"type": ["integer", "number", "boolean"]}),
        ),
        (
            "enum strings",
            json!({"type": "string", "enum": ["open", "paid", "overdue"]}),
        ),
        (
            "enum mixed",
            json!({"enum": ["a", 1, null, true, {"x": 1}, [1, 2]]}),
        ),
        (
            "const string",
            json!({"type": "string", "const": "delivery"}),
        ),
        ("const bool", json!({"type": "boolean", "const": true})),
        ("const number", json!({"const": 2.5})),
        (
            "integer safe bounds",
            json!({"type": "integer", "minimum": -9007199254740991_i64, "maximum": 9007199254740991_i64}),
        ),
        (
            "integer exclusive numeric",
            json!({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}),
        ),
        (
            "integer float bounds",
            json!({"type": "integer", "minimum": 0.5, "maximum": 3.5}),
        ),
        (
            "integer multipleOf",
            json!({"type": "integer", "minimum": -50, "maximum": 50, "multipleOf": 7}),
        ),
        (
            "integer draft-4 exclusive",
            json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer", "minimum": 0, "exclusiveMinimum": true, "maximum": 3, "exclusiveMaximum": true}),
        ),
        ("number unbounded", json!({"type": "number"})),
        (
            "number exclusive",
            json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}),
        ),
        (
            "number tight",
            json!({"type": "number", "minimum": 1.5, "maximum": 1.5}),
        ),
        (
            "number draft-4 exclusive",
            json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "number", "minimum": 0, "exclusiveMinimum": true}),
        ),
        (
            "number huge bounds",
            json!({"type": "number", "minimum": -1e300, "maximum": 1e300}),
        ),
        (
            "string lengths",
            json!({"type": "string", "minLength": 3, "maxLength": 5}),
        ),
        (
            "string exact length",
            json!({"type": "string", "minLength": 40, "maxLength": 40}),
        ),
        ("format date", json!({"type": "string", "format": "date"})),
        (
            "format date-time",
            json!({"type": "string", "format": "date-time"}),
        ),
        ("format time", json!({"type": "string", "format": "time"})),
        ("format email", json!({"type": "string", "format": "email"})),
        ("format uri", json!({"type": "string", "format": "uri"})),
        ("format uuid", json!({"type": "string", "format": "uuid"})),
        ("format ipv4", json!({"type": "string", "format": "ipv4"})),
        ("format ipv6", json!({"type": "string", "format": "ipv6"})),
        (
            "format hostname",
            json!({"type": "string", "format": "hostname"}),
        ),
        (
            "format unknown",
            json!({"type": "string", "format": "x-custom"}),
        ),
        (
            "pattern anchored",
            json!({"type": "string", "pattern": "^\\d{2}/\\d{2}/\\d{4}$"}),
        ),
        (
            "pattern unanchored",
            json!({"type": "string", "pattern": "[A-Z]{3}"}),
        ),
        (
            "pattern alternation",
            json!({"type": "string", "pattern": "^(0[1-9]|1[0-2])/[0-9]{2}$"}),
        ),
        (
            "pattern word boundary",
            json!({"type": "string", "pattern": "^\\w+\\b-x$"}),
        ),
        ("pattern dot", json!({"type": "string", "pattern": "^a.c$"})),
        (
            "pattern escaped slash",
            json!({"type": "string", "pattern": "^a\\/b$"}),
        ),
        (
            "pattern with lengths",
            json!({"type": "string", "pattern": "^[a-z]+$", "minLength": 12, "maxLength": 14}),
        ),
        (
            "pattern + date-time",
            json!({"type": "string", "format": "date-time", "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$"}),
        ),
        (
            "pattern + uuid",
            json!({"type": "string", "format": "uuid", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"}),
        ),
        (
            "pattern + email",
            json!({"type": "string", "format": "email", "pattern": "@example\\.com$"}),
        ),
        (
            "pattern + date",
            json!({"type": "string", "format": "date", "pattern": "^20"}),
        ),
        (
            "nullable format",
            json!({"type": ["string", "null"], "format": "uri"}),
        ),
        (
            "array items",
            json!({"type": "array", "items": {"type": "integer"}}),
        ),
        (
            "array bounds",
            json!({"type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 4}),
        ),
        (
            "array minItems above max_items",
            json!({"type": "array", "items": {"type": "null"}, "minItems": 7}),
        ),
        (
            "array unique",
            json!({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 5}, "uniqueItems": true, "minItems": 3}),
        ),
        (
            "tuple 2020-12",
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "minItems": 2, "maxItems": 2, "items": false}),
        ),
        (
            "tuple 2020-12 open",
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}}),
        ),
        (
            "tuple draft-07",
            json!({"type": "array", "items": [{"type": "string"}, {"type": "boolean"}], "additionalItems": false}),
        ),
        (
            "tuple draft-07 open",
            json!({"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "null"}}),
        ),
        (
            "object closed",
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"], "additionalProperties": false}),
        ),
        (
            "object required not in properties",
            json!({"type": "object", "required": ["x"]}),
        ),
        (
            "object false property",
            json!({"type": "object", "properties": {"gone": false, "kept": {"type": "null"}}}),
        ),
        (
            "record of numbers",
            json!({"type": "object", "additionalProperties": {"type": "number"}}),
        ),
        (
            "record of anything",
            json!({"type": "object", "additionalProperties": {}}),
        ),
        (
            "record true",
            json!({"type": "object", "additionalProperties": true}),
        ),
        (
            "min/max properties",
            json!({"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2, "maxProperties": 3}),
        ),
        (
            "implicit object",
            json!({"properties": {"a": {"const": 1}}, "required": ["a"]}),
        ),
        (
            "anyOf nullable",
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
        ),
        (
            "anyOf with siblings",
            json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"], "anyOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]}),
        ),
        (
            "oneOf tagged",
            json!({"oneOf": [
            {"type": "object", "properties": {"kind": {"const": "delivery"}, "address": {"type": "string"}}, "required": ["kind", "address"], "additionalProperties": false},
            {"type": "object", "properties": {"kind": {"const": "pickup"}}, "required": ["kind"], "additionalProperties": false}]}),
        ),
        (
            "oneOf overlapping",
            json!({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0.5}]}),
        ),
        (
            "oneOf overlapping objects",
            json!({"oneOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}},
            {"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"]}]}),
        ),
        (
            "allOf objects",
            json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"type": "object", "properties": {"b": {"type": "integer", "minimum": 3}}, "required": ["b"]}]}),
        ),
        (
            "allOf closed branch",
            json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "additionalProperties": false},
            {"type": "object", "properties": {"b": {"type": "integer", "minimum": 0}, "c": {"type": "string"}}, "required": ["b"]}]}),
        ),
        (
            "allOf scalar bounds",
            json!({"allOf": [{"type": "integer", "minimum": 0}, {"type": "number", "maximum": 10}]}),
        ),
        (
            "allOf with ref",
            json!({"definitions": {"Base": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}, "required": ["id"]}},
            "allOf": [{"$ref": "#/definitions/Base"}, {"properties": {"n": {"type": "integer"}}, "required": ["n"]}]}),
        ),
        (
            "ref with siblings",
            json!({"$defs": {"S": {"type": "string"}}, "$ref": "#/$defs/S", "minLength": 5, "description": "x"}),
        ),
        (
            "ref definitions",
            json!({"definitions": {"Status": {"type": "string", "enum": ["a", "b"]}}, "type": "object", "properties": {"s": {"$ref": "#/definitions/Status"}}, "required": ["s"]}),
        ),
        (
            "ref percent-encoded",
            json!({"$defs": {"a b": {"type": "integer"}}, "$ref": "#/$defs/a%20b"}),
        ),
        (
            "recursive tree",
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "#/$defs/Node",
            "$defs": {"Node": {"type": "object", "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}, "required": ["name", "children"]}}}),
        ),
        (
            "recursive root list",
            json!({"type": "object", "properties": {"value": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}}, "required": ["value", "next"], "additionalProperties": false}),
        ),
        (
            "recursive required array",
            json!({"definitions": {"T": {"type": "array", "items": {"$ref": "#/definitions/T"}, "minItems": 1, "maxItems": 2}},
            "anyOf": [{"$ref": "#/definitions/T"}, {"type": "null"}]}),
        ),
        (
            "default",
            json!({"type": "integer", "default": 7, "minimum": 0, "maximum": 1000000}),
        ),
        (
            "annotations ignored",
            json!({"$schema": "http://json-schema.org/draft-07/schema#", "$id": "https://example.com/s", "title": "T", "description": "D", "examples": [1], "type": "integer"}),
        ),
    ]
}

#[test]
fn table_samples_validate() {
    let mut failures = Vec::new();
    for (name, schema) in table() {
        let validator = common::validator(&schema);
        for seed in 0..common::seeds(100) {
            match sample(&schema, seed) {
                Err(err) => failures.push(format!("{name} seed {seed}: {err}")),
                Ok(instance) => {
                    let errors = common::errors(&validator, &instance);
                    if !errors.is_empty() {
                        failures.push(format!(
                            "{name} seed {seed}: {}\n  instance: {instance}",
                            errors.join("; ")
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn table_is_deterministic_and_drift_never_fails() {
    for (name, schema) in table() {
        for seed in 0..20 {
            let a = serde_json::to_vec(&sample(&schema, seed).unwrap()).unwrap();
            let b = serde_json::to_vec(&sample(&schema, seed).unwrap()).unwrap();
            assert_eq!(a, b, "{name} seed {seed}");
            let drifted = sample_with(&schema, seed, &SampleOptions::drifted());
            assert!(drifted.is_ok(), "{name} seed {seed}: {drifted:?}");
        }
    }
}

fn samples(schema: &Value, seeds: u64) -> Vec<Value> {
    (0..seeds)
        .map(|seed| sample(schema, seed).unwrap())
        .collect()
}

#[test]
fn integers_reach_their_bounds() {
    let max = 9007199254740991_i64;
    let schema = json!({"type": "integer", "minimum": -max, "maximum": max});
    let values: Vec<i64> = samples(&schema, 300)
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(
        values.iter().any(|v| *v >= max - 2),
        "no value near the maximum"
    );
    assert!(
        values.iter().any(|v| *v <= -max + 2),
        "no value near the minimum"
    );
    assert!(values.iter().any(|v| v.abs() <= 1000), "no small value");
    // Integers are always written as JSON integers (an `i64` field rejects `3.0`).
    assert!(samples(&schema, 100).iter().all(Value::is_i64));

    let exclusive = json!({"type": "integer", "exclusiveMinimum": 0, "maximum": 2});
    let seen: BTreeSet<i64> = samples(&exclusive, 100)
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(seen, BTreeSet::from([1, 2]));
}

#[test]
fn numbers_have_many_digits_and_round_trip() {
    let schema = json!({"type": "number"});
    let values = samples(&schema, 200);
    let long = values
        .iter()
        .filter(|v| {
            let text = v.to_string();
            text.chars().filter(char::is_ascii_digit).count() >= 15
        })
        .count();
    assert!(long > 50, "only {long} of 200 floats have 15+ digits");
    assert!(
        values.iter().any(Value::is_i64),
        "no integer-valued number written as an integer"
    );
    for value in &values {
        let text = value.to_string();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, value, "{text} does not round-trip");
    }
    let exclusive = json!({"type": "number", "exclusiveMinimum": 0});
    for value in samples(&exclusive, 200) {
        assert!(value.as_f64().unwrap() > 0.0, "{value}");
    }
}

#[test]
fn tuples_are_whole_and_arrays_respect_bounds() {
    let tuple = json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "items": false});
    for value in samples(&tuple, 50) {
        let items = value.as_array().unwrap();
        assert_eq!(items.len(), 2, "{value}");
        assert!(items[0].is_string() && items[1].is_number(), "{value}");
    }
    let bounded =
        json!({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2});
    let lengths: BTreeSet<usize> = samples(&bounded, 50)
        .iter()
        .map(|v| v.as_array().unwrap().len())
        .collect();
    assert_eq!(lengths, BTreeSet::from([1, 2]));
    let free = json!({"type": "array", "items": {"type": "integer"}});
    let lengths: BTreeSet<usize> = samples(&free, 100)
        .iter()
        .map(|v| v.as_array().unwrap().len())
        .collect();
    assert_eq!(
        lengths,
        BTreeSet::from([0, 1, 2, 3]),
        "default max_items is 3"
    );
    let options = SampleOptions {
        max_items: 6,
        ..SampleOptions::default()
    };
    let longest = (0..100)
        .map(|seed| {
            sample_with(&free, seed, &options)
                .unwrap()
                .as_array()
                .unwrap()
                .len()
        })
        .max();
    assert_eq!(longest, Some(6));
}

#[test]
fn records_get_random_keys() {
    let schema = json!({"type": "object", "additionalProperties": {"type": "number"}});
    let sizes: BTreeSet<usize> = samples(&schema, 100)
        .iter()
        .map(|v| v.as_object().unwrap().len())
        .collect();
    assert_eq!(sizes, BTreeSet::from([0, 1, 2, 3]));
}

#[test]
fn optional_properties_and_unions_vary() {
    let schema =
        json!({"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "null"}}});
    let shapes: BTreeSet<Vec<String>> = samples(&schema, 40)
        .iter()
        .map(|v| v.as_object().unwrap().keys().cloned().collect())
        .collect();
    assert_eq!(
        shapes.len(),
        4,
        "all four presence combinations: {shapes:?}"
    );

    let union = json!({"type": ["string", "null"]});
    let kinds: BTreeSet<bool> = samples(&union, 20).iter().map(Value::is_null).collect();
    assert_eq!(kinds.len(), 2);

    let tagged = json!({"oneOf": [{"const": "a"}, {"const": "b"}, {"const": "c"}]});
    let tags: BTreeSet<String> = samples(&tagged, 40)
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(tags.len(), 3);

    let enumerated = json!({"enum": ["x", "y", "z"]});
    let values: BTreeSet<String> = samples(&enumerated, 40)
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(values.len(), 3);

    let defaulted = json!({"type": "integer", "default": 7, "minimum": 0, "maximum": 1000000});
    assert!(
        samples(&defaulted, 40).contains(&json!(7)),
        "the default is sometimes used"
    );

    let anything = json!({});
    let kinds: BTreeSet<&str> = samples(&anything, 100)
        .iter()
        .map(|v| match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        })
        .collect();
    assert_eq!(kinds.len(), 6, "{kinds:?}");
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn recursion_is_bounded_by_max_depth() {
    let list = json!({"type": "object", "properties": {"next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}}, "required": ["next"]});
    for max_depth in [0, 2, 4, 8] {
        let options = SampleOptions {
            max_depth,
            ..SampleOptions::default()
        };
        for seed in 0..50 {
            let value = sample_with(&list, seed, &options).unwrap();
            // Each level is one object; one `$ref` hop per level past the root.
            assert!(
                depth(&value) <= max_depth + 2,
                "max_depth {max_depth}: {value}"
            );
        }
    }
    let tree = json!({"$defs": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}, "required": ["children"]}},
        "$ref": "#/$defs/Node"});
    let deepest = (0..100)
        .map(|seed| depth(&sample(&tree, seed).unwrap()))
        .max()
        .unwrap();
    assert!(
        deepest >= 4,
        "recursion should go a few levels deep, got {deepest}"
    );
    assert!(deepest <= 2 * 6, "recursion past max_depth: {deepest}");
}

#[test]
fn drift_options_change_what_they_promise() {
    let schema = json!({"type": "object", "properties": {
        "status": {"type": "string", "enum": ["open", "paid"]},
        "kind": {"type": "string", "const": "pickup"},
        "flag": {"type": "boolean", "const": true},
        "fees": {"type": "object", "additionalProperties": {"type": "number"}}},
        "required": ["status", "kind", "flag", "fees"], "additionalProperties": false});
    for seed in 0..30 {
        let plain = sample(&schema, seed).unwrap();
        assert!(["open", "paid"].contains(&plain["status"].as_str().unwrap()));
        assert_eq!(plain["kind"], "pickup");

        let enums = sample_with(
            &schema,
            seed,
            &SampleOptions {
                unknown_enum_values: true,
                ..SampleOptions::default()
            },
        )
        .unwrap();
        assert!(
            enums["status"].as_str().unwrap().starts_with("unlisted_"),
            "{enums}"
        );
        assert_eq!(enums["kind"], "pickup", "consts are left alone: {enums}");

        let consts = sample_with(
            &schema,
            seed,
            &SampleOptions {
                unknown_const_values: true,
                ..SampleOptions::default()
            },
        )
        .unwrap();
        assert_ne!(consts["kind"], "pickup", "{consts}");
        assert!(consts["kind"].is_string());
        assert_eq!(consts["flag"], true, "only string consts drift");
        assert!(["open", "paid"].contains(&consts["status"].as_str().unwrap()));

        let fields = sample_with(
            &schema,
            seed,
            &SampleOptions {
                unknown_fields: true,
                ..SampleOptions::default()
            },
        )
        .unwrap();
        for object in common::objects(&fields) {
            assert!(
                object.keys().any(|k| k.starts_with("unknownField_")),
                "{fields}"
            );
        }
        assert!(
            common::objects(&fields).len() >= 2,
            "the record gets one too"
        );
    }
}

#[test]
fn unsatisfiable_pattern_and_format_is_an_error() {
    let schema = json!({"type": "object", "properties": {"d": {"type": "string", "format": "date", "pattern": "^x+$"}}, "required": ["d"]});
    match sample(&schema, 0) {
        Err(SampleError::Unsatisfiable { pointer, .. }) => assert_eq!(pointer, "/properties/d"),
        other => panic!("expected Unsatisfiable, got {other:?}"),
    }
}
