//! What a call returns besides its value: [`Response`] pairs the typed value with
//! [`ResponseMeta`] (status, headers, request id, attempts, time taken), which error answers
//! carry too ([`Error::meta`](crate::Error::meta)).

use std::ops::Deref;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

/// Response headers that may carry the id the server (or a gateway in front of it) gave a
/// request, in the order they are tried; the first present, non-empty one wins.
///
/// Passage documents no request-id header, so this is the tolerant reading: the usual
/// application header (`x-request-id`, also what `passage mock` sends), Stripe's `request-id`,
/// AWS API Gateway and S3 (`x-amzn-requestid`, `x-amz-request-id`), hosting platforms
/// (`x-vercel-id`, `fly-request-id`), Google Cloud (`x-cloud-trace-context`), then Cloudflare's
/// `cf-ray` last, as it names the edge hop rather than the application's request.
///
/// ```
/// assert_eq!(passage_connect::client::REQUEST_ID_HEADERS[0], "x-request-id");
/// ```
pub const REQUEST_ID_HEADERS: [&str; 8] = [
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "x-vercel-id",
    "fly-request-id",
    "x-cloud-trace-context",
    "cf-ray",
];

/// A request id longer than this is not kept: ids are short, and a hostile server should not make
/// every error carry a large value twice (it stays in [`ResponseMeta::headers`]).
const MAX_REQUEST_ID_CHARS: usize = 200;

/// The request id among `headers`, read from [`REQUEST_ID_HEADERS`] in order. A value that is
/// not visible ASCII, is empty or is longer than 200 characters is skipped.
///
/// ```
/// use passage_connect::client::request_id_from;
/// use reqwest::header::{HeaderMap, HeaderValue};
/// let mut headers = HeaderMap::new();
/// headers.insert("cf-ray", HeaderValue::from_static("8a1b2c3d4e5f-AMS"));
/// assert_eq!(request_id_from(&headers), Some("8a1b2c3d4e5f-AMS".to_string()));
/// headers.insert("x-request-id", HeaderValue::from_static("req_123"));
/// assert_eq!(request_id_from(&headers), Some("req_123".to_string()));
/// ```
pub fn request_id_from(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        (!value.is_empty() && value.len() <= MAX_REQUEST_ID_CHARS).then(|| value.to_string())
    })
}

/// What is known of the HTTP exchange behind a call: the final answer's status and headers, the
/// request id read from them, how many attempts the retry policy made, and the time from the
/// first attempt to the answer (retries and their pauses included).
///
/// A success returns it inside [`Response`]; an error answer carries it in
/// [`ApiErrorBody::meta`](crate::error::ApiErrorBody::meta), reachable from any error through
/// [`Error::meta`](crate::Error::meta).
///
/// ```no_run
/// # async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {
/// let response = client.links().get("link_abc123").with_response().await?;
/// let meta = response.meta();
/// println!(
///     "HTTP {} after {} attempt(s) in {:?}, request id {}",
///     meta.status,
///     meta.attempts,
///     meta.elapsed,
///     meta.request_id.as_deref().unwrap_or("-")
/// );
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseMeta {
    /// The HTTP status of the final answer.
    pub status: u16,
    /// The final answer's headers, as received, except that a value echoing a credential
    /// (`Bearer ...`, a `psg_` key) is blanked out as in error bodies: this metadata is kept in
    /// errors, which are printed and logged.
    pub headers: HeaderMap,
    /// The request id the server sent, if any (see [`REQUEST_ID_HEADERS`] for where it is read).
    pub request_id: Option<String>,
    /// How many times the request was sent: 1, plus one per retry. Redirects followed are not
    /// counted (they are part of one attempt).
    pub attempts: u32,
    /// From the first attempt to the final answer, pauses between retries included.
    pub elapsed: Duration,
}

impl ResponseMeta {
    /// Metadata of an answer with `status` and `headers`; `attempts` and `elapsed` are filled in
    /// when the retry loop ends.
    pub(crate) fn new(status: u16, mut headers: HeaderMap) -> Self {
        for value in headers.values_mut() {
            if let std::borrow::Cow::Owned(redacted) = super::redact_credentials(value.as_bytes()) {
                // Redaction only replaces bytes with ASCII text, so the value stays sendable; the
                // fallback blanks it entirely rather than keep the credential.
                *value = HeaderValue::from_bytes(&redacted)
                    .unwrap_or_else(|_| HeaderValue::from_static("[redacted]"));
            }
        }
        Self {
            status,
            request_id: request_id_from(&headers),
            headers,
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }
}

/// A call's typed value with its [`ResponseMeta`]: what `.with_response()` on a call returns.
/// Derefs to the value, so fields read as on the value itself.
///
/// ```no_run
/// # async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {
/// let response = client.links().get("link_abc123").with_response().await?;
/// println!("{} (request id {:?})", response.status, response.request_id());
/// let link = response.into_inner();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Response<T> {
    value: T,
    meta: ResponseMeta,
}

impl<T> Response<T> {
    pub(crate) fn new(value: T, meta: ResponseMeta) -> Self {
        Self { value, meta }
    }

    /// The typed value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The exchange's metadata.
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// The request id the server sent, if any.
    pub fn request_id(&self) -> Option<&str> {
        self.meta.request_id.as_deref()
    }

    /// The value, dropping the metadata.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The value and the metadata.
    pub fn into_parts(self) -> (T, ResponseMeta) {
        (self.value, self.meta)
    }

    /// The same metadata with the value transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            value: f(self.value),
            meta: self.meta,
        }
    }
}

impl<T> Deref for Response<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn echoed_credentials_are_blanked_out_of_the_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-echo",
            HeaderValue::from_static("Bearer psg_live_SeCrEt123"),
        );
        headers.insert("x-request-id", HeaderValue::from_static("req_1"));
        let meta = ResponseMeta::new(500, headers);
        let text = format!("{meta:?}");
        assert!(!text.contains("SeCrEt"), "{text}");
        assert_eq!(meta.request_id.as_deref(), Some("req_1"));
        assert_eq!(meta.headers["x-request-id"], "req_1");
    }

    #[test]
    fn request_id_skips_empty_and_oversized_values() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("  "));
        headers.insert("request-id", HeaderValue::from_static("req_stripe"));
        assert_eq!(request_id_from(&headers).as_deref(), Some("req_stripe"));
        let long = "a".repeat(MAX_REQUEST_ID_CHARS + 1);
        headers.insert("request-id", HeaderValue::from_str(&long).unwrap());
        assert_eq!(request_id_from(&headers), None);
        headers.insert("x-request-id", HeaderValue::from_bytes(b"\xffid").unwrap());
        assert_eq!(request_id_from(&headers), None);
    }
}
