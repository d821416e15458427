//! The link as the API returns it ([`Link`]) and the list envelope ([`LinkList`]), read
//! tolerantly: `id` or `linkId`, `operations` or the older top-level `resource`/`action`, `null`
//! and absent alike, unknown statuses and fields kept.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::link::{
    decode_link_result, LinkFailure, LinkResults, LinkStatus, OperationRef, ResultError,
};

/// A link: the answer of `POST /v1/links` and of `GET /v1/links/{id}`, and an entry of
/// `GET /v1/links`.
///
/// Which fields are present depends on the endpoint: `claim_code` and `app_clip_url` come with
/// creation; `result`, `error`, `current_session_id` with GET. Everything the API may leave out is
/// an `Option`; fields this SDK does not know are kept in [`extra`](Self::extra).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Link {
    /// The link id (`link_...`). Read from `id` (GET) or `linkId` (creation).
    pub id: String,
    /// The integration, e.g. `tmobile`. When an answer to a create leaves it out, the
    /// requested integration is filled in; otherwise empty when absent.
    pub integration_id: String,
    /// The operations, in order. From `operations`, or for older links a list of one built from
    /// the top-level `resource`/`action` (those two also stay in `extra`). Empty when neither is
    /// present.
    pub operations: Vec<OperationRef>,
    /// The status; unknown values are kept in [`LinkStatus::Other`].
    pub status: LinkStatus,
    /// The claim code (creation only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_code: Option<String>,
    /// The URL to send the end user to (creation only); it carries the claim code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_clip_url: Option<String>,
    /// Where the user goes after the session, with `linkId` appended by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    /// The caller's own id for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_user_id: Option<String>,
    /// The session of the current (or last) claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_session_id: Option<String>,
    /// The raw `result`, set once `complete` (see [`results`](Self::results)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
    /// Why the link failed, set once `failed` (object or older plain-string form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<LinkFailure>,
    /// Expiry, Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Creation time, Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Last update, Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Fields this SDK does not know, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An entry of `GET /v1/links`: the same model as [`Link`], without `result` and `error`
/// (they stay `None` unless a future API version sends them).
pub type LinkSummary = Link;

impl Link {
    /// The result dispatched into the generated per-operation types, using this link's own
    /// integration and operations. `None` while there is no result.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use passage_connect::types::OperationResult;
    /// let link = client.links().wait("link_abc123").await?;
    /// if let Some(results) = link.results() {
    ///     for entry in &results? {
    ///         match entry.result() {
    ///             Some(OperationResult::Unknown { resource, .. }) => println!("raw {resource}"),
    ///             Some(typed) => println!("{}", serde_json::to_string(typed)?),
    ///             None => println!("{} did not fit its type", entry.operation),
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn results(&self) -> Option<Result<LinkResults, ResultError>> {
        let raw = self.result.as_deref()?;
        Some(decode_link_result(
            &self.integration_id,
            &self.operations,
            raw,
        ))
    }

    /// The expiry as a `SystemTime`.
    ///
    /// ```no_run
    /// # fn demo(link: passage_connect::client::Link) {
    /// if let Some(at) = link.expires_at_time() { println!("{at:?}"); }
    /// # }
    /// ```
    pub fn expires_at_time(&self) -> Option<SystemTime> {
        self.expires_at.and_then(millis_to_time)
    }

    /// The creation time as a `SystemTime`.
    ///
    /// ```no_run
    /// # fn demo(link: passage_connect::client::Link) {
    /// if let Some(at) = link.created_at_time() { println!("{at:?}"); }
    /// # }
    /// ```
    pub fn created_at_time(&self) -> Option<SystemTime> {
        self.created_at.and_then(millis_to_time)
    }

    /// The last update as a `SystemTime`.
    ///
    /// ```no_run
    /// # fn demo(link: passage_connect::client::Link) {
    /// if let Some(at) = link.updated_at_time() { println!("{at:?}"); }
    /// # }
    /// ```
    pub fn updated_at_time(&self) -> Option<SystemTime> {
        self.updated_at.and_then(millis_to_time)
    }
}

fn millis_to_time(ms: i64) -> Option<SystemTime> {
    let ms = u64::try_from(ms).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

/// A Unix-milliseconds field: an integer, or (tolerantly) an integral float; `null` is absent.
struct Millis(Option<i64>);

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(Millis(None)),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    Ok(Millis(Some(i)))
                } else if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                {
                    Ok(Millis(Some(f as i64)))
                } else {
                    Err(de::Error::custom(format!(
                        "expected Unix milliseconds as an integer, found {n}"
                    )))
                }
            }
            Some(other) => Err(de::Error::custom(format!(
                "expected Unix milliseconds (a number), found {}",
                kind(&other)
            ))),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'de> Deserialize<'de> for Link {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(LinkVisitor)
    }
}

struct LinkVisitor;

impl<'de> Visitor<'de> for LinkVisitor {
    type Value = Link;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a link object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Link, A::Error> {
        let mut id: Option<String> = None;
        let mut link_id: Option<String> = None;
        let mut integration_id = None;
        let mut operations: Option<Vec<OperationRef>> = None;
        let mut status: Option<LinkStatus> = None;
        let mut claim_code = None;
        let mut app_clip_url = None;
        let mut return_url = None;
        let mut external_user_id = None;
        let mut current_session_id = None;
        let mut result: Option<Box<RawValue>> = None;
        let mut error: Option<LinkFailure> = None;
        let mut expires_at = None;
        let mut created_at = None;
        let mut updated_at = None;
        let mut extra = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "id" => id = map.next_value()?,
                "linkId" => link_id = map.next_value()?,
                "integrationId" => integration_id = map.next_value::<Option<String>>()?,
                "operations" => operations = map.next_value()?,
                "status" => status = map.next_value()?,
                "claimCode" => claim_code = map.next_value()?,
                "appClipUrl" => app_clip_url = map.next_value()?,
                "returnUrl" => return_url = map.next_value()?,
                "externalUserId" => external_user_id = map.next_value()?,
                "currentSessionId" => current_session_id = map.next_value()?,
                "result" => {
                    let raw: Box<RawValue> = map.next_value()?;
                    result = (raw.get() != "null").then_some(raw);
                }
                "error" => error = map.next_value()?,
                "expiresAt" => expires_at = map.next_value::<Millis>()?.0,
                "createdAt" => created_at = map.next_value::<Millis>()?.0,
                "updatedAt" => updated_at = map.next_value::<Millis>()?.0,
                _ => {
                    let value: Value = map.next_value()?;
                    extra.insert(key, value);
                }
            }
        }
        let id = match (id, link_id) {
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => return Err(de::Error::missing_field("id` or `linkId")),
        };
        let status = status.ok_or_else(|| de::Error::missing_field("status"))?;
        let operations = match operations {
            Some(ops) => ops,
            None => match (extra.get("resource"), extra.get("action")) {
                (Some(Value::String(r)), Some(Value::String(a))) => {
                    vec![OperationRef::new(r.clone(), a.clone())]
                }
                _ => Vec::new(),
            },
        };
        Ok(Link {
            id,
            integration_id: integration_id.unwrap_or_default(),
            operations,
            status,
            claim_code,
            app_clip_url,
            return_url,
            external_user_id,
            current_session_id,
            result,
            error,
            expires_at,
            created_at,
            updated_at,
            extra,
        })
    }
}

/// The top-level fields of a `GET /v1/links` answer read as the next page's cursor, in this order
/// of preference (see [`LinkList::next_cursor`]). Paging is undocumented: these are the names
/// common APIs use, and the first one present with a non-empty string (or integer) value wins.
pub const CURSOR_FIELDS: [&str; 4] = ["nextCursor", "next_cursor", "cursor", "next"];

/// The top-level fields of a `GET /v1/links` answer read as "more pages remain" (see
/// [`LinkList::next_cursor`]).
pub const HAS_MORE_FIELDS: [&str; 2] = ["hasMore", "has_more"];

/// The answer of `GET /v1/links`: the links, and any other top-level field (a cursor, a
/// count...) kept in [`extra`](Self::extra). Filters, ordering and pagination are
/// undocumented: [`next_cursor`](Self::next_cursor) reads a cursor tolerantly if one is sent,
/// and no order is assumed.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct LinkList {
    /// The organization's links.
    pub links: Vec<LinkSummary>,
    /// Top-level fields other than `links`, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LinkList {
    /// The cursor to send back as `?cursor=` for the next page, or `None` when this page is the
    /// last. Paging of `GET /v1/links` is **undocumented**, so this reads, tolerantly:
    ///
    /// 1. `hasMore` / `has_more` explicitly `false`: the last page, whatever else is sent.
    /// 2. Otherwise the first of [`CURSOR_FIELDS`] (`nextCursor`, `next_cursor`, `cursor`,
    ///    `next`) holding a non-empty string, or an integer (sent as its decimal text). The value
    ///    is opaque: it is passed back unchanged, never followed as a URL (a `next` URL naming
    ///    another host must not receive the API key).
    /// 3. Otherwise, when `hasMore` / `has_more` is `true`, the id of this page's last link
    ///    (the `starting_after` convention), if the page has links.
    /// 4. Otherwise `None`: an answer without any of these fields is the whole list.
    ///
    /// ```
    /// use passage_connect::client::LinkList;
    /// let page: LinkList = serde_json::from_str(r#"{"links":[],"nextCursor":"c2"}"#).unwrap();
    /// assert_eq!(page.next_cursor().as_deref(), Some("c2"));
    /// let last: LinkList = serde_json::from_str(r#"{"links":[],"nextCursor":"c2","hasMore":false}"#).unwrap();
    /// assert_eq!(last.next_cursor(), None);
    /// ```
    pub fn next_cursor(&self) -> Option<String> {
        let has_more = HAS_MORE_FIELDS
            .iter()
            .find_map(|name| self.extra.get(*name).and_then(Value::as_bool));
        if has_more == Some(false) {
            return None;
        }
        let cursor = CURSOR_FIELDS
            .iter()
            .find_map(|name| match self.extra.get(*name) {
                Some(Value::String(text)) if !text.trim().is_empty() => Some(text.clone()),
                Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Some(n.to_string()),
                _ => None,
            });
        match (cursor, has_more) {
            (Some(cursor), _) => Some(cursor),
            (None, Some(true)) => self.links.last().map(|link| link.id.clone()),
            (None, _) => None,
        }
    }
}

impl<'de> Deserialize<'de> for LinkList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = LinkList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object {\"links\":[...]}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LinkList, A::Error> {
                let mut links = None;
                let mut extra = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "links" {
                        links = Some(map.next_value::<Option<Vec<Link>>>()?.unwrap_or_default());
                    } else {
                        let value: Value = map.next_value()?;
                        extra.insert(key, value);
                    }
                }
                Ok(LinkList {
                    links: links.ok_or_else(|| de::Error::missing_field("links"))?,
                    extra,
                })
            }
        }
        d.deserialize_map(ListVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_answer_decodes_with_result_kept_raw() {
        let json = r#"{"id":"link_abc123","integrationId":"tmobile","operations":[{"resource":"mobileBillingStatement","action":"read"}],"externalUserId":null,"status":"complete","currentSessionId":"session_xyz789","returnUrl":"https://your-app.com/done?linkId=link_abc123","result":{"billing":[{"periodStart":"01/15/2025","periodEnd":"02/14/2025","amountDue":85.0,"currency":"USD"}]},"error":null,"expiresAt":1704081600000,"createdAt":1704067200000,"updatedAt":1704070800000,"brandNew":{"x":1}}"#;
        let link: Link = serde_json::from_str(json).unwrap();
        assert_eq!(link.id, "link_abc123");
        assert_eq!(link.status, LinkStatus::Complete);
        assert_eq!(link.external_user_id, None);
        assert_eq!(link.error, None);
        assert_eq!(link.expires_at, Some(1_704_081_600_000));
        assert_eq!(link.extra["brandNew"]["x"], 1);
        assert!(link
            .result
            .as_ref()
            .unwrap()
            .get()
            .contains("amountDue\":85.0"));
        let results = link.results().unwrap().unwrap();
        assert_eq!(results.len(), 1);
        // Serializing writes the API's field names back, unknown fields included.
        let back: Value = serde_json::to_value(&link).unwrap();
        assert_eq!(back["brandNew"]["x"], 1);
        assert_eq!(back["integrationId"], "tmobile");
    }

    #[test]
    fn create_answer_with_link_id_and_older_top_level_operation() {
        let json = r#"{"linkId":"link_1","claimCode":"clm_x","integrationId":"att","resource":"paymentMethod","action":"read","status":"weird-new","appClipUrl":"https://a/link_1?code=clm_x"}"#;
        let link: Link = serde_json::from_str(json).unwrap();
        assert_eq!(link.id, "link_1");
        assert_eq!(
            link.operations,
            vec![OperationRef::new("paymentMethod", "read")]
        );
        assert_eq!(link.status, LinkStatus::Other("weird-new".into()));
        assert_eq!(link.claim_code.as_deref(), Some("clm_x"));
        assert!(link.results().is_none());
    }

    #[test]
    fn both_id_forms_present_is_fine_and_missing_id_names_the_field() {
        let link: Link =
            serde_json::from_str(r#"{"id":"a","linkId":"a","status":"pending"}"#).unwrap();
        assert_eq!(link.id, "a");
        let err = serde_json::from_str::<Link>(r#"{"status":"pending"}"#).unwrap_err();
        assert!(err.to_string().contains("linkId"), "{err}");
    }

    #[test]
    fn failed_link_error_in_both_forms() {
        let a: Link = serde_json::from_str(
            r#"{"id":"a","status":"failed","error":{"code":"AUTOMATION_ERROR","message":"boom"}}"#,
        )
        .unwrap();
        assert_eq!(a.error.unwrap().message, "boom");
        let b: Link =
            serde_json::from_str(r#"{"id":"a","status":"failed","error":"plain boom"}"#).unwrap();
        assert_eq!(b.error.unwrap().message, "plain boom");
    }

    #[test]
    fn list_keeps_unknown_top_level_fields() {
        let list: LinkList = serde_json::from_str(
            r#"{"links":[{"id":"a","status":"pending","integrationId":"tmobile"}],"nextCursor":"c2"}"#,
        )
        .unwrap();
        assert_eq!(list.links.len(), 1);
        assert_eq!(list.extra["nextCursor"], "c2");
    }

    #[test]
    fn next_cursor_reads_every_documented_name_and_has_more() {
        let page = |json: &str| {
            serde_json::from_str::<LinkList>(json)
                .unwrap()
                .next_cursor()
        };
        assert_eq!(page(r#"{"links":[]}"#), None);
        assert_eq!(
            page(r#"{"links":[],"nextCursor":"a"}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            page(r#"{"links":[],"next_cursor":"b"}"#).as_deref(),
            Some("b")
        );
        assert_eq!(page(r#"{"links":[],"cursor":"c"}"#).as_deref(), Some("c"));
        assert_eq!(page(r#"{"links":[],"next":7}"#).as_deref(), Some("7"));
        // Preference order, and empty / null / non-scalar values ignored.
        assert_eq!(
            page(r#"{"links":[],"next":"d","nextCursor":"a"}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            page(r#"{"links":[],"nextCursor":"","cursor":null,"next":{"x":1}}"#),
            None
        );
        // hasMore: false wins; hasMore: true without a cursor continues after the last link.
        assert_eq!(
            page(r#"{"links":[],"nextCursor":"a","has_more":false}"#),
            None
        );
        let more = r#"{"links":[{"id":"l1","status":"pending"},{"id":"l2","status":"pending"}],"hasMore":true}"#;
        assert_eq!(page(more).as_deref(), Some("l2"));
        assert_eq!(page(r#"{"links":[],"hasMore":true}"#), None);
    }

    #[test]
    fn mistyped_field_has_a_path() {
        let mut de = serde_json::Deserializer::from_str(
            r#"{"links":[{"id":"a","status":"pending"},{"id":"b","status":"pending","createdAt":"yesterday"}]}"#,
        );
        let err = serde_path_to_error::deserialize::<_, LinkList>(&mut de).unwrap_err();
        assert_eq!(err.path().to_string(), "links[1].createdAt");
    }
}
