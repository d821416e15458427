//! Signed webhooks over real HTTP: documented bodies and headers, retries until 2xx, the
//! delivery log, and the signature checked by implementations the emulator does not sign with:
//! ring (the SDK's verifier; the emulator signs with the RustCrypto `p256` crate) and Python
//! `cryptography` (OpenSSL). Absence ("no fourth attempt") is checked after the event that makes
//! it certain (the delivery's last attempt logged), never after a fixed sleep. One link's events
//! arrive in the order they happened, unless the reorder fault is injected.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use passage_connect::webhook::VerificationKey;
use passage_mock::{DeliveryOutcome, MockServer, WebhookDelivery};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

fn webhook_link(receiver: &Receiver) -> Value {
    let mut body = billing_link();
    body["webhookUrl"] = json!(format!("{}/hook", receiver.url));
    body
}

/// Fetches the key the webhook names through the public endpoint, as a receiver would.
async fn fetch_key(mock: &MockServer, kid: &str) -> String {
    let (status, body) = json_of(
        client()
            .post(format!("{}/webhook_verification_key/get", mock.base_url()))
            .json(&json!({"key_id": kid}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["key"].as_str().unwrap().to_string()
}

/// Checks the signature with ring (through the SDK's `VerificationKey`): not the code the emulator
/// signs with (`passage_connect::webhook::signing`, RustCrypto `p256`).
fn verify_with_ring(pem: &str, body: &[u8], jwt: &str, timestamp: &str, kid: &str) {
    let key = VerificationKey::from_spki_pem(kid, pem).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg":"ES256","typ":"JWT","kid":kid}));
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        claims["request_body_sha256"],
        hex::encode(Sha256::digest(body))
    );
    assert_eq!(claims["iat"].to_string(), timestamp);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert!(
        key.verify_es256(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature),
        "signature does not verify with ring"
    );
}

/// Waits until the delivery log holds `n` attempts for `link_id`. A delivery logs each attempt
/// before deciding on the next, so once its last attempt (a 2xx, or the last retry) is logged the
/// delivery is over: nothing more can arrive.
async fn logged_attempts(mock: &MockServer, link_id: &str, n: usize) -> Vec<WebhookDelivery> {
    let start = std::time::Instant::now();
    loop {
        let log: Vec<_> = mock
            .webhook_deliveries()
            .into_iter()
            .filter(|d| d.link_id == link_id)
            .collect();
        if log.len() >= n {
            return log;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{} of {n} attempts: {log:?}",
            log.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the Python `cryptography` (OpenSSL) check. `None` when python3 or the package is
/// missing outside CI (under `CI=true` that is a test failure).
fn python_check(
    pem: &str,
    body: &[u8],
    jwt: &str,
    timestamp: &str,
    kid: &str,
) -> Option<Result<(), String>> {
    let dir = tempfile::tempdir().unwrap();
    let pem_file = dir.path().join("key.pem");
    let body_file = dir.path().join("body.json");
    std::fs::write(&pem_file, pem).unwrap();
    std::fs::write(&body_file, body).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_es256.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(&pem_file)
        .arg(&body_file)
        .args([jwt, timestamp, kid])
        .output();
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match output {
        Ok(out) if out.status.success() => {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
            Some(Ok(()))
        }
        Ok(out) if out.status.code() == Some(3) => {
            assert!(
                !in_ci,
                "CI=true but the python package `cryptography` is missing"
            );
            eprintln!("SKIPPED the Python check: `cryptography` is not installed (pip install cryptography)");
            None
        }
        Ok(out) => Some(Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
        Err(err) => {
            assert!(!in_ci, "CI=true but python3 cannot run: {err}");
            eprintln!("SKIPPED the Python check: cannot run python3: {err}");
            None
        }
    }
}

/// Checks the signature with Python's `cryptography` (OpenSSL), an implementation independent of
/// the RustCrypto signer.
fn verify_with_python(pem: &str, body: &[u8], jwt: &str, timestamp: &str, kid: &str) {
    if let Some(Err(err)) = python_check(pem, body, jwt, timestamp, kid) {
        panic!("python verification failed: {err}");
    }
}

#[tokio::test]
async fn the_python_check_rejects_tampering() {
    let mock = start_mock().await;
    let receiver = Receiver::start(vec![]).await;
    let created = create_ok(&mock, &webhook_link(&receiver)).await;
    mock.complete_link(created["linkId"].as_str().unwrap(), None)
        .await
        .unwrap();
    let received = receiver.wait_for(1).await;
    let jwt = received[0].headers["x-passage-signature"].to_str().unwrap();
    let timestamp = received[0].headers["x-passage-timestamp"].to_str().unwrap();
    let kid = mock.key_id();
    let pem = mock.public_key_pem();
    if python_check(&pem, &received[0].body, jwt, timestamp, &kid).is_none() {
        return;
    }
    let mut body = received[0].body.to_vec();
    body.push(b' ');
    let err = python_check(&pem, &body, jwt, timestamp, &kid)
        .unwrap()
        .unwrap_err();
    assert!(err.contains("request_body_sha256"), "{err}");
    let err = python_check(&pem, &received[0].body, jwt, timestamp, "wsk_other")
        .unwrap()
        .unwrap_err();
    assert!(err.contains("header"), "{err}");
    let other = passage_mock::WebhookSigningKey::generate().public_key_pem();
    let err = python_check(&other, &received[0].body, jwt, timestamp, &kid)
        .unwrap()
        .unwrap_err();
    assert!(err.contains("does not verify"), "{err}");
}

#[tokio::test]
async fn complete_webhook_is_signed_and_retried_until_2xx() {
    let mock = start_mock().await;
    let receiver = Receiver::start(vec![500, 500]).await;
    let created = create_ok(&mock, &webhook_link(&receiver)).await;
    let id = created["linkId"].as_str().unwrap();
    let before_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    mock.complete_link(id, None).await.unwrap();

    receiver.wait_for(3).await;
    // No fourth attempt after the 2xx: the third attempt, logged as a success, ends the delivery.
    let log = logged_attempts(&mock, id, 3).await;
    assert_eq!(log.len(), 3);
    assert!(log[2].succeeded(), "{log:?}");
    let received = receiver.received();
    assert_eq!(received.len(), 3);

    let first_body = received[0].body.clone();
    for request in &received {
        assert_eq!(
            request.body, first_body,
            "every attempt carries the same body"
        );
        assert_eq!(request.headers["content-type"], "application/json");
    }
    let body: Value = serde_json::from_slice(&first_body).unwrap();
    let (_, link) = get_link(&mock, id).await;
    assert_eq!(body["event"], "link.complete");
    assert_eq!(body["linkId"], id);
    assert_eq!(body["status"], "complete");
    assert_eq!(body["result"], link["result"]);
    assert_eq!(body["error"], Value::Null);
    assert!(body["timestamp"].as_u64().unwrap() >= before_secs * 1000);
    assert_eq!(body.as_object().unwrap().len(), 6, "{body}");

    let kid = mock.key_id();
    let pem = fetch_key(&mock, &kid).await;
    for request in &received {
        let jwt = request.headers["x-passage-signature"].to_str().unwrap();
        let timestamp = request.headers["x-passage-timestamp"].to_str().unwrap();
        assert!(timestamp.parse::<u64>().unwrap() >= before_secs);
        verify_with_ring(&pem, &request.body, jwt, timestamp, &kid);
        verify_with_python(&pem, &request.body, jwt, timestamp, &kid);
    }

    // The log has the three attempts with their outcomes.
    let log: Vec<_> = mock
        .webhook_deliveries()
        .into_iter()
        .filter(|d| d.link_id == id)
        .collect();
    assert_eq!(log.len(), 3);
    assert_eq!(log.iter().map(|d| d.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        log.iter().map(|d| d.outcome.clone()).collect::<Vec<_>>(),
        [
            DeliveryOutcome::Status(500),
            DeliveryOutcome::Status(500),
            DeliveryOutcome::Status(200)
        ]
    );
    assert!(log[2].succeeded() && !log[0].succeeded());
    assert_eq!(log[0].url, format!("{}/hook", receiver.url));
    assert_eq!(log[0].body.as_bytes(), &first_body[..]);
    assert_eq!(log[0].event, "link.complete");
    assert!(log[0].header("X-Passage-Signature").is_some());

    // Over the control API too.
    let (status, deliveries) = json_of(
        client()
            .get(format!("{}/sandbox/webhooks", mock.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let entries = deliveries["deliveries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2]["status"], 200);
    assert_eq!(entries[0]["attempt"], 1);
    assert_eq!(entries[0]["linkId"], id);
    assert!(entries[0]["headers"]["x-passage-signature"].is_string());
}

#[tokio::test]
async fn failed_then_completed_link_sends_both_events() {
    let mock = start_mock().await;
    let receiver = Receiver::start(vec![]).await;
    let created = create_ok(&mock, &webhook_link(&receiver)).await;
    let id = created["linkId"].as_str().unwrap();
    let code = created["claimCode"].as_str().unwrap();

    assert_eq!(claim(&mock, &json!({"code": code})).await.0, 200);
    mock.fail_link(id, "CLIENT_TIMEOUT", "user walked away")
        .await
        .unwrap();
    let received = receiver.wait_for(1).await;
    let failed: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(failed["event"], "link.failed");
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error"],
        json!({"code":"CLIENT_TIMEOUT","message":"user walked away"})
    );
    assert!(failed.get("result").is_none(), "{failed}");

    assert_eq!(claim(&mock, &json!({"code": code})).await.0, 200);
    let result =
        json!({"billing":[{"periodStart":"01/15/2025","amountDue":85.0,"currency":"USD"}]});
    mock.complete_link(id, Some(result.clone())).await.unwrap();
    let received = receiver.wait_for(2).await;
    let complete: Value = serde_json::from_slice(&received[1].body).unwrap();
    assert_eq!(complete["event"], "link.complete");
    assert_eq!(complete["result"], result);
    // Distinct (linkId, event, timestamp) triples, so receivers can dedupe.
    assert_ne!(
        (failed["event"].clone(), failed["timestamp"].clone()),
        (complete["event"].clone(), complete["timestamp"].clone())
    );
    let kid = mock.key_id();
    let pem = fetch_key(&mock, &kid).await;
    for request in &received {
        let jwt = request.headers["x-passage-signature"].to_str().unwrap();
        let timestamp = request.headers["x-passage-timestamp"].to_str().unwrap();
        verify_with_python(&pem, &request.body, jwt, timestamp, &kid);
    }
}

#[tokio::test]
async fn delivery_stops_after_the_last_retry_and_logs_transport_errors() {
    let mock = start_mock().await;
    let receiver = Receiver::start(vec![503, 503, 503, 503]).await;
    let created = create_ok(&mock, &webhook_link(&receiver)).await;
    let id = created["linkId"].as_str().unwrap();
    mock.complete_link(id, None).await.unwrap();
    receiver.wait_for(3).await;
    // The third attempt is the last the policy allows: once it is logged the delivery is over.
    let log = logged_attempts(&mock, id, 3).await;
    assert!(log.iter().all(|d| !d.succeeded()), "{log:?}");
    assert_eq!(
        receiver.received().len(),
        3,
        "1 attempt + 2 retries, then dropped"
    );
    // The link is complete whatever the receiver said: polling is the fallback.
    assert_eq!(get_link(&mock, id).await.1["status"], "complete");

    // A receiver that hangs up on every connection (bound for the whole test, so the port cannot
    // be taken by anyone else): every attempt is logged with the transport error.
    let hangs_up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/hook", hangs_up.local_addr().unwrap());
    let hang_up = tokio::spawn(async move {
        while let Ok((stream, _)) = hangs_up.accept().await {
            drop(stream);
        }
    });
    let mut body = billing_link();
    body["webhookUrl"] = json!(dead_url);
    let created = create_ok(&mock, &body).await;
    let id = created["linkId"].as_str().unwrap().to_string();
    mock.fail_link(&id, "AUTOMATION_ERROR", "boom")
        .await
        .unwrap();
    let start = std::time::Instant::now();
    let log = loop {
        let log: Vec<_> = mock
            .webhook_deliveries()
            .into_iter()
            .filter(|d| d.link_id == id)
            .collect();
        if log.len() == 3 {
            break log;
        }
        assert!(start.elapsed() < DEADLINE, "{log:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        log.iter()
            .all(|d| matches!(&d.outcome, DeliveryOutcome::Error(e) if !e.is_empty())),
        "{log:?}"
    );
    hang_up.abort();
}

#[tokio::test]
async fn rotation_signs_with_the_new_key_and_old_key_stays_fetchable() {
    let mock = start_mock().await;
    let receiver = Receiver::start(vec![]).await;
    let old_kid = mock.key_id();
    let old_pem = mock.public_key_pem();
    let new_kid = mock.rotate_signing_key();
    let created = create_ok(&mock, &webhook_link(&receiver)).await;
    mock.complete_link(created["linkId"].as_str().unwrap(), None)
        .await
        .unwrap();
    let received = receiver.wait_for(1).await;
    let jwt = received[0].headers["x-passage-signature"].to_str().unwrap();
    let timestamp = received[0].headers["x-passage-timestamp"].to_str().unwrap();
    let pem = fetch_key(&mock, &new_kid).await;
    verify_with_ring(&pem, &received[0].body, jwt, timestamp, &new_kid);
    verify_with_python(&pem, &received[0].body, jwt, timestamp, &new_kid);
    assert_eq!(fetch_key(&mock, &old_kid).await, old_pem);
    // The old key must NOT verify the new signature.
    let old = VerificationKey::from_spki_pem(&old_kid, &old_pem).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert!(!old.verify_es256(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature));
}

#[tokio::test]
async fn a_configured_signing_key_is_used() {
    let key = passage_mock::WebhookSigningKey::generate();
    let public = key.public_key_pem();
    let mock = start_with(passage_mock::MockConfig::default().with_signing_key(key)).await;
    assert_eq!(mock.public_key_pem(), public);
    assert_eq!(fetch_key(&mock, &mock.key_id()).await, public);
}

#[tokio::test]
async fn links_without_webhook_url_send_nothing() {
    let mock = start_mock().await;
    let receiver = Receiver::start(vec![]).await;
    let silent = create_ok(&mock, &billing_link()).await;
    let silent = silent["linkId"].as_str().unwrap();
    mock.complete_link(silent, None).await.unwrap();
    // The event to wait for: a later link's webhook. Completing a link starts its delivery
    // before `complete_link` returns, so a delivery for the first link would have started first.
    let loud = create_ok(&mock, &webhook_link(&receiver)).await;
    let loud = loud["linkId"].as_str().unwrap();
    mock.complete_link(loud, None).await.unwrap();
    logged_attempts(&mock, loud, 1).await;
    let log = mock.webhook_deliveries();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].link_id, loud);
    assert_eq!(receiver.received().len(), 1);
}

/// One webhook the [`HoldingReceiver`] got: when it arrived and when it was answered.
#[derive(Debug, Clone)]
struct Arrival {
    link_id: String,
    event: String,
    arrived: std::time::Instant,
    answered: Option<std::time::Instant>,
}

#[derive(Clone)]
struct HoldingState {
    log: std::sync::Arc<std::sync::Mutex<Vec<Arrival>>>,
    arrived: std::sync::Arc<tokio::sync::Notify>,
    hold: Duration,
}

/// A receiver that answers `link.complete` at once and holds each `link.failed` until the same
/// link's `link.complete` arrived or `hold` passed: with ordered delivery `link.complete` cannot
/// arrive while `link.failed` is held; with concurrent delivery it arrives during the hold.
struct HoldingReceiver {
    url: String,
    state: HoldingState,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl HoldingReceiver {
    async fn start(hold: Duration) -> Self {
        let state = HoldingState {
            log: Default::default(),
            arrived: Default::default(),
            hold,
        };
        async fn hook(
            axum::extract::State(state): axum::extract::State<HoldingState>,
            body: axum::body::Bytes,
        ) -> axum::http::StatusCode {
            let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let link_id = parsed["linkId"].as_str().unwrap_or_default().to_string();
            let event = parsed["event"].as_str().unwrap_or_default().to_string();
            let index = {
                let mut log = state.log.lock().unwrap();
                log.push(Arrival {
                    link_id: link_id.clone(),
                    event: event.clone(),
                    arrived: std::time::Instant::now(),
                    answered: None,
                });
                log.len() - 1
            };
            state.arrived.notify_waiters();
            if event == "link.failed" {
                let completed = || {
                    state
                        .log
                        .lock()
                        .unwrap()
                        .iter()
                        .any(|a| a.link_id == link_id && a.event == "link.complete")
                };
                let _ = tokio::time::timeout(state.hold, async {
                    loop {
                        let notified = state.arrived.notified();
                        if completed() {
                            return;
                        }
                        notified.await;
                    }
                })
                .await;
            }
            state.log.lock().unwrap()[index].answered = Some(std::time::Instant::now());
            axum::http::StatusCode::OK
        }
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            url,
            state,
            _stop: stop,
        }
    }

    /// Waits until `n` webhooks were answered; prints what arrived on failure.
    async fn answered(&self, n: usize) -> Vec<Arrival> {
        let start = std::time::Instant::now();
        loop {
            let log = self.state.log.lock().unwrap().clone();
            if log.iter().filter(|a| a.answered.is_some()).count() >= n {
                return log;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{n} webhooks not answered within {DEADLINE:?}: {log:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Creates `n` links with a webhook to `url`, then fails and at once completes each one.
async fn fail_then_complete(mock: &MockServer, url: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut body = billing_link();
        body["webhookUrl"] = json!(url);
        let created = create_ok(mock, &body).await;
        ids.push(created["linkId"].as_str().unwrap().to_string());
    }
    for id in &ids {
        mock.fail_link(id, "AUTOMATION_ERROR", "first try")
            .await
            .unwrap();
        mock.complete_link(id, None).await.unwrap();
    }
    ids
}

/// The `link.failed` and `link.complete` arrivals of `link_id`.
fn pair<'a>(log: &'a [Arrival], link_id: &str) -> (&'a Arrival, &'a Arrival) {
    let find = |event: &str| {
        log.iter()
            .find(|a| a.link_id == link_id && a.event == event)
            .unwrap_or_else(|| panic!("no {event} for {link_id}: {log:#?}"))
    };
    (find("link.failed"), find("link.complete"))
}

#[tokio::test]
async fn one_links_events_arrive_in_order_even_when_the_receiver_is_slow() {
    let mock = start_mock().await;
    // The receiver holds each link.failed for 300 ms: long enough for a concurrent
    // link.complete to overtake it.
    let receiver = HoldingReceiver::start(Duration::from_millis(300)).await;
    let ids = fail_then_complete(&mock, &receiver.url, 4).await;
    let log = receiver.answered(2 * ids.len()).await;
    for id in &ids {
        let (failed, complete) = pair(&log, id);
        let failed_answered = failed.answered.unwrap();
        assert!(
            complete.arrived >= failed_answered,
            "{id}: link.complete arrived before link.failed was answered: {log:#?}"
        );
    }
    // One attempt each: nothing was retried, so the order is the delivery order itself. The
    // emulator logs an attempt after it has read the answer, which can be later than the
    // receiver's `answered` mark: wait for each link's two attempts in the log (a delivery
    // whose attempt got a 2xx is over, so nothing more can come).
    for id in &ids {
        let attempts = logged_attempts(&mock, id, 2).await;
        assert!(
            attempts.len() == 2
                && attempts
                    .iter()
                    .all(|d| matches!(d.outcome, DeliveryOutcome::Status(200))),
            "{id}: {attempts:#?}"
        );
    }
    assert_eq!(
        mock.webhook_deliveries().len(),
        2 * ids.len(),
        "{:#?}",
        mock.webhook_deliveries()
    );
}

#[tokio::test]
async fn the_reorder_fault_delivers_one_links_events_concurrently() {
    let mock = start_mock().await;
    let (status, answer) = control(
        &mock,
        "/sandbox/faults",
        Some(json!({"route": "webhooks", "reorder": true, "times": 0})),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["route"], "webhooks");
    // link.failed is held until its link.complete arrived: only concurrent delivery lets it.
    let receiver = HoldingReceiver::start(DEADLINE / 2).await;
    let ids = fail_then_complete(&mock, &receiver.url, 4).await;
    let log = receiver.answered(2 * ids.len()).await;
    for id in &ids {
        let (failed, complete) = pair(&log, id);
        assert!(
            complete.arrived <= failed.answered.unwrap(),
            "{id}: link.complete waited for link.failed despite the reorder fault: {log:#?}"
        );
    }
    // Clearing faults restores the order.
    let response = client()
        .delete(format!("{}/sandbox/faults", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let ordered = HoldingReceiver::start(Duration::from_millis(300)).await;
    let ids = fail_then_complete(&mock, &ordered.url, 1).await;
    let log = ordered.answered(2).await;
    let (failed, complete) = pair(&log, &ids[0]);
    assert!(complete.arrived >= failed.answered.unwrap(), "{log:#?}");
}

#[tokio::test]
async fn a_webhook_fault_with_another_kind_is_a_400_naming_the_field() {
    let mock = start_mock().await;
    for (body, field) in [
        (json!({"route": "webhooks", "status": 503}), "status"),
        (json!({"route": "webhooks"}), ""),
        (json!({"route": "webhooks", "reorder": 1}), "reorder"),
    ] {
        let (status, answer) = control(&mock, "/sandbox/faults", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["issues"][0]["path"], field, "{body}: {answer}");
    }
}
