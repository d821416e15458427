//! Sending one API request: headers, per-attempt timeout, the retry loop, redirects (same-origin
//! `GET`s only), bodies read under the size cap, mapping answers to [`Error`], and decoding
//! success bodies with the JSON path of any mismatch.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{
    HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER, USER_AGENT,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::options::RequestOptions;
use super::response::{Response, ResponseMeta};
use super::retry::{parse_retry_after, RetryEvent, RetryReason};
use super::{excerpt, read_capped, Client, ReadError};
use crate::error::{Error, RedirectRefusal};

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
    /// Status, headers, request id, attempts, time.
    pub(crate) meta: ResponseMeta,
}

/// What one call sends with: the client's settings with the call's [`RequestOptions`] applied.
struct CallSettings<'a> {
    timeout: Duration,
    retry: super::RetryPolicy,
    headers: &'a HeaderMap,
}

/// Statuses worth retrying for an idempotent request.
fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Redirect statuses: the client decides about each itself (the HTTP client follows none).
fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// How many same-origin `GET` redirects are followed in a row.
const MAX_REDIRECTS: u32 = 5;

/// Whether `a` and `b` share scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// What one attempt led to.
enum Step {
    /// Done: the success answer or a final error.
    Done(Result<Answer, Error>),
    /// Follow a same-origin GET redirect (not an attempt of the retry policy).
    Follow(Url),
    /// A retryable failure: the error if no retry happens, the server's `Retry-After`, and why.
    Retry(Error, Option<std::time::Duration>, RetryReason),
}

impl Client {
    /// Sends a request with the retry policy and returns the success body, or the mapped error.
    ///
    /// `deadline`, when set, is the caller's own deadline (a link wait): a retry the server asks
    /// to happen past it is not waited for but reported as
    /// [`Error::RetryAfterPastDeadline`]. `options` override the client's timeout, retry policy
    /// and headers for this call. The answer (or the error) carries the attempt count and the
    /// time taken.
    pub(crate) async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        repeat: Repeat,
        deadline: Option<Instant>,
        options: &RequestOptions,
    ) -> Result<Answer, Error> {
        let inner = &self.inner;
        let settings = CallSettings {
            timeout: options.get_timeout().unwrap_or(inner.timeout),
            retry: options.resolve_retry(&inner.retry),
            headers: options.checked_headers()?,
        };
        let started = Instant::now();
        let mut attempt: u32 = 0;
        let mut redirects: u32 = 0;
        let mut current = url;
        loop {
            let step = self
                .attempt(
                    &method,
                    &current,
                    body.as_deref(),
                    repeat,
                    redirects,
                    &settings,
                )
                .await;
            let (error, retry_after, reason) = match step {
                Step::Done(outcome) => {
                    // This attempt is the last one: count it.
                    let attempts = attempt + 1;
                    return match outcome {
                        Ok(mut answer) => {
                            answer.meta.attempts = attempts;
                            answer.meta.elapsed = started.elapsed();
                            Ok(answer)
                        }
                        Err(error) => Err(error.with_exchange(attempts, started.elapsed())),
                    };
                }
                Step::Follow(target) => {
                    redirects += 1;
                    current = target;
                    continue;
                }
                Step::Retry(error, retry_after, reason) => (error, retry_after, reason),
            };
            attempt += 1;
            // Checked before the policy: a server asking for more time than the caller has left
            // is a definite answer, whatever the policy would have made of it.
            if let (Some(deadline), Some(wait)) = (deadline, retry_after) {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if wait > remaining {
                    // The answer asking for the pause (and its meta) is dropped with it:
                    // `RetryAfterPastDeadline` names the request and the two durations.
                    return Err(Error::RetryAfterPastDeadline {
                        request: format!("{method} {current}"),
                        retry_after: wait,
                        remaining,
                    });
                }
            }
            let Some(delay) = settings
                .retry
                .next_delay(attempt, retry_after, started.elapsed())
            else {
                return Err(error.with_exchange(attempt, started.elapsed()));
            };
            let event = RetryEvent {
                method: method.to_string(),
                url: current.to_string(),
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

    /// One HTTP exchange: send, classify the answer, read its body under the cap.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
        repeat: Repeat,
        redirects: u32,
        settings: &CallSettings<'_>,
    ) -> Step {
        let inner = &self.inner;
        let request = format!("{method} {url}");
        let mut builder = inner
            .http
            .request(method.clone(), url.clone())
            .header(USER_AGENT, inner.user_agent.clone())
            .header(ACCEPT, "application/json")
            .timeout(settings.timeout);
        if let Some(body) = body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        // The call's headers replace the client's of the same name; `Authorization` is set
        // last, so nothing before it can replace the key (options refuse it anyway).
        if !settings.headers.is_empty() {
            builder = builder.headers(settings.headers.clone());
        }
        builder = builder.header(AUTHORIZATION, inner.auth.clone());
        let response = match builder.send().await {
            Ok(response) => response,
            Err(source) => {
                if source.is_builder() {
                    return Step::Done(Err(Error::Config {
                        message: format!("cannot build the request {request}: {source}"),
                    }));
                }
                let may_repeat = repeat == Repeat::Idempotent || source.is_connect();
                let reason = RetryReason::Transport(source.to_string());
                let error = self.transport_error(method, url, source, repeat);
                return if may_repeat {
                    Step::Retry(error, None, reason)
                } else {
                    Step::Done(Err(error))
                };
            }
        };
        let status = response.status().as_u16();
        let meta = ResponseMeta::new(status, response.headers().clone());
        // A user-supplied HTTP client may have followed a redirect on its own.
        if response.url() != url {
            return Step::Done(Err(Error::Redirect {
                request,
                status,
                location: Some(response.url().to_string()),
                meta: Box::new(meta),
                refusal: if same_origin(url, response.url()) && *method == Method::GET {
                    RedirectRefusal::TooMany
                } else if *method != Method::GET {
                    RedirectRefusal::NotGet
                } else {
                    RedirectRefusal::CrossOrigin
                },
            }));
        }
        if is_redirect(status) {
            return Step::from_redirect(method, url, request, meta, &response, redirects);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        match read_capped(response, inner.max_body_bytes).await {
            Ok(bytes) if (200..300).contains(&status) => Step::Done(Ok(Answer {
                body: bytes,
                request,
                meta,
            })),
            Ok(bytes) => {
                let error = Error::from_response(status, request, retry_after, &bytes, meta);
                if repeat == Repeat::Idempotent && retryable_status(status) {
                    Step::Retry(error, retry_after, RetryReason::Status(status))
                } else {
                    Step::Done(Err(error))
                }
            }
            // Not retried: the same server would most likely send the same oversized answer.
            Err(ReadError::TooLarge) => Step::Done(Err(Error::BodyTooLarge {
                request,
                status,
                limit: inner.max_body_bytes,
            })),
            Err(ReadError::Transport(source)) => {
                let reason = RetryReason::Transport(source.to_string());
                let error = self.transport_error(method, url, source, repeat);
                if repeat == Repeat::Idempotent {
                    Step::Retry(error, None, reason)
                } else {
                    Step::Done(Err(error))
                }
            }
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
                attempts: 1,
            }
        } else {
            Error::Transport {
                method: method.to_string(),
                url: url.to_string(),
                source,
                attempts: 1,
            }
        }
    }

    /// A GET with retries, decoded into `T`; `deadline` and `options` as in
    /// [`Client::execute`].
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        deadline: Option<Instant>,
        options: &RequestOptions,
    ) -> Result<Response<T>, Error> {
        let answer = self
            .execute(
                Method::GET,
                url,
                None,
                Repeat::Idempotent,
                deadline,
                options,
            )
            .await?;
        let value = decode_json(&answer)?;
        Ok(Response::new(value, answer.meta))
    }
}

impl Step {
    /// Follows a same-origin GET redirect; refuses anything else, naming the target.
    fn from_redirect(
        method: &Method,
        url: &Url,
        request: String,
        meta: ResponseMeta,
        response: &reqwest::Response,
        redirects: u32,
    ) -> Step {
        let status = meta.status;
        let target = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| url.join(v).ok());
        let refuse = |refusal, location: Option<&Url>| {
            Step::Done(Err(Error::Redirect {
                request: request.clone(),
                status,
                location: location.map(Url::to_string),
                refusal,
                meta: Box::new(meta.clone()),
            }))
        };
        let Some(target) = target.filter(|t| matches!(t.scheme(), "http" | "https")) else {
            return refuse(RedirectRefusal::BadLocation, None);
        };
        if *method != Method::GET {
            refuse(RedirectRefusal::NotGet, Some(&target))
        } else if !same_origin(url, &target) {
            refuse(RedirectRefusal::CrossOrigin, Some(&target))
        } else if redirects >= MAX_REDIRECTS {
            refuse(RedirectRefusal::TooMany, Some(&target))
        } else {
            Step::Follow(target)
        }
    }
}

/// Decodes a success body, naming the JSON path of a mismatch and keeping the body.
pub(crate) fn decode_json<T: DeserializeOwned>(answer: &Answer) -> Result<T, Error> {
    let fail = |path: String, message: String| Error::Decode {
        request: answer.request.clone(),
        path,
        message,
        body: excerpt(&answer.body),
        meta: Some(Box::new(answer.meta.clone())),
    };
    // The plain parse first: path tracking costs on every success and is only needed to
    // explain a failure, so a failure is parsed again with it.
    if let Ok(value) = serde_json::from_slice::<T>(&answer.body) {
        return Ok(value);
    }
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
