//! End to end: the emulator sends signed webhooks to the example receiver
//! (`examples/examples/axum_webhook.rs`, included as a module so the very same router runs here),
//! which verifies them with keys fetched from the emulator, dedupes redeliveries, looks the link
//! up and decodes its result into the generated types.

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/examples/axum_webhook.rs"]
mod receiver;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use passage_connect::client::Client;
use passage_connect::dedupe::{Claim, DedupeKey, DedupeStore, MemoryDedupeStore};
use passage_connect::types::OperationResult;
use passage_connect::webhook::{RemoteKeys, WebhookVerifier};
use passage_mock::{MockConfig, MockServer, WebhookDelivery};
use receiver::{receiver_router, ProcessedEvent, ReceiverState, WEBHOOK_PATH};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Generous: the machine running the tests may be loaded.
const WAIT: Duration = Duration::from_secs(60);

struct Harness {
    mock: MockServer,
    http: reqwest::Client,
    receiver_url: String,
    dedupe: Arc<MemoryDedupeStore>,
    processed: mpsc::UnboundedReceiver<ProcessedEvent>,
    /// When set, the next response of the receiver is turned into a 500 *after* the handler ran
    /// (so the emulator retries a delivery the receiver has already seen).
    fail_next_response: Arc<AtomicBool>,
}

async fn start() -> Harness {
    let mock =
        MockServer::start(MockConfig::default().with_webhook_retry_delays(vec![
            Duration::from_millis(200),
            Duration::from_millis(200),
        ]))
        .await
        .expect("start the emulator");
    let client = Client::builder(mock.api_key())
        .base_url(mock.base_url())
        .build()
        .expect("client");
    let dedupe = Arc::new(MemoryDedupeStore::new());
    let (tx, processed) = mpsc::unbounded_channel();
    let state = ReceiverState {
        verifier: WebhookVerifier::new(RemoteKeys::new(&mock.base_url())),
        dedupe: dedupe.clone(),
        client,
        processed: Some(tx),
    };
    let fail_next_response = Arc::new(AtomicBool::new(false));
    let flag = fail_next_response.clone();
    let app = receiver_router(state).layer(axum::middleware::map_response(
        move |mut response: Response| {
            let flag = flag.clone();
            async move {
                if flag.swap(false, Ordering::SeqCst) {
                    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                }
                response
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind receiver");
    let addr = listener.local_addr().expect("receiver addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Harness {
        mock,
        http: reqwest::Client::new(),
        receiver_url: format!("http://{addr}{WEBHOOK_PATH}"),
        dedupe,
        processed,
        fail_next_response,
    }
}

impl Harness {
    async fn create_link(&self, operations: Value) -> String {
        let response = self
            .http
            .post(format!("{}/v1/links", self.mock.base_url()))
            .bearer_auth(self.mock.api_key())
            .json(&json!({
                "integrationId": "tmobile",
                "operations": operations,
                "webhookUrl": self.receiver_url,
            }))
            .send()
            .await
            .expect("POST /v1/links");
        assert!(
            response.status().is_success(),
            "create: {}",
            response.status()
        );
        let created: Value = response.json().await.expect("create body");
        created["linkId"]
            .as_str()
            .or_else(|| created["id"].as_str())
            .expect("link id in the create answer")
            .to_owned()
    }

    async fn next_processed(&mut self) -> ProcessedEvent {
        tokio::time::timeout(WAIT, self.processed.recv())
            .await
            .expect("the receiver processed an event in time")
            .expect("channel open")
    }

    /// Waits until the emulator logged an attempt for `link_id` matching `done`.
    async fn deliveries_until(
        &self,
        link_id: &str,
        done: impl Fn(&[WebhookDelivery]) -> bool,
    ) -> Vec<WebhookDelivery> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let mine: Vec<_> = self
                .mock
                .webhook_deliveries()
                .into_iter()
                .filter(|d| d.link_id == link_id)
                .collect();
            if done(&mine) {
                return mine;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries so far: {mine:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn link_result(&self, link_id: &str) -> Value {
        let link: Value = self
            .http
            .get(format!("{}/v1/links/{link_id}", self.mock.base_url()))
            .bearer_auth(self.mock.api_key())
            .send()
            .await
            .expect("GET link")
            .json()
            .await
            .expect("GET link body");
        link["result"].clone()
    }

    async fn replay(&self, delivery: &WebhookDelivery, body: &str) -> StatusCode {
        let mut request = self.http.post(&self.receiver_url).body(body.to_owned());
        for (name, value) in &delivery.headers {
            request = request.header(name, value);
        }
        let status = request.send().await.expect("replay").status();
        StatusCode::from_u16(status.as_u16()).expect("status")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_link_is_verified_decoded_and_deduped() {
    let mut h = start().await;
    let link_id = h
        .create_link(json!([{"resource": "mobileBillingStatement", "action": "read"}]))
        .await;
    h.mock
        .complete_link(&link_id, None)
        .await
        .expect("complete");

    // Verified (the handler only runs after the extractor verified the signature with the key
    // fetched from the emulator), deduped as first seen, looked up and decoded.
    let processed = h.next_processed().await;
    let ProcessedEvent::Complete {
        link_id: got_id,
        integration,
        results,
    } = processed
    else {
        panic!("expected a complete event, got {processed:?}");
    };
    assert_eq!(got_id, link_id);
    assert_eq!(integration, "tmobile");
    let results = results.expect("results decode");
    let entry = results.single().expect("one operation");
    let typed = entry.result().expect("the data fits its generated type");
    assert!(
        matches!(typed, OperationResult::TmobileMobileBillingStatementRead(_)),
        "wrong variant: {typed:?}"
    );
    // The typed value carries exactly the data the emulator stored (numbers compared as
    // numbers: a JSON `180` read into an `f64` field serializes as `180.0`).
    let typed_json = serde_json::to_value(typed).expect("serialize");
    let stored = h.link_result(&link_id).await;
    assert!(
        passage_samples::json_eq(&typed_json, &stored),
        "typed: {typed_json}\nstored: {stored}"
    );

    let deliveries = h
        .deliveries_until(&link_id, |d| d.iter().any(|d| d.succeeded()))
        .await;
    let first = deliveries
        .iter()
        .find(|d| d.succeeded())
        .expect("a successful attempt");
    assert_eq!(first.event, "link.complete");
    assert!(first.header("x-passage-signature").is_some());

    // A redelivery of the exact same bytes is accepted (2xx, so Passage stops) but not
    // processed again.
    assert_eq!(h.replay(first, &first.body).await, StatusCode::OK);
    let body: Value = serde_json::from_str(&first.body).expect("delivery body");
    let key = DedupeKey::new(
        link_id.as_str(),
        "link.complete",
        body["timestamp"].as_u64().expect("timestamp"),
    );
    assert_eq!(
        h.dedupe.claim(&key).await.expect("dedupe"),
        Claim::Done,
        "key was recorded as done"
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(2), h.processed.recv())
            .await
            .is_err(),
        "a redelivery was processed twice"
    );

    // Tampering is refused before the handler: the body no longer matches the signed hash.
    let tampered = first.body.replacen("link.complete", "link.failed", 1);
    assert_eq!(h.replay(first, &tampered).await, StatusCode::UNAUTHORIZED);
    let unsigned = h
        .http
        .post(&h.receiver_url)
        .body(first.body.clone())
        .send()
        .await
        .expect("unsigned post");
    assert_eq!(unsigned.status().as_u16(), 400);
    assert_eq!(
        unsigned.text().await.expect("text"),
        "missing or malformed webhook signature headers"
    );
    h.mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_retry_after_a_failed_answer_is_deduped() {
    let mut h = start().await;
    let link_id = h
        .create_link(json!([
            {"resource": "paymentMethod", "action": "read"},
            {"resource": "mobileBillingStatement", "action": "read"}
        ]))
        .await;
    // The receiver processes the first attempt but the emulator sees a 500 and retries.
    h.fail_next_response.store(true, Ordering::SeqCst);
    h.mock
        .complete_link(&link_id, None)
        .await
        .expect("complete");

    let processed = h.next_processed().await;
    let ProcessedEvent::Complete { results, .. } = processed else {
        panic!("expected a complete event, got {processed:?}");
    };
    let results = results.expect("multi-operation results decode");
    let kinds: Vec<_> = results
        .iter()
        .map(|e| match e.result() {
            Some(OperationResult::TmobilePaymentMethodRead(_)) => "paymentMethod",
            Some(OperationResult::TmobileMobileBillingStatementRead(_)) => "billing",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["paymentMethod", "billing"]);

    let deliveries = h
        .deliveries_until(&link_id, |d| d.iter().any(|d| d.succeeded()))
        .await;
    assert!(deliveries.len() >= 2, "{deliveries:#?}");
    assert!(!deliveries[0].succeeded(), "first attempt answered 500");
    let retry = deliveries
        .iter()
        .find(|d| d.succeeded())
        .expect("retry accepted");
    assert!(retry.attempt >= 2);
    assert_eq!(
        retry.body, deliveries[0].body,
        "a retry carries the same bytes"
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(2), h.processed.recv())
            .await
            .is_err(),
        "the emulator's retry was processed twice"
    );
    h.mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_then_complete_are_two_events() {
    let mut h = start().await;
    let link_id = h
        .create_link(json!([{"resource": "mobileBillingStatement", "action": "read"}]))
        .await;
    h.mock
        .fail_link(&link_id, "AUTOMATION_ERROR", "login failed")
        .await
        .expect("fail");
    match h.next_processed().await {
        ProcessedEvent::Failed { link_id: id, error } => {
            assert_eq!(id, link_id);
            let error = error.expect("error set");
            assert_eq!(error.code.as_str(), "AUTOMATION_ERROR");
        }
        other => panic!("expected failed, got {other:?}"),
    }
    // The same link completes after a retry: a different dedupe key, processed.
    h.mock
        .complete_link(&link_id, None)
        .await
        .expect("complete");
    match h.next_processed().await {
        ProcessedEvent::Complete { link_id: id, .. } => assert_eq!(id, link_id),
        other => panic!("expected complete, got {other:?}"),
    }
    h.mock.shutdown().await;
}

/// The README quickstart creates links with `--webhook-url http://127.0.0.1:9000/webhook`: the
/// example receiver must listen exactly there by default, or the emulator's deliveries go nowhere.
#[test]
fn the_example_receiver_listens_at_the_readme_webhook_url() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let urls: Vec<&str> = readme
        .split("--webhook-url ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert!(
        !urls.is_empty(),
        "the README quickstart gives no --webhook-url"
    );
    let expected = format!("http://{}{WEBHOOK_PATH}", receiver::DEFAULT_ADDR);
    for url in urls {
        assert_eq!(url.trim_end_matches(')'), expected);
    }
}
