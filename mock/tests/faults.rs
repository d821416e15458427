//! Fault injection over real HTTP, every kind, from Rust and from the control API.

mod common;

use std::time::{Duration, Instant};

use common::*;
use passage_mock::{Fault, FaultKind, FaultRoute};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn status_fault_answers_n_times_with_retry_after() {
    let mock = start_mock().await;
    mock.inject_fault(
        Fault::new(
            FaultRoute::CreateLink,
            FaultKind::Status {
                status: 503,
                retry_after: Some(2),
            },
        )
        .times(2),
    );
    for _ in 0..2 {
        let response = client()
            .post(format!("{}/v1/links", mock.base_url()))
            .bearer_auth(mock.api_key())
            .json(&billing_link())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(response.headers()["retry-after"], "2");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{body}");
    }
    // Other routes are untouched, and the third create goes through.
    assert_eq!(get_link(&mock, "link_x").await.0, 404);
    create_ok(&mock, &billing_link()).await;
    assert_eq!(mock.link_count(), 1, "faulted creates made no link");
}

#[tokio::test]
async fn delay_fault_slows_the_answer_down() {
    let mock = start_mock().await;
    let created = create_ok(&mock, &billing_link()).await;
    let id = created["linkId"].as_str().unwrap();
    mock.inject_fault(Fault::new(
        FaultRoute::GetLink,
        FaultKind::Delay(Duration::from_millis(400)),
    ));
    let start = Instant::now();
    let (status, link) = get_link(&mock, id).await;
    assert_eq!(status, 200);
    assert_eq!(link["id"], id);
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "answered before the delay"
    );

    // A client with a shorter timeout gives up.
    mock.inject_fault(Fault::new(
        FaultRoute::GetLink,
        FaultKind::Delay(Duration::from_secs(5)),
    ));
    let err = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap()
        .get(format!("{}/v1/links/{id}", mock.base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn drop_connection_on_create_creates_the_link_but_never_answers() {
    let mock = start_mock().await;
    mock.inject_fault(Fault::new(
        FaultRoute::CreateLink,
        FaultKind::DropConnection,
    ));
    let err = client()
        .post(format!("{}/v1/links", mock.base_url()))
        .bearer_auth(mock.api_key())
        .json(&billing_link())
        .send()
        .await
        .expect_err("no response may arrive");
    assert!(
        !err.is_timeout() && err.status().is_none(),
        "connection-level error expected: {err:?}"
    );
    assert_eq!(mock.link_count(), 1, "the link IS created");

    // A retry (what a naive client would do) makes a second link: no idempotency.
    create_ok(&mock, &billing_link()).await;
    assert_eq!(mock.link_count(), 2);

    // At the socket level: the request is read, then the connection closes with no bytes sent.
    mock.inject_fault(Fault::new(
        FaultRoute::CreateLink,
        FaultKind::DropConnection,
    ));
    let addr = mock.base_url().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = billing_link().to_string();
    let request = format!(
        "POST /v1/links HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        mock.api_key(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection");
    // EOF or a reset, but never an HTTP answer.
    assert!(
        read.is_err() || answer.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(mock.link_count(), 3);
}

#[tokio::test]
async fn drop_connection_on_get() {
    let mock = start_mock().await;
    let created = create_ok(&mock, &billing_link()).await;
    let id = created["linkId"].as_str().unwrap();
    mock.inject_fault(Fault::new(FaultRoute::GetLink, FaultKind::DropConnection));
    let err = client()
        .get(format!("{}/v1/links/{id}", mock.base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none() && !err.is_timeout(), "{err:?}");
    assert_eq!(
        get_link(&mock, id).await.0,
        200,
        "one-shot: the next request is answered"
    );
}

#[tokio::test]
async fn malformed_json_keeps_the_status_but_breaks_the_body() {
    let mock = start_mock().await;
    mock.inject_fault(Fault::new(FaultRoute::Providers, FaultKind::MalformedJson));
    let response = client()
        .get(format!("{}/v1/providers", mock.base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let text = response.text().await.unwrap();
    assert!(!text.is_empty());
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "still parses: {text}"
    );

    mock.inject_fault(Fault::new(FaultRoute::CreateLink, FaultKind::MalformedJson));
    let response = client()
        .post(format!("{}/v1/links", mock.base_url()))
        .bearer_auth(mock.api_key())
        .json(&billing_link())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());
    assert_eq!(mock.link_count(), 1);
}

#[tokio::test]
async fn nested_error_bodies() {
    let mock = start_mock().await;
    // Real errors rewritten into the older nested form.
    mock.inject_fault(
        Fault::new(FaultRoute::Any, FaultKind::NestedErrorBody { status: None }).times(0),
    );
    let (status, body) = get_link(&mock, "link_nope").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"error":{"code":"not_found","message":"Link not found"}})
    );
    let (status, body) = create(&mock, &json!({"integrationId":"tmobile"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "validation_error");
    assert_eq!(body["error"]["message"], "Validation failed");
    assert_eq!(body["issues"][0]["path"], "operations");
    let response = client()
        .get(format!("{}/v1/links", mock.base_url()))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"error":{"code":"unauthorized","message":"Unauthorized"}})
        )
    );
    // Successes pass through untouched.
    create_ok(&mock, &billing_link()).await;
    mock.clear_faults();
    assert_eq!(
        get_link(&mock, "link_nope").await.1,
        json!({"error":"Link not found"})
    );

    // With a status: answered without running the handler.
    mock.inject_fault(Fault::new(
        FaultRoute::ClaimLink,
        FaultKind::NestedErrorBody { status: Some(409) },
    ));
    let (status, body) = claim(&mock, &json!({"code":"clm_whatever"})).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "conflict");
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn any_route_unlimited_until_cleared_and_control_api_is_never_faulted() {
    let mock = start_mock().await;
    mock.inject_fault(
        Fault::new(
            FaultRoute::Any,
            FaultKind::Status {
                status: 500,
                retry_after: None,
            },
        )
        .times(0),
    );
    for _ in 0..3 {
        assert_eq!(create(&mock, &billing_link()).await.0, 500);
        assert_eq!(claim(&mock, &json!({"code":"x"})).await.0, 500);
    }
    let response = client()
        .post(format!("{}/webhook_verification_key/get", mock.base_url()))
        .json(&json!({"key_id": mock.key_id()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    assert!(response.headers().get("retry-after").is_none());
    // The control API keeps working while the API is down.
    let (status, _) = json_of(
        client()
            .get(format!("{}/sandbox/webhooks", mock.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let response = client()
        .delete(format!("{}/sandbox/faults", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    create_ok(&mock, &billing_link()).await;
}

#[tokio::test]
async fn control_api_fault_forms() {
    let mock = start_mock().await;
    let add = |body: Value| control(&mock, "/sandbox/faults", Some(body));

    let (status, body) =
        add(json!({"route":"POST /v1/links","status":503,"retryAfter":2,"times":2})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["route"], "POST /v1/links");
    assert_eq!(body["times"], 2);
    for _ in 0..2 {
        let response = client()
            .post(format!("{}/v1/links", mock.base_url()))
            .bearer_auth(mock.api_key())
            .json(&billing_link())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(response.headers()["retry-after"], "2");
    }
    let id = create_ok(&mock, &billing_link()).await["linkId"]
        .as_str()
        .unwrap()
        .to_string();

    assert_eq!(
        add(json!({"route":"GET /v1/links/{id}","drop":true}))
            .await
            .0,
        201
    );
    assert!(client()
        .get(format!("{}/v1/links/{id}", mock.base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .is_err());

    assert_eq!(add(json!({"delayMs": 300})).await.0, 201);
    let start = Instant::now();
    assert_eq!(get_link(&mock, &id).await.0, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    assert_eq!(add(json!({"malformed": true})).await.0, 201);
    let response = client()
        .get(format!("{}/v1/links/{id}", mock.base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .unwrap();
    assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());

    assert_eq!(add(json!({"errorStyle": "nested"})).await.0, 201);
    assert_eq!(
        get_link(&mock, "link_nope").await.1["error"]["code"],
        "not_found"
    );

    for (bad, path) in [
        (json!({"route":"GET /elsewhere","drop":true}), "route"),
        (json!({"status": 42}), "status"),
        (json!({"drop": true, "delayMs": 5}), ""),
        (json!({"times": -1, "drop": true}), "times"),
        (json!({"errorStyle": "weird"}), "errorStyle"),
    ] {
        let (status, body) = add(bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["issues"][0]["path"], path, "{bad}: {body}");
    }
    // No fault is left over from the rejected forms.
    assert_eq!(get_link(&mock, &id).await.0, 200);
}
