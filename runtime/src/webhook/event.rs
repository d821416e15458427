//! Typed webhook events: [`WebhookEvent`] over the `event` field, with a fallback that keeps an
//! unknown event whole.
//!
//! Body: `{"event":"link.complete","linkId":"link_abc123","status":"complete","result":{...},
//! "error":null,"timestamp":1704067200000}`. A missing field and `null` are treated alike. The
//! body names no integration and no operation list, so decoding the `result` needs the link's
//! (see [`LinkEvent::decode_results`]).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::link::{
    decode_link_result, LinkFailure, LinkResults, LinkStatus, OperationRef, ResultError,
};

/// Why a webhook body could not be read as an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The body is not JSON.
    #[error("webhook body: not JSON: {source}")]
    NotJson {
        /// The parser's error (line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The body is JSON but not the documented event shape.
    #[error("webhook body: at `{path}`: {message}")]
    Shape {
        /// JSON path of the problem, e.g. `timestamp` (`$` for the whole body).
        path: String,
        /// What was wrong.
        message: String,
    },
}

/// A webhook event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// `link.complete`: the link finished; `result` is set.
    LinkComplete(LinkEvent),
    /// `link.failed`: the automation failed; `error` is set. The link can be claimed again, so a
    /// `link.complete` for the same link may follow.
    LinkFailed(LinkEvent),
    /// An event this SDK does not know, kept whole.
    Unknown {
        /// The `event` field (empty if absent).
        event: String,
        /// The whole body.
        raw: Box<RawValue>,
    },
}

/// The body of a `link.*` event.
#[derive(Debug, Clone)]
pub struct LinkEvent {
    /// The link's id (`linkId`; `id` is accepted too).
    pub link_id: String,
    /// The link's status (`complete`, `failed`...). When absent it is inferred from the event
    /// name (tolerant reading).
    pub status: LinkStatus,
    /// The failure of a failed link (`null` and absent alike).
    pub error: Option<LinkFailure>,
    /// When the event happened, Unix **milliseconds**.
    pub timestamp: u64,
    /// The link's result, raw (`null` and absent alike). Decode it with
    /// [`decode_results`](Self::decode_results).
    pub result: Option<Box<RawValue>>,
    /// Any other field of the body.
    pub extra: Map<String, Value>,
}

impl PartialEq for LinkEvent {
    fn eq(&self, other: &Self) -> bool {
        self.link_id == other.link_id
            && self.status == other.status
            && self.error == other.error
            && self.timestamp == other.timestamp
            && self.result.as_ref().map(|r| r.get()) == other.result.as_ref().map(|r| r.get())
            && self.extra == other.extra
    }
}

impl PartialEq for WebhookEvent {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::LinkComplete(a), Self::LinkComplete(b))
            | (Self::LinkFailed(a), Self::LinkFailed(b)) => a == b,
            (Self::Unknown { event: e1, raw: r1 }, Self::Unknown { event: e2, raw: r2 }) => {
                e1 == e2 && r1.get() == r2.get()
            }
            _ => false,
        }
    }
}

impl LinkEvent {
    /// Decodes [`result`](Self::result) into the generated per-operation types. `integration`
    /// and `operations` are the link's (the webhook body does not carry them): keep them from
    /// when you created the link, or `GET /v1/links/{id}`.
    pub fn decode_results(
        &self,
        integration: &str,
        operations: &[OperationRef],
    ) -> Result<LinkResults, ResultError> {
        match &self.result {
            Some(result) => decode_link_result(integration, operations, result),
            None => Err(ResultError::MissingResult),
        }
    }

    /// The key to dedupe redeliveries by: `(linkId, event, timestamp)`. The body has no event
    /// id; the same link may legitimately send `link.failed` then `link.complete`.
    pub fn dedupe_key<'a>(&'a self, event: &'a str) -> (&'a str, &'a str, u64) {
        (&self.link_id, event, self.timestamp)
    }
}

impl WebhookEvent {
    /// Parses a webhook body **without verifying it**: for receivers that verify elsewhere (a
    /// gateway). Use [`WebhookVerifier`](super::WebhookVerifier) otherwise.
    ///
    /// ```
    /// use passage_connect::webhook::WebhookEvent;
    /// let body = br#"{"event":"link.failed","linkId":"link_1","status":"failed","error":{"code":"AUTOMATION_ERROR","message":"x"},"timestamp":1704067200000}"#;
    /// match WebhookEvent::parse(body).unwrap() {
    ///     WebhookEvent::LinkFailed(link) => assert_eq!(link.link_id, "link_1"),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn parse(body: &[u8]) -> Result<Self, EventError> {
        let raw: &RawValue =
            serde_json::from_slice(body).map_err(|source| EventError::NotJson { source })?;
        // The plain parse first; path tracking only to explain a failure.
        let fields: EventFields<'_> = match serde_json::from_str(raw.get()) {
            Ok(fields) => fields,
            Err(_) => {
                let mut de = serde_json::Deserializer::from_str(raw.get());
                serde_path_to_error::deserialize(&mut de).map_err(|e| {
                    let path = e.path().to_string();
                    EventError::Shape {
                        path: if path == "." { "$".to_owned() } else { path },
                        message: e.into_inner().to_string(),
                    }
                })?
            }
        };
        let event = fields.event.as_deref().unwrap_or("");
        let make =
            |fields: EventFields<'_>, inferred: LinkStatus| -> Result<LinkEvent, EventError> {
                let link_id = fields.link_id.ok_or_else(|| missing("linkId"))?;
                let timestamp = fields.timestamp.ok_or_else(|| missing("timestamp"))?;
                Ok(LinkEvent {
                    link_id,
                    status: fields.status.unwrap_or(inferred),
                    error: fields.error,
                    timestamp,
                    result: fields.result.map(RawValue::to_owned),
                    extra: fields.extra,
                })
            };
        match event {
            "link.complete" => make(fields, LinkStatus::Complete).map(Self::LinkComplete),
            "link.failed" => make(fields, LinkStatus::Failed).map(Self::LinkFailed),
            other => Ok(Self::Unknown {
                event: other.to_owned(),
                raw: raw.to_owned(),
            }),
        }
    }

    /// The `event` name (`link.complete`, `link.failed`, or the unknown one).
    pub fn name(&self) -> &str {
        match self {
            Self::LinkComplete(_) => "link.complete",
            Self::LinkFailed(_) => "link.failed",
            Self::Unknown { event, .. } => event,
        }
    }

    /// The link event, for `link.*` events this SDK knows.
    pub fn link_event(&self) -> Option<&LinkEvent> {
        match self {
            Self::LinkComplete(e) | Self::LinkFailed(e) => Some(e),
            Self::Unknown { .. } => None,
        }
    }
}

fn missing(field: &str) -> EventError {
    EventError::Shape {
        path: field.to_owned(),
        message: format!("missing field `{field}`"),
    }
}

/// Serializes back to the wire shape (`event`, `linkId`, `status`, `result`, `error`,
/// `timestamp`, then the extra fields); an unknown event as its raw body.
impl Serialize for WebhookEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::LinkComplete(e) | Self::LinkFailed(e) => {
                serialize_link_event(self.name(), e, e.result.as_deref(), s)
            }
            Self::Unknown { raw, .. } => raw.serialize(s),
        }
    }
}

/// Writes a link event in the wire shape with `result` replaced by `result` (so a caller can put
/// a re-serialized typed result in its place).
pub(crate) fn serialize_link_event<S: Serializer, R: Serialize + ?Sized>(
    name: &str,
    e: &LinkEvent,
    result: Option<&R>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(None)?;
    map.serialize_entry("event", name)?;
    map.serialize_entry("linkId", &e.link_id)?;
    map.serialize_entry("status", &e.status)?;
    if let Some(result) = result {
        map.serialize_entry("result", result)?;
    }
    map.serialize_entry("error", &e.error)?;
    map.serialize_entry("timestamp", &e.timestamp)?;
    for (k, v) in &e.extra {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// Every field of the body, with `result` kept raw.
struct EventFields<'a> {
    event: Option<String>,
    link_id: Option<String>,
    status: Option<LinkStatus>,
    error: Option<LinkFailure>,
    timestamp: Option<u64>,
    result: Option<&'a RawValue>,
    extra: Map<String, Value>,
}

/// Unix ms: an integer, or an integral-valued float (JavaScript numbers).
struct Millis(u64);

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MillisVisitor;
        impl Visitor<'_> for MillisVisitor {
            type Value = Millis;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer of Unix milliseconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Millis, E> {
                Ok(Millis(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Millis, E> {
                u64::try_from(v)
                    .map(Millis)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Millis, E> {
                if (0.0..1.8e19).contains(&v) && v.fract() == 0.0 {
                    Ok(Millis(v as u64))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
        }
        d.deserialize_any(MillisVisitor)
    }
}

impl<'de> Deserialize<'de> for EventFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = EventFields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a webhook event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut f = EventFields {
                    event: None,
                    link_id: None,
                    status: None,
                    error: None,
                    timestamp: None,
                    result: None,
                    extra: Map::new(),
                };
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "event" => f.event = map.next_value()?,
                        "linkId" => f.link_id = map.next_value()?,
                        // `id` as in GET /v1/links; `linkId` wins when both are present.
                        "id" if f.link_id.is_none() => f.link_id = map.next_value()?,
                        "status" => f.status = map.next_value()?,
                        "error" => f.error = map.next_value()?,
                        "timestamp" => {
                            f.timestamp = map.next_value::<Option<Millis>>()?.map(|m| m.0)
                        }
                        "result" => {
                            let raw = map.next_value::<&'de RawValue>()?;
                            f.result = (raw.get() != "null").then_some(raw);
                        }
                        _ => {
                            let v = map.next_value::<Value>()?;
                            f.extra.insert(key.into_owned(), v);
                        }
                    }
                }
                Ok(f)
            }
        }
        d.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_failed_unknown() {
        let body = br#"{"event":"link.complete","linkId":"link_abc123","status":"complete","result":{"billing":[]},"error":null,"timestamp":1704067200000,"extraField":1}"#;
        let WebhookEvent::LinkComplete(e) = WebhookEvent::parse(body).unwrap() else {
            panic!()
        };
        assert_eq!(e.link_id, "link_abc123");
        assert_eq!(e.status, LinkStatus::Complete);
        assert_eq!(e.error, None);
        assert_eq!(e.timestamp, 1_704_067_200_000);
        assert_eq!(e.result.as_ref().unwrap().get(), r#"{"billing":[]}"#);
        assert_eq!(e.extra["extraField"], 1);

        let body =
            br#"{"event":"link.failed","linkId":"l","error":"boom","timestamp":1.0,"result":null}"#;
        let WebhookEvent::LinkFailed(e) = WebhookEvent::parse(body).unwrap() else {
            panic!()
        };
        assert_eq!(e.status, LinkStatus::Failed);
        assert_eq!(e.error.as_ref().unwrap().message, "boom");
        assert!(e.result.is_none());
        assert!(matches!(
            e.decode_results("tmobile", &[OperationRef::new("a", "b")]),
            Err(ResultError::MissingResult)
        ));

        let body = br#"{"event":"link.paused","linkId":"l","anything":[1]}"#;
        let ev = WebhookEvent::parse(body).unwrap();
        assert_eq!(ev.name(), "link.paused");
        assert_eq!(
            serde_json::to_string(&ev).unwrap(),
            std::str::from_utf8(body).unwrap()
        );
    }

    #[test]
    fn shape_errors_name_the_field() {
        let err =
            WebhookEvent::parse(br#"{"event":"link.complete","linkId":"l","timestamp":"soon"}"#)
                .unwrap_err();
        assert!(
            matches!(&err, EventError::Shape { path, .. } if path == "timestamp"),
            "{err}"
        );
        let err = WebhookEvent::parse(br#"{"event":"link.complete","timestamp":1}"#).unwrap_err();
        assert!(
            matches!(&err, EventError::Shape { path, .. } if path == "linkId"),
            "{err}"
        );
        assert!(matches!(
            WebhookEvent::parse(b"{"),
            Err(EventError::NotJson { .. })
        ));
        assert!(matches!(
            WebhookEvent::parse(b"[]"),
            Err(EventError::Shape { .. })
        ));
    }

    #[test]
    fn serializes_back_to_the_wire_shape() {
        let body = r#"{"event":"link.complete","linkId":"l","status":"complete","result":{"a":1},"error":null,"timestamp":5}"#;
        let ev = WebhookEvent::parse(body.as_bytes()).unwrap();
        assert_eq!(serde_json::to_string(&ev).unwrap(), body);
    }
}
