//! Error bodies, the `/v1/*` API key check, the `Host` and JSON `POST` checks, and the fault
//! injection layer; the `x-request-id` every answer carries.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::fault::{FaultKind, FaultRoute};
use crate::serve::ConnectionControl;
use crate::state::Shared;
use crate::validation::Issue;

/// The newest error body: `{"error":"<message>"}`.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `400 {"error":"Validation failed","issues":[...]}`.
pub(crate) fn validation_response(issues: Vec<Issue>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "Validation failed", "issues": issues })),
    )
        .into_response()
}

/// The older error code for a status, as in `{"error":{"code":"not_found",...}}`.
fn nested_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "validation_error",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        410 => "gone",
        429 => "rate_limited",
        _ => "internal_error",
    }
}

/// Requires `Authorization: Bearer <accepted key>` (scheme case-insensitive).
pub(crate) async fn require_api_key(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, key) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        });
    match presented {
        Some(key) if shared.accepts_api_key(key) => next.run(request).await,
        _ => {
            let mut response = error_response(StatusCode::UNAUTHORIZED, "Unauthorized");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

/// Applies the first matching injected fault, if any, to an API request.
pub(crate) async fn inject_faults(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| FaultRoute::from_matched(request.method().as_str(), path.as_str()));
    let Some(kind) = route.and_then(|route| shared.take_fault(route)) else {
        return next.run(request).await;
    };
    match kind {
        FaultKind::Status {
            status,
            retry_after,
        } => {
            // `Fault::from_json` only lets 400..=599 through; a fault built in Rust is held to the
            // same rule here rather than answering a 1xx/2xx as an "error".
            let status = StatusCode::from_u16(status)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response =
                error_response(status, &format!("Injected fault ({})", status.as_u16()));
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        FaultKind::Delay(delay) => {
            let bound = std::time::Duration::from_millis(crate::fault::MAX_FAULT_DELAY_MS);
            tokio::time::sleep(delay.min(bound)).await;
            next.run(request).await
        }
        FaultKind::DropConnection => {
            let control = request.extensions().get::<ConnectionControl>().cloned();
            // The request takes effect (a link is created) before the connection goes away.
            let _discarded = next.run(request).await;
            match control {
                Some(control) => {
                    control.drop_connection();
                    // The connection task drops this future together with the socket.
                    std::future::pending::<Response>().await
                }
                None => error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "DropConnection fault outside a served connection",
                ),
            }
        }
        FaultKind::MalformedJson => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
            let cut = if bytes.len() >= 2 {
                bytes.slice(..bytes.len() / 2)
            } else {
                axum::body::Bytes::from_static(b"{")
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Response::from_parts(parts, Body::from(cut))
        }
        FaultKind::NestedErrorBody {
            status: Some(status),
        } => {
            let status = StatusCode::from_u16(status)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = status.canonical_reason().unwrap_or("Error");
            (
                status,
                Json(json!({"error": {"code": nested_code(status), "message": message}})),
            )
                .into_response()
        }
        FaultKind::NestedErrorBody { status: None } => {
            let response = next.run(request).await;
            if response.status().is_success() {
                return response;
            }
            nest_error_body(response).await
        }
    }
}

/// Rewrites `{"error":"msg", ...}` into `{"error":{"code","message":"msg"}, ...}`.
async fn nest_error_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(Value::String(message)) = map.remove("error") {
        map.insert(
            "error".into(),
            json!({"code": nested_code(parts.status), "message": message}),
        );
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Json(Value::Object(map)).into_response().into_body())
}

/// Whether a `Content-Type` is JSON: `application/json` or `application/<x>+json`, any
/// parameters (`; charset=utf-8`).
fn is_json_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Requires a JSON `Content-Type` on every `POST` (415 otherwise), even with an empty body.
///
/// Why: a web page on another origin may send a browser "simple request" (`text/plain`, a form
/// encoding, or no body at all) to 127.0.0.1 without any CORS preflight, and so drive the control
/// API while its user browses. A JSON content type forces a preflight the emulator never grants.
pub(crate) async fn require_json_post(request: Request, next: Next) -> Response {
    if request.method() == axum::http::Method::POST {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_content_type);
        if !json {
            return error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json (on every POST, even with an empty body)",
            );
        }
    }
    next.run(request).await
}

/// The `Host` values the emulator answers to (every route): the bound address,
/// `localhost`/`127.0.0.1`/`[::1]` with the bound port or none, and the host of a configured
/// public URL.
#[derive(Debug, Clone)]
pub(crate) struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    pub(crate) fn new(bound: std::net::SocketAddr, public_url: Option<&str>) -> Self {
        let port = bound.port();
        let mut hosts = vec![
            bound.to_string(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
            // A loopback name without a port (hand-written requests send it): a rebinding page
            // cannot produce it, its requests carry the attacker's own name.
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "[::1]".to_string(),
        ];
        if let Some(url) = public_url.and_then(|u| url::Url::parse(u).ok()) {
            if let Some(host) = url.host_str() {
                hosts.push(host.to_string());
                if let Some(port) = url.port_or_known_default() {
                    hosts.push(format!("{host}:{port}"));
                }
            }
        }
        hosts.iter_mut().for_each(|h| h.make_ascii_lowercase());
        Self(hosts)
    }

    fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.0.contains(&host)
    }
}

/// Refuses (403 JSON) a request whose `Host` is not the emulator's own address.
///
/// Why: with DNS rebinding, a page from `evil.example` can resolve its own name to 127.0.0.1 and
/// then read and drive the emulator as same-origin; its requests still carry
/// `Host: evil.example:PORT`, which this check refuses.
pub(crate) async fn require_local_host(
    State(allowed): State<Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    match host {
        Some(host) if allowed.allows(host) => next.run(request).await,
        Some(host) => error_response(
            StatusCode::FORBIDDEN,
            &format!(
                "Host `{}` is not this emulator's address; it answers only to {}",
                host.chars().take(100).collect::<String>(),
                allowed.0.join(", ")
            ),
        ),
        None => error_response(StatusCode::FORBIDDEN, "the Host header is missing"),
    }
}

/// Gives every error answer that is neither JSON nor HTML (axum's plain-text rejections such as
/// `413 Payload Too Large`, an empty `405`) the `{"error": ...}` body every other error has.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if is_json_content_type(&content_type) || content_type.starts_with("text/html") {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Rejection texts are short; the cap only guards against an unexpected large body.
    let text = to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("Error").to_string(),
        text => text.to_string(),
    };
    let mut json = error_response(status, &message);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

/// The header every emulator answer carries with a fresh id.
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// Adds `x-request-id: req_<16 random alphanumerics>` to every answer (API, control API, sandbox
/// page, rejections), as an API behind a gateway does, so clients can test reading it. Passage
/// documents no request-id header; the SDK reads this one among others.
pub(crate) async fn add_request_id(request: Request, next: Next) -> Response {
    use rand::distributions::{Alphanumeric, DistString as _};
    let mut response = next.run(request).await;
    let id = format!(
        "req_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 16)
    );
    // Alphanumerics and `_` are always a valid header value; the fallback never runs.
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .entry(REQUEST_ID_HEADER)
            .or_insert(value);
    }
    response
}
