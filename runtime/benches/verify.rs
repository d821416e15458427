//! Webhook verification throughput on one core: the full path (headers + body -> verified,
//! typed billing result) against the bare cost of one `ring` ECDSA P-256 verification of the
//! same JWT, measured in the same process.
//!
//! `cargo bench -p passage-connect --features test-util --bench verify`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use passage_connect::link::OperationRef;
use passage_connect::types::OperationResult;
use passage_connect::webhook::signing::{sign_webhook, WebhookSigningKey};
use passage_connect::webhook::{ManualClock, StaticKeys, WebhookEvent, WebhookVerifier};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

const NOW: u64 = 1_704_067_200;
const SEED: &[u8] = br#"{"event":"link.complete","linkId":"link_abc123","status":"complete","result":{"billing":[{"periodStart":"01/15/2025","periodEnd":"02/14/2025","amountDue":85.0,"currency":"USD"}]},"error":null,"timestamp":1704067200000}"#;

fn bench(c: &mut Criterion) {
    let key = WebhookSigningKey::generate();
    let verifier = WebhookVerifier::new(
        StaticKeys::from_pem("wsk_1705936800000", &key.public_key_pem()).unwrap(),
    )
    .with_clock(ManualClock::at_unix_secs(NOW));
    let signed = sign_webhook(&key, "wsk_1705936800000", SEED, NOW);
    let headers = signed.to_header_map();
    let ops = [OperationRef::new("mobileBillingStatement", "read")];

    // Sanity: the full path really verifies and decodes.
    let event = verifier
        .verify_sync(&headers, SEED)
        .unwrap()
        .event()
        .unwrap();
    let WebhookEvent::LinkComplete(link) = event else {
        panic!("not link.complete")
    };
    let results = link.decode_results("tmobile", &ops).unwrap();
    assert!(matches!(
        results.single().unwrap().outcome,
        Ok(OperationResult::TmobileMobileBillingStatementRead(_))
    ));

    let (signing_input, sig_b64) = signed.signature.rsplit_once('.').unwrap();
    let sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig_b64).unwrap();
    let point = key.public_key_sec1();

    let mut group = c.benchmark_group("webhook");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ring_ecdsa_p256_verify", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, black_box(&point[..]))
                .verify(black_box(signing_input.as_bytes()), black_box(&sig))
                .unwrap()
        })
    });
    group.bench_function("verify_only", |b| {
        b.iter(|| {
            verifier
                .verify_sync(black_box(&headers), black_box(SEED))
                .unwrap()
        })
    });
    group.bench_function("verify_and_decode_billing", |b| {
        b.iter(|| {
            let verified = verifier
                .verify_sync(black_box(&headers), black_box(SEED))
                .unwrap();
            let event = verified.event().unwrap();
            let link = event.link_event().unwrap();
            link.decode_results("tmobile", &ops).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
