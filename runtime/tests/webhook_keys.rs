//! `RemoteKeys` against a counting fake of `POST /webhook_verification_key/get` on 127.0.0.1:
//! the fetch bound under a flood of unknown `kid`s (one fetch per id, a few at once), the
//! negative cache, an endpoint that goes down, and key rotation. Starvation of a genuine key by
//! such a flood: `key_starvation.rs`.
#![cfg(feature = "test-util")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use passage_connect::webhook::signing::{sign_webhook, WebhookSigningKey};
use passage_connect::webhook::{
    KeyError, KeySource, ManualClock, RemoteKeys, VerifyError, WebhookVerifier,
};
use serde_json::{json, Value};

const NOW: u64 = 1_705_936_900;
const BODY: &[u8] = br#"{"event":"link.complete","linkId":"link_abc123","status":"complete","result":{"billing":[]},"error":null,"timestamp":1705936900000}"#;

#[derive(Default)]
struct Endpoint {
    keys: Mutex<HashMap<String, String>>,
    fetches: AtomicUsize,
    down: AtomicBool,
    /// Answer latency in ms (0: at once).
    delay_ms: AtomicU64,
    /// Requests being answered now, and the most seen at once.
    active: AtomicUsize,
    max_active: AtomicUsize,
}

async fn get_key(
    State(ep): State<Arc<Endpoint>>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    ep.fetches.fetch_add(1, Ordering::SeqCst);
    let active = ep.active.fetch_add(1, Ordering::SeqCst) + 1;
    ep.max_active.fetch_max(active, Ordering::SeqCst);
    let delay = ep.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    ep.active.fetch_sub(1, Ordering::SeqCst);
    if ep.down.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error":"down"})),
        );
    }
    let kid = body["key_id"].as_str().unwrap_or_default().to_owned();
    let pem = ep.keys.lock().unwrap().get(&kid).cloned();
    match pem {
        Some(pem) => (
            StatusCode::OK,
            Json(
                json!({"key_id": kid, "key": pem, "algorithm": "ES256", "created_at": 1705936800000u64}),
            ),
        ),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error":"Key not found"})),
        ),
    }
}

async fn start() -> (String, Arc<Endpoint>) {
    let ep = Arc::new(Endpoint::default());
    let app = Router::new()
        .route("/webhook_verification_key/get", post(get_key))
        .with_state(Arc::clone(&ep));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/"), ep)
}

fn add_key(ep: &Endpoint, kid: &str) -> WebhookSigningKey {
    let key = WebhookSigningKey::generate();
    ep.keys
        .lock()
        .unwrap()
        .insert(kid.to_owned(), key.public_key_pem());
    key
}

fn fetches(ep: &Endpoint) -> usize {
    ep.fetches.load(Ordering::SeqCst)
}

fn remote(base: &str, clock: &ManualClock) -> RemoteKeys {
    RemoteKeys::new(base)
        .with_clock(Arc::new(clock.clone()))
        .with_negative_ttl(Duration::from_secs(60))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_id_a_few_at_once() {
    let (base, ep) = start().await;
    ep.delay_ms.store(10, Ordering::SeqCst);
    let clock = ManualClock::at_unix_secs(NOW);
    let keys = remote(&base, &clock).with_fetch_burst(3);
    let attacker = WebhookSigningKey::generate();
    let verifier = WebhookVerifier::new(keys.clone()).with_clock(clock.clone());
    const IDS: usize = 100;

    // 100 distinct random kids at once, signed (so every check before the key passes).
    let flood = |round: usize| {
        let verifier = verifier.clone();
        let attacker = attacker.clone();
        async move {
            let tasks: Vec<_> = (0..IDS)
                .map(|i| {
                    let verifier = verifier.clone();
                    let headers = sign_webhook(&attacker, &format!("junk_{round}_{i}"), BODY, NOW)
                        .to_header_map();
                    tokio::spawn(async move { verifier.verify(&headers, BODY).await })
                })
                .collect();
            let mut unknown = 0;
            for t in tasks {
                let err = t.await.unwrap().unwrap_err();
                assert!(matches!(err, VerifyError::UnknownKid { .. }), "{err:?}");
                unknown += 1;
            }
            unknown
        }
    };
    // Callers over the 3 slots wait for one (10 ms a fetch: well within the 3 s fetch timeout)
    // instead of being refused: every id gets its answer, one fetch each, never more than 3 at once.
    assert_eq!(flood(0).await, IDS);
    assert_eq!(fetches(&ep), IDS, "one fetch per distinct id");
    assert_eq!(
        ep.max_active.load(Ordering::SeqCst),
        3,
        "the slots were used, never exceeded"
    );
    // The same ids again within the negative TTL: no fetch at all.
    flood(0).await;
    assert_eq!(fetches(&ep), IDS, "remembered as unknown");
    // Past the TTL, each id costs one fetch again, no more.
    clock.advance(Duration::from_secs(61));
    flood(0).await;
    assert_eq!(fetches(&ep), 2 * IDS);
    assert!(ep.max_active.load(Ordering::SeqCst) <= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_a_new_kid_share_one_fetch_and_it_is_cached() {
    let (base, ep) = start().await;
    let key = add_key(&ep, "wsk_1");
    let clock = ManualClock::at_unix_secs(NOW);
    let verifier = WebhookVerifier::new(remote(&base, &clock)).with_clock(clock.clone());
    let headers = sign_webhook(&key, "wsk_1", BODY, NOW).to_header_map();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let verifier = verifier.clone();
            let headers = headers.clone();
            tokio::spawn(async move { verifier.verify(&headers, BODY).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(fetches(&ep), 1);
    clock.advance(Duration::from_secs(3600 * 24 * 365));
    let headers = sign_webhook(&key, "wsk_1", BODY, NOW + 3600 * 24 * 365).to_header_map();
    verifier.verify(&headers, BODY).await.unwrap();
    verifier.verify_sync(&headers, BODY).unwrap();
    assert_eq!(fetches(&ep), 1, "cached forever");
}

#[tokio::test]
async fn unknown_ids_are_remembered_for_a_while() {
    let (base, ep) = start().await;
    let clock = ManualClock::at_unix_secs(NOW);
    let keys = remote(&base, &clock);
    assert!(matches!(
        keys.key("wsk_gone").await,
        Err(KeyError::UnknownKey { .. })
    ));
    assert_eq!(fetches(&ep), 1);
    clock.advance(Duration::from_secs(30));
    // Within the negative TTL: refused without a fetch.
    assert!(matches!(
        keys.key("wsk_gone").await,
        Err(KeyError::UnknownKey { .. })
    ));
    assert_eq!(fetches(&ep), 1);
    // Another unknown id is still fetched (nothing spent on the first one is taken from it).
    assert!(matches!(
        keys.key("wsk_other").await,
        Err(KeyError::UnknownKey { .. })
    ));
    assert_eq!(fetches(&ep), 2);
    // After the TTL the id is asked again (it may have been created since).
    add_key(&ep, "wsk_gone");
    clock.advance(Duration::from_secs(61));
    assert!(keys.key("wsk_gone").await.is_ok());
    assert_eq!(fetches(&ep), 3);
}

#[tokio::test]
async fn the_negative_cache_is_bounded() {
    let (base, ep) = start().await;
    let clock = ManualClock::at_unix_secs(NOW);
    let keys = remote(&base, &clock).with_negative_capacity(3);
    for i in 0..10 {
        assert!(keys.key(&format!("junk_{i}")).await.is_err());
    }
    assert_eq!(fetches(&ep), 10);
    // The last three are remembered, the first ones were evicted and are fetched again.
    assert!(keys.key("junk_9").await.is_err());
    assert_eq!(fetches(&ep), 10);
    assert!(keys.key("junk_0").await.is_err());
    assert_eq!(fetches(&ep), 11);
}

#[tokio::test]
async fn cached_keys_keep_verifying_while_the_endpoint_is_down() {
    let (base, ep) = start().await;
    let key = add_key(&ep, "wsk_1");
    let clock = ManualClock::at_unix_secs(NOW);
    let verifier = WebhookVerifier::new(remote(&base, &clock)).with_clock(clock.clone());
    let headers = sign_webhook(&key, "wsk_1", BODY, NOW).to_header_map();
    verifier.verify(&headers, BODY).await.unwrap();

    ep.down.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(10));
    let headers = sign_webhook(&key, "wsk_1", BODY, NOW + 10).to_header_map();
    verifier.verify(&headers, BODY).await.unwrap();
    assert_eq!(fetches(&ep), 1);

    let new_key = add_key(&ep, "wsk_2");
    let new_headers = sign_webhook(&new_key, "wsk_2", BODY, NOW + 10).to_header_map();
    let err = verifier.verify(&new_headers, BODY).await.unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::KeyUnavailable {
                source: KeyError::Status { status: 503, .. },
                ..
            }
        ),
        "{err:?}"
    );
    // A 503 is not "unknown": once the endpoint is back it is fetched.
    ep.down.store(false, Ordering::SeqCst);
    clock.advance(Duration::from_secs(5));
    let new_headers = sign_webhook(&new_key, "wsk_2", BODY, NOW + 15).to_header_map();
    verifier.verify(&new_headers, BODY).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_fetch_error() {
    // A port bound but never listened on: held for the whole test, every connection refused.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reserved.local_addr().unwrap();
    let clock = ManualClock::at_unix_secs(NOW);
    let keys = remote(&format!("http://{addr}"), &clock);
    assert!(matches!(
        keys.key("wsk_1").await,
        Err(KeyError::Fetch { .. })
    ));
}

#[tokio::test]
async fn rotation_adds_the_new_key_and_keeps_the_old() {
    let (base, ep) = start().await;
    let old = add_key(&ep, "wsk_1705936800000");
    let clock = ManualClock::at_unix_secs(NOW);
    let keys = remote(&base, &clock);
    let verifier = WebhookVerifier::new(keys.clone()).with_clock(clock.clone());
    verifier
        .verify(
            &sign_webhook(&old, "wsk_1705936800000", BODY, NOW).to_header_map(),
            BODY,
        )
        .await
        .unwrap();

    clock.advance(Duration::from_secs(3600));
    let new = add_key(&ep, "wsk_1705940400000");
    let now = NOW + 3600;
    verifier
        .verify(
            &sign_webhook(&new, "wsk_1705940400000", BODY, now).to_header_map(),
            BODY,
        )
        .await
        .unwrap();
    // A webhook signed with the new key but naming the old id does not verify.
    let err = verifier
        .verify(
            &sign_webhook(&new, "wsk_1705936800000", BODY, now).to_header_map(),
            BODY,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::BadSignature { .. }), "{err:?}");
    // The old key still verifies (in-flight retries of older webhooks).
    verifier
        .verify(
            &sign_webhook(&old, "wsk_1705936800000", BODY, now).to_header_map(),
            BODY,
        )
        .await
        .unwrap();
    assert_eq!(fetches(&ep), 2);
    assert_eq!(
        keys.cached_kids(),
        vec!["wsk_1705936800000", "wsk_1705940400000"]
    );
}
