//! Link types shared by webhooks and the client: operations, statuses, failures, and the dispatch
//! of a link's `result` into the generated per-operation types.
//!
//! A link's `result` comes in two forms (see [`decode_link_result`]): for a single-operation link
//! it is the operation's data itself; for a multi-operation link it is
//! `{"operations":[{"resource","action","data"}, ...]}`. Which form applies is decided by the
//! link's operation count, never by looking for an `operations` key in the result (an
//! operation's own data may have one).

use std::borrow::Cow;
use std::fmt;

use passage_generated::{DecodeError, OperationResult};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// One operation of a link: which `resource` and which `action` (`read`, `write`).
///
/// Arguments are not part of it: the API does not echo them back (card data stays out of
/// responses). Unknown fields are ignored when deserializing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationRef {
    /// The resource, e.g. `mobileBillingStatement`, `paymentMethod`.
    pub resource: String,
    /// The action, e.g. `read` or `write`.
    pub action: String,
}

impl OperationRef {
    /// Builds an operation reference.
    pub fn new(resource: impl Into<String>, action: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            action: action.into(),
        }
    }
}

impl fmt::Display for OperationRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.resource, self.action)
    }
}

/// A link's status. An open set: a status this SDK does not know is kept in
/// [`LinkStatus::Other`], never rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkStatus {
    /// `pending`: created, not yet claimed.
    Pending,
    /// `active`: claimed; the automation is running.
    Active,
    /// `complete`: finished; `result` is set.
    Complete,
    /// `failed`: the automation failed; `error` is set. The link can be claimed again.
    Failed,
    /// `expired`: not completed before its expiry.
    Expired,
    /// Any other status string, kept as sent.
    Other(String),
}

impl LinkStatus {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Other(s) => s,
        }
    }

    /// Whether the link can never change status again: `complete`, and `expired` (a claim of an
    /// expired link is refused with 410).
    ///
    /// `failed` is **not** terminal: a failed link can be claimed again and may later complete
    /// (one link can produce `link.failed` and then `link.complete`). Unknown statuses are not
    /// terminal.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Complete | Self::Expired)
    }

    /// Whether someone waiting for the link's outcome should stop waiting: `complete`,
    /// `failed` or `expired`.
    ///
    /// Waiting stops on `failed` even though the link is not terminal, because a retry needs the
    /// end user to open the link again, which the waiter cannot cause.
    pub fn ends_wait(&self) -> bool {
        matches!(self, Self::Complete | Self::Failed | Self::Expired)
    }
}

impl From<&str> for LinkStatus {
    fn from(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "active" => Self::Active,
            "complete" => Self::Complete,
            "failed" => Self::Failed,
            "expired" => Self::Expired,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl From<String> for LinkStatus {
    fn from(s: String) -> Self {
        match Self::from(s.as_str()) {
            Self::Other(_) => Self::Other(s),
            known => known,
        }
    }
}

impl fmt::Display for LinkStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LinkStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LinkStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Cow::<'de, str>::deserialize(d).map(|s| match s {
            Cow::Borrowed(b) => Self::from(b),
            Cow::Owned(o) => Self::from(o),
        })
    }
}

/// The code of a failed link's `error`. An open set: unknown codes are kept in
/// [`FailureCode::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureCode {
    /// `AUTOMATION_ERROR`.
    AutomationError,
    /// `CLIENT_TIMEOUT`.
    ClientTimeout,
    /// `CONNECTION_FAILED`.
    ConnectionFailed,
    /// `UNKNOWN_PROVIDER`.
    UnknownProvider,
    /// `RESULT_VALIDATION_ERROR`.
    ResultValidationError,
    /// `INTERNAL_ERROR`.
    InternalError,
    /// No code was given: the error was an older plain string, or an object without `code`.
    Unspecified,
    /// Any other code, kept as sent.
    Other(String),
}

impl FailureCode {
    /// The wire string (empty for [`FailureCode::Unspecified`]).
    pub fn as_str(&self) -> &str {
        match self {
            Self::AutomationError => "AUTOMATION_ERROR",
            Self::ClientTimeout => "CLIENT_TIMEOUT",
            Self::ConnectionFailed => "CONNECTION_FAILED",
            Self::UnknownProvider => "UNKNOWN_PROVIDER",
            Self::ResultValidationError => "RESULT_VALIDATION_ERROR",
            Self::InternalError => "INTERNAL_ERROR",
            Self::Unspecified => "",
            Self::Other(s) => s,
        }
    }
}

impl From<&str> for FailureCode {
    fn from(s: &str) -> Self {
        match s {
            "AUTOMATION_ERROR" => Self::AutomationError,
            "CLIENT_TIMEOUT" => Self::ClientTimeout,
            "CONNECTION_FAILED" => Self::ConnectionFailed,
            "UNKNOWN_PROVIDER" => Self::UnknownProvider,
            "RESULT_VALIDATION_ERROR" => Self::ResultValidationError,
            "INTERNAL_ERROR" => Self::InternalError,
            "" => Self::Unspecified,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FailureCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FailureCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Cow::<'de, str>::deserialize(d).map(|s| Self::from(s.as_ref()))
    }
}

/// A failed link's `error`.
///
/// Deserializes both the current object form `{"code":"AUTOMATION_ERROR","message":"..."}` and
/// the older plain string `"..."`. For a plain string the choice made here is:
/// `code = FailureCode::Unspecified`, `message = the string`, `extra` empty. An object without
/// `code` also gets `Unspecified`, and one without `message` an empty message (tolerant reading
/// of an undocumented case). Other fields of the object are kept in `extra`.
///
/// Serializes as the object form; `code` is left out when it is `Unspecified`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkFailure {
    /// The failure code.
    pub code: FailureCode,
    /// A human-readable message.
    pub message: String,
    /// Any other fields of the error object.
    pub extra: Map<String, Value>,
}

impl fmt::Display for LinkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            FailureCode::Unspecified => f.write_str(&self.message),
            ref code => write!(f, "{code}: {}", self.message),
        }
    }
}

impl Serialize for LinkFailure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let with_code = self.code != FailureCode::Unspecified;
        let mut map = s.serialize_map(Some(1 + usize::from(with_code) + self.extra.len()))?;
        if with_code {
            map.serialize_entry("code", &self.code)?;
        }
        map.serialize_entry("message", &self.message)?;
        for (k, v) in &self.extra {
            if k != "code" && k != "message" {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for LinkFailure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FailureVisitor;
        impl<'de> Visitor<'de> for FailureVisitor {
            type Value = LinkFailure;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error object {\"code\",\"message\"} or an error string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LinkFailure, E> {
                Ok(LinkFailure {
                    code: FailureCode::Unspecified,
                    message: v.to_owned(),
                    extra: Map::new(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LinkFailure, A::Error> {
                let mut code = None;
                let mut message = None;
                let mut extra = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "code" => code = map.next_value::<Option<FailureCode>>()?,
                        "message" => message = map.next_value::<Option<String>>()?,
                        _ => {
                            let v = map.next_value::<Value>()?;
                            extra.insert(key, v);
                        }
                    }
                }
                Ok(LinkFailure {
                    code: code.unwrap_or(FailureCode::Unspecified),
                    message: message.unwrap_or_default(),
                    extra,
                })
            }
        }
        d.deserialize_any(FailureVisitor)
    }
}

/// Why a link's `result` could not be dispatched to its operations.
///
/// A single operation's data not fitting its generated type is *not* one of these: it is kept
/// per operation in [`OperationOutcome::outcome`] (see [`LinkResults::into_strict`] to turn it
/// into [`ResultError::Decode`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResultError {
    /// The link has no operations, so its result cannot be attributed to any.
    #[error("link result: the link lists no operations; pass the link's operations (from creation or GET /v1/links/{{id}})")]
    NoOperations,
    /// There is no result to decode (a `link.failed` event, or `result` absent or `null`).
    #[error("link result: there is none (the link failed, or `result` is absent or null)")]
    MissingResult,
    /// The result is not JSON.
    #[error("link result: not JSON: {source}")]
    NotJson {
        /// The parser's error (line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A multi-operation result does not have the documented shape
    /// `{"operations":[{"resource","action","data"}]}`.
    #[error("link result: at `{path}`: {message}")]
    Shape {
        /// JSON path of the problem, e.g. `operations[1].resource`.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A multi-operation result lists a different number of operations than the link.
    #[error(
        "link result: the link has {expected} operations but the result has {found}: operation at index {index} is {}",
        if found < expected { "missing from the result" } else { "not one of the link's" }
    )]
    OperationCount {
        /// How many operations the link has.
        expected: usize,
        /// How many the result lists.
        found: usize,
        /// The first index present on one side only.
        index: usize,
    },
    /// The result's operation at `index` names another resource or action than the link's
    /// operation at the same position.
    #[error("link result: operation at index {index} is {found} in the result but {expected} in the link (results are paired with the link's operations by position)")]
    OperationMismatch {
        /// Position in both lists.
        index: usize,
        /// The link's operation.
        expected: OperationRef,
        /// What the result says.
        found: OperationRef,
    },
    /// An operation's data does not fit its generated type (only from
    /// [`LinkResults::into_strict`]).
    #[error("link result: operation at index {index} ({operation}): {source}")]
    Decode {
        /// Position of the operation.
        index: usize,
        /// The operation.
        operation: OperationRef,
        /// The decoder's error: JSON path and raw JSON.
        #[source]
        source: Box<DecodeError>,
    },
}

/// One operation's part of a link's result.
#[derive(Debug, Clone)]
pub struct OperationOutcome {
    /// The link's operation this entry belongs to.
    pub operation: OperationRef,
    /// The operation's data decoded into its generated type, or why it did not fit (with the JSON
    /// path relative to the operation's data, and the raw JSON). An operation the generated crate
    /// does not know (or whose feature is off) decodes to `OperationResult::Unknown` with the raw
    /// data.
    pub outcome: Result<OperationResult, DecodeError>,
    /// Fields of the multi-operation entry other than `resource`, `action` and `data`
    /// (per-operation errors, if Passage adds them). Always empty for a single-operation link.
    pub extra: Map<String, Value>,
}

impl OperationOutcome {
    /// The decoded data, if it fitted its type.
    pub fn result(&self) -> Option<&OperationResult> {
        self.outcome.as_ref().ok()
    }
}

/// A link's result, split per operation in the link's order.
#[derive(Debug, Clone)]
pub struct LinkResults {
    entries: Vec<OperationOutcome>,
    extra: Map<String, Value>,
}

impl LinkResults {
    /// The per-operation entries, in the link's order.
    pub fn iter(&self) -> std::slice::Iter<'_, OperationOutcome> {
        self.entries.iter()
    }

    /// The entries as a slice.
    pub fn as_slice(&self) -> &[OperationOutcome] {
        &self.entries
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no operations (never true for a value built by
    /// [`decode_link_result`]).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The only entry, if the link has exactly one operation.
    pub fn single(&self) -> Option<&OperationOutcome> {
        match self.entries.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    /// The first entry for `resource` + `action` (a link may hold the same operation twice: use
    /// [`iter`](Self::iter) to see them all).
    pub fn find(&self, resource: &str, action: &str) -> Option<&OperationOutcome> {
        self.entries
            .iter()
            .find(|e| e.operation.resource == resource && e.operation.action == action)
    }

    /// Top-level fields of a multi-operation result other than `operations`.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// The entries, consumed.
    pub fn into_entries(self) -> Vec<OperationOutcome> {
        self.entries
    }

    /// Every operation's decoded data, in the link's order; the first operation whose data does
    /// not fit its type becomes [`ResultError::Decode`].
    pub fn into_strict(self) -> Result<Vec<OperationResult>, ResultError> {
        self.entries
            .into_iter()
            .enumerate()
            .map(|(index, e)| {
                e.outcome.map_err(|source| ResultError::Decode {
                    index,
                    operation: e.operation,
                    source: Box::new(source),
                })
            })
            .collect()
    }
}

impl<'a> IntoIterator for &'a LinkResults {
    type Item = &'a OperationOutcome;
    type IntoIter = std::slice::Iter<'a, OperationOutcome>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

impl IntoIterator for LinkResults {
    type Item = OperationOutcome;
    type IntoIter = std::vec::IntoIter<OperationOutcome>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// Dispatches a link's `result` into the generated per-operation types.
///
/// * `integration` is the link's `integrationId` (e.g. `tmobile`), `operations` the link's
///   operation list (from creation or `GET /v1/links/{id}`; for an older link with top-level
///   `resource`/`action`, a list of one).
/// * One operation: `result` is the operation's data itself.
/// * Several: `result` is `{"operations":[{"resource","action","data",...}]}`; entries are paired
///   with the link's operations by position and their `resource`/`action` must agree (an entry
///   that leaves them out is taken to be the link's operation at that position: tolerant reading).
///   An entry without `data` (or with `null`) gets a per-operation [`DecodeError`] at
///   `operations[i].data`, so the other operations are still decoded. Extra fields of an entry
///   are kept in [`OperationOutcome::extra`], extra top-level fields in [`LinkResults::extra`].
///
/// Decoding reads the raw bytes of `result` directly (no intermediate `serde_json::Value`).
///
/// ```
/// use passage_connect::link::{decode_link_result, OperationRef};
/// let raw = serde_json::value::RawValue::from_string(
///     r#"{"billing":[{"periodStart":"01/15/2025","amountDue":85.0,"currency":"USD"}]}"#.into(),
/// ).unwrap();
/// let ops = [OperationRef::new("mobileBillingStatement", "read")];
/// let results = decode_link_result("tmobile", &ops, &raw).unwrap();
/// let billing = results.single().unwrap().result().unwrap();
/// assert_eq!(billing.resource(), "mobileBillingStatement");
/// ```
pub fn decode_link_result(
    integration: &str,
    operations: &[OperationRef],
    result: &RawValue,
) -> Result<LinkResults, ResultError> {
    match operations {
        [] => Err(ResultError::NoOperations),
        [only] => Ok(LinkResults {
            entries: vec![OperationOutcome {
                operation: only.clone(),
                outcome: passage_generated::decode_result(
                    integration,
                    &only.resource,
                    &only.action,
                    result.get().as_bytes(),
                ),
                extra: Map::new(),
            }],
            extra: Map::new(),
        }),
        many => decode_multi(integration, many, result.get()),
    }
}

/// Like [`decode_link_result`], from the raw bytes of the `result` (e.g. a file).
pub fn decode_link_result_slice(
    integration: &str,
    operations: &[OperationRef],
    result: &[u8],
) -> Result<LinkResults, ResultError> {
    let raw: &RawValue =
        serde_json::from_slice(result).map_err(|source| ResultError::NotJson { source })?;
    decode_link_result(integration, operations, raw)
}

/// `{"operations":[...], ...extra}` with the entries kept raw.
struct MultiEnvelope<'a> {
    operations: Vec<&'a RawValue>,
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for MultiEnvelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EnvelopeVisitor;
        impl<'de> Visitor<'de> for EnvelopeVisitor {
            type Value = MultiEnvelope<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object {\"operations\":[...]} (the multi-operation result form)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut operations = None;
                let mut extra = Map::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "operations" {
                        operations = Some(map.next_value::<RawList<'de>>()?.0);
                    } else {
                        let v = map.next_value::<Value>()?;
                        extra.insert(key.into_owned(), v);
                    }
                }
                let operations =
                    operations.ok_or_else(|| de::Error::missing_field("operations"))?;
                Ok(MultiEnvelope { operations, extra })
            }
        }
        d.deserialize_map(EnvelopeVisitor)
    }
}

/// A JSON array whose items are kept raw.
struct RawList<'a>(Vec<&'a RawValue>);

impl<'de> Deserialize<'de> for RawList<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = RawList<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of operation results")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(2).min(64));
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    items.push(item);
                }
                Ok(RawList(items))
            }
        }
        d.deserialize_seq(ListVisitor)
    }
}

/// One entry `{"resource","action","data",...extra}` with `data` kept raw.
struct MultiEntry<'a> {
    resource: Option<String>,
    action: Option<String>,
    data: Option<&'a RawValue>,
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for MultiEntry<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = MultiEntry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object {\"resource\",\"action\",\"data\"}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entry = MultiEntry {
                    resource: None,
                    action: None,
                    data: None,
                    extra: Map::new(),
                };
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "resource" => entry.resource = map.next_value()?,
                        "action" => entry.action = map.next_value()?,
                        "data" => {
                            let raw = map.next_value::<&'de RawValue>()?;
                            // `null` and absent alike.
                            entry.data = (raw.get() != "null").then_some(raw);
                        }
                        _ => {
                            let v = map.next_value::<Value>()?;
                            entry.extra.insert(key.into_owned(), v);
                        }
                    }
                }
                Ok(entry)
            }
        }
        d.deserialize_map(EntryVisitor)
    }
}

fn shape_error<E: fmt::Display>(prefix: &str, err: serde_path_to_error::Error<E>) -> ResultError {
    let inner = err.path().to_string();
    let path = match (prefix, inner.as_str()) {
        ("", ".") => "$".to_owned(),
        ("", p) => p.to_owned(),
        (pre, ".") => pre.to_owned(),
        (pre, p) => format!("{pre}.{p}"),
    };
    ResultError::Shape {
        path,
        message: err.into_inner().to_string(),
    }
}

fn decode_multi(
    integration: &str,
    operations: &[OperationRef],
    result: &str,
) -> Result<LinkResults, ResultError> {
    let mut de = serde_json::Deserializer::from_str(result);
    let envelope: MultiEnvelope<'_> =
        serde_path_to_error::deserialize(&mut de).map_err(|e| shape_error("", e))?;
    if envelope.operations.len() != operations.len() {
        return Err(ResultError::OperationCount {
            expected: operations.len(),
            found: envelope.operations.len(),
            index: envelope.operations.len().min(operations.len()),
        });
    }
    let mut entries = Vec::with_capacity(operations.len());
    for (index, (expected, raw)) in operations.iter().zip(envelope.operations).enumerate() {
        let prefix = format!("operations[{index}]");
        let mut de = serde_json::Deserializer::from_str(raw.get());
        let entry: MultiEntry<'_> =
            serde_path_to_error::deserialize(&mut de).map_err(|e| shape_error(&prefix, e))?;
        let agrees = entry
            .resource
            .as_deref()
            .is_none_or(|r| r == expected.resource)
            && entry.action.as_deref().is_none_or(|a| a == expected.action);
        if !agrees {
            return Err(ResultError::OperationMismatch {
                index,
                expected: expected.clone(),
                found: OperationRef {
                    resource: entry.resource.unwrap_or_else(|| expected.resource.clone()),
                    action: entry.action.unwrap_or_else(|| expected.action.clone()),
                },
            });
        }
        let outcome = match entry.data {
            Some(data) => passage_generated::decode_result(
                integration,
                &expected.resource,
                &expected.action,
                data.get().as_bytes(),
            ),
            // `DecodeError` cannot be built here (non-exhaustive): decode `null`, as for an
            // explicit `"data": null`, and say what happened in the error it gives. An operation
            // this build does not know decodes to `Unknown` with `null` data.
            None => passage_generated::decode_result(
                integration,
                &expected.resource,
                &expected.action,
                b"null",
            )
            .map_err(|mut e| {
                e.path = format!("{prefix}.data");
                e.message = "the operation has no `data` (see the entry's extra fields for a per-operation error)".to_owned();
                e.raw = raw.get().to_owned();
                e
            }),
        };
        entries.push(OperationOutcome {
            operation: expected.clone(),
            outcome,
            extra: entry.extra,
        });
    }
    Ok(LinkResults {
        entries,
        extra: envelope.extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    const BILLING: &str = r#"{"billing":[{"periodStart":"01/15/2025","periodEnd":"02/14/2025","amountDue":85.0,"currency":"USD"}]}"#;

    #[test]
    fn status_is_open() {
        let s: LinkStatus = serde_json::from_str("\"complete\"").unwrap();
        assert_eq!(s, LinkStatus::Complete);
        assert!(s.is_terminal() && s.ends_wait());
        let f: LinkStatus = serde_json::from_str("\"failed\"").unwrap();
        assert!(!f.is_terminal() && f.ends_wait());
        let o: LinkStatus = serde_json::from_str("\"paused\"").unwrap();
        assert_eq!(o, LinkStatus::Other("paused".into()));
        assert!(!o.is_terminal() && !o.ends_wait());
        assert_eq!(serde_json::to_string(&o).unwrap(), "\"paused\"");
        assert_eq!(
            serde_json::to_string(&LinkStatus::Expired).unwrap(),
            "\"expired\""
        );
    }

    #[test]
    fn failure_object_and_string() {
        let f: LinkFailure =
            serde_json::from_str(r#"{"code":"AUTOMATION_ERROR","message":"boom","step":3}"#)
                .unwrap();
        assert_eq!(f.code, FailureCode::AutomationError);
        assert_eq!(f.message, "boom");
        assert_eq!(f.extra["step"], 3);
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            serde_json::json!({"code":"AUTOMATION_ERROR","message":"boom","step":3})
        );
        let s: LinkFailure = serde_json::from_str(r#""login failed""#).unwrap();
        assert_eq!(s.code, FailureCode::Unspecified);
        assert_eq!(s.message, "login failed");
        let o: LinkFailure = serde_json::from_str(r#"{"code":"NEW_CODE"}"#).unwrap();
        assert_eq!(o.code, FailureCode::Other("NEW_CODE".into()));
        assert_eq!(o.message, "");
        assert!(serde_json::from_str::<LinkFailure>("42").is_err());
    }

    #[test]
    fn single_operation_is_the_data_itself() {
        let ops = [OperationRef::new("mobileBillingStatement", "read")];
        let r = decode_link_result("tmobile", &ops, &raw(BILLING)).unwrap();
        let only = r.single().unwrap();
        assert!(matches!(
            only.outcome,
            Ok(OperationResult::TmobileMobileBillingStatementRead(_))
        ));
        // A single-operation result that itself has an `operations` key is still the data.
        let ops = [OperationRef::new("orders", "read")];
        let r = decode_link_result("nobody", &ops, &raw(r#"{"operations":[1,2]}"#)).unwrap();
        match r.single().unwrap().result().unwrap() {
            OperationResult::Unknown { data, .. } => {
                assert_eq!(data.get(), r#"{"operations":[1,2]}"#)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn multi_operation_pairs_by_position() {
        let ops = [
            OperationRef::new("mobileBillingStatement", "read"),
            OperationRef::new("paymentMethod", "read"),
        ];
        let body = format!(
            r#"{{"operations":[{{"resource":"mobileBillingStatement","action":"read","data":{BILLING}}},{{"resource":"paymentMethod","action":"read","data":{{"paymentMethods":[]}},"warning":"partial"}}],"v":2}}"#
        );
        let r = decode_link_result("tmobile", &ops, &raw(&body)).unwrap();
        assert_eq!(r.len(), 2);
        assert!(r
            .find("mobileBillingStatement", "read")
            .unwrap()
            .result()
            .is_some());
        assert_eq!(r.as_slice()[1].extra["warning"], "partial");
        assert_eq!(r.extra()["v"], 2);
        assert_eq!(r.into_strict().unwrap().len(), 2);
    }

    #[test]
    fn multi_operation_errors_name_the_index() {
        let ops = [
            OperationRef::new("paymentMethod", "read"),
            OperationRef::new("paymentMethod", "write"),
        ];
        let swapped = r#"{"operations":[{"resource":"paymentMethod","action":"write","data":{}},{"resource":"paymentMethod","action":"read","data":{}}]}"#;
        match decode_link_result("tmobile", &ops, &raw(swapped)) {
            Err(ResultError::OperationMismatch { index: 0, .. }) => {}
            other => panic!("{other:?}"),
        }
        let short = r#"{"operations":[{"resource":"paymentMethod","action":"read","data":{}}]}"#;
        let err = decode_link_result("tmobile", &ops, &raw(short)).unwrap_err();
        assert!(matches!(
            err,
            ResultError::OperationCount {
                expected: 2,
                found: 1,
                index: 1
            }
        ));
        assert!(err.to_string().contains("index 1"));
        let bad = r#"{"operations":[{"resource":"paymentMethod","action":"read","data":{}},{"resource":7}]}"#;
        match decode_link_result("tmobile", &ops, &raw(bad)) {
            Err(ResultError::Shape { path, .. }) => assert_eq!(path, "operations[1].resource"),
            other => panic!("{other:?}"),
        }
        match decode_link_result("tmobile", &ops, &raw("[1]")) {
            Err(ResultError::Shape { path, .. }) => assert_eq!(path, "$"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode_link_result("tmobile", &[], &raw("{}")),
            Err(ResultError::NoOperations)
        ));
    }

    #[test]
    fn one_bad_operation_keeps_the_others() {
        let ops = [
            OperationRef::new("mobileBillingStatement", "read"),
            OperationRef::new("paymentMethod", "read"),
        ];
        let body = r#"{"operations":[{"resource":"mobileBillingStatement","action":"read","data":{"billing":7}},{"resource":"paymentMethod","action":"read","data":{"paymentMethods":[]}}]}"#;
        let r = decode_link_result("tmobile", &ops, &raw(body)).unwrap();
        let first = r.as_slice()[0].outcome.as_ref().unwrap_err();
        assert_eq!(first.path, "billing");
        assert!(first.raw.contains("\"billing\":7"));
        assert!(r.as_slice()[1].result().is_some());
        assert!(matches!(
            r.into_strict(),
            Err(ResultError::Decode { index: 0, .. })
        ));
        // Missing data: per-operation error, others kept.
        let body = r#"{"operations":[{"resource":"mobileBillingStatement","action":"read","error":{"code":"X"}},{"resource":"paymentMethod","action":"read","data":{"paymentMethods":[]}}]}"#;
        let r = decode_link_result("tmobile", &ops, &raw(body)).unwrap();
        assert_eq!(
            r.as_slice()[0].outcome.as_ref().unwrap_err().path,
            "operations[0].data"
        );
        assert!(r.as_slice()[0].extra.contains_key("error"));
        assert!(r.as_slice()[1].result().is_some());
    }

    #[test]
    fn slice_entry_point_reports_not_json() {
        let ops = [OperationRef::new("mobileBillingStatement", "read")];
        assert!(matches!(
            decode_link_result_slice("tmobile", &ops, b"{nope"),
            Err(ResultError::NotJson { .. })
        ));
        assert!(decode_link_result_slice("tmobile", &ops, BILLING.as_bytes()).is_ok());
    }
}
