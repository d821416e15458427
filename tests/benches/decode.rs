//! Decode throughput of the generated types, against a baseline in the same process: parsing
//! the same bytes into an untyped `serde_json::Value`. Run with
//! `cargo bench -p passage-tests --bench decode`. Reports, asserts nothing.
//!
//! For the DoorDash payloads (one of about 5 MB) also a direct parse into the generated type
//! (`serde_json::from_slice`, no dispatch) and into the same types as serde's derive with a
//! flattened `extra` map reads them (what the generator emitted before open structs:
//! `tests/support/flatten_reference.rs`).

#[path = "../tests/support/flatten_reference.rs"]
mod flatten_reference;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use passage_samples::{sample_with, SampleOptions};

fn payloads() -> Vec<(String, &'static str, &'static str, &'static str, Vec<u8>)> {
    let catalog =
        passage_catalog::Catalog::from_slice(include_bytes!("../../catalog/providers.json"))
            .expect("pinned catalog");
    let mut out = vec![(
        "seed billing".to_string(),
        "tmobile",
        "mobileBillingStatement",
        "read",
        br#"{"billing":[{"periodStart":"01/15/2025","periodEnd":"02/14/2025","amountDue":85.0,"currency":"USD"}]}"#.to_vec(),
    )];
    // A larger, recursive payload: DoorDash order history with many orders.
    let schema = catalog
        .operation("doordash", "orderHistory", "read")
        .and_then(|op| op.spec.result.clone())
        .expect("doordash schema");
    let options = SampleOptions {
        max_items: 12,
        ..SampleOptions::default()
    };
    let options = &options;
    let big = sample_with(&schema, 7, options).expect("sample");
    out.push((
        "doordash orders".into(),
        "doordash",
        "orderHistory",
        "read",
        serde_json::to_vec(&big).unwrap(),
    ));
    // About 5 MB: the sample's orders repeated until the payload reaches 4.5 MB (the sampler
    // caps one instance at 100,000 values).
    let mut huge_value = big.clone();
    let orders = big["orders"].as_array().expect("orders").clone();
    let mut huge = Vec::new();
    while huge.len() < 4_500_000 {
        let list = huge_value["orders"].as_array_mut().expect("orders");
        list.extend(orders.iter().cloned());
        huge_value["orderCount"] = list.len().into();
        huge = serde_json::to_vec(&huge_value).unwrap();
    }
    out.push((
        format!("doordash orders {:.1} MB", huge.len() as f64 / 1e6),
        "doordash",
        "orderHistory",
        "read",
        huge,
    ));
    // The same with a field the schema does not declare in every object (kept in `extra`):
    // where serde's `flatten` buffered each unknown value before converting it.
    let drifted_options = SampleOptions {
        unknown_fields: true,
        ..options.clone()
    };
    let drifted = sample_with(&schema, 7, &drifted_options).expect("sample");
    let orders = drifted["orders"].as_array().expect("orders").clone();
    let mut huge_value = drifted.clone();
    let mut huge = Vec::new();
    while huge.len() < 4_500_000 {
        let list = huge_value["orders"].as_array_mut().expect("orders");
        list.extend(orders.iter().cloned());
        huge = serde_json::to_vec(&huge_value).unwrap();
    }
    out.push((
        format!(
            "doordash orders, unknown fields {:.1} MB",
            huge.len() as f64 / 1e6
        ),
        "doordash",
        "orderHistory",
        "read",
        huge,
    ));
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    // The 5 MB payload takes tens of milliseconds per parse.
    group.sample_size(20);
    for (name, integration, resource, action, bytes) in payloads() {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("generated_type", &name),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    passage_generated::decode_result(integration, resource, action, bytes).unwrap()
                })
            },
        );
        if integration == "doordash" {
            group.bench_with_input(
                BenchmarkId::new("generated_type_direct", &name),
                &bytes,
                |b, bytes| {
                    b.iter(|| {
                        serde_json::from_slice::<passage_generated::doordash::OrderHistoryReadResult>(bytes)
                            .unwrap()
                    })
                },
            );
            group.bench_with_input(
                BenchmarkId::new("flatten_derive_direct", &name),
                &bytes,
                |b, bytes| {
                    b.iter(|| {
                        serde_json::from_slice::<flatten_reference::OrderHistoryReadResult>(bytes)
                            .unwrap()
                    })
                },
            );
        }
        group.bench_with_input(
            BenchmarkId::new("baseline_serde_json_value", &name),
            &bytes,
            |b, bytes| b.iter(|| serde_json::from_slice::<serde_json::Value>(bytes).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
