//! Every schema of the pinned catalog: samples validate with `jsonschema` (formats asserted),
//! are deterministic, vary across seeds, and drift as the options ask.

mod common;

use passage_catalog::Catalog;
use passage_samples::{sample, sample_with, SampleOptions};
use serde_json::Value;

const SEEDS: u64 = 200;

/// (label, schema) for every non-null `arguments` and `result` schema of the catalog.
fn catalog_schemas() -> Vec<(String, Value)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../catalog/providers.json");
    let bytes = std::fs::read(path).expect("the pinned catalog is readable");
    let catalog = Catalog::from_slice(&bytes).expect("the pinned catalog parses");
    let mut out = Vec::new();
    for op in catalog.operations() {
        let label = format!("{}/{}/{}", op.integration, op.resource, op.action);
        if let Some(schema) = &op.spec.arguments {
            out.push((format!("{label} arguments"), schema.clone()));
        }
        if let Some(schema) = &op.spec.result {
            out.push((format!("{label} result"), schema.clone()));
        }
    }
    assert!(
        out.len() >= 20,
        "expected every operation's schemas, got {}",
        out.len()
    );
    out
}

#[test]
fn every_catalog_sample_validates() {
    let mut failures = Vec::new();
    for (label, schema) in catalog_schemas() {
        let validator = common::validator(&schema);
        for seed in 0..common::seeds(SEEDS) {
            let instance = match sample(&schema, seed) {
                Ok(instance) => instance,
                Err(err) => {
                    failures.push(format!("{label} seed {seed}: {err}"));
                    continue;
                }
            };
            let errors = common::errors(&validator, &instance);
            if !errors.is_empty() {
                failures.push(format!(
                    "{label} seed {seed}: {}\ninstance: {instance}",
                    errors.join("; ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} invalid samples:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn catalog_samples_are_deterministic_and_vary() {
    for (label, schema) in catalog_schemas() {
        let mut distinct = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let a = serde_json::to_string(&sample(&schema, seed).unwrap()).unwrap();
            let b = serde_json::to_string(&sample(&schema, seed).unwrap()).unwrap();
            assert_eq!(a, b, "{label} seed {seed} is not deterministic");
            distinct.insert(a);
        }
        // Every catalog schema has optional fields, unions, arrays or free values.
        assert!(distinct.len() >= 2, "{label}: 20 seeds gave one output");
    }
}

#[test]
fn unknown_fields_appear_in_every_object() {
    let options = SampleOptions {
        unknown_fields: true,
        ..SampleOptions::default()
    };
    for (label, schema) in catalog_schemas() {
        for seed in 0..50 {
            let value = sample_with(&schema, seed, &options).unwrap();
            let objects = common::objects(&value);
            assert!(!objects.is_empty(), "{label}: no object at all");
            for object in objects {
                assert!(
                    object.keys().any(|k| k.starts_with("unknownField_")),
                    "{label} seed {seed}: object without an unknown field: {}",
                    Value::Object(object.clone())
                );
            }
        }
    }
}

/// Checks that `listed` strings never appear in drifted output and that drift markers appear in
/// some output whenever the schema lists any.
fn assert_drift(options: &SampleOptions, consts: bool) {
    let mut schemas_with_drift = 0;
    for (label, schema) in catalog_schemas() {
        let listed = common::listed_strings(&schema, consts);
        let mut markers = 0;
        for seed in 0..SEEDS {
            let value = sample_with(&schema, seed, options).unwrap();
            for s in common::strings(&value) {
                assert!(
                    !listed.iter().any(|l| l == s),
                    "{label} seed {seed}: listed value {s:?} was not drifted: {value}"
                );
                if s.starts_with("unlisted_") {
                    markers += 1;
                }
            }
        }
        if !listed.is_empty() {
            assert!(markers > 0, "{label}: no drifted value in {SEEDS} seeds");
            schemas_with_drift += 1;
        }
    }
    assert!(
        schemas_with_drift > 0,
        "the catalog lists no value to drift"
    );
}

#[test]
fn unknown_enum_values_replace_every_enum_string() {
    let options = SampleOptions {
        unknown_enum_values: true,
        ..SampleOptions::default()
    };
    assert_drift(&options, false);
}

#[test]
fn unknown_const_values_replace_every_tag() {
    let options = SampleOptions {
        unknown_const_values: true,
        ..SampleOptions::default()
    };
    assert_drift(&options, true);
}

#[test]
fn drifted_samples_are_deterministic() {
    let options = SampleOptions::drifted();
    for (label, schema) in catalog_schemas() {
        for seed in 0..10 {
            assert_eq!(
                sample_with(&schema, seed, &options).unwrap(),
                sample_with(&schema, seed, &options).unwrap(),
                "{label} seed {seed}"
            );
        }
    }
}
