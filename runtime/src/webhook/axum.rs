//! axum extractors for verified Passage webhooks (cargo feature `axum`).
//!
//! [`VerifiedWebhookEvent`] reads the raw body (at most the verifier's
//! [`max_body_size`](WebhookVerifier::max_body_size)), verifies `X-Passage-Signature` with the
//! [`WebhookVerifier`] taken from the router's state ([`FromRef`]), then parses the event.
//! [`VerifiedWebhook`] itself is an extractor too, for handlers that parse later. Refusals are a
//! [`WebhookRejection`]: a status and a short message that names no key id, algorithm or hash;
//! the full [`VerifyError`] is logged at `debug` (key fetch failures at `warn`) and kept in the
//! rejection.
//!
//! ```no_run
//! use axum::{routing::post, Router};
//! use passage_connect::webhook::axum::VerifiedWebhookEvent;
//! use passage_connect::webhook::{RemoteKeys, WebhookEvent, WebhookVerifier};
//!
//! async fn webhook(VerifiedWebhookEvent { event, .. }: VerifiedWebhookEvent) -> &'static str {
//!     if let WebhookEvent::LinkComplete(link) = event {
//!         println!("{} complete", link.link_id);
//!     }
//!     "ok"
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let verifier = WebhookVerifier::new(RemoteKeys::new("https://connect.getpassage.ai"));
//! let app = Router::new().route("/webhooks/passage", post(webhook)).with_state(verifier);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

use std::future::poll_fn;
use std::pin::Pin;

use ::axum::body::{Body, HttpBody};
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::http::{header, StatusCode};
use ::axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};

use super::{EventError, VerifiedWebhook, VerifyError, WebhookEvent, WebhookVerifier};

/// A webhook whose signature checked out, with its parsed event.
///
/// Use as a handler argument; the router's state must give a [`WebhookVerifier`] (the verifier
/// itself as state, or a field of your state with `#[derive(FromRef)]` / a manual
/// `impl FromRef<YourState> for WebhookVerifier`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedWebhookEvent {
    /// The verified webhook: raw body, key id, signing time.
    pub webhook: VerifiedWebhook,
    /// The parsed event.
    pub event: WebhookEvent,
}

/// Why a webhook request was refused, and the response sent for it.
///
/// | cause | status |
/// |---|---|
/// | body larger than the verifier's maximum | 413 |
/// | body could not be read | 400 |
/// | signature headers missing or malformed | 400 |
/// | signature, key id, algorithm, body hash or time refused | 401 |
/// | the verification key could not be fetched | 503 (so Passage retries) |
/// | verified body is not a webhook event | 400 |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The body is larger than the verifier's maximum.
    #[error("webhook body larger than {max} bytes")]
    BodyTooLarge {
        /// The verifier's maximum body size.
        max: usize,
    },
    /// Reading the body failed (client went away, bad chunked encoding).
    #[error("could not read the webhook body: {source}")]
    BodyUnreadable {
        /// The transport's error.
        #[source]
        source: ::axum::Error,
    },
    /// Verification failed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The verified body is not a webhook event.
    #[error(transparent)]
    Event(#[from] EventError),
}

impl WebhookRejection {
    /// The HTTP status sent back.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable { .. } | Self::Event(_) => StatusCode::BAD_REQUEST,
            Self::Verify(err) => verify_status(err),
        }
    }

    /// The short response body: says which class of check failed, never echoes request data.
    pub fn public_message(&self) -> &'static str {
        match self {
            Self::BodyTooLarge { .. } => "webhook body too large",
            Self::BodyUnreadable { .. } => "could not read webhook body",
            Self::Event(_) => "webhook body is not a valid event",
            Self::Verify(err) => match verify_status(err) {
                StatusCode::PAYLOAD_TOO_LARGE => "webhook body too large",
                StatusCode::BAD_REQUEST => "missing or malformed webhook signature headers",
                StatusCode::SERVICE_UNAVAILABLE => {
                    "webhook verification key unavailable, retry later"
                }
                _ => "webhook signature rejected",
            },
        }
    }

    /// The verification error, if that was the cause.
    pub fn verify_error(&self) -> Option<&VerifyError> {
        match self {
            Self::Verify(err) => Some(err),
            _ => None,
        }
    }
}

fn verify_status(err: &VerifyError) -> StatusCode {
    match err {
        VerifyError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        VerifyError::MissingSignature
        | VerifyError::MultipleSignatures { .. }
        | VerifyError::SignatureHeaderTooLarge { .. }
        | VerifyError::SignatureNotAscii
        | VerifyError::MalformedJwt { .. }
        | VerifyError::InvalidBase64 { .. }
        | VerifyError::HeaderNotJson { .. }
        | VerifyError::DuplicateHeaderKey { .. }
        | VerifyError::MissingTimestamp
        | VerifyError::InvalidTimestamp => StatusCode::BAD_REQUEST,
        VerifyError::KeyUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        // Algorithm, type, crit, kid, signature, claims, body hash, time, and any check added
        // later: the request is not authentic.
        _ => StatusCode::UNAUTHORIZED,
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self, "passage webhook refused");
        } else {
            tracing::debug!(error = %self, "passage webhook refused");
        }
        (self.status(), self.public_message()).into_response()
    }
}

impl<S> FromRequest<S> for VerifiedWebhook
where
    WebhookVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = WebhookVerifier::from_ref(state);
        let (parts, body) = req.into_parts();
        let max = verifier.max_body_size();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max as u64) {
            return Err(WebhookRejection::BodyTooLarge { max });
        }
        let body = read_limited(body, max).await?;
        Ok(verifier.verify_bytes(&parts.headers, body).await?)
    }
}

impl<S> FromRequest<S> for VerifiedWebhookEvent
where
    WebhookVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let webhook = VerifiedWebhook::from_request(req, state).await?;
        let event = webhook.event()?;
        Ok(Self { webhook, event })
    }
}

/// Collects the body, failing as soon as it passes `max` bytes (whatever Content-Length said).
async fn read_limited(mut body: Body, max: usize) -> Result<Bytes, WebhookRejection> {
    let mut buf = BytesMut::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|source| WebhookRejection::BodyUnreadable { source })?;
        if let Ok(data) = frame.into_data() {
            if buf.len().saturating_add(data.len()) > max {
                return Err(WebhookRejection::BodyTooLarge { max });
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::{ManualClock, StaticKeys};

    #[test]
    fn statuses_by_class() {
        let r = WebhookRejection::from(VerifyError::MissingSignature);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = WebhookRejection::from(VerifyError::BadSignature {
            kid: "secret-looking-kid".into(),
        });
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(!r.public_message().contains("secret-looking-kid"));
        let r = WebhookRejection::from(VerifyError::BodyHashMismatch);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = WebhookRejection::BodyTooLarge { max: 10 };
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn oversized_body_is_refused_while_reading() {
        let verifier = WebhookVerifier::new(StaticKeys::new())
            .with_max_body_size(8)
            .with_clock(ManualClock::at_unix_secs(1_704_067_200));
        // No Content-Length: the limit is enforced on the bytes read.
        let req = Request::builder()
            .method("POST")
            .body(Body::from(vec![b'x'; 9]))
            .unwrap();
        let err = VerifiedWebhook::from_request(req, &verifier)
            .await
            .unwrap_err();
        assert!(
            matches!(err, WebhookRejection::BodyTooLarge { max: 8 }),
            "{err:?}"
        );
        let req = Request::builder()
            .method("POST")
            .header(header::CONTENT_LENGTH, "100")
            .body(Body::from(vec![b'x'; 100]))
            .unwrap();
        let err = VerifiedWebhook::from_request(req, &verifier)
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // Within the limit, the verifier runs: no signature header.
        let req = Request::builder()
            .method("POST")
            .body(Body::from(vec![b'x'; 8]))
            .unwrap();
        let err = VerifiedWebhook::from_request(req, &verifier)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            WebhookRejection::Verify(VerifyError::MissingSignature)
        ));
    }
}
