//! Decode throughput of the generated types, against a baseline in the same process: parsing
//! the same bytes into an untyped `serde_json::Value`. Run with
//! `cargo bench -p passage-tests --bench decode`. Reports, asserts nothing.

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
    let big = sample_with(&schema, 7, &options).expect("sample");
    out.push((
        "doordash orders".into(),
        "doordash",
        "orderHistory",
        "read",
        serde_json::to_vec(&big).unwrap(),
    ));
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
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
