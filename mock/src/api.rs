//! The Passage Connect API routes: `/v1/*` (API key required) and the two public endpoints,
//! `POST /link/claim` and `POST /webhook_verification_key/get`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::{json, Value};

use crate::middleware::{error_response, inject_faults, require_api_key, validation_response};
use crate::state::Shared;
use crate::store::{now_ms, parse_cursor, random_id, ClaimOutcome, Status};
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

/// The largest `limit` of `GET /v1/links`.
pub(crate) const MAX_PAGE_SIZE: usize = 1000;

/// `GET /v1/links[?limit=N][&cursor=C]`: links in **creation order** (the emulator's choice;
/// Passage documents no order), without `result` and `error`. Paging is undocumented upstream;
/// the emulator pages so clients that follow a cursor are tested: with `limit` (1 to
/// [`MAX_PAGE_SIZE`]) at most that many links, and `"nextCursor"` when more remain; `cursor` (a
/// `nextCursor` value) continues after the link it names. Without `limit` every remaining link
/// is returned, as before paging existed. Other query parameters are ignored; a malformed
/// `limit` or `cursor` is a 400 validation error naming it.
async fn list_links(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let (limit, after) = match list_query(query.as_deref().unwrap_or_default()) {
        Ok(parsed) => parsed,
        Err(issues) => return validation_response(issues),
    };
    let now = now_ms();
    let store = shared.store();
    let page = store.page(after, limit);
    let links: Vec<_> = page
        .links
        .iter()
        .map(|link| link.to_json(now, false))
        .collect();
    let mut body = json!({ "links": links });
    if let (Some(cursor), Some(map)) = (page.next_cursor, body.as_object_mut()) {
        map.insert("nextCursor".into(), Value::String(cursor));
    }
    Json(body).into_response()
}

/// Reads `limit` and `cursor` from a `GET /v1/links` query string.
fn list_query(query: &str) -> Result<(Option<usize>, Option<u64>), Vec<Issue>> {
    let mut limit = None;
    let mut after = None;
    let mut issues = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => limit = Some(n),
                _ => issues.push(Issue {
                    path: "limit".into(),
                    message: format!("must be an integer from 1 to {MAX_PAGE_SIZE}"),
                }),
            },
            "cursor" => match parse_cursor(&value) {
                Some(seq) => after = Some(seq),
                None => issues.push(Issue {
                    path: "cursor".into(),
                    message: "not a cursor this server gave out (use nextCursor)".into(),
                }),
            },
            _ => {}
        }
    }
    if issues.is_empty() {
        Ok((limit, after))
    } else {
        Err(issues)
    }
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
