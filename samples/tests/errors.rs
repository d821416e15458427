//! Error cases name the schema pointer; hostile and garbage schemas give errors or values, never
//! a panic, a hang or a stack overflow.

use passage_samples::{sample, sample_with, SampleError, SampleOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

fn error(schema: Value) -> SampleError {
    match sample(&schema, 0) {
        Ok(value) => panic!("expected an error for {schema}, got {value}"),
        Err(err) => err,
    }
}

#[test]
fn unsupported_keywords_name_pointer_and_keyword() {
    for keyword in [
        "not",
        "if",
        "patternProperties",
        "dependentSchemas",
        "contains",
        "propertyNames",
        "unevaluatedProperties",
    ] {
        let schema =
            json!({"type": "object", "properties": {"a/b": {keyword: {}}}, "required": ["a/b"]});
        match error(schema) {
            SampleError::Unsupported {
                pointer,
                keyword: found,
            } => {
                assert_eq!(pointer, "/properties/a~1b");
                assert_eq!(found, keyword);
            }
            other => panic!("{keyword}: {other:?}"),
        }
    }
}

#[test]
fn errors_name_their_pointer() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"$ref": "#/definitions/Missing"}), "BadRef", ""),
        (
            json!({"properties": {"x": {"$ref": "other.json#/a"}}, "required": ["x"]}),
            "BadRef",
            "/properties/x",
        ),
        (json!({"$ref": "#anchor"}), "BadRef", ""),
        (
            json!({"items": {"type": "integer", "minimum": 5, "maximum": 1}, "minItems": 1}),
            "Unsatisfiable",
            "/items",
        ),
        (
            json!({"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 1}),
            "Unsatisfiable",
            "",
        ),
        (
            json!({"type": "string", "minLength": 4, "maxLength": 2}),
            "Unsatisfiable",
            "",
        ),
        (
            json!({"type": "array", "minItems": 3, "maxItems": 1}),
            "Unsatisfiable",
            "",
        ),
        (json!({"enum": []}), "Unsatisfiable", ""),
        (
            json!({"type": "integer", "enum": ["a"]}),
            "Unsatisfiable",
            "",
        ),
        (
            json!({"type": "object", "required": ["x"], "additionalProperties": false}),
            "Unsatisfiable",
            "",
        ),
        (
            json!({"properties": {"p": false}, "required": ["p"]}),
            "Unsatisfiable",
            "/properties/p",
        ),
        (json!(false), "Unsatisfiable", ""),
        (json!({"$ref": "#"}), "Unsatisfiable", ""),
        (
            json!({"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]}),
            "Unsatisfiable",
            "/properties/a",
        ),
        (json!({"allOf": [{"$ref": "#"}]}), "Unsatisfiable", ""),
        (
            json!({"allOf": [{"type": "string"}, {"type": "integer"}]}),
            "Unsatisfiable",
            "/allOf/1",
        ),
        (
            json!({"type": "string", "pattern": "(?=a)b"}),
            "BadPattern",
            "",
        ),
        (
            json!({"type": "string", "pattern": "(a)\\1"}),
            "BadPattern",
            "",
        ),
        (json!({"type": "string", "pattern": "["}), "BadPattern", ""),
        (json!({"minimum": "3"}), "InvalidSchema", "/minimum"),
        (json!({"type": "strin"}), "InvalidSchema", "/type"),
        (json!({"properties": []}), "InvalidSchema", "/properties"),
        (json!({"required": "a"}), "InvalidSchema", "/required"),
        (
            json!({"type": "array", "items": 3, "minItems": 1}),
            "InvalidSchema",
            "/items",
        ),
        (json!({"anyOf": {}}), "InvalidSchema", "/anyOf"),
        (json!({"oneOf": []}), "InvalidSchema", "/oneOf"),
        (json!({"$ref": 1}), "InvalidSchema", "/$ref"),
        (
            json!({"type": "string", "minLength": -1}),
            "InvalidSchema",
            "/minLength",
        ),
        (
            json!({"type": "integer", "multipleOf": 0}),
            "InvalidSchema",
            "/multipleOf",
        ),
        (
            json!({"type": "number", "multipleOf": 0.01}),
            "Unsupported",
            "",
        ),
        (json!([1, 2]), "InvalidSchema", ""),
    ];
    for (schema, kind, pointer) in cases {
        let err = error(schema.clone());
        let found = match &err {
            SampleError::Unsupported { .. } => "Unsupported",
            SampleError::BadRef { .. } => "BadRef",
            SampleError::Unsatisfiable { .. } => "Unsatisfiable",
            SampleError::InvalidSchema { .. } => "InvalidSchema",
            SampleError::BadPattern { .. } => "BadPattern",
            _ => "other",
        };
        assert_eq!((found, err.pointer()), (kind, pointer), "{schema}: {err}");
        let shown = err.to_string();
        assert!(
            shown.contains(&format!("#{pointer}")),
            "Display names the pointer: {shown}"
        );
    }
}

/// Schemas meant to break a naive generator. Each must return (value or error) without panicking.
fn hostile() -> Vec<Value> {
    let mut out = vec![
        json!(null),
        json!(1),
        json!("string"),
        json!({"type": null}),
        json!({"type": []}),
        json!({"type": [1, "x"]}),
        json!({"enum": "x"}),
        json!({"const": null, "enum": [1]}),
        json!({"allOf": []}),
        json!({"allOf": [true, {}]}),
        json!({"allOf": [false]}),
        json!({"allOf": 3}),
        json!({"allOf": [{"allOf": [{"allOf": [{"$ref": "#"}]}]}]}),
        json!({"anyOf": [{"$ref": "#"}]}),
        json!({"oneOf": [{"$ref": "#"}, {"$ref": "#"}]}),
        json!({"oneOf": [{}, {}]}),
        json!({"oneOf": [{"type": "null"}, {"type": "null"}]}),
        json!({"definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}, "$ref": "#/definitions/a"}),
        json!({"$ref": "#/definitions/a", "definitions": {"a": {"items": {"$ref": "#/definitions/a"}, "minItems": 1}}}),
        json!({"$ref": "#/%zz"}),
        json!({"$ref": "#/%ff"}),
        json!({"$ref": ""}),
        json!({"$ref": "#/"}),
        json!({"items": [1, 2], "minItems": 2}),
        json!({"prefixItems": {"a": 1}}),
        json!({"prefixItems": [], "items": false, "minItems": 1}),
        json!({"type": "array", "minItems": 1_000_000_000_u64}),
        json!({"type": "array", "minItems": 1e300}),
        json!({"type": "array", "maxItems": -1}),
        json!({"type": "array", "uniqueItems": true, "items": {"type": "boolean"}, "minItems": 3}),
        json!({"type": "array", "uniqueItems": true, "items": {"const": 1}, "minItems": 2}),
        json!({"type": "string", "minLength": 1_000_000_000_u64}),
        json!({"type": "string", "pattern": "a{100000}"}),
        json!({"type": "string", "pattern": "(a{1000}){1000}"}),
        json!({"type": "string", "pattern": "((((((((((a*)*)*)*)*)*)*)*)*)*)*"}),
        json!({"type": "string", "pattern": "\\p{Greek}+", "maxLength": 3}),
        json!({"type": "string", "pattern": "^$", "minLength": 1}),
        json!({"type": "string", "pattern": "\\u00e9\\u"}),
        json!({"type": "string", "pattern": "\\"}),
        json!({"type": "string", "pattern": "[]"}),
        json!({"type": "string", "pattern": "[^]"}),
        json!({"type": "string", "pattern": 5}),
        json!({"type": "string", "format": 5}),
        json!({"type": "string", "format": "date", "maxLength": 3}),
        json!({"type": "integer", "minimum": 1e308, "maximum": 1.7e308}),
        json!({"type": "integer", "minimum": 18446744073709551615_u64}),
        json!({"type": "integer", "maximum": -1e300}),
        json!({"type": "integer", "multipleOf": 1e300}),
        json!({"type": "integer", "multipleOf": 3, "minimum": 1, "maximum": 2}),
        json!({"type": "integer", "exclusiveMinimum": "x"}),
        json!({"type": "number", "minimum": 1e308, "exclusiveMinimum": true}),
        json!({"type": "number", "maximum": -5e-324, "minimum": -5e-324}),
        json!({"type": "number", "minimum": 0, "maximum": 0, "exclusiveMaximum": true}),
        json!({"type": "object", "properties": {"a": 1}, "required": ["a"]}),
        json!({"type": "object", "required": [1]}),
        json!({"type": "object", "additionalProperties": 1}),
        json!({"type": "object", "minProperties": 5, "additionalProperties": false}),
        json!({"type": "object", "maxProperties": 0, "required": ["a"]}),
        json!({"type": "object", "minProperties": 1_000_000}),
        json!({"default": {"a": 1}, "type": "object"}),
        json!({"$ref": "#/definitions/x", "definitions": {"x": {"$ref": "#/definitions/x/not-there"}}}),
    ];
    // Deep nesting built in memory (beyond serde_json's parse limit).
    for keyword in [
        "items",
        "not_a_keyword",
        "additionalProperties",
        "anyOf",
        "allOf",
    ] {
        let mut schema = json!({"type": "integer"});
        for _ in 0..400 {
            schema = match keyword {
                "anyOf" | "allOf" => json!({keyword: [schema]}),
                "additionalProperties" => {
                    json!({"type": "object", "additionalProperties": schema, "minProperties": 1})
                }
                "items" => json!({"type": "array", "items": schema, "minItems": 1}),
                _ => json!({"type": "object", "properties": {"p": schema}, "required": ["p"]}),
            };
        }
        out.push(schema);
    }
    // A long `$ref` chain and a wide, deep tree (exponential if unbounded).
    let mut defs = Map::new();
    for i in 0..300 {
        defs.insert(
            format!("d{i}"),
            json!({"$ref": format!("#/definitions/d{}", i + 1)}),
        );
    }
    defs.insert("d300".into(), json!({"type": "null"}));
    out.push(json!({"definitions": defs, "$ref": "#/definitions/d0"}));
    let mut wide = json!({"type": "integer"});
    for _ in 0..30 {
        wide = json!({"type": "array", "items": wide, "minItems": 3, "maxItems": 3});
    }
    out.push(wide);
    out
}

fn assert_no_panic(schema: &Value, seed: u64, options: &SampleOptions) {
    let result = std::panic::catch_unwind(|| sample_with(schema, seed, options));
    assert!(
        result.is_ok(),
        "panicked on seed {seed} for {}",
        truncate(schema)
    );
}

fn truncate(schema: &Value) -> String {
    let text = schema.to_string();
    text.chars().take(300).collect()
}

#[test]
fn hostile_schemas_never_panic() {
    let options = [
        SampleOptions::default(),
        SampleOptions::drifted(),
        SampleOptions {
            max_depth: 50,
            max_items: 10,
            ..SampleOptions::default()
        },
    ];
    for schema in hostile() {
        for seed in 0..2 {
            for options in &options {
                assert_no_panic(&schema, seed, options);
            }
        }
    }
}

#[test]
fn deep_and_wide_schemas_end_with_an_error_or_a_bounded_value() {
    for schema in hostile() {
        if let Ok(value) = sample(&schema, 1) {
            let size = value.to_string().len();
            assert!(
                size < 5_000_000,
                "output of {size} bytes for {}",
                truncate(&schema)
            );
        }
    }
}

const KEYWORDS: &[&str] = &[
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "default",
    "definitions",
    "$defs",
    "minProperties",
    "maxProperties",
    "not",
];

/// A random JSON value biased towards schema-like shapes.
fn garbage(rng: &mut ChaCha8Rng, depth: usize) -> Value {
    match rng.gen_range(0..if depth == 0 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.gen()),
        2 => json!(rng.gen_range(-5i64..20)),
        3 => [
            json!(1e300),
            json!(-0.5),
            json!(1.5),
            json!(9007199254740991_i64),
            json!(-1),
        ][rng.gen_range(0..5)]
        .clone(),
        4 => json!(
            [
                "string",
                "integer",
                "number",
                "object",
                "array",
                "null",
                "boolean",
                "#",
                "#/definitions/a",
                "#/$defs/b",
                "^a+$",
                "date",
                "uuid",
                "(",
                "a",
                ""
            ][rng.gen_range(0..16)]
        ),
        5 => json!(["string", "null"]),
        6 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| garbage(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.gen_range(0..5) {
                let key = KEYWORDS[rng.gen_range(0..KEYWORDS.len())];
                let value = match rng.gen_range(0..3) {
                    0 => garbage(rng, depth - 1),
                    1 => json!({"a": garbage(rng, depth - 1), "b": garbage(rng, depth - 1)}),
                    _ => json!([garbage(rng, depth - 1), garbage(rng, depth - 1)]),
                };
                map.insert(key.to_string(), value);
            }
            Value::Object(map)
        }
    }
}

#[test]
fn random_garbage_schemas_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let drifted = SampleOptions::drifted();
    let mut outcomes = (0, 0);
    for _ in 0..3000 {
        let mut schema = garbage(&mut rng, 4);
        if let Value::Object(map) = &mut schema {
            map.insert("definitions".into(), json!({"a": garbage(&mut rng, 3)}));
            map.insert("$defs".into(), json!({"b": garbage(&mut rng, 3)}));
        }
        for seed in 0..2 {
            let result = std::panic::catch_unwind(|| sample(&schema, seed));
            match result {
                Ok(Ok(_)) => outcomes.0 += 1,
                Ok(Err(_)) => outcomes.1 += 1,
                Err(_) => panic!("panicked on seed {seed} for {schema}"),
            }
            assert_no_panic(&schema, seed, &drifted);
        }
    }
    // The garbage must exercise both paths, or this test proves little.
    assert!(outcomes.0 > 300 && outcomes.1 > 300, "ok/err: {outcomes:?}");
}
