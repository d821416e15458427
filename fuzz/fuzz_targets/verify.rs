//! Fuzz target `verify`: arbitrary headers and body into `WebhookVerifier::verify` with a static
//! key and a fixed clock. Must never panic, never wait, and agree with `verify_sync`.
//!
//! Input layout (so seeds stay readable): byte 0 modulo 3 picks the mode, the rest is split on `\n`.
//! * mode 0 (raw): `<X-Passage-Signature>\n<X-Passage-Timestamp>\n<body>`; an empty line
//!   leaves the header out.
//! * mode 1 (signed): the rest is the body, signed correctly by the harness: verification
//!   must succeed, and parsing the event and decoding its result must not panic.
//! * mode 2 (crafted JWT): `<JWT header JSON>\n<claims JSON>\n<body>`, signed correctly by
//!   the harness: exercises every check after the signature with attacker-chosen JSON.
#![no_main]

use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use passage_connect::link::OperationRef;
use passage_connect::webhook::signing::{sign_compact_jwt, sign_webhook, WebhookSigningKey};
use passage_connect::webhook::{
    ManualClock, StaticKeys, VerifiedWebhook, VerifyError, WebhookEvent, WebhookVerifier,
};

/// The fuzzing key: a throwaway P-256 key committed for the fuzz corpus only.
const SIGNING_KEY_PEM: &str = include_str!("../keys/fuzz-signing-key.pem");
/// The key id the corpus uses.
const KID: &str = "wsk_fuzz";
/// The verifier's "now", Unix seconds (the corpus is signed at this time).
const NOW: u64 = 1_704_067_200;

struct Fixture {
    key: WebhookSigningKey,
    verifier: WebhookVerifier,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = WebhookSigningKey::from_pem(SIGNING_KEY_PEM).expect("fuzz key PEM");
        let keys = StaticKeys::from_pem(KID, &key.public_key_pem()).expect("fuzz public key");
        let verifier = WebhookVerifier::new(keys).with_clock(ManualClock::at_unix_secs(NOW));
        Fixture { key, verifier }
    })
}

/// Polls `fut` once: with static keys, verification never waits.
fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("verification with static keys returned Pending"),
    }
}

fn verify_both(headers: &HeaderMap, body: &[u8]) -> Result<VerifiedWebhook, VerifyError> {
    let fx = fixture();
    let async_result = ready(fx.verifier.verify(headers, body));
    let sync_result = fx.verifier.verify_sync(headers, body);
    assert_eq!(
        async_result.is_ok(),
        sync_result.is_ok(),
        "verify and verify_sync disagree: {async_result:?} vs {sync_result:?}"
    );
    if let Ok(verified) = &async_result {
        assert_eq!(
            verified.body(),
            body,
            "verified body differs from the input"
        );
    }
    if let Err(err) = &async_result {
        // Display must not panic either.
        let _ = err.to_string();
    }
    async_result
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &[u8]) {
    if value.is_empty() {
        return;
    }
    if let Ok(value) = HeaderValue::from_bytes(value) {
        headers.append(name, value);
    }
}

fn split3(rest: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let mut parts = rest.splitn(3, |&b| b == b'\n');
    let a = parts.next().unwrap_or_default();
    let b = parts.next().unwrap_or_default();
    let c = parts.next().unwrap_or_default();
    (a, b, c)
}

fn use_event(verified: &VerifiedWebhook) {
    let Ok(event) = verified.event() else { return };
    let _ = event.name();
    // Serializing a parsed event back must work.
    let _ = serde_json::to_vec(&event).expect("a parsed event serializes");
    if let WebhookEvent::LinkComplete(link) | WebhookEvent::LinkFailed(link) = &event {
        let single = [OperationRef::new("mobileBillingStatement", "read")];
        let multi = [
            OperationRef::new("paymentMethod", "read"),
            OperationRef::new("paymentMethod", "write"),
        ];
        let _ = link.decode_results("tmobile", &single);
        let _ = link.decode_results("verizon", &multi);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    match mode % 3 {
        0 => {
            let (signature, timestamp, body) = split3(rest);
            let mut headers = HeaderMap::new();
            insert(&mut headers, "x-passage-signature", signature);
            insert(&mut headers, "x-passage-timestamp", timestamp);
            if let Ok(verified) = verify_both(&headers, body) {
                use_event(&verified);
            }
        }
        1 => {
            let signed = sign_webhook(&fx.key, KID, rest, NOW);
            let result = verify_both(&signed.to_header_map(), rest);
            match result {
                Ok(verified) => use_event(&verified),
                // Only the body size limit may refuse a correctly signed webhook.
                Err(VerifyError::BodyTooLarge { .. }) => {}
                Err(err) => panic!("a correctly signed webhook was refused: {err}"),
            }
        }
        _ => {
            let (header_json, claims_json, body) = split3(rest);
            let jwt = sign_compact_jwt(&fx.key, header_json, claims_json);
            let mut headers = HeaderMap::new();
            insert(&mut headers, "x-passage-signature", jwt.as_bytes());
            insert(
                &mut headers,
                "x-passage-timestamp",
                NOW.to_string().as_bytes(),
            );
            if let Ok(verified) = verify_both(&headers, body) {
                use_event(&verified);
            }
        }
    }
});
