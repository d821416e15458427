//! The sandbox page at `appClipUrl` (`GET /sandbox/{linkId}?code=...`), standing in for the
//! Passage App Clip: opening it claims the link; it shows the integration and its operations with
//! editable sample data, a "Complete" button and a "Fail" form, then sends the browser to the
//! link's `returnUrl`. Server-rendered HTML, a few lines of inline JS, no external assets;
//! everything rendered is HTML-escaped.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::control::mock_error_response;
use crate::samples::{assemble_result, operation_samples};
use crate::state::{Shared, DEFAULT_FAILURE_CODE, DEFAULT_FAILURE_MESSAGE};
use crate::store::{now_ms, Link, Status};

/// Failure codes offered by the "Fail" form (Passage's list is open; these are the ones seen).
const FAILURE_CODES: &[&str] = &[
    "AUTOMATION_ERROR",
    "CLIENT_TIMEOUT",
    "CONNECTION_FAILED",
    "UNKNOWN_PROVIDER",
    "RESULT_VALIDATION_ERROR",
    "INTERNAL_ERROR",
];

/// The page routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/sandbox/{link_id}", get(show))
        .route("/sandbox/{link_id}/complete", post(complete))
        .route("/sandbox/{link_id}/fail", post(fail))
        .with_state(shared)
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        title = escape(title),
    );
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Inline style and script only; nothing is fetched from anywhere.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f5f5f7;margin:0}\
main{max-width:760px;margin:2em auto;background:#fff;padding:1.5em 2em;border-radius:12px}\
textarea{width:100%;min-height:12em;font-family:ui-monospace,monospace;font-size:13px}\
.op{border-top:1px solid #ddd;padding-top:1em;margin-top:1em}.muted{color:#666}\
.error{color:#b00020}button{font-size:1em;padding:.5em 1.2em;margin-top:1em}\
code{background:#eee;padding:0 .3em;border-radius:4px}";

fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    html(
        status,
        title,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(message)),
    )
}

fn not_found() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Link not found",
        "No link matches this address and claim code.",
    )
}

/// The link if `code` is its claim code.
fn link_for(shared: &Shared, link_id: &str, code: Option<&String>) -> Option<Link> {
    let code = code?;
    shared.store().get_with_code(link_id, code).cloned()
}

/// `GET /sandbox/{linkId}?code=...`: claims the link and renders the form.
async fn show(
    State(shared): State<Arc<Shared>>,
    Path(link_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(link) = link_for(&shared, &link_id, query.get("code")) else {
        return not_found();
    };
    match shared.store().claim_for_page(&link.id, now_ms()) {
        Some(Status::Active) => {}
        Some(Status::Complete) => {
            return message_page(
                StatusCode::CONFLICT,
                "Already complete",
                "This link has already been completed.",
            )
        }
        Some(Status::Expired) => {
            return message_page(StatusCode::GONE, "Link expired", "This link has expired.")
        }
        _ => return not_found(),
    }
    render_form(&shared, &link, None)
}

fn render_form(shared: &Shared, link: &Link, problem: Option<&str>) -> Response {
    let integration_name = shared
        .registry
        .integration_name(&link.integration_id)
        .unwrap_or(&link.integration_id);
    let (samples, sample_problem) = match operation_samples(&shared.registry, shared.seed, link) {
        Ok(samples) => (samples, None),
        Err(err) => (
            vec![Value::Object(Default::default()); link.operations.len()],
            Some(err.to_string()),
        ),
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<p class=\"muted\">Passage sandbox &middot; link <code>{}</code></p><h1>Connect {}</h1>\
<p class=\"muted\">Integration <code>{}</code>. In production the user logs in here and Passage runs \
the operations below; in the sandbox you choose the outcome.</p>",
        escape(&link.id),
        escape(integration_name),
        escape(&link.integration_id),
    );
    if link.debug {
        body.push_str("<p class=\"muted\">Created with <code>debug: true</code>.</p>");
    }
    for message in [problem, sample_problem.as_deref()].into_iter().flatten() {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(message)
        );
    }
    let _ = write!(
        body,
        "<form id=\"complete-form\" method=\"post\" action=\"/sandbox/{}/complete\">\
<input type=\"hidden\" name=\"code\" value=\"{}\">",
        escape(&link.id),
        escape(&link.claim_code),
    );
    for (index, (op, sample)) in link.operations.iter().zip(&samples).enumerate() {
        let description = shared
            .registry
            .operation(&link.integration_id, &op.resource, &op.action)
            .and_then(|entry| entry.description.clone())
            .unwrap_or_default();
        let pretty = serde_json::to_string_pretty(sample).unwrap_or_else(|_| "{}".into());
        let _ = write!(
            body,
            "<section class=\"op\"><h2>{index_1}. <code>{resource}</code> &middot; <code>{action}</code></h2>\
<p class=\"muted\">{description}</p><label for=\"op_{index}\">Result data (JSON, editable)</label>\
<textarea id=\"op_{index}\" name=\"op_{index}\" spellcheck=\"false\">{pretty}</textarea>\
<p class=\"error\" id=\"op_{index}_error\"></p></section>",
            index_1 = index + 1,
            resource = escape(&op.resource),
            action = escape(&op.action),
            description = escape(&description),
            pretty = escape(&pretty),
        );
    }
    body.push_str("<button type=\"submit\" id=\"complete\">Complete</button></form>");
    let _ = write!(
        body,
        "<form id=\"fail-form\" class=\"op\" method=\"post\" action=\"/sandbox/{}/fail\">\
<input type=\"hidden\" name=\"code\" value=\"{}\"><h2>Or fail the link</h2>\
<label for=\"error_code\">Error code</label> <select id=\"error_code\" name=\"error_code\">",
        escape(&link.id),
        escape(&link.claim_code),
    );
    for code in FAILURE_CODES {
        let _ = write!(body, "<option value=\"{0}\">{0}</option>", escape(code));
    }
    let _ = write!(
        body,
        "</select><br><label for=\"message\">Message</label> \
<input id=\"message\" name=\"message\" size=\"50\" value=\"{}\"><br>\
<button type=\"submit\" id=\"fail\">Fail</button></form>{SCRIPT}",
        escape(DEFAULT_FAILURE_MESSAGE),
    );
    let title = format!("Passage sandbox: {integration_name}");
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(status, &title, &body)
}

/// Refuses to submit result data that is not JSON, and says where.
const SCRIPT: &str = "<script>document.getElementById('complete-form').addEventListener('submit',\
function(e){var ok=true;document.querySelectorAll('textarea').forEach(function(t){\
var out=document.getElementById(t.id+'_error');try{JSON.parse(t.value);out.textContent='';}\
catch(err){ok=false;out.textContent='Not valid JSON: '+err.message;}});if(!ok){e.preventDefault();}});</script>";

/// After an outcome: 303 to the link's `returnUrl`, or a done page without one.
fn finish(link: &Link, title: &str) -> Response {
    if let Some(location) = link
        .return_url
        .as_deref()
        .and_then(|url| HeaderValue::from_str(url).ok())
    {
        let mut response = StatusCode::SEE_OTHER.into_response();
        response.headers_mut().insert(header::LOCATION, location);
        return response;
    }
    message_page(
        StatusCode::OK,
        title,
        "The link has no returnUrl: you can close this page.",
    )
}

/// `POST /sandbox/{linkId}/complete` (form: `code`, `op_0`..`op_N` as JSON text).
async fn complete(
    State(shared): State<Arc<Shared>>,
    Path(link_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(link) = link_for(&shared, &link_id, form.get("code")) else {
        return not_found();
    };
    let mut data = Vec::with_capacity(link.operations.len());
    for index in 0..link.operations.len() {
        let text = form
            .get(&format!("op_{index}"))
            .map(String::as_str)
            .unwrap_or("{}");
        match serde_json::from_str::<Value>(text) {
            Ok(value) => data.push(value),
            Err(err) => {
                let problem = format!("Operation {} result is not valid JSON: {err}", index + 1);
                return render_form(&shared, &link, Some(&problem));
            }
        }
    }
    let result = assemble_result(&link, data);
    match shared.complete_link(&link.id, Some(result)) {
        Ok(link) => finish(&link, "Link complete"),
        Err(err) => mock_error_response(&err),
    }
}

/// `POST /sandbox/{linkId}/fail` (form: `code`, `error_code`, `message`).
async fn fail(
    State(shared): State<Arc<Shared>>,
    Path(link_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(link) = link_for(&shared, &link_id, form.get("code")) else {
        return not_found();
    };
    let code = form
        .get("error_code")
        .filter(|c| !c.trim().is_empty())
        .map(String::as_str)
        .unwrap_or(DEFAULT_FAILURE_CODE);
    let message = form
        .get("message")
        .filter(|m| !m.trim().is_empty())
        .map(String::as_str)
        .unwrap_or(DEFAULT_FAILURE_MESSAGE);
    match shared.fail_link(&link.id, code, message) {
        Ok(link) => finish(&link, "Link failed"),
        Err(err) => mock_error_response(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
    }
}
