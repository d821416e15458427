//! Error bodies, the `/v1/*` API key check and the fault injection layer.

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
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
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
            tokio::time::sleep(delay).await;
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
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
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
