//! The SDK's one error type, [`Error`], and the pieces it carries ([`Issue`], [`ApiErrorBody`]).
//!
//! Every failure of the HTTP client maps to a variant a caller can match on and act on: fix the
//! request ([`Error::Validation`]), fix the key ([`Error::Unauthorized`]), back off
//! ([`Error::RateLimited`]), check whether a link was created ([`Error::Indeterminate`]), and so
//! on. Server error bodies come in two forms (`{"error":"Link not found"}` and the older
//! `{"error":{"code":"not_found","message":"..."}}`); both map to the same variants, and the raw
//! body is always kept in [`ApiErrorBody::raw`].
//!
//! Invariant: no variant ever holds the API key. URLs are kept (they carry link ids, never the
//! key: the key travels only in the `Authorization` header).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::ResponseMeta;
use crate::link::LinkStatus;

/// One validation problem: a dot-separated field path (`operations.1.arguments.cvv`) and what is
/// wrong there. The same shape for the server's `issues` and for local validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// Dot-separated path of the field, e.g. `webhookUrl` or `operations.1.arguments.cvv`.
    /// Empty when the problem is not tied to one field.
    #[serde(default)]
    pub path: String,
    /// What is wrong, e.g. `must be a valid URL`. Never repeats the offending value.
    #[serde(default)]
    pub message: String,
    /// Other fields of the issue as the server sent them (zod adds `code`, `expected`...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Issue {
    /// An issue at `path`.
    ///
    /// ```
    /// let issue = passage_connect::error::Issue::new("webhookUrl", "must be a valid URL");
    /// assert_eq!(issue.to_string(), "webhookUrl: must be a valid URL");
    /// ```
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            extra: Map::new(),
        }
    }
}

impl Issue {
    /// Every violation of `validator`'s schema by `instance`, as issues in the API's `issues`
    /// shape: dot paths under `prefix` (e.g. `operations.1.arguments` gives
    /// `operations.1.arguments.cvv`), `Required` for a missing property, `Unrecognized key` for an
    /// unexpected one. Masked: messages never repeat the offending value (card data stays out of
    /// errors and logs). The client's local validation and the emulator both use it, so both
    /// report a bad argument at the same path.
    pub fn from_schema_violations(
        validator: &jsonschema::Validator,
        instance: &Value,
        prefix: &str,
    ) -> Vec<Issue> {
        use jsonschema::error::ValidationErrorKind;
        use jsonschema::paths::LocationSegment;

        fn join(prefix: &str, segment: &str) -> String {
            if prefix.is_empty() {
                segment.to_string()
            } else {
                format!("{prefix}.{segment}")
            }
        }

        let mut issues = Vec::new();
        for error in validator.iter_errors(instance) {
            let mut path = prefix.to_string();
            for segment in error.instance_path().iter() {
                let text = match segment {
                    LocationSegment::Property(name) => name.to_string(),
                    LocationSegment::Index(index) => index.to_string(),
                };
                path = join(&path, &text);
            }
            match error.kind() {
                ValidationErrorKind::Required { property } => {
                    let name = match property {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    issues.push(Issue::new(join(&path, &name), "Required"));
                }
                ValidationErrorKind::AdditionalProperties { unexpected }
                | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                    for name in unexpected {
                        issues.push(Issue::new(join(&path, name), "Unrecognized key"));
                    }
                }
                _ => issues.push(Issue::new(path, error.masked().to_string())),
            }
        }
        issues
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Where a [`Error::Validation`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationSource {
    /// Checked in this process before sending: nothing reached the server.
    Local,
    /// The server answered `400 Bad Request`.
    Server,
}

/// An error answer of the API, as received: status, the message and code parsed from either
/// body form, the raw body, and the exchange's metadata (request id, attempts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// The HTTP status.
    pub status: u16,
    /// The request's method and URL (never the key), e.g. `GET https://.../v1/links/link_1`.
    pub request: String,
    /// The message: `error` when it is a string, `error.message` in the nested form, or a
    /// description of the status when the body is neither.
    pub message: String,
    /// `error.code` of the nested form (`not_found`, `validation_error`...), if present.
    pub code: Option<String>,
    /// The body as received (lossy UTF-8), so nothing is lost when it is neither form; cut to
    /// its first 8 KiB ([`ERROR_EXCERPT_BYTES`](crate::client::ERROR_EXCERPT_BYTES)) with a note
    /// of the full length when longer, so an error never holds a second copy of a large body.
    pub raw: String,
    /// The answer's headers and request id, how many attempts were made and how long they took
    /// (`meta.status` is [`status`](Self::status)). Also reachable as
    /// [`Error::meta`] / [`Error::request_id`].
    pub meta: ResponseMeta,
}

impl fmt::Display for ApiErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.request, self.status, self.message)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        Ok(())
    }
}

/// Why [`Error::Redirect`] was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectRefusal {
    /// The request was not a `GET`: its body is never sent anywhere else.
    NotGet,
    /// The target is on another origin than the request.
    CrossOrigin,
    /// The target is not an http(s) URL, or the header is missing.
    BadLocation,
    /// More same-origin redirects than the client follows in a row (5).
    TooMany,
}

impl fmt::Display for RedirectRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedirectRefusal::NotGet => "redirects of a request with a body are never followed",
            RedirectRefusal::CrossOrigin => "the target is on another origin",
            RedirectRefusal::BadLocation => "the target is not an http(s) URL",
            RedirectRefusal::TooMany => "too many redirects",
        })
    }
}

/// Everything that can go wrong calling the Passage API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is invalid: found locally before sending, or answered `400` by the server.
    /// Fix the fields named by each issue's path.
    #[error("validation failed ({}): {}", match .origin { ValidationSource::Local => "checked locally, nothing was sent", ValidationSource::Server => "answered by the server" }, join_issues(.issues))]
    Validation {
        /// Each problem with its dot path.
        issues: Vec<Issue>,
        /// Local or server.
        origin: ValidationSource,
        /// The server's answer, for a server-side validation error.
        response: Option<Box<ApiErrorBody>>,
    },
    /// `401`: the API key is missing, malformed or revoked. Check `PASSAGE_API_KEY`.
    #[error("unauthorized: the API key was refused: {response}")]
    Unauthorized {
        /// The server's answer.
        response: Box<ApiErrorBody>,
    },
    /// `403`: the key's organization has no access to this resource.
    #[error("forbidden: {response}")]
    Forbidden {
        /// The server's answer.
        response: Box<ApiErrorBody>,
    },
    /// `404`: no such link (or route) for this organization.
    #[error("not found: {response}")]
    NotFound {
        /// The server's answer.
        response: Box<ApiErrorBody>,
    },
    /// `409`: conflicting state (a completed link, a concurrent claim).
    #[error("conflict: {response}")]
    Conflict {
        /// The server's answer.
        response: Box<ApiErrorBody>,
    },
    /// `410`: the link has expired.
    #[error("expired: {response}")]
    Expired {
        /// The server's answer.
        response: Box<ApiErrorBody>,
    },
    /// `429`: too many requests, still refused after the retry policy gave up (or the server asked
    /// for a longer pause than the policy allows). Wait `retry_after` before trying again.
    #[error("rate limited{}: {response}", match .retry_after { Some(d) => format!(" (retry after {} s)", d.as_secs_f64()), None => String::new() })]
    RateLimited {
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
        /// The server's answer.
        response: Box<ApiErrorBody>,
    },
    /// A `5xx` answer, still failing after retries (for GETs) or at once (for a create, which is
    /// never repeated once it may have reached the server).
    #[error("server error {status}: {message}")]
    Server {
        /// The HTTP status (500, 502, 503...).
        status: u16,
        /// The server's message.
        message: String,
        /// The server's answer.
        response: Box<ApiErrorBody>,
    },
    /// Any other non-success status (e.g. `405`, `413`), kept whole.
    #[error("unexpected HTTP status: {response}")]
    UnexpectedStatus {
        /// The server's answer.
        response: Box<ApiErrorBody>,
    },
    /// The request did not get an answer: DNS, connection refused, TLS, reset, request timeout.
    /// For GETs this is returned only after retries; a create is retried only when the
    /// connection was never established (see [`Error::Indeterminate`] otherwise).
    #[error("transport error on {method} {url}: {source}")]
    Transport {
        /// HTTP method.
        method: String,
        /// The URL (no key: the key travels only in a header).
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
        /// How many times the request was sent (1 plus the retries made).
        attempts: u32,
    },
    /// `POST /v1/links` was sent but no answer came back (connection dropped, timeout): the link
    /// **may or may not** exist. It was not sent again, so that no duplicate link is made. Look for
    /// it with `client.links().list()` (e.g. by `externalUserId`) before creating another.
    #[error("outcome unknown for {method} {url}: the request may have reached the server and was not repeated (to avoid a duplicate); check before retrying: {source}")]
    Indeterminate {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
        /// How many times the request was sent: more than 1 only when earlier attempts never
        /// connected.
        attempts: u32,
    },
    /// The server asked (with `Retry-After`) to be called again later than the caller's deadline
    /// allows: the wait gave up at once instead of polling against the server's request or
    /// sleeping past its deadline. Try again after `retry_after`.
    #[error("{request}: the server asked to retry after {} s, past the deadline ({} s left)", .retry_after.as_secs_f64(), .remaining.as_secs_f64())]
    RetryAfterPastDeadline {
        /// The request's method and URL.
        request: String,
        /// The server's `Retry-After`.
        retry_after: Duration,
        /// What was left of the deadline.
        remaining: Duration,
    },
    /// Waiting for a link reached its deadline before the link completed, failed or expired.
    #[error("timed out after {:.1} s waiting for link {link_id} (last status: {})", .waited.as_secs_f64(), match .last_status { Some(s) => s.as_str(), None => "never fetched" })]
    Timeout {
        /// The link waited for.
        link_id: String,
        /// How long the wait lasted.
        waited: Duration,
        /// The last status seen, if any poll succeeded.
        last_status: Option<LinkStatus>,
    },
    /// A success answer whose body does not have the expected shape.
    #[error("cannot decode the answer to {request}: at `{path}`: {message}")]
    Decode {
        /// The request's method and URL.
        request: String,
        /// JSON path of the problem (`$` for the root, e.g. `links[2].status`).
        path: String,
        /// What was wrong.
        message: String,
        /// The body as received (lossy UTF-8), cut to its first 8 KiB with a note of the full
        /// length when longer.
        body: String,
        /// The answer's status, headers and request id, when the body came from an answer.
        meta: Option<Box<ResponseMeta>>,
    },
    /// The answer's body is larger than the client's cap
    /// ([`ClientBuilder::max_body_bytes`](crate::client::ClientBuilder::max_body_bytes), default
    /// 32 MiB). Reading stopped at the cap: a broken or hostile server cannot make the client
    /// hold more. Raise the cap if such answers are expected.
    #[error("the answer to {request} (HTTP {status}) is larger than the {limit}-byte body limit; reading stopped there")]
    BodyTooLarge {
        /// The request's method and URL.
        request: String,
        /// The answer's HTTP status.
        status: u16,
        /// The cap in bytes.
        limit: usize,
    },
    /// The server answered with a redirect the client refuses to follow: any redirect of a
    /// `POST` (following it would send the body, card data included, again), a redirect to
    /// another origin (scheme, host or port), or too many redirects. Check the base URL.
    #[error("{request} was redirected (HTTP {status}) to {}: not followed ({refusal})", .location.as_deref().unwrap_or("no Location header"))]
    Redirect {
        /// The request's method and URL.
        request: String,
        /// The redirect status (301, 302, 303, 307, 308).
        status: u16,
        /// The target, resolved against the request URL (`None` when the header is missing or
        /// not a URL).
        location: Option<String>,
        /// Why it was not followed.
        refusal: RedirectRefusal,
        /// The redirect answer's headers and request id.
        meta: Box<ResponseMeta>,
    },
    /// The client is misconfigured: a bad base URL, a key that cannot be sent in a header, a
    /// missing `PASSAGE_API_KEY`, a TLS backend that fails to start.
    #[error("client configuration: {message}")]
    Config {
        /// What is wrong (never includes the key).
        message: String,
    },
    /// A webhook failed verification; the inner error names the check (and header) that failed.
    /// The webhook half of the crate returns [`VerifyError`](crate::webhook::VerifyError)
    /// directly; this variant lets one `?` carry it into [`Error`].
    #[error(transparent)]
    Webhook(#[from] Box<crate::webhook::VerifyError>),
    /// A verified webhook body is not a well-formed event.
    #[error(transparent)]
    Event(#[from] Box<crate::webhook::EventError>),
    /// A link result could not be paired with the link's operations, or did not fit its type
    /// (JSON path and raw JSON kept in the inner error).
    #[error(transparent)]
    Result(#[from] Box<crate::link::ResultError>),
    /// A redelivery dedupe store could not answer.
    #[error(transparent)]
    Dedupe(#[from] Box<crate::dedupe::DedupeError>),
}

macro_rules! boxed_from {
    ($($error:ty),*) => {$(
        impl From<$error> for Error {
            fn from(error: $error) -> Self {
                Box::new(error).into()
            }
        }
    )*};
}

// One error type for callers who want a single `?` across the crate: each module keeps its own
// precise enum (a caller matching on a failed webhook check wants `VerifyError`'s variants), and
// these conversions carry it into [`Error`] unchanged.
boxed_from!(
    crate::webhook::VerifyError,
    crate::webhook::EventError,
    crate::link::ResultError,
    crate::dedupe::DedupeError
);

fn join_issues(issues: &[Issue]) -> String {
    if issues.is_empty() {
        return "no details".to_string();
    }
    issues
        .iter()
        .map(Issue::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The HTTP status of an error answer, if this error is one.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) {
    /// if let Err(err) = client.links().get("link_x").await {
    ///     eprintln!("HTTP status: {:?}", err.status());
    /// }
    /// # }
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.response().map(|r| r.status)
    }

    /// The server's error answer, if this error is one.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) {
    /// if let Err(err) = client.links().get("link_x").await {
    ///     if let Some(answer) = err.response() { eprintln!("raw body: {}", answer.raw); }
    /// }
    /// # }
    /// ```
    pub fn response(&self) -> Option<&ApiErrorBody> {
        match self {
            Error::Validation { response, .. } => response.as_deref(),
            Error::Unauthorized { response }
            | Error::Forbidden { response }
            | Error::NotFound { response }
            | Error::Conflict { response }
            | Error::Expired { response }
            | Error::RateLimited { response, .. }
            | Error::Server { response, .. }
            | Error::UnexpectedStatus { response } => Some(response),
            _ => None,
        }
    }

    /// The metadata of the answer this error came from: every error answer (4xx/5xx), a success
    /// whose body did not decode ([`Error::Decode`]), a refused redirect. `None` for errors
    /// without an answer ([`Error::Transport`], [`Error::Indeterminate`], local validation,
    /// configuration) and for [`Error::BodyTooLarge`] and [`Error::RetryAfterPastDeadline`],
    /// which name their request and status only.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) {
    /// if let Err(err) = client.links().get("link_x").await {
    ///     if let Some(meta) = err.meta() {
    ///         eprintln!("HTTP {} after {} attempt(s)", meta.status, meta.attempts);
    ///     }
    /// }
    /// # }
    /// ```
    pub fn meta(&self) -> Option<&ResponseMeta> {
        match self {
            Error::Decode { meta, .. } => meta.as_deref(),
            Error::Redirect { meta, .. } => Some(meta),
            _ => self.response().map(|r| &r.meta),
        }
    }

    /// The request id the server sent with the answer this error came from (see
    /// [`REQUEST_ID_HEADERS`](crate::client::REQUEST_ID_HEADERS) for where it is read): quote it
    /// when asking Passage about a failed call.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) {
    /// if let Err(err) = client.links().get("link_x").await {
    ///     eprintln!("{err} (request id: {})", err.request_id().unwrap_or("none"));
    /// }
    /// # }
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        self.meta().and_then(|meta| meta.request_id.as_deref())
    }

    /// How many times the failed request was sent (1 plus its retries), for every error of an
    /// HTTP exchange that counts them: those with [`meta`](Self::meta), and
    /// [`Error::Transport`] / [`Error::Indeterminate`].
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) {
    /// if let Err(err) = client.links().list().await {
    ///     eprintln!("gave up after {:?} attempt(s): {err}", err.attempts());
    /// }
    /// # }
    /// ```
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Error::Transport { attempts, .. } | Error::Indeterminate { attempts, .. } => {
                Some(*attempts)
            }
            _ => self.meta().map(|meta| meta.attempts),
        }
    }

    /// Whether an HTTP attempt ran out of time (the per-attempt timeout of the client or of the
    /// call, [`RequestOptions::timeout`](crate::client::RequestOptions::timeout)).
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) {
    /// use std::time::Duration;
    /// match client.links().list().timeout(Duration::from_secs(2)).max_retries(0).await {
    ///     Err(err) if err.is_timeout() => eprintln!("no answer within 2 s"),
    ///     other => { let _ = other; }
    /// }
    /// # }
    /// ```
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Transport { source, .. } | Error::Indeterminate { source, .. } => {
                source.is_timeout()
            }
            _ => false,
        }
    }

    /// Records how many attempts a call made and how long it took, in whichever part of the
    /// error holds them (the retry loop knows them only once it stops).
    pub(crate) fn with_exchange(mut self, attempts: u32, elapsed: Duration) -> Error {
        match &mut self {
            Error::Transport { attempts: n, .. } | Error::Indeterminate { attempts: n, .. } => {
                *n = attempts;
            }
            Error::Decode {
                meta: Some(meta), ..
            }
            | Error::Redirect { meta, .. } => {
                meta.attempts = attempts;
                meta.elapsed = elapsed;
            }
            Error::Validation {
                response: Some(response),
                ..
            }
            | Error::Unauthorized { response }
            | Error::Forbidden { response }
            | Error::NotFound { response }
            | Error::Conflict { response }
            | Error::Expired { response }
            | Error::RateLimited { response, .. }
            | Error::Server { response, .. }
            | Error::UnexpectedStatus { response } => {
                response.meta.attempts = attempts;
                response.meta.elapsed = elapsed;
            }
            _ => {}
        }
        self
    }

    /// Whether trying the same call again later may succeed (429, 5xx, transport errors).
    /// Never true for [`Error::Indeterminate`]: repeating a create may duplicate the link.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) {
    /// match client.links().list().await {
    ///     Err(err) if err.is_transient() => eprintln!("try again later: {err}"),
    ///     other => { let _ = other; }
    /// }
    /// # }
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Server { .. } | Error::Transport { .. } => true,
            Error::UnexpectedStatus { response } => response.status == 408,
            _ => false,
        }
    }

    /// Builds the error for a non-success answer from its status, `Retry-After` and body.
    pub(crate) fn from_response(
        status: u16,
        request: String,
        retry_after: Option<Duration>,
        body: &[u8],
        meta: ResponseMeta,
    ) -> Error {
        // Before anything is kept: an error body may echo the request's credentials.
        let body = &*crate::client::redact_credentials(body);
        let parsed = ParsedBody::parse(body);
        let response = Box::new(ApiErrorBody {
            status,
            request,
            message: parsed
                .message
                .unwrap_or_else(|| default_message(status).to_string()),
            code: parsed.code,
            raw: crate::client::excerpt(body),
            meta,
        });
        let code = response.code.as_deref();
        match (status, code) {
            (400, _) | (_, Some("validation_error")) if status < 500 => Error::Validation {
                issues: parsed.issues,
                origin: ValidationSource::Server,
                response: Some(response),
            },
            (401, _) => Error::Unauthorized { response },
            (403, _) => Error::Forbidden { response },
            (404, _) => Error::NotFound { response },
            (409, _) => Error::Conflict { response },
            (410, _) => Error::Expired { response },
            (429, _) => Error::RateLimited {
                retry_after,
                response,
            },
            (500..=599, _) => Error::Server {
                status,
                message: response.message.clone(),
                response,
            },
            _ => Error::UnexpectedStatus { response },
        }
    }
}

fn default_message(status: u16) -> &'static str {
    match status {
        400 => "bad request (no error message in the body)",
        401 => "unauthorized (no error message in the body)",
        403 => "forbidden (no error message in the body)",
        404 => "not found (no error message in the body)",
        409 => "conflict (no error message in the body)",
        410 => "gone (no error message in the body)",
        429 => "too many requests (no error message in the body)",
        500..=599 => "server error (the body is not a Passage error body)",
        _ => "unexpected status (the body is not a Passage error body)",
    }
}

/// What could be read from an error body of either form.
#[derive(Default)]
struct ParsedBody {
    message: Option<String>,
    code: Option<String>,
    issues: Vec<Issue>,
}

impl ParsedBody {
    fn parse(body: &[u8]) -> ParsedBody {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return ParsedBody::default();
        };
        let mut parsed = ParsedBody::default();
        match map.get("error") {
            Some(Value::String(message)) => parsed.message = Some(message.clone()),
            Some(Value::Object(nested)) => {
                parsed.message = nested
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                parsed.code = nested
                    .get("code")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if let Some(issues) = nested.get("issues") {
                    parsed.issues = parse_issues(issues);
                }
            }
            _ => {}
        }
        if parsed.message.is_none() {
            parsed.message = map
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        if let Some(issues) = map.get("issues") {
            parsed.issues = parse_issues(issues);
        }
        parsed
    }
}

/// Reads `issues` tolerantly: entries that are not objects become an issue with an empty path
/// whose message is the entry's JSON; a `path` given as an array (zod's native form) is joined
/// with dots.
fn parse_issues(value: &Value) -> Vec<Issue> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) => {
                let mut extra = map.clone();
                let path = match extra.remove("path") {
                    Some(Value::String(s)) => s,
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .map(|p| match p {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join("."),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let message = match extra.remove("message") {
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                Issue {
                    path,
                    message,
                    extra,
                }
            }
            Value::String(s) => Issue::new("", s.clone()),
            other => Issue::new("", other.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_errors_carry_into_error_with_one_question_mark() {
        fn verify(headers: &http::HeaderMap) -> Result<(), Error> {
            let verifier = crate::webhook::WebhookVerifier::new(crate::webhook::StaticKeys::new());
            verifier.verify_sync(headers, b"{}")?;
            Ok(())
        }
        let err = verify(&http::HeaderMap::new()).unwrap_err();
        assert!(
            matches!(&err, Error::Webhook(inner) if matches!(**inner, crate::webhook::VerifyError::MissingSignature)),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "X-Passage-Signature: header missing");

        fn decode() -> Result<(), Error> {
            crate::link::decode_link_result_slice("tmobile", &[], b"{}")?;
            Ok(())
        }
        assert!(matches!(decode().unwrap_err(), Error::Result(_)));
    }

    fn err(status: u16, body: &str) -> Error {
        Error::from_response(
            status,
            "GET http://x/v1/links/l".into(),
            None,
            body.as_bytes(),
            ResponseMeta::new(status, reqwest::header::HeaderMap::new()),
        )
    }

    #[test]
    fn both_body_forms_map_to_the_same_variant() {
        let flat = err(404, r#"{"error":"Link not found"}"#);
        let nested = err(
            404,
            r#"{"error":{"code":"not_found","message":"Link not found"}}"#,
        );
        for e in [&flat, &nested] {
            match e {
                Error::NotFound { response } => assert_eq!(response.message, "Link not found"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            nested.response().unwrap().code.as_deref(),
            Some("not_found")
        );
    }

    #[test]
    fn validation_issues_are_parsed_in_both_forms() {
        let flat = err(
            400,
            r#"{"error":"Validation failed","issues":[{"path":"webhookUrl","message":"must be a valid URL"}]}"#,
        );
        let nested = err(
            400,
            r#"{"error":{"code":"validation_error","message":"Validation failed"},"issues":[{"path":["operations",1,"arguments","cvv"],"message":"Required","code":"invalid_type"}]}"#,
        );
        let Error::Validation { issues, origin, .. } = flat else {
            panic!()
        };
        assert_eq!(origin, ValidationSource::Server);
        assert_eq!(
            issues,
            vec![Issue::new("webhookUrl", "must be a valid URL")]
        );
        let Error::Validation { issues, .. } = nested else {
            panic!()
        };
        assert_eq!(issues[0].path, "operations.1.arguments.cvv");
        assert_eq!(issues[0].extra["code"], "invalid_type");
    }

    #[test]
    fn unknown_bodies_are_kept_raw() {
        let e = err(502, "<html>Bad gateway</html>");
        let Error::Server {
            status, response, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*status, 502);
        assert_eq!(response.raw, "<html>Bad gateway</html>");
        assert!(e.is_transient());
    }

    #[test]
    fn every_status_has_its_variant() {
        assert!(matches!(err(401, "{}"), Error::Unauthorized { .. }));
        assert!(matches!(err(403, "{}"), Error::Forbidden { .. }));
        assert!(matches!(err(409, "{}"), Error::Conflict { .. }));
        assert!(matches!(err(410, "{}"), Error::Expired { .. }));
        assert!(matches!(err(429, "{}"), Error::RateLimited { .. }));
        assert!(matches!(err(418, "{}"), Error::UnexpectedStatus { .. }));
    }
}
