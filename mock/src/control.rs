//! The control API under `/sandbox` (no auth, never faulted): drive links, inject faults, rotate
//! the signing key, read the webhook delivery log. Documented in the crate README.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::MockError;
use crate::fault::{parse_fault_request, FaultRequest};
use crate::middleware::{error_response, validation_response};
use crate::state::{Shared, DEFAULT_FAILURE_CODE, DEFAULT_FAILURE_MESSAGE};
use crate::store::now_ms;
use crate::validation::Issue;

/// One control route, for people: `passage mock` prints these on start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlRoute {
    /// The HTTP method.
    pub method: &'static str,
    /// The path, `{id}` standing for a link id.
    pub path: &'static str,
    /// What it does.
    pub effect: &'static str,
}

/// Every control route the emulator serves (a test checks each one is routed).
pub const CONTROL_ROUTES: &[ControlRoute] = &[
    ControlRoute {
        method: "POST",
        path: "/sandbox/links/{id}/complete",
        effect:
            "complete the link (optional {\"result\": ...}, else sample data); sends link.complete",
    },
    ControlRoute {
        method: "POST",
        path: "/sandbox/links/{id}/fail",
        effect: "fail the link (optional {\"code\",\"message\"}); sends link.failed",
    },
    ControlRoute {
        method: "POST",
        path: "/sandbox/links/{id}/expire",
        effect: "expire the link now",
    },
    ControlRoute {
        method: "POST",
        path: "/sandbox/faults",
        effect: "inject a fault, e.g. {\"route\":\"POST /v1/links\",\"status\":503,\"times\":2}, or {\"route\":\"webhooks\",\"reorder\":true} (one link's webhooks delivered concurrently)",
    },
    ControlRoute {
        method: "DELETE",
        path: "/sandbox/faults",
        effect: "clear every fault",
    },
    ControlRoute {
        method: "POST",
        path: "/sandbox/keys/rotate",
        effect: "rotate the webhook signing key",
    },
    ControlRoute {
        method: "GET",
        path: "/sandbox/webhooks",
        effect: "the webhook delivery log",
    },
];

/// The control routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/sandbox/links/{id}/complete", post(complete))
        .route("/sandbox/links/{id}/fail", post(fail))
        .route("/sandbox/links/{id}/expire", post(expire))
        .route("/sandbox/faults", post(add_fault).delete(clear_faults))
        .route("/sandbox/keys/rotate", post(rotate_key))
        .route("/sandbox/webhooks", get(webhooks))
        .with_state(shared)
}

/// Maps a control operation's error to a status and `{"error"}` body.
pub(crate) fn mock_error_response(err: &MockError) -> Response {
    let status = match err {
        MockError::LinkNotFound { .. } => StatusCode::NOT_FOUND,
        MockError::InvalidState { status, .. } if status == "expired" => StatusCode::GONE,
        MockError::InvalidState { .. } => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_response(status, &err.to_string())
}

/// An optional JSON object body: empty means `{}`.
fn optional_object(body: &Bytes) -> Result<serde_json::Map<String, Value>, Vec<Issue>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(vec![Issue {
            path: String::new(),
            message: "expected a JSON object".into(),
        }]),
        Err(err) => Err(vec![Issue {
            path: String::new(),
            message: format!("Invalid JSON: {err}"),
        }]),
    }
}

fn link_json(shared: &Shared, id: &str) -> Response {
    match shared.store().get(id) {
        Some(link) => Json(link.to_json(now_ms(), true)).into_response(),
        None => error_response(StatusCode::NOT_FOUND, "Link not found"),
    }
}

/// `POST /sandbox/links/{id}/complete`, body optional `{"result": <JSON>}` (used verbatim).
async fn complete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut object = match optional_object(&body) {
        Ok(object) => object,
        Err(issues) => return validation_response(issues),
    };
    match shared.complete_link(&id, object.remove("result")) {
        Ok(_) => link_json(&shared, &id),
        Err(err) => mock_error_response(&err),
    }
}

/// `POST /sandbox/links/{id}/fail`, body optional `{"code","message"}`.
async fn fail(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Response {
    let object = match optional_object(&body) {
        Ok(object) => object,
        Err(issues) => return validation_response(issues),
    };
    let mut issues = Vec::new();
    let mut text = |key: &str, default: &str| match object.get(key) {
        None | Some(Value::Null) => default.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            issues.push(Issue {
                path: key.to_string(),
                message: "expected a string".into(),
            });
            String::new()
        }
    };
    let code = text("code", DEFAULT_FAILURE_CODE);
    let message = text("message", DEFAULT_FAILURE_MESSAGE);
    if !issues.is_empty() {
        return validation_response(issues);
    }
    match shared.fail_link(&id, &code, &message) {
        Ok(_) => link_json(&shared, &id),
        Err(err) => mock_error_response(&err),
    }
}

/// `POST /sandbox/links/{id}/expire`.
async fn expire(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.expire_link(&id) {
        Ok(_) => link_json(&shared, &id),
        Err(err) => mock_error_response(&err),
    }
}

/// `POST /sandbox/faults`: the JSON form of a [`Fault`](crate::Fault), or
/// `{"route":"webhooks","reorder":true}` for [`WebhookFault::Reorder`](crate::fault::WebhookFault).
async fn add_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let value = match serde_json::from_slice::<Value>(&body) {
        Ok(value) => value,
        Err(err) => {
            return validation_response(vec![Issue {
                path: String::new(),
                message: format!("Invalid JSON: {err}"),
            }])
        }
    };
    match parse_fault_request(&value) {
        Ok(FaultRequest::Webhooks(fault)) => {
            let answer = json!({
                "route": "webhooks",
                "kind": format!("{:?}", fault.kind),
                "times": fault.times,
            });
            shared.add_webhook_fault(fault);
            (StatusCode::CREATED, Json(answer)).into_response()
        }
        Ok(FaultRequest::Api(fault)) => {
            let answer = json!({
                "route": fault.route.as_str(),
                "kind": format!("{:?}", fault.kind),
                "times": fault.times,
            });
            shared.add_fault(fault);
            (StatusCode::CREATED, Json(answer)).into_response()
        }
        Err((path, message)) => validation_response(vec![Issue { path, message }]),
    }
}

/// `DELETE /sandbox/faults`.
async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.clear_faults();
    StatusCode::NO_CONTENT
}

/// `POST /sandbox/keys/rotate`: a new current signing key; the old ones stay fetchable.
async fn rotate_key(State(shared): State<Arc<Shared>>) -> Response {
    let mut keys = shared.keys();
    let kid = keys.rotate(now_ms());
    let pem = keys.current_public_pem();
    Json(json!({"key_id": kid, "key": pem, "algorithm": "ES256"})).into_response()
}

/// `GET /sandbox/webhooks`: the logged delivery attempts, oldest first (bounded: see the README).
async fn webhooks(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.delivery_log_json()).into_response()
}
