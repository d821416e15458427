//! The emulator held to its limits (issues 13 and 18): idle and slow connections are closed,
//! trickled bodies are cut, a connection flood is answered 503 instead of starving every request,
//! the link store and the delivery log are bounded, every route refuses cross-origin "simple"
//! requests and foreign `Host`s, and every error is JSON, malformed requests included. Raw TCP
//! where the test needs a request a normal client would not send.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use passage_mock::MockConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn port(mock: &passage_mock::MockServer) -> u16 {
    mock.base_url().rsplit(':').next().unwrap().parse().unwrap()
}

/// Sends `request` raw on a new connection and reads the whole answer (bounded by DEADLINE).
async fn raw(mock: &passage_mock::MockServer, request: &str) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port(mock))).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer))
        .await
        .expect("the answer ends")
        .unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// Waits until the server closes `stream` (EOF or reset), within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => panic!("the connection was still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue, // an answer to a previous request: keep reading
        }
    }
}

// ---------------------------------------------------------------- connections

#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed_after_the_header_timeout() {
    let timeout = Duration::from_millis(400);
    let mock = start_with(MockConfig::default().with_header_read_timeout(timeout)).await;

    // Sends nothing at all.
    let mut silent = TcpStream::connect(("127.0.0.1", port(&mock)))
        .await
        .unwrap();
    // Sends half a request head and stops (slowloris).
    let mut slow = TcpStream::connect(("127.0.0.1", port(&mock)))
        .await
        .unwrap();
    slow.write_all(b"GET /v1/providers HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // Sends one whole request, reads the answer, then stays idle (keep-alive).
    let mut idle = TcpStream::connect(("127.0.0.1", port(&mock)))
        .await
        .unwrap();
    idle.write_all(
        format!(
            "GET /v1/links HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
            mock.api_key()
        )
        .as_bytes(),
    )
    .await
    .unwrap();

    for (name, stream) in [
        ("silent", &mut silent),
        ("slow", &mut slow),
        ("idle", &mut idle),
    ] {
        let after = closed_within(stream, Duration::from_secs(10)).await;
        assert!(
            after >= Duration::from_millis(300) || name != "silent",
            "{name}: {after:?}"
        );
    }
}

#[tokio::test]
async fn past_the_connection_limit_new_connections_get_a_json_503_not_a_timeout() {
    let mock = start_with(
        MockConfig::default()
            .with_max_connections(3)
            .with_header_read_timeout(Duration::from_secs(20)),
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(
            TcpStream::connect(("127.0.0.1", port(&mock)))
                .await
                .unwrap(),
        );
    }
    // The three idle connections are accepted (and counted) before the next one arrives.
    let started = Instant::now();
    let (status, head, body) = loop {
        let answer = raw(
            &mock,
            "GET /v1/providers HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        )
        .await;
        if answer.0 == 503 || started.elapsed() > DEADLINE {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status, 503, "{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("Too many connections"));
    assert!(started.elapsed() < Duration::from_secs(5));

    // Once the idle connections go, requests are served again.
    drop(idle);
    let started = Instant::now();
    loop {
        let (status, ..) = raw(
            &mock,
            &format!(
                "GET /v1/links HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
                mock.api_key()
            ),
        )
        .await;
        if status == 200 {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "never served again: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn connections_trickling_bodies_are_cut_and_do_not_starve_other_requests() {
    let body_timeout = Duration::from_millis(500);
    // The default connection cap (128): before issue 18, 128 trickled bodies held every slot
    // for as long as they trickled, and every other request got a 503.
    let mock = start_with(MockConfig::default().with_body_read_timeout(body_timeout)).await;
    let cap = MockConfig::default().max_connections;
    let port = port(&mock);
    let head = format!(
        "POST /v1/links HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{",
        mock.api_key()
    );
    let started = Instant::now();
    let mut tricklers = Vec::new();
    for _ in 0..cap {
        let head = head.clone();
        tricklers.push(tokio::spawn(async move {
            let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let (mut read, mut write) = stream.into_split();
            let trickle = tokio::spawn(async move {
                write.write_all(head.as_bytes()).await?;
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    write.write_all(b" ").await?;
                }
                #[allow(unreachable_code)]
                Ok::<(), std::io::Error>(())
            });
            let mut answer = Vec::new();
            let _ = tokio::time::timeout(DEADLINE, read.read_to_end(&mut answer)).await;
            trickle.abort();
            String::from_utf8_lossy(&answer).into_owned()
        }));
    }
    // A genuine client retrying on 503 (as Passage does) is served once the trickles are cut.
    let mut seen = Vec::new();
    let served_after = loop {
        let response = client()
            .get(format!("{}/v1/links", mock.base_url()))
            .bearer_auth(mock.api_key())
            .send()
            .await;
        match response {
            Ok(response) if response.status() == 200 => break started.elapsed(),
            Ok(response) => seen.push(response.status().as_u16().to_string()),
            Err(err) => seen.push(err.to_string()),
        }
        assert!(
            started.elapsed() < body_timeout * 4 + Duration::from_secs(10),
            "never served; answers seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for trickler in tricklers {
        let answer = trickler.await.unwrap();
        let status = answer.get(9..12).unwrap_or("none").to_string();
        if status == "408" {
            let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
            let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            assert!(json["error"].is_string(), "{answer}");
        }
        *statuses.entry(status).or_default() += 1;
    }
    // Tricklers that lost the race to the genuine client's connections are refused with 503.
    assert_eq!(
        statuses.get("408").copied().unwrap_or(0) + statuses.get("503").copied().unwrap_or(0),
        cap,
        "{statuses:?}"
    );
    assert!(
        statuses.get("408").copied().unwrap_or(0) > cap / 2,
        "{statuses:?}"
    );
    assert!(
        served_after < body_timeout * 4 + Duration::from_secs(10),
        "served after {served_after:?}"
    );
}

#[tokio::test]
async fn a_malformed_request_head_gets_a_json_answer() {
    let mock = start_mock().await;
    for (request, expected) in [
        ("GARBAGE\r\n\r\n".to_string(), 400),
        (
            "POST /v1/links HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: nope\r\n\r\n".into(),
            400,
        ),
        (
            format!(
                "GET /v1/links HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
                "a".repeat(100_000)
            ),
            431,
        ),
    ] {
        let (status, head, body) = raw(&mock, &request).await;
        let shown = &request[..request.len().min(40)];
        assert_eq!(status, expected, "{shown:?}: {head} {body}");
        assert!(
            head.contains("content-type: application/json"),
            "{shown:?}: {head}"
        );
        assert!(body["error"].is_string(), "{shown:?}: {body}");
    }
}

// ---------------------------------------------------------------- bounded stores

#[tokio::test]
async fn the_oldest_links_are_evicted_past_the_store_limits() {
    let mock = start_with(MockConfig::default().with_store_limits(3, 10_000)).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            create_ok(&mock, &billing_link()).await["linkId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(mock.link_count(), 3);
    for (i, id) in ids.iter().enumerate() {
        let (status, _) = get_link(&mock, id).await;
        assert_eq!(status, if i < 2 { 404 } else { 200 }, "link #{i}");
    }
    // Results count against the byte limit: two results of ~6 KB do not fit in 10 000 bytes.
    let big = json!({"billing": [{"periodStart": "01/15/2025", "amountDue": 1.0, "currency": "USD", "pad": "x".repeat(6000)}]});
    let (status, _) = control(
        &mock,
        &format!("/sandbox/links/{}/complete", ids[3]),
        Some(json!({"result": big})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = control(
        &mock,
        &format!("/sandbox/links/{}/complete", ids[4]),
        Some(json!({"result": big})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(get_link(&mock, &ids[2]).await.0, 404, "oldest first");
    assert_eq!(get_link(&mock, &ids[3]).await.0, 404, "over the byte limit");
    let (status, link) = get_link(&mock, &ids[4]).await;
    assert_eq!(status, 200);
    assert_eq!(link["result"], big, "the stored result is served verbatim");
    assert_eq!(mock.link_count(), 1);
}

#[tokio::test]
async fn the_delivery_log_keeps_the_newest_attempts_with_cut_bodies() {
    let receiver = Receiver::start(vec![]).await;
    let mock = start_with(MockConfig::default().with_delivery_log_limits(2, 100)).await;
    let mut body = billing_link();
    body["webhookUrl"] = json!(format!("{}/hook", receiver.url));
    for i in 0..3 {
        let id = create_ok(&mock, &body).await["linkId"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, _) = control(&mock, &format!("/sandbox/links/{id}/complete"), None).await;
        assert_eq!(status, 200);
        receiver.wait_for(i + 1).await;
    }
    // The third delivery is logged once the receiver answered it: wait for the log to show it.
    let started = Instant::now();
    let log = loop {
        let response = client()
            .get(format!("{}/sandbox/webhooks", mock.base_url()))
            .send()
            .await
            .unwrap();
        let (status, log) = json_of(response).await;
        assert_eq!(status, 200);
        if log["dropped"] == 1 {
            break log;
        }
        assert!(started.elapsed() < DEADLINE, "{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let entries = log["deliveries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let sent = receiver.received();
    assert_eq!(sent.len(), 3);
    for (entry, sent) in entries.iter().zip(&sent[1..]) {
        assert_eq!(entry["bodyBytes"], sent.body.len());
        assert_eq!(entry["bodyTruncated"], sent.body.len() > 100);
        let kept = entry["body"].as_str().unwrap();
        assert!(kept.len() <= 100);
        assert!(sent.body.starts_with(kept.as_bytes()));
    }
    assert_eq!(mock.webhook_deliveries().len(), 2);
}

// ---------------------------------------------------------------- the control API and the web

#[tokio::test]
async fn posts_without_a_json_content_type_are_refused_with_415() {
    let mock = start_mock().await;
    let id = create_ok(&mock, &billing_link()).await["linkId"]
        .as_str()
        .unwrap()
        .to_string();
    let cases: Vec<(String, Option<&str>, &str)> = vec![
        // What a cross-origin page can send without a preflight.
        (
            "/sandbox/faults".into(),
            Some("text/plain"),
            r#"{"status":503,"times":0}"#,
        ),
        (
            "/sandbox/faults".into(),
            Some("application/x-www-form-urlencoded"),
            "a=b",
        ),
        (format!("/sandbox/links/{id}/expire"), None, ""),
        (
            format!("/sandbox/links/{id}/complete"),
            Some("text/plain"),
            "",
        ),
        ("/sandbox/keys/rotate".into(), None, ""),
        (
            "/v1/links".into(),
            Some("text/plain"),
            r#"{"integrationId":"tmobile"}"#,
        ),
        ("/link/claim".into(), None, r#"{"code":"clm_x"}"#),
    ];
    assert_eq!(cases.len(), 7);
    let kid = mock.key_id();
    for (path, content_type, body) in &cases {
        let mut request = client()
            .post(format!("{}{path}", mock.base_url()))
            .bearer_auth(mock.api_key())
            .body(body.to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", *content_type);
        }
        let (status, answer) = json_of(request.send().await.unwrap()).await;
        assert_eq!(status, 415, "{path} {content_type:?}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{answer}"
        );
    }
    // Nothing took effect: no fault, the link still pending, the key not rotated.
    assert_eq!(get_link(&mock, &id).await.1["status"], "pending");
    assert_eq!(mock.key_id(), kid);
    // With the JSON content type (and a charset) the same requests work.
    let (status, _) = control(&mock, &format!("/sandbox/links/{id}/expire"), None).await;
    assert_eq!(status, 200);
    let response = client()
        .post(format!("{}/sandbox/keys/rotate", mock.base_url()))
        .header("content-type", "application/json; charset=utf-8")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn the_control_api_and_the_sandbox_page_answer_only_to_their_own_host() {
    let mock = start_mock().await;
    let port = port(&mock);
    let created = create_ok(&mock, &billing_link()).await;
    let page = created["appClipUrl"]
        .as_str()
        .unwrap()
        .replacen(&mock.base_url(), "", 1);
    for path in ["/sandbox/webhooks", page.as_str()] {
        for host in [
            format!("evil.example:{port}"),
            "127.0.0.1:1".to_string(),
            format!("127.0.0.1.evil.example:{port}"),
        ] {
            let (status, _, body) = raw(
                &mock,
                &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
            )
            .await;
            assert_eq!(status, 403, "{path} with Host {host}: {body}");
            assert!(body["error"].as_str().unwrap().contains("Host"), "{body}");
        }
        for host in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("LOCALHOST:{port}"),
        ] {
            let (status, ..) = raw(
                &mock,
                &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
            )
            .await;
            assert_eq!(status, 200, "{path} with Host {host}");
        }
    }
    // A control POST from a rebound name is refused before it can act.
    let (status, _, _) = raw(
        &mock,
        &format!("POST /sandbox/faults HTTP/1.1\r\nHost: evil.example:{port}\r\nContent-Type: application/json\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{{\"status\":503}}"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        get_link(&mock, created["linkId"].as_str().unwrap()).await.0,
        200,
        "no fault was added"
    );
}

#[tokio::test]
async fn the_api_answers_only_to_its_own_host_too() {
    let mock = start_mock().await;
    let port = port(&mock);
    let key = mock.api_key().to_string();
    let create = r#"{"integrationId":"tmobile","operations":[{"resource":"mobileBillingStatement","action":"read"}]}"#;
    let requests = |host: &str| {
        vec![
            format!("GET /v1/links HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"),
            format!("GET /v1/providers HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"),
            format!(
                "POST /v1/links HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{create}",
                create.len()
            ),
            format!("POST /link/claim HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"),
            format!("POST /webhook_verification_key/get HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"),
        ]
    };
    for request in requests(&format!("evil.example:{port}")) {
        let (status, _, body) = raw(&mock, &request).await;
        let line = request.lines().next().unwrap_or_default();
        assert_eq!(status, 403, "{line}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("Host"),
            "{line}: {body}"
        );
    }
    assert_eq!(mock.link_count(), 0, "the refused create did nothing");
    // The same requests with the emulator's own Host are not refused for their Host.
    for request in requests(&format!("127.0.0.1:{port}")) {
        let (status, _, body) = raw(&mock, &request).await;
        let line = request.lines().next().unwrap_or_default();
        assert_ne!(status, 403, "{line}: {body}");
    }
    assert_eq!(mock.link_count(), 1);
}

#[tokio::test]
async fn every_error_is_json_including_413() {
    let mock = start_mock().await;
    let huge = format!(r#"{{"integrationId":"{}"}}"#, "x".repeat(3 * 1024 * 1024));
    let response = client()
        .post(format!("{}/v1/links", mock.base_url()))
        .bearer_auth(mock.api_key())
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let (status, body) = json_of(response).await;
    assert_eq!(status, 413);
    assert!(
        body["error"].as_str().unwrap().contains("length limit"),
        "{body}"
    );
    // A method the route does not have: 405, JSON too.
    let response = client()
        .delete(format!("{}/v1/links", mock.base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 405);
    assert_eq!(body, json!({"error": "Method Not Allowed"}));
}

#[tokio::test]
async fn fault_statuses_and_delays_are_bounded() {
    let mock = start_mock().await;
    for (fault, field) in [
        (json!({"status": 100}), "status"),
        (json!({"status": 200}), "status"),
        (json!({"status": 600}), "status"),
        (json!({"errorStyle": "nested", "status": 302}), "status"),
        (json!({"delayMs": u64::MAX}), "delayMs"),
        (json!({"delayMs": 60_001}), "delayMs"),
    ] {
        let (status, body) = control(&mock, "/sandbox/faults", Some(fault.clone())).await;
        assert_eq!(status, 400, "{fault}: {body}");
        assert_eq!(body["issues"][0]["path"], field, "{fault}: {body}");
    }
    let (status, _) = control(
        &mock,
        "/sandbox/faults",
        Some(json!({"status": 429, "retryAfter": 1})),
    )
    .await;
    assert_eq!(status, 201);
}

/// A `tracing` writer that keeps what was logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn binding_a_non_loopback_address_logs_a_warning() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let loopback = start_mock().await;
    drop(loopback);
    assert!(!String::from_utf8_lossy(&captured.0.lock().unwrap()).contains("non-loopback"));

    let exposed = start_with(MockConfig::default().with_addr("0.0.0.0:0".parse().unwrap())).await;
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("non-loopback address"), "{logs}");
    assert!(logs.contains("not a server to expose"), "{logs}");
    exposed.shutdown().await;
}
