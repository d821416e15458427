//! Helpers shared by the emulator's HTTP tests: a started mock, an HTTP client, link creation and a
//! scripted webhook receiver on 127.0.0.1.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use passage_mock::{MockConfig, MockServer};
use serde_json::{json, Value};

/// A generous deadline for anything asynchronous on a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A mock with short webhook retry delays.
pub async fn start_mock() -> MockServer {
    start_with(MockConfig::default()).await
}

/// A mock from `config` with short webhook retry delays.
pub async fn start_with(config: MockConfig) -> MockServer {
    MockServer::start(
        config.with_webhook_retry_delays(vec![
            Duration::from_millis(100),
            Duration::from_millis(200),
        ]),
    )
    .await
    .expect("mock starts")
}

/// A client that never reuses a connection across tests and has a timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(DEADLINE)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

/// Status and JSON body (`Value::Null` if the body is not JSON).
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body reads");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `POST /v1/links` with `body`, authenticated.
pub async fn create(mock: &MockServer, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("{}/v1/links", mock.base_url()))
        .bearer_auth(mock.api_key())
        .json(body)
        .send()
        .await
        .expect("create answers");
    json_of(response).await
}

/// Creates a link and returns its 201 body, failing the test otherwise.
pub async fn create_ok(mock: &MockServer, body: &Value) -> Value {
    let (status, body) = create(mock, body).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// A one-operation billing link body.
pub fn billing_link() -> Value {
    json!({"integrationId": "tmobile", "operations": [{"resource": "mobileBillingStatement", "action": "read"}]})
}

/// `GET /v1/links/{id}`, authenticated.
pub async fn get_link(mock: &MockServer, id: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{}/v1/links/{id}", mock.base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .expect("get answers");
    json_of(response).await
}

/// `POST /link/claim` with `body`.
pub async fn claim(mock: &MockServer, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("{}/link/claim", mock.base_url()))
        .json(body)
        .send()
        .await
        .expect("claim answers");
    json_of(response).await
}

/// POST to the control API (always `Content-Type: application/json`, as it requires).
pub async fn control(mock: &MockServer, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = client()
        .post(format!("{}{path}", mock.base_url()))
        .header("content-type", "application/json");
    if let Some(body) = body {
        request = request.json(&body);
    }
    json_of(request.send().await.expect("control answers")).await
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub query: Option<String>,
}

#[derive(Clone, Default)]
struct ReceiverState {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Vec<u16>>>,
}

/// A webhook receiver / return-URL target on 127.0.0.1 answering from a script of statuses
/// (then 200 once the script is used up).
pub struct Receiver {
    pub url: String,
    state: ReceiverState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    pub async fn start(script: Vec<u16>) -> Receiver {
        let state = ReceiverState {
            received: Arc::default(),
            script: Arc::new(Mutex::new(script.into_iter().rev().collect())),
        };
        async fn record(
            State(state): State<ReceiverState>,
            uri: axum::http::Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> (StatusCode, &'static str) {
            state.received.lock().unwrap().push(Received {
                headers,
                body,
                query: uri.query().map(str::to_string),
            });
            let status = state.script.lock().unwrap().pop().unwrap_or(200);
            (
                StatusCode::from_u16(status).unwrap(),
                "<html><body><h1>landed</h1></body></html>",
            )
        }
        let app = Router::new()
            .route("/hook", post(record))
            .route("/done", get(record))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Receiver {
            url,
            state,
            stop: Some(stop),
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "only {} of {n} requests arrived",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
