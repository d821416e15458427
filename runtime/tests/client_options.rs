//! The request surface over real HTTP: `.with_response()` metadata (the emulator's
//! `x-request-id`, attempts) on successes and errors, and per-call settings (timeout, retry
//! policy, extra headers) overriding the client's for one call only.

mod client_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use client_support::{assert_no_key, client, mock, SECRET};
use passage_connect::client::{Client, ListFilter, RequestOptions, RetryPolicy, WaitOptions};
use passage_connect::Error;
use passage_mock::{Fault, FaultKind, FaultRoute};
use serde_json::{json, Value};

fn status_fault(route: FaultRoute, status: u16) -> Fault {
    Fault::new(
        route,
        FaultKind::Status {
            status,
            retry_after: None,
        },
    )
}

fn assert_emulator_id(id: Option<&str>) -> String {
    let id = id.expect("the emulator sends x-request-id");
    assert!(
        id.starts_with("req_") && id.len() > 4,
        "not an emulator id: {id}"
    );
    id.to_string()
}

#[tokio::test]
async fn the_request_id_is_read_on_success() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let created = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .with_response()
        .await
        .unwrap();
    assert_eq!(created.meta().status, 201);
    assert_eq!(created.meta().attempts, 1);
    let create_id = assert_emulator_id(created.request_id());
    assert_eq!(
        created.meta().headers["x-request-id"].to_str().unwrap(),
        create_id,
        "the id is the header's value"
    );

    let got = client
        .links()
        .get(&created.id)
        .with_response()
        .await
        .unwrap();
    assert_eq!(got.meta().status, 200);
    let get_id = assert_emulator_id(got.request_id());
    assert_ne!(create_id, get_id, "each answer has its own id");
    assert_eq!(got.id, created.id, "the value derefs to the link");

    let list = client.links().list().with_response().await.unwrap();
    assert_emulator_id(list.request_id());
    assert_eq!(list.value().links.len(), 1);
    let catalog = client.providers().list().with_response().await.unwrap();
    assert_emulator_id(catalog.request_id());

    mock.complete_link(&created.id, None).await.unwrap();
    let done = client
        .links()
        .wait_with_response(&created.id, &WaitOptions::default())
        .await
        .unwrap();
    assert_emulator_id(done.request_id());
    // Plain awaiting still gives the bare value.
    let plain = client.links().get(&created.id).await.unwrap();
    assert_eq!(plain.status, done.status);
    mock.shutdown().await;
}

#[tokio::test]
async fn the_request_id_is_read_on_errors() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    // A real error answer of a handler.
    let err = client.links().get("link_does_not_exist").await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let not_found_id = assert_emulator_id(err.request_id());
    assert_eq!(err.meta().unwrap().status, 404);
    assert_eq!(err.attempts(), Some(1));
    assert_eq!(
        err.response().unwrap().meta.request_id.as_deref(),
        Some(not_found_id.as_str())
    );

    // An injected fault, after the client's retries: the id is the last answer's.
    mock.inject_fault(status_fault(FaultRoute::ListLinks, 503).times(4));
    let err = client.links().list().await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    let server_id = assert_emulator_id(err.request_id());
    assert_ne!(server_id, not_found_id);
    assert_eq!(err.attempts(), Some(4), "1 attempt + 3 retries");
    assert!(err.meta().unwrap().elapsed > Duration::ZERO);
    assert_no_key(&err);

    // Server-side validation.
    let err = client
        .links()
        .create("tmobile")
        .operation("noSuchResource", "read")
        .allow_unknown_operations()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation { .. }), "{err:?}");
    assert_emulator_id(err.request_id());

    // A local error never reached a server: no metadata.
    let err = client.links().get(" ").await.unwrap_err();
    assert_eq!((err.request_id(), err.attempts()), (None, None));
    mock.shutdown().await;
}

#[tokio::test]
async fn a_per_call_timeout_fails_where_the_clients_succeeds() {
    let mock = mock().await;
    let (client, recorder) = client(&mock);
    let delay = Duration::from_millis(1500);
    mock.inject_fault(Fault::new(FaultRoute::ListLinks, FaultKind::Delay(delay)).times(1));
    let err = client
        .links()
        .list()
        .timeout(Duration::from_millis(200))
        .max_retries(0)
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.attempts(), Some(1));
    assert!(recorder.events().is_empty(), "no retry");

    // The same delay under the client's own timeout (20 s): answered.
    mock.inject_fault(Fault::new(FaultRoute::ListLinks, FaultKind::Delay(delay)).times(1));
    let list = client.links().list().with_response().await.unwrap();
    assert!(list.meta().elapsed >= delay, "{:?}", list.meta().elapsed);
    assert_eq!(list.meta().attempts, 1);
    assert_eq!(
        client.timeout(),
        Duration::from_secs(20),
        "client untouched"
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn per_call_no_retries_sees_one_attempt_where_the_default_retries() {
    let mock = mock().await;
    let (client, recorder) = client(&mock);
    let link = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .await
        .unwrap();

    for no_retries in [
        RequestOptions::new().max_retries(0),
        RequestOptions::new().retry(RetryPolicy::none()),
    ] {
        mock.inject_fault(status_fault(FaultRoute::GetLink, 503).times(1));
        let err = client
            .links()
            .get(&link.id)
            .options(no_retries)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
        assert_eq!(err.attempts(), Some(1));
        assert!(recorder.events().is_empty());
    }

    mock.inject_fault(status_fault(FaultRoute::GetLink, 503).times(1));
    let got = client.links().get(&link.id).with_response().await.unwrap();
    assert_eq!(got.meta().attempts, 2, "the client's policy retried once");
    assert_eq!(got.meta().status, 200);
    assert_eq!(recorder.events().len(), 1);

    // A per-call policy never makes a create repeat itself after the server answered.
    mock.inject_fault(status_fault(FaultRoute::CreateLink, 503).times(1));
    let before = mock.link_count();
    let err = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .max_retries(5)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    assert_eq!(err.attempts(), Some(1));
    assert_eq!(mock.link_count(), before);
    mock.shutdown().await;
}

#[tokio::test]
async fn list_pages_take_the_filters_request_options() {
    use futures::TryStreamExt as _;
    let mock = mock().await;
    let (client, _) = client(&mock);
    for _ in 0..3 {
        client
            .links()
            .create("tmobile")
            .operation("paymentMethod", "read")
            .await
            .unwrap();
    }
    // The second page fails once: without retries the stream ends with that error.
    let filter = ListFilter::new()
        .page_size(2)
        .request_options(RequestOptions::new().max_retries(0));
    let mut links = client.links().list_stream(filter.clone());
    assert!(links.try_next().await.unwrap().is_some());
    assert!(links.try_next().await.unwrap().is_some());
    mock.inject_fault(status_fault(FaultRoute::ListLinks, 503).times(1));
    let err = links.try_next().await.unwrap_err();
    assert_eq!(err.attempts(), Some(1), "{err:?}");
    assert_emulator_id(err.request_id());

    // With the client's retries the same fault is passed through.
    mock.inject_fault(status_fault(FaultRoute::ListLinks, 503).times(1));
    let all: Vec<_> = client
        .links()
        .list_stream(ListFilter::new().page_size(2))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    mock.shutdown().await;
}

/// A stub of `GET /v1/links/{id}` that answers a link whose `seen` field holds the request's
/// headers, and counts the requests it got.
async fn echo_server() -> (String, Arc<Mutex<u32>>) {
    let hits = Arc::new(Mutex::new(0u32));
    let counter = Arc::clone(&hits);
    let app = Router::new().route(
        "/v1/links/{id}",
        get(move |headers: HeaderMap| {
            let counter = Arc::clone(&counter);
            async move {
                *counter.lock().unwrap() += 1;
                let seen: serde_json::Map<String, Value> = headers
                    .keys()
                    .map(|name| {
                        let values: Vec<Value> = headers
                            .get_all(name)
                            .iter()
                            .map(|v| Value::from(v.to_str().unwrap_or("<binary>")))
                            .collect();
                        (name.to_string(), Value::Array(values))
                    })
                    .collect();
                Json(json!({"id": "link_1", "status": "pending", "seen": seen}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, hits)
}

#[tokio::test]
async fn extra_headers_reach_the_server_and_cannot_replace_the_key() {
    let (base, hits) = echo_server().await;
    let client = Client::builder(SECRET).base_url(&base).build().unwrap();
    let link = client
        .links()
        .get("link_1")
        .header("x-trace-id", "trace-42")
        .header("x-tenant", "a")
        .header("x-tenant", "b")
        .header("user-agent", "my-app/1.0")
        .await
        .unwrap();
    let seen = &link.extra["seen"];
    assert_eq!(seen["x-trace-id"], json!(["trace-42"]));
    assert_eq!(seen["x-tenant"], json!(["a", "b"]));
    assert_eq!(
        seen["user-agent"],
        json!(["my-app/1.0"]),
        "replaces the client's"
    );
    assert_eq!(seen["authorization"], json!([format!("Bearer {SECRET}")]));
    assert_eq!(*hits.lock().unwrap(), 1);

    // The next call does not inherit them.
    let plain = client.links().get("link_1").await.unwrap();
    assert!(plain.extra["seen"].get("x-trace-id").is_none());
    assert_eq!(*hits.lock().unwrap(), 2);

    // Refused before anything is sent, the offered value never quoted.
    for name in ["Authorization", "authorization", "Host"] {
        let err = client
            .links()
            .get("link_1")
            .header(name, "Bearer psg_someone_else")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        assert!(!format!("{err:?} {err}").contains("psg_someone_else"));
        assert_no_key(&err);
    }
    let err = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .header("x-bad", "line\nbreak")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert_eq!(
        *hits.lock().unwrap(),
        2,
        "no refused call reached the server"
    );

    // Options in Debug show no header value, and the client's Debug no key.
    let request = client.links().get("link_1").header("x-token", "tok_secret");
    assert!(!format!("{request:?}").contains("tok_secret"));
    assert!(!format!("{request:?}").contains(SECRET));
}
