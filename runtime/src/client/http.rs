//! Sending one API request: headers, per-attempt timeout, the retry loop, mapping answers to
//! [`Error`], and decoding success bodies with the JSON path of any mismatch.

use std::time::{Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::retry::{parse_retry_after, RetryEvent, RetryReason};
use super::Client;
use crate::error::Error;

/// Whether a request may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Safe to repeat (GET): retried per the policy.
    Idempotent,
    /// Repeated only if the connection was never established (a create: the API has no
    /// idempotency key, so a second send may make a second link).
    OnlyIfNotSent,
}

/// A success answer.
pub(crate) struct Answer {
    pub(crate) body: Bytes,
    /// `METHOD URL`, for error messages.
    pub(crate) request: String,
}

/// Statuses worth retrying for an idempotent request.
fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl Client {
    /// Sends a request with the retry policy and returns the success body, or the mapped error.
    pub(crate) async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        repeat: Repeat,
    ) -> Result<Answer, Error> {
        let inner = &self.inner;
        let request = format!("{method} {url}");
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut builder = inner
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, inner.auth.clone())
                .header(USER_AGENT, inner.user_agent.clone())
                .header(ACCEPT, "application/json")
                .timeout(inner.timeout);
            if let Some(body) = &body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let (error, retry_after, reason) = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    match response.bytes().await {
                        Ok(bytes) if (200..300).contains(&status) => {
                            return Ok(Answer {
                                body: bytes,
                                request,
                            })
                        }
                        Ok(bytes) => {
                            let error =
                                Error::from_response(status, request.clone(), retry_after, &bytes);
                            if repeat == Repeat::Idempotent && retryable_status(status) {
                                (error, retry_after, RetryReason::Status(status))
                            } else {
                                return Err(error);
                            }
                        }
                        Err(source) => {
                            let reason = RetryReason::Transport(source.to_string());
                            let error = self.transport_error(&method, &url, source, repeat);
                            if repeat == Repeat::Idempotent {
                                (error, None, reason)
                            } else {
                                return Err(error);
                            }
                        }
                    }
                }
                Err(source) => {
                    if source.is_builder() {
                        return Err(Error::Config {
                            message: format!("cannot build the request {request}: {source}"),
                        });
                    }
                    let may_repeat = repeat == Repeat::Idempotent || source.is_connect();
                    let reason = RetryReason::Transport(source.to_string());
                    let error = self.transport_error(&method, &url, source, repeat);
                    if may_repeat {
                        (error, None, reason)
                    } else {
                        return Err(error);
                    }
                }
            };
            let Some(delay) = inner
                .retry
                .next_delay(attempt, retry_after, started.elapsed())
            else {
                return Err(error);
            };
            let event = RetryEvent {
                method: method.to_string(),
                url: url.to_string(),
                attempt,
                reason,
                retry_after,
                delay,
            };
            tracing::debug!(
                method = %event.method,
                url = %event.url,
                attempt,
                reason = ?event.reason,
                delay_ms = delay.as_millis() as u64,
                "retrying Passage API request"
            );
            if let Some(hook) = &inner.on_retry {
                (hook.0)(&event);
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// A transport error: [`Error::Indeterminate`] when a create may have reached the server.
    fn transport_error(
        &self,
        method: &Method,
        url: &Url,
        source: reqwest::Error,
        repeat: Repeat,
    ) -> Error {
        if repeat == Repeat::OnlyIfNotSent && !source.is_connect() {
            Error::Indeterminate {
                method: method.to_string(),
                url: url.to_string(),
                source,
            }
        } else {
            Error::Transport {
                method: method.to_string(),
                url: url.to_string(),
                source,
            }
        }
    }

    /// A GET with retries, decoded into `T`.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, Error> {
        let answer = self
            .execute(Method::GET, url, None, Repeat::Idempotent)
            .await?;
        decode_json(&answer)
    }
}

/// Decodes a success body, naming the JSON path of a mismatch and keeping the body.
pub(crate) fn decode_json<T: DeserializeOwned>(answer: &Answer) -> Result<T, Error> {
    let fail = |path: String, message: String| Error::Decode {
        request: answer.request.clone(),
        path,
        message,
        body: String::from_utf8_lossy(&answer.body).into_owned(),
    };
    let mut de = serde_json::Deserializer::from_slice(&answer.body);
    let value: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|err| fail(json_path(&err.path().to_string()), err.inner().to_string()))?;
    de.end()
        .map_err(|err| fail("$".to_string(), err.to_string()))?;
    Ok(value)
}

/// serde_path_to_error's `.` (root) becomes `$`.
pub(crate) fn json_path(path: &str) -> String {
    if path.is_empty() || path == "." {
        "$".to_string()
    } else {
        path.to_string()
    }
}
