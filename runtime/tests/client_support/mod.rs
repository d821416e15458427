//! Shared setup of the client tests: an emulator with a recognisable secret key, and a client
//! whose retries are fast and recorded (so tests assert attempt counts, never durations).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use passage_connect::client::{Client, RetryEvent, RetryPolicy};
use passage_mock::{MockConfig, MockServer};

/// The key the emulator accepts; tests check it never shows in Debug or Display.
pub const SECRET: &str = "psg_test_SeCrEt_d41d8cd98f";

/// Starts an emulator accepting only [`SECRET`].
pub async fn mock() -> MockServer {
    MockServer::start(MockConfig::default().with_api_keys(vec![SECRET.to_string()]))
        .await
        .expect("the emulator starts")
}

/// Retries recorded by a client's `on_retry` hook.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<RetryEvent>>>);

impl Recorder {
    pub fn events(&self) -> Vec<RetryEvent> {
        self.0.lock().unwrap().clone()
    }
}

/// A fast retry policy: up to `retries` retries, millisecond backoffs, a generous time budget.
pub fn fast_policy(retries: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(retries)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
        .with_max_elapsed(Duration::from_secs(60))
}

/// A client for `mock` with `policy` and a retry recorder.
pub fn client_with(base_url: &str, key: &str, policy: RetryPolicy) -> (Client, Recorder) {
    let recorder = Recorder::default();
    let sink = recorder.clone();
    let client = Client::builder(key)
        .base_url(base_url)
        .timeout(Duration::from_secs(20))
        .retry_policy(policy)
        .on_retry(move |event| sink.0.lock().unwrap().push(event.clone()))
        .build()
        .expect("client builds");
    (client, recorder)
}

/// A client for `mock` with [`fast_policy`]`(3)`.
pub fn client(mock: &MockServer) -> (Client, Recorder) {
    client_with(&mock.base_url(), SECRET, fast_policy(3))
}

/// Asserts neither the Debug nor the Display of `err` (nor of its sources) shows the key.
pub fn assert_no_key(err: &(dyn std::error::Error + 'static)) {
    let mut texts = vec![format!("{err:?}"), err.to_string()];
    let mut source = err.source();
    while let Some(inner) = source {
        texts.push(format!("{inner:?}"));
        texts.push(inner.to_string());
        source = inner.source();
    }
    for text in texts {
        assert!(!text.contains(SECRET), "the key leaked: {text}");
        assert!(!text.contains("SeCrEt"), "part of the key leaked: {text}");
    }
}
