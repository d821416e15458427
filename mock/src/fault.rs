//! Fault injection: make the next N matching API requests fail in a chosen way, so clients can be
//! tested against outages, slow answers, dropped connections, broken JSON and old error bodies;
//! and make webhook deliveries of one link overlap again ([`WebhookFault::Reorder`]), so
//! receivers can be tested against events that arrive out of order.

use std::time::Duration;

use serde_json::Value;

/// Which API route a [`Fault`] applies to. Faults never apply to the `/sandbox` control API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultRoute {
    /// `POST /v1/links`.
    CreateLink,
    /// `GET /v1/links/{id}`.
    GetLink,
    /// `GET /v1/links`.
    ListLinks,
    /// `GET /v1/providers`.
    Providers,
    /// `POST /link/claim`.
    ClaimLink,
    /// `POST /webhook_verification_key/get`.
    VerificationKey,
    /// Every API route above.
    Any,
}

impl FaultRoute {
    /// The route as written in the control API (`"POST /v1/links"`), `"*"` for [`FaultRoute::Any`].
    pub fn as_str(self) -> &'static str {
        match self {
            FaultRoute::CreateLink => "POST /v1/links",
            FaultRoute::GetLink => "GET /v1/links/{id}",
            FaultRoute::ListLinks => "GET /v1/links",
            FaultRoute::Providers => "GET /v1/providers",
            FaultRoute::ClaimLink => "POST /link/claim",
            FaultRoute::VerificationKey => "POST /webhook_verification_key/get",
            FaultRoute::Any => "*",
        }
    }

    /// Parses the control API form; `{linkId}`/`{link_id}` are accepted for `{id}`.
    pub fn parse(text: &str) -> Option<FaultRoute> {
        let normalized = text
            .trim()
            .replace("{linkId}", "{id}")
            .replace("{link_id}", "{id}")
            .replace(":id", "{id}");
        [
            FaultRoute::CreateLink,
            FaultRoute::GetLink,
            FaultRoute::ListLinks,
            FaultRoute::Providers,
            FaultRoute::ClaimLink,
            FaultRoute::VerificationKey,
            FaultRoute::Any,
        ]
        .into_iter()
        .find(|route| route.as_str().eq_ignore_ascii_case(&normalized))
        .or_else(|| matches!(normalized.as_str(), "" | "any" | "ANY").then_some(FaultRoute::Any))
    }

    /// The route served by `method` + axum's matched path template, if it is an API route.
    pub(crate) fn from_matched(method: &str, template: &str) -> Option<FaultRoute> {
        match (method, template) {
            ("POST", "/v1/links") => Some(FaultRoute::CreateLink),
            ("GET", "/v1/links/{id}") => Some(FaultRoute::GetLink),
            ("GET", "/v1/links") => Some(FaultRoute::ListLinks),
            ("GET", "/v1/providers") => Some(FaultRoute::Providers),
            ("POST", "/link/claim") => Some(FaultRoute::ClaimLink),
            ("POST", "/webhook_verification_key/get") => Some(FaultRoute::VerificationKey),
            _ => None,
        }
    }

    fn matches(self, route: FaultRoute) -> bool {
        self == FaultRoute::Any || self == route
    }
}

/// What a [`Fault`] does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer `status` with `{"error":"Injected fault (<status>)"}` without running the handler;
    /// with `retry_after`, also send `Retry-After: <seconds>`.
    Status {
        /// The HTTP status, e.g. 503 or 429.
        status: u16,
        /// `Retry-After` seconds to send, if any.
        retry_after: Option<u64>,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Handle the request (a `POST /v1/links` really creates its link), then close the TCP
    /// connection without sending any response: the client sees a connection-level error.
    DropConnection,
    /// Handle the request, keep its status and headers, but send a truncated, unparsable JSON body.
    MalformedJson,
    /// Use the older nested error body `{"error":{"code":"not_found","message":"..."}}`.
    /// With `status: None` the request is handled normally and an error answer it produces is
    /// rewritten into the nested form (codes: `validation_error`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `internal_error`; `issues` stays beside `error`). With
    /// `status: Some(s)` the handler is skipped and the answer is `s` with a nested body.
    NestedErrorBody {
        /// The status to answer with instead of handling the request, if any.
        status: Option<u16>,
    },
}

/// One injected fault: `kind` applies to the next `times` requests on `route`.
///
/// ```
/// use passage_mock::{Fault, FaultKind, FaultRoute};
/// let fault = Fault::new(FaultRoute::CreateLink, FaultKind::Status { status: 503, retry_after: Some(2) })
///     .times(2);
/// assert_eq!(fault.times, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The route it applies to.
    pub route: FaultRoute,
    /// What it does.
    pub kind: FaultKind,
    /// How many matching requests it applies to; `0` means every one until
    /// [`MockServer::clear_faults`](crate::MockServer::clear_faults).
    pub times: u32,
}

impl Fault {
    /// A fault applying once to `route`.
    pub fn new(route: FaultRoute, kind: FaultKind) -> Self {
        Fault {
            route,
            kind,
            times: 1,
        }
    }

    /// Applies to the next `times` matching requests (`0`: all of them).
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    /// Parses the control API's JSON form (`POST /sandbox/faults`), naming the field at fault.
    ///
    /// Keys: `route` (default `*`), `times` (default 1), and exactly one of `status` (+ optional
    /// `retryAfter`), `delayMs`, `drop: true`, `malformed: true`, `errorStyle: "nested"` (+ optional
    /// `status`).
    pub fn from_json(value: &Value) -> Result<Fault, (String, String)> {
        let object = value
            .as_object()
            .ok_or_else(|| (String::new(), "expected a JSON object".to_string()))?;
        let route = match object.get("route") {
            None | Some(Value::Null) => FaultRoute::Any,
            Some(Value::String(text)) => FaultRoute::parse(text).ok_or_else(|| {
                (
                    "route".to_string(),
                    format!("unknown route `{text}`; expected e.g. \"POST /v1/links\", \"GET /v1/links/{{id}}\" or \"*\""),
                )
            })?,
            Some(_) => return Err(("route".into(), "expected a string".into())),
        };
        let times = match object.get("times") {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    (
                        "times".to_string(),
                        "expected a non-negative integer".to_string(),
                    )
                })?,
        };
        let status = match object.get("status") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_status(v)?),
        };
        let nested = match object.get("errorStyle") {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) if s == "nested" => true,
            Some(Value::String(s)) if s == "string" => false,
            Some(_) => {
                return Err((
                    "errorStyle".into(),
                    "expected \"nested\" (or \"string\", the default)".into(),
                ))
            }
        };
        let flag = |name: &str| -> Result<bool, (String, String)> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err((name.to_string(), "expected a boolean".to_string())),
            }
        };
        let drop = flag("drop")?;
        let malformed = flag("malformed")?;
        let delay = match object.get("delayMs") {
            None | Some(Value::Null) => None,
            Some(v) => Some(Duration::from_millis(
                v.as_u64()
                    .filter(|ms| *ms <= MAX_FAULT_DELAY_MS)
                    .ok_or_else(|| {
                        (
                            "delayMs".to_string(),
                            format!("expected an integer from 0 to {MAX_FAULT_DELAY_MS}"),
                        )
                    })?,
            )),
        };
        let retry_after = match object.get("retryAfter") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                (
                    "retryAfter".to_string(),
                    "expected a non-negative integer".to_string(),
                )
            })?),
        };

        let chosen = [nested, drop, malformed, delay.is_some()]
            .iter()
            .filter(|b| **b)
            .count()
            + usize::from(status.is_some() && !nested);
        if chosen != 1 {
            return Err((
                String::new(),
                "give exactly one of `status`, `delayMs`, `drop`, `malformed`, `errorStyle`".into(),
            ));
        }
        let kind = if nested {
            FaultKind::NestedErrorBody { status }
        } else if drop {
            FaultKind::DropConnection
        } else if malformed {
            FaultKind::MalformedJson
        } else if let Some(delay) = delay {
            FaultKind::Delay(delay)
        } else if let Some(status) = status {
            FaultKind::Status {
                status,
                retry_after,
            }
        } else {
            unreachable!("exactly one kind was counted")
        };
        Ok(Fault { route, kind, times })
    }
}

/// A fault of webhook delivery rather than of an API route (the control API's
/// `{"route":"webhooks", ...}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookFault {
    /// By default the emulator delivers one link's events in the order they happened (a later
    /// event's first attempt waits until the earlier delivery ended: a 2xx, or its last attempt).
    /// Under this fault an event is delivered at once, concurrently with the link's earlier
    /// deliveries, so a `link.complete` can reach the receiver before the `link.failed` that
    /// preceded it. Passage documents no ordering guarantee, so receivers should cope.
    Reorder,
}

/// A webhook fault and how many events (deliveries started) it applies to; `0` = every one until
/// cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WebhookFaultEntry {
    pub(crate) kind: WebhookFault,
    pub(crate) times: u32,
}

/// What `POST /sandbox/faults` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FaultRequest {
    /// A fault of API requests.
    Api(Fault),
    /// A fault of webhook deliveries.
    Webhooks(WebhookFaultEntry),
}

/// Parses the control API's JSON body of `POST /sandbox/faults`: `{"route":"webhooks",
/// "reorder":true, "times":N}` (or `"kind":"reorder"`) for a webhook fault, otherwise an API
/// fault as [`Fault::from_json`] reads it. Errors name the field.
pub(crate) fn parse_fault_request(value: &Value) -> Result<FaultRequest, (String, String)> {
    let is_webhooks = value
        .get("route")
        .and_then(Value::as_str)
        .is_some_and(|route| route.trim().eq_ignore_ascii_case("webhooks"));
    if !is_webhooks {
        return Fault::from_json(value).map(FaultRequest::Api);
    }
    let object = value
        .as_object()
        .ok_or_else(|| (String::new(), "expected a JSON object".to_string()))?;
    let times = match object.get("times") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                (
                    "times".to_string(),
                    "expected a non-negative integer".to_string(),
                )
            })?,
    };
    let reorder_flag = match object.get("reorder") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(("reorder".into(), "expected a boolean".into())),
    };
    let reorder_kind = match object.get("kind") {
        None | Some(Value::Null) => false,
        Some(Value::String(kind)) if kind == "reorder" => true,
        Some(_) => return Err(("kind".into(), "expected \"reorder\"".into())),
    };
    if let Some(other) = object
        .keys()
        .find(|key| !matches!(key.as_str(), "route" | "times" | "reorder" | "kind"))
    {
        return Err((
            other.clone(),
            "not a webhook fault: route \"webhooks\" takes `reorder: true` (and `times`)".into(),
        ));
    }
    if !(reorder_flag || reorder_kind) {
        return Err((
            String::new(),
            "route \"webhooks\" needs `\"reorder\": true`".into(),
        ));
    }
    Ok(FaultRequest::Webhooks(WebhookFaultEntry {
        kind: WebhookFault::Reorder,
        times,
    }))
}

/// The active webhook faults, first added first used.
#[derive(Debug, Default)]
pub(crate) struct WebhookFaultQueue {
    entries: Vec<(WebhookFault, Option<u32>)>,
}

impl WebhookFaultQueue {
    pub(crate) fn push(&mut self, entry: WebhookFaultEntry) {
        let remaining = (entry.times > 0).then_some(entry.times);
        self.entries.push((entry.kind, remaining));
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Takes one use of the first active webhook fault.
    pub(crate) fn take(&mut self) -> Option<WebhookFault> {
        let (kind, remaining) = self.entries.first_mut()?;
        let kind = *kind;
        if let Some(remaining) = remaining {
            *remaining -= 1;
            if *remaining == 0 {
                self.entries.remove(0);
            }
        }
        Some(kind)
    }
}

/// The longest `delayMs` a fault may ask for: a delay is for testing timeouts, and an unbounded
/// one would hold a request (and its connection) forever.
pub const MAX_FAULT_DELAY_MS: u64 = 60_000;

/// Only error statuses make sense for an injected error answer: a 1xx is not a final answer
/// and a 2xx/3xx "error" would be answered as something else.
fn parse_status(value: &Value) -> Result<u16, (String, String)> {
    value
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (400..=599).contains(n))
        .ok_or_else(|| {
            (
                "status".to_string(),
                "expected an HTTP error status between 400 and 599".to_string(),
            )
        })
}

/// The queue of active faults, first added first used.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    entries: Vec<(Fault, Option<u32>)>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        let remaining = (fault.times > 0).then_some(fault.times);
        self.entries.push((fault, remaining));
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Takes one use of the first fault matching `route`.
    pub(crate) fn take(&mut self, route: FaultRoute) -> Option<FaultKind> {
        let index = self
            .entries
            .iter()
            .position(|(fault, _)| fault.route.matches(route))?;
        let kind = self.entries[index].0.kind.clone();
        if let Some(remaining) = &mut self.entries[index].1 {
            *remaining -= 1;
            if *remaining == 0 {
                self.entries.remove(index);
            }
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_forms_parse() {
        let f = Fault::from_json(
            &json!({"route":"POST /v1/links","status":503,"retryAfter":2,"times":2}),
        )
        .unwrap();
        assert_eq!(f.route, FaultRoute::CreateLink);
        assert_eq!(
            f.kind,
            FaultKind::Status {
                status: 503,
                retry_after: Some(2)
            }
        );
        assert_eq!(f.times, 2);
        let f = Fault::from_json(&json!({"route":"GET /v1/links/{id}","drop":true})).unwrap();
        assert_eq!(
            (f.route, f.kind, f.times),
            (FaultRoute::GetLink, FaultKind::DropConnection, 1)
        );
        let f = Fault::from_json(&json!({"delayMs":500})).unwrap();
        assert_eq!(
            (f.route, f.kind),
            (
                FaultRoute::Any,
                FaultKind::Delay(Duration::from_millis(500))
            )
        );
        assert_eq!(
            Fault::from_json(&json!({"malformed":true})).unwrap().kind,
            FaultKind::MalformedJson
        );
        assert_eq!(
            Fault::from_json(&json!({"errorStyle":"nested"}))
                .unwrap()
                .kind,
            FaultKind::NestedErrorBody { status: None }
        );
        assert_eq!(
            Fault::from_json(&json!({"errorStyle":"nested","status":404}))
                .unwrap()
                .kind,
            FaultKind::NestedErrorBody { status: Some(404) }
        );
    }

    #[test]
    fn bad_json_forms_name_the_field() {
        assert_eq!(
            Fault::from_json(&json!({"route":"GET /nope","drop":true}))
                .unwrap_err()
                .0,
            "route"
        );
        assert_eq!(
            Fault::from_json(&json!({"status":99})).unwrap_err().0,
            "status"
        );
        assert_eq!(
            Fault::from_json(&json!({"delayMs":-1})).unwrap_err().0,
            "delayMs"
        );
        for status in [100, 200, 302, 399, 600] {
            let (field, message) = Fault::from_json(&json!({ "status": status })).unwrap_err();
            assert_eq!(field, "status", "{status}");
            assert!(message.contains("400 and 599"), "{message}");
        }
        let (field, message) =
            Fault::from_json(&json!({"errorStyle":"nested","status":150})).unwrap_err();
        assert_eq!((field.as_str(), message.contains("400")), ("status", true));
        let (field, message) = Fault::from_json(&json!({ "delayMs": u64::MAX })).unwrap_err();
        assert_eq!(field, "delayMs");
        assert!(message.contains("60000"), "{message}");
        assert!(Fault::from_json(&json!({ "delayMs": 60_000 })).is_ok());
        assert_eq!(
            Fault::from_json(&json!({ "delayMs": 60_001 }))
                .unwrap_err()
                .0,
            "delayMs"
        );
        assert_eq!(
            Fault::from_json(&json!({"drop":"yes"})).unwrap_err().0,
            "drop"
        );
        assert_eq!(
            Fault::from_json(&json!({"drop":true,"malformed":true}))
                .unwrap_err()
                .0,
            ""
        );
        assert_eq!(Fault::from_json(&json!({})).unwrap_err().0, "");
        assert_eq!(Fault::from_json(&json!([1])).unwrap_err().0, "");
    }

    #[test]
    fn queue_counts_uses_and_matches_routes() {
        let mut queue = FaultQueue::default();
        queue.push(Fault::new(FaultRoute::CreateLink, FaultKind::MalformedJson).times(2));
        queue.push(Fault::new(FaultRoute::Any, FaultKind::DropConnection).times(0));
        assert_eq!(
            queue.take(FaultRoute::CreateLink),
            Some(FaultKind::MalformedJson)
        );
        assert_eq!(
            queue.take(FaultRoute::GetLink),
            Some(FaultKind::DropConnection)
        );
        assert_eq!(
            queue.take(FaultRoute::CreateLink),
            Some(FaultKind::MalformedJson)
        );
        for _ in 0..5 {
            assert_eq!(
                queue.take(FaultRoute::CreateLink),
                Some(FaultKind::DropConnection)
            );
        }
        queue.clear();
        assert_eq!(queue.take(FaultRoute::Providers), None);
    }

    #[test]
    fn webhook_faults_parse_and_count_uses() {
        let parsed = parse_fault_request(&json!({"route":"webhooks","reorder":true,"times":2}));
        assert_eq!(
            parsed,
            Ok(FaultRequest::Webhooks(WebhookFaultEntry {
                kind: WebhookFault::Reorder,
                times: 2
            }))
        );
        assert!(matches!(
            parse_fault_request(&json!({"route":"Webhooks","kind":"reorder"})),
            Ok(FaultRequest::Webhooks(WebhookFaultEntry { times: 1, .. }))
        ));
        assert!(matches!(
            parse_fault_request(&json!({"route":"GET /v1/links","drop":true})),
            Ok(FaultRequest::Api(_))
        ));
        for (body, field) in [
            (json!({"route":"webhooks"}), ""),
            (json!({"route":"webhooks","reorder":"yes"}), "reorder"),
            (json!({"route":"webhooks","kind":"drop"}), "kind"),
            (
                json!({"route":"webhooks","reorder":true,"status":503}),
                "status",
            ),
            (
                json!({"route":"webhooks","reorder":true,"times":-1}),
                "times",
            ),
        ] {
            assert_eq!(parse_fault_request(&body).unwrap_err().0, field, "{body}");
        }
        let mut queue = WebhookFaultQueue::default();
        assert_eq!(queue.take(), None);
        queue.push(WebhookFaultEntry {
            kind: WebhookFault::Reorder,
            times: 2,
        });
        assert_eq!(queue.take(), Some(WebhookFault::Reorder));
        assert_eq!(queue.take(), Some(WebhookFault::Reorder));
        assert_eq!(queue.take(), None);
        queue.push(WebhookFaultEntry {
            kind: WebhookFault::Reorder,
            times: 0,
        });
        for _ in 0..5 {
            assert_eq!(queue.take(), Some(WebhookFault::Reorder));
        }
        queue.clear();
        assert_eq!(queue.take(), None);
    }

    #[test]
    fn route_strings_round_trip() {
        for route in [
            FaultRoute::CreateLink,
            FaultRoute::GetLink,
            FaultRoute::ListLinks,
            FaultRoute::Providers,
            FaultRoute::ClaimLink,
            FaultRoute::VerificationKey,
            FaultRoute::Any,
        ] {
            assert_eq!(FaultRoute::parse(route.as_str()), Some(route));
        }
        assert_eq!(
            FaultRoute::parse("GET /v1/links/{linkId}"),
            Some(FaultRoute::GetLink)
        );
    }
}
