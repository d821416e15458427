//! The Passage Connect API routes: `/v1/*` (API key required) and the two public endpoints,
//! `POST /link/claim` and `POST /webhook_verification_key/get`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::{json, Value};

use crate::middleware::{error_response, inject_faults, require_api_key, validation_response};
use crate::state::Shared;
use crate::store::{now_ms, random_id, ClaimOutcome, Status};
use crate::validation::{validate_create, Issue};

/// The API router: faults wrap everything, the key check wraps `/v1/*`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let v1 = Router::new()
        .route("/v1/providers", get(providers))
        .route("/v1/links", post(create_link).get(list_links))
        .route("/v1/links/{id}", get(get_link))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            require_api_key,
        ));
    Router::new()
        .merge(v1)
        .route("/link/claim", post(claim_link))
        .route("/webhook_verification_key/get", post(verification_key))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            inject_faults,
        ))
        .with_state(shared)
}

/// `GET /v1/providers`: the catalog as configured.
async fn providers(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        shared.catalog_json.clone(),
    )
        .into_response()
}

/// Parses a JSON request body; an unparsable one is a validation issue at the root.
fn parse_body(body: &Bytes) -> Result<Value, Vec<Issue>> {
    serde_json::from_slice(body).map_err(|err| {
        vec![Issue {
            path: String::new(),
            message: format!("Invalid JSON: {err}"),
        }]
    })
}

/// `POST /v1/links`.
async fn create_link(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request =
        match parse_body(&body).and_then(|value| validate_create(&shared.registry, &value)) {
            Ok(request) => request,
            Err(issues) => return validation_response(issues),
        };
    let link = shared.store().create(request, now_ms());
    (
        StatusCode::CREATED,
        Json(link.created_json(&shared.public_url)),
    )
        .into_response()
}

/// `GET /v1/links/{id}`.
async fn get_link(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let store = shared.store();
    match store.get(&id) {
        Some(link) => Json(link.to_json(now_ms(), true)).into_response(),
        None => error_response(StatusCode::NOT_FOUND, "Link not found"),
    }
}

/// `GET /v1/links`: every link in creation order, without `result` and `error`. Query
/// parameters (filters, cursors) are undocumented and ignored.
async fn list_links(State(shared): State<Arc<Shared>>) -> Response {
    let now = now_ms();
    let store = shared.store();
    let links: Vec<_> = store.all().map(|link| link.to_json(now, false)).collect();
    Json(json!({ "links": links })).into_response()
}

/// `POST /link/claim` (public).
async fn claim_link(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| {
            value
                .get("code")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    if code.trim().is_empty() {
        return error_response(StatusCode::BAD_REQUEST, "Claim code is required");
    }
    let outcome = shared.store().claim(code.trim(), now_ms());
    match outcome {
        ClaimOutcome::Claimed {
            link_id,
            session_id,
            expires_at,
        } => Json(json!({
            "linkId": link_id,
            "sessionId": session_id,
            "clientToken": random_id("ct_"),
            "websocketUrl": shared.websocket_url(&session_id),
            "expiresAt": expires_at,
        }))
        .into_response(),
        ClaimOutcome::NotFound => error_response(StatusCode::NOT_FOUND, "Link not found"),
        ClaimOutcome::Conflict(Status::Complete) => {
            error_response(StatusCode::CONFLICT, "Link already completed")
        }
        ClaimOutcome::Conflict(_) => {
            error_response(StatusCode::CONFLICT, "Link is already claimed")
        }
        ClaimOutcome::Expired => error_response(StatusCode::GONE, "Link expired"),
    }
}

/// `POST /webhook_verification_key/get` (public).
///
/// Answers `{"key_id","key","algorithm":"ES256","created_at"}` for any key this emulator ever
/// signed with (rotated keys stay fetchable). The answer for an unknown id is **undocumented**:
/// the emulator answers `404 {"error":"Key not found"}`; a missing `key_id` gets 400.
async fn verification_key(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let key_id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| {
            value
                .get("key_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let Some(key_id) = key_id.filter(|id| !id.is_empty()) else {
        return error_response(StatusCode::BAD_REQUEST, "key_id is required");
    };
    let keys = shared.keys();
    match keys.get(&key_id) {
        Some(entry) => Json(json!({
            "key_id": entry.kid,
            "key": entry.key.public_key_pem(),
            "algorithm": "ES256",
            "created_at": entry.created_at,
        }))
        .into_response(),
        None => error_response(StatusCode::NOT_FOUND, "Key not found"),
    }
}
