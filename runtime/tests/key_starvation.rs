//! Key-fetch starvation (issue 18), over real HTTP on 127.0.0.1: a stranger holding no key
//! floods a receiver's verifier with random `kid`s while Passage delivers genuine webhooks signed
//! with keys the receiver has not cached yet, on Passage's schedule (first attempt, retries 1 s
//! and 5 s after it, then dropped). Every genuine webhook must get through. A stranger's request
//! refused by a check that needs no key (body hash, `iat`, timestamp header) must cost no fetch.
//!
//! The flood cases run one at a time (they measure timing on a shared 2-core machine).
#![cfg(all(feature = "test-util", feature = "axum"))]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use passage_connect::webhook::axum::VerifiedWebhookEvent;
use passage_connect::webhook::signing::{sign_webhook, WebhookSigningKey};
use passage_connect::webhook::{RemoteKeys, VerifyError, WebhookVerifier};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

const BODY: &[u8] = br#"{"event":"link.complete","linkId":"link_abc123","status":"complete","result":{"billing":[]},"error":null,"timestamp":1705936900000}"#;

/// Passage's delivery schedule: offsets of the three attempts from the first one.
const ATTEMPTS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_secs(1),
    Duration::from_secs(5),
];

/// Flood cases share the machine's two cores: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A stub of `POST /webhook_verification_key/get`: known ids get their PEM, others 404, both
/// after `latency`. Counts fetches of known (genuine) and unknown (stranger) ids.
struct KeyServer {
    keys: Mutex<HashMap<String, String>>,
    latency: Duration,
    genuine_fetches: AtomicUsize,
    stranger_fetches: AtomicUsize,
}

impl KeyServer {
    fn fetches(&self) -> (usize, usize) {
        (
            self.genuine_fetches.load(Ordering::SeqCst),
            self.stranger_fetches.load(Ordering::SeqCst),
        )
    }
}

async fn get_key(
    State(server): State<Arc<KeyServer>>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let kid = body["key_id"].as_str().unwrap_or_default().to_owned();
    let pem = server.keys.lock().unwrap().get(&kid).cloned();
    match &pem {
        Some(_) => server.genuine_fetches.fetch_add(1, Ordering::SeqCst),
        None => server.stranger_fetches.fetch_add(1, Ordering::SeqCst),
    };
    tokio::time::sleep(server.latency).await;
    match pem {
        Some(pem) => (
            StatusCode::OK,
            Json(json!({"key_id": kid, "key": pem, "algorithm": "ES256"})),
        ),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "Key not found"})),
        ),
    }
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

async fn start_key_server(latency: Duration) -> (String, Arc<KeyServer>) {
    let server = Arc::new(KeyServer {
        keys: Mutex::new(HashMap::new()),
        latency,
        genuine_fetches: AtomicUsize::new(0),
        stranger_fetches: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/webhook_verification_key/get", post(get_key))
        .with_state(Arc::clone(&server));
    (serve(app).await, server)
}

/// A receiver as a user writes it: the crate's axum extractor, 2xx only for a verified webhook
/// (a key that cannot be fetched is a 503, so Passage retries).
async fn start_receiver(verifier: WebhookVerifier) -> String {
    async fn accept(_: VerifiedWebhookEvent) -> &'static str {
        "ok"
    }
    let app = Router::new()
        .route("/webhook", post(accept))
        .with_state(verifier);
    format!("{}/webhook", serve(app).await)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A stranger's request: well-formed, any `kid`, claims of its choosing, a signature of zeros
/// (it has no key; nothing before the key fetch can tell).
fn stranger_headers(kid: &str, body_hash: &[u8], iat: u64, timestamp: Option<u64>) -> HeaderMap {
    let header = format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#);
    let claims = format!(
        r#"{{"request_body_sha256":"{}","iat":{iat}}}"#,
        hex::encode(body_hash)
    );
    let jwt = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims),
        URL_SAFE_NO_PAD.encode([0u8; 64])
    );
    let mut headers = HeaderMap::new();
    headers.insert("x-passage-signature", HeaderValue::from_str(&jwt).unwrap());
    if let Some(ts) = timestamp {
        headers.insert("x-passage-timestamp", HeaderValue::from(ts));
    }
    headers
}

#[derive(Default)]
struct StrangerTally {
    sent: AtomicUsize,
    answered: AtomicUsize,
}

/// Sends `rate` requests a second, each with a `kid` never seen before and a correct body hash
/// and `iat` (so it reaches the key fetch), without waiting for answers, until aborted.
fn flood(
    verifier: WebhookVerifier,
    rate: u32,
    tag: &'static str,
    tally: Arc<StrangerTally>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let hash = Sha256::digest(BODY);
        let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
        for n in 0u64.. {
            tick.tick().await;
            let headers = stranger_headers(
                &format!("rnd_{tag}_{n}"),
                &hash,
                unix_now(),
                Some(unix_now()),
            );
            let verifier = verifier.clone();
            let tally = Arc::clone(&tally);
            tally.sent.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let result = verifier.verify(&headers, BODY).await;
                // A stranger's request never verifies; any refusal is fine.
                assert!(result.is_err());
                tally.answered.fetch_add(1, Ordering::SeqCst);
            });
        }
    })
}

/// What Passage saw for one webhook: the status (or transport error) of each attempt.
#[derive(Debug)]
struct Delivery {
    kid: String,
    attempts: Vec<String>,
    accepted: bool,
}

/// Delivers one webhook like Passage: attempts at 0 s, 1 s and 5 s after the first (never before
/// the previous answer), stopping at the first 2xx.
async fn deliver(
    http: reqwest::Client,
    url: String,
    key: WebhookSigningKey,
    kid: String,
) -> Delivery {
    let first = Instant::now();
    let mut delivery = Delivery {
        kid,
        attempts: Vec::new(),
        accepted: false,
    };
    for offset in ATTEMPTS {
        tokio::time::sleep_until(first + offset).await;
        // Each attempt is signed anew, as Passage does: its `iat` is the attempt's time.
        let signed = sign_webhook(&key, &delivery.kid, BODY, unix_now());
        let sent = Instant::now();
        let answer = http
            .post(&url)
            .headers(signed.to_header_map())
            .header("content-type", "application/json")
            .body(BODY)
            .send()
            .await;
        let took = sent.elapsed().as_millis();
        match answer {
            Ok(response) if response.status().is_success() => {
                delivery
                    .attempts
                    .push(format!("{} in {took} ms", response.status().as_u16()));
                delivery.accepted = true;
                break;
            }
            Ok(response) => delivery
                .attempts
                .push(format!("{} in {took} ms", response.status().as_u16())),
            Err(err) => delivery.attempts.push(format!("error {err} in {took} ms")),
        }
    }
    delivery
}

struct FloodCase {
    name: &'static str,
    /// Stranger requests per second.
    rate: u32,
    /// Latency of every key server answer.
    key_latency: Duration,
    /// Genuine webhooks, each signed with its own key the receiver has not cached.
    genuine: usize,
    /// Time between two genuine webhooks' first attempts.
    spacing: Duration,
    /// The attempt by which each genuine webhook must be accepted (3: Passage's schedule).
    accepted_by: usize,
}

async fn run_flood_case(case: FloodCase) {
    let _serial = SERIAL.lock().await;
    let (key_base, keys) = start_key_server(case.key_latency).await;
    let verifier = WebhookVerifier::new(RemoteKeys::new(&key_base));
    let receiver = start_receiver(verifier.clone()).await;
    let signing: Vec<(String, WebhookSigningKey)> = (0..case.genuine)
        .map(|i| {
            let kid = format!("wsk_{}_{i}", case.name);
            let key = WebhookSigningKey::generate();
            keys.keys
                .lock()
                .unwrap()
                .insert(kid.clone(), key.public_key_pem());
            (kid, key)
        })
        .collect();

    let tally = Arc::new(StrangerTally::default());
    let stranger = flood(verifier.clone(), case.rate, case.name, Arc::clone(&tally));
    // Let the flood reach its steady state before the first genuine webhook.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut deliveries = Vec::new();
    for (i, (kid, key)) in signing.into_iter().enumerate() {
        tokio::time::sleep_until(started + case.spacing * i as u32).await;
        deliveries.push(tokio::spawn(deliver(
            http.clone(),
            receiver.clone(),
            key,
            kid,
        )));
    }
    // A delivery lasts at most 5 s of schedule plus three answers, each at most a slot wait and
    // a fetch (3 s each by default) plus scheduling noise on a loaded machine.
    let deadline = case.spacing * case.genuine as u32 + Duration::from_secs(5 + 3 * 10);
    let mut results = Vec::new();
    let collected = tokio::time::timeout(deadline, async {
        for d in deliveries {
            results.push(d.await.unwrap());
        }
    })
    .await;
    stranger.abort();
    let (genuine_fetches, stranger_fetches) = keys.fetches();
    let accepted = results.iter().filter(|d| d.accepted).count();
    let report = format!(
        "{}: stranger at {}/s ({} sent, {} answered so far), key latency {} ms: genuine accepted {accepted}/{} \
         after {:.1} s; key fetches: {genuine_fetches} genuine, {stranger_fetches} stranger\n{}",
        case.name,
        case.rate,
        tally.sent.load(Ordering::SeqCst),
        tally.answered.load(Ordering::SeqCst),
        case.key_latency.as_millis(),
        case.genuine,
        started.elapsed().as_secs_f64(),
        results
            .iter()
            .map(|d| format!("  {}: {} ({})", d.kid, if d.accepted { "accepted" } else { "LOST" }, d.attempts.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!("{report}");
    assert!(
        collected.is_ok(),
        "deliveries still running after {deadline:?}\n{report}"
    );
    assert_eq!(accepted, case.genuine, "genuine webhooks lost\n{report}");
    let late: Vec<&str> = results
        .iter()
        .filter(|d| d.attempts.len() > case.accepted_by)
        .map(|d| d.kid.as_str())
        .collect();
    assert!(
        late.is_empty(),
        "accepted only after attempt {}: {late:?}\n{report}",
        case.accepted_by
    );
    // One fetch per genuine key: concurrent and later attempts find it cached.
    assert_eq!(genuine_fetches, case.genuine, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genuine_webhooks_get_through_a_flood_of_random_kids_at_20_per_second() {
    run_flood_case(FloodCase {
        name: "flood20",
        rate: 20,
        key_latency: Duration::from_millis(5),
        genuine: 6,
        spacing: Duration::from_millis(1200),
        accepted_by: ATTEMPTS.len(),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genuine_webhooks_get_through_a_flood_of_random_kids_at_200_per_second() {
    run_flood_case(FloodCase {
        name: "flood200",
        rate: 200,
        key_latency: Duration::from_millis(5),
        genuine: 6,
        spacing: Duration::from_millis(1200),
        accepted_by: ATTEMPTS.len(),
    })
    .await;
}

/// A slow key endpoint (400 ms an answer: 4 fetches at once serve 10 ids a second) under a flood
/// twice that: strangers queue for fetch slots, first come first served, so a first attempt may
/// wait out the fetch timeout (503). Passage's retry asks for the genuine key again, and a key
/// asked for twice goes before ids asked for once: the retry is accepted. (In plain arrival
/// order the retry would queue behind the flood again, and only the third attempt, or none, get
/// through.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genuine_webhooks_get_through_when_the_flood_outruns_a_slow_key_endpoint() {
    run_flood_case(FloodCase {
        name: "slowkeys",
        rate: 20,
        key_latency: Duration::from_millis(400),
        genuine: 4,
        spacing: Duration::from_millis(2000),
        accepted_by: 2,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_refused_before_the_key_cost_no_fetch() {
    let _serial = SERIAL.lock().await;
    let (key_base, keys) = start_key_server(Duration::from_millis(5)).await;
    let verifier = WebhookVerifier::new(RemoteKeys::new(&key_base));
    let now = unix_now();
    let good_hash = Sha256::digest(BODY);
    let bad_hash = Sha256::digest(b"another body");
    let mut refused = HashMap::<String, usize>::new();
    let cases: [(&str, &[u8], u64, Option<u64>); 5] = [
        ("bad body hash", &bad_hash, now, Some(now)),
        ("stale iat", &good_hash, now - 3600, Some(now - 3600)),
        (
            "iat in the future",
            &good_hash,
            now + 3600,
            Some(now + 3600),
        ),
        ("timestamp far from iat", &good_hash, now, Some(now - 3600)),
        ("timestamp missing", &good_hash, now, None),
    ];
    let per_case = 100;
    for (name, hash, iat, timestamp) in cases {
        let tasks: Vec<_> = (0..per_case)
            .map(|i| {
                let verifier = verifier.clone();
                let headers = stranger_headers(
                    &format!("rnd_{}_{i}", name.replace(' ', "_")),
                    hash,
                    iat,
                    timestamp,
                );
                tokio::spawn(async move { verifier.verify(&headers, BODY).await })
            })
            .collect();
        for task in tasks {
            let err = task.await.unwrap().unwrap_err();
            let variant: String = format!("{err:?}")
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            *refused.entry(format!("{name}: {variant}")).or_default() += 1;
            assert!(
                !matches!(
                    err,
                    VerifyError::UnknownKid { .. } | VerifyError::KeyUnavailable { .. }
                ),
                "{name}: {err:?}"
            );
        }
    }
    let (genuine, stranger) = keys.fetches();
    eprintln!(
        "{} stranger requests refused before the key: {refused:?}; key fetches: {}",
        per_case * cases.len(),
        genuine + stranger
    );
    assert_eq!(stranger + genuine, 0, "{refused:?}");
    // The same requests with a correct hash and time do reach the key source (the test can fail).
    let headers = stranger_headers("rnd_reaches_the_key", &good_hash, now, Some(now));
    let err = verifier.verify(&headers, BODY).await.unwrap_err();
    assert!(matches!(err, VerifyError::UnknownKid { .. }), "{err:?}");
    assert_eq!(keys.fetches(), (0, 1));
}
