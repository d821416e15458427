//! The in-memory link store and the link state machine: pending → active (claim) → complete, or
//! failed (claimable again), and expired once past `expiresAt`.
//!
//! Bounded: at most [`StoreLimits::max_links`] links, and at most
//! [`StoreLimits::max_result_bytes`] of stored results (kept as serialized JSON, not as a parsed
//! tree, which costs several times the text); past either, the oldest links are evicted first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::validation::{CreateLinkRequest, RequestedOperation};

/// Default link lifetime when `expiresIn` is absent: 4 hours, as Passage documents.
pub(crate) const DEFAULT_EXPIRES_IN_SECS: u64 = 14_400;

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A random id: `prefix` + 24 alphanumerics.
pub(crate) fn random_id(prefix: &str) -> String {
    let suffix: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{prefix}{suffix}")
}

/// A link's stored status (`expired` is derived from the clock, see [`Link::status_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Pending,
    Active,
    Complete,
    Failed,
    Expired,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Complete => "complete",
            Status::Failed => "failed",
            Status::Expired => "expired",
        }
    }
}

/// One link.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) id: String,
    pub(crate) claim_code: String,
    pub(crate) integration_id: String,
    pub(crate) operations: Vec<RequestedOperation>,
    pub(crate) external_user_id: Option<String>,
    pub(crate) webhook_url: Option<String>,
    /// Already carries the `linkId` query parameter.
    pub(crate) return_url: Option<String>,
    pub(crate) debug: bool,
    status: Status,
    pub(crate) current_session_id: Option<String>,
    /// Serialized once at completion: cheap to clone, and a fraction of a parsed tree's memory.
    pub(crate) result: Option<Arc<RawValue>>,
    pub(crate) error: Option<Value>,
    pub(crate) expires_at: u64,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
    /// Creation sequence number (1, 2, ...): the position paging cursors name, stable when older
    /// links are evicted.
    pub(crate) seq: u64,
}

impl Link {
    /// The status as the API reports it at `now`: a pending, active or failed link past
    /// `expiresAt` reads `expired`; a complete link stays complete.
    pub(crate) fn status_at(&self, now: u64) -> Status {
        match self.status {
            Status::Pending | Status::Active | Status::Failed if now >= self.expires_at => {
                Status::Expired
            }
            status => status,
        }
    }

    /// `operations` as echoed by the API: `resource` and `action`, never `arguments`.
    fn operations_json(&self) -> Value {
        Value::Array(
            self.operations
                .iter()
                .map(|op| json!({"resource": op.resource, "action": op.action}))
                .collect(),
        )
    }

    /// The `POST /v1/links` 201 body.
    pub(crate) fn created_json(&self, public_url: &str) -> Value {
        let mut body = json!({
            "linkId": self.id,
            "claimCode": self.claim_code,
            "integrationId": self.integration_id,
            "operations": self.operations_json(),
            "status": Status::Pending.as_str(),
            "appClipUrl": self.app_clip_url(public_url),
            "expiresAt": self.expires_at,
            "createdAt": self.created_at,
        });
        if let (Some(url), Some(map)) = (&self.return_url, body.as_object_mut()) {
            map.insert("returnUrl".into(), Value::String(url.clone()));
        }
        body
    }

    /// `{public_url}/sandbox/{linkId}?code={claimCode}`: the sandbox page standing in for the App Clip.
    pub(crate) fn app_clip_url(&self, public_url: &str) -> String {
        format!(
            "{}/sandbox/{}?code={}",
            public_url.trim_end_matches('/'),
            self.id,
            self.claim_code
        )
    }

    /// The `GET /v1/links/{id}` body (with `result` and `error`) or a `GET /v1/links` entry (without).
    pub(crate) fn to_json(&self, now: u64, with_outcome: bool) -> LinkJson<'_> {
        LinkJson {
            id: &self.id,
            integration_id: &self.integration_id,
            operations: self.operations_json(),
            external_user_id: self.external_user_id.as_deref(),
            status: self.status_at(now).as_str(),
            current_session_id: self.current_session_id.as_deref(),
            return_url: self.return_url.as_deref(),
            result: if with_outcome {
                self.result.as_deref()
            } else {
                None
            },
            error: with_outcome.then(|| self.error.clone().unwrap_or(Value::Null)),
            expires_at: self.expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A link as the API shows it; `result` is written out from its stored text.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LinkJson<'a> {
    id: &'a str,
    integration_id: &'a str,
    operations: Value,
    external_user_id: Option<&'a str>,
    status: &'static str,
    current_session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
    expires_at: u64,
    created_at: u64,
    updated_at: u64,
}

/// What a claim answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClaimOutcome {
    Claimed {
        link_id: String,
        session_id: String,
        expires_at: u64,
    },
    NotFound,
    /// 409: already complete, or a claim in progress (`active`).
    Conflict(Status),
    Expired,
}

/// Why a control operation (complete / fail / expire) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TransitionError {
    NotFound,
    InvalidState(Status),
}

/// How much the store keeps before it evicts its oldest links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreLimits {
    /// Links kept at most.
    pub(crate) max_links: usize,
    /// Bytes of stored results (serialized JSON) kept at most, all links together.
    pub(crate) max_result_bytes: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            max_links: 10_000,
            max_result_bytes: 64 * 1024 * 1024,
        }
    }
}

/// All links, in creation order, bounded by [`StoreLimits`].
#[derive(Debug, Default)]
pub(crate) struct Store {
    links: HashMap<String, Link>,
    order: VecDeque<String>,
    by_code: HashMap<String, String>,
    limits: StoreLimits,
    result_bytes: usize,
    evicted: u64,
    /// The `seq` of the last link created.
    last_seq: u64,
}

/// One page of [`Store::page`]: the links, and the cursor of the next page when more remain.
#[derive(Debug)]
pub(crate) struct Page<'a> {
    pub(crate) links: Vec<&'a Link>,
    pub(crate) next_cursor: Option<String>,
}

/// The emulator's cursor text for "after the link with this `seq`".
fn cursor_for(seq: u64) -> String {
    format!("c{seq}")
}

/// Parses a cursor made by [`cursor_for`]; `None` for anything else.
pub(crate) fn parse_cursor(cursor: &str) -> Option<u64> {
    cursor.strip_prefix('c')?.parse().ok()
}

impl Store {
    /// An empty store with these limits.
    pub(crate) fn with_limits(limits: StoreLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.links.len()
    }

    /// How many links were evicted so far.
    #[cfg(test)]
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Total bytes of stored results.
    #[cfg(test)]
    pub(crate) fn result_bytes(&self) -> usize {
        self.result_bytes
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Link> {
        self.links.get(id)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Link> {
        self.order.iter().filter_map(|id| self.links.get(id))
    }

    /// The links created after the cursor's link (`after`, a `seq`; `None`: from the first), in
    /// creation order, at most `limit` of them (`None`: all), with a next cursor when more remain.
    /// A cursor whose link was evicted still works: paging resumes at the next link kept.
    pub(crate) fn page(&self, after: Option<u64>, limit: Option<usize>) -> Page<'_> {
        let after = after.unwrap_or(0);
        let mut rest = self.all().filter(|link| link.seq > after);
        let links: Vec<&Link> = match limit {
            Some(limit) => rest.by_ref().take(limit).collect(),
            None => rest.by_ref().collect(),
        };
        let next_cursor = match (links.last(), rest.next()) {
            (Some(last), Some(_)) => Some(cursor_for(last.seq)),
            _ => None,
        };
        Page { links, next_cursor }
    }

    /// Evicts the oldest links until both limits hold, never `keep` (the link just written).
    fn evict(&mut self, keep: &str) {
        while self.links.len() > self.limits.max_links.max(1)
            || self.result_bytes > self.limits.max_result_bytes
        {
            let Some(position) = self.order.iter().position(|id| id != keep) else {
                break;
            };
            let Some(id) = self.order.remove(position) else {
                break;
            };
            if let Some(link) = self.links.remove(&id) {
                self.by_code.remove(&link.claim_code);
                self.result_bytes -= link.result.as_ref().map_or(0, |r| r.get().len());
                self.evicted += 1;
                tracing::debug!(link_id = %id, "evicted the oldest link (store limits)");
            }
        }
    }

    /// Stores a new pending link made from a valid request.
    pub(crate) fn create(&mut self, request: CreateLinkRequest, now: u64) -> Link {
        let mut id = random_id("link_");
        while self.links.contains_key(&id) {
            id = random_id("link_");
        }
        let mut claim_code = random_id("clm_");
        while self.by_code.contains_key(&claim_code) {
            claim_code = random_id("clm_");
        }
        let expires_in = request.expires_in.unwrap_or(DEFAULT_EXPIRES_IN_SECS);
        let return_url = request.return_url.map(|url| append_link_id(&url, &id));
        self.last_seq += 1;
        let link = Link {
            seq: self.last_seq,
            id: id.clone(),
            claim_code: claim_code.clone(),
            integration_id: request.integration_id,
            operations: request.operations,
            external_user_id: request.external_user_id,
            webhook_url: request.webhook_url,
            return_url,
            debug: request.debug,
            status: Status::Pending,
            current_session_id: None,
            result: None,
            error: None,
            expires_at: now.saturating_add(expires_in.saturating_mul(1000)),
            created_at: now,
            updated_at: now,
        };
        self.by_code.insert(claim_code, id.clone());
        self.order.push_back(id.clone());
        self.links.insert(id.clone(), link.clone());
        self.evict(&id);
        link
    }

    /// Claims by code: pending or failed → active with a new session.
    pub(crate) fn claim(&mut self, code: &str, now: u64) -> ClaimOutcome {
        let Some(link) = self.by_code.get(code).and_then(|id| self.links.get_mut(id)) else {
            return ClaimOutcome::NotFound;
        };
        match link.status_at(now) {
            Status::Expired => ClaimOutcome::Expired,
            status @ (Status::Complete | Status::Active) => ClaimOutcome::Conflict(status),
            Status::Pending | Status::Failed => {
                let session_id = random_id("sess_");
                link.status = Status::Active;
                link.current_session_id = Some(session_id.clone());
                link.error = None;
                link.updated_at = now;
                ClaimOutcome::Claimed {
                    link_id: link.id.clone(),
                    session_id,
                    expires_at: link.expires_at,
                }
            }
        }
    }

    /// Completes a link with `result`. A pending or failed link is claimed implicitly first.
    pub(crate) fn complete(
        &mut self,
        id: &str,
        result: Arc<RawValue>,
        now: u64,
    ) -> Result<Link, TransitionError> {
        let link = self.open_link(id, now)?;
        let added = result.get().len();
        let replaced = link.result.replace(result).map_or(0, |r| r.get().len());
        link.status = Status::Complete;
        link.error = None;
        link.updated_at = now;
        let link = link.clone();
        self.result_bytes = self.result_bytes - replaced + added;
        self.evict(id);
        Ok(link)
    }

    /// Fails a link with `error` (`{code, message}`). A pending link is claimed implicitly first.
    pub(crate) fn fail(
        &mut self,
        id: &str,
        error: Value,
        now: u64,
    ) -> Result<Link, TransitionError> {
        if let Some(link) = self.links.get(id) {
            if link.status_at(now) == Status::Failed {
                return Err(TransitionError::InvalidState(Status::Failed));
            }
        }
        let link = self.open_link(id, now)?;
        link.status = Status::Failed;
        link.error = Some(error);
        link.updated_at = now;
        Ok(link.clone())
    }

    /// Expires a link now (a complete link cannot expire).
    pub(crate) fn expire(&mut self, id: &str, now: u64) -> Result<Link, TransitionError> {
        let link = self.links.get_mut(id).ok_or(TransitionError::NotFound)?;
        match link.status_at(now) {
            Status::Complete | Status::Expired => {
                Err(TransitionError::InvalidState(link.status_at(now)))
            }
            _ => {
                link.expires_at = now;
                link.updated_at = now;
                Ok(link.clone())
            }
        }
    }

    /// A link that can still produce an outcome, with a session (a new one unless active).
    fn open_link(&mut self, id: &str, now: u64) -> Result<&mut Link, TransitionError> {
        let link = self.links.get_mut(id).ok_or(TransitionError::NotFound)?;
        match link.status_at(now) {
            status @ (Status::Complete | Status::Expired) => {
                Err(TransitionError::InvalidState(status))
            }
            Status::Active => Ok(link),
            Status::Pending | Status::Failed => {
                link.current_session_id = Some(random_id("sess_"));
                Ok(link)
            }
        }
    }

    /// Finds a link by id and checks its claim code (the sandbox page's access check).
    pub(crate) fn get_with_code(&self, id: &str, code: &str) -> Option<&Link> {
        self.links.get(id).filter(|link| {
            subtle::ConstantTimeEq::ct_eq(link.claim_code.as_bytes(), code.as_bytes()).into()
        })
    }

    /// Re-opens the link on the sandbox page: like a claim, but a link already `active` is shown
    /// again rather than refused (the page may be reloaded).
    pub(crate) fn claim_for_page(&mut self, id: &str, now: u64) -> Option<Status> {
        let link = self.links.get_mut(id)?;
        let status = link.status_at(now);
        if matches!(status, Status::Pending | Status::Failed) {
            link.status = Status::Active;
            link.current_session_id = Some(random_id("sess_"));
            link.error = None;
            link.updated_at = now;
            return Some(Status::Active);
        }
        Some(status)
    }
}

/// Appends `linkId=<id>` to a return URL's query, keeping any existing query and fragment.
pub(crate) fn append_link_id(url: &str, link_id: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.query_pairs_mut().append_pair("linkId", link_id);
            parsed.to_string()
        }
        // Validation only lets parsable URLs through; keep the text rather than fail.
        Err(_) => {
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}linkId={link_id}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CreateLinkRequest {
        CreateLinkRequest {
            integration_id: "tmobile".into(),
            operations: vec![RequestedOperation {
                resource: "paymentMethod".into(),
                action: "read".into(),
                arguments: None,
            }],
            webhook_url: None,
            return_url: Some("https://app.example.com/done?x=1#top".into()),
            external_user_id: None,
            debug: false,
            expires_in: Some(10),
        }
    }

    fn raw(value: Value) -> Arc<RawValue> {
        Arc::from(serde_json::value::to_raw_value(&value).unwrap())
    }

    #[test]
    fn the_oldest_links_are_evicted_past_the_count_or_result_limit() {
        let mut store = Store::with_limits(StoreLimits {
            max_links: 3,
            max_result_bytes: 1000,
        });
        let ids: Vec<String> = (0..5).map(|_| store.create(request(), 1_000).id).collect();
        assert_eq!(store.len(), 3);
        assert_eq!(store.evicted(), 2);
        assert!(store.get(&ids[0]).is_none() && store.get(&ids[1]).is_none());
        let kept: Vec<&str> = store.all().map(|l| l.id.as_str()).collect();
        assert_eq!(kept, [ids[2].as_str(), ids[3].as_str(), ids[4].as_str()]);
        // A result of 600 bytes each: the second one pushes the total past 1000.
        let big = raw(json!({"pad": "x".repeat(590)}));
        assert_eq!(big.get().len(), 600);
        store.complete(&ids[3], big.clone(), 2_000).unwrap();
        assert_eq!(store.result_bytes(), 600);
        store.complete(&ids[4], big, 2_000).unwrap();
        // ids[2] (no result) goes first, then ids[3] (600 bytes) to get under the limit.
        let kept: Vec<&str> = store.all().map(|l| l.id.as_str()).collect();
        assert_eq!(kept, [ids[4].as_str()]);
        assert_eq!(store.result_bytes(), 600);
        assert_eq!(store.evicted(), 4);
        // The claim code of an evicted link is forgotten too.
        assert_eq!(store.by_code.len(), 1);
    }

    #[test]
    fn pages_follow_creation_order_and_survive_eviction() {
        let mut store = Store::with_limits(StoreLimits {
            max_links: 4,
            max_result_bytes: 1000,
        });
        let ids: Vec<String> = (0..5).map(|_| store.create(request(), 1_000).id).collect();
        let first = store.page(None, Some(3));
        let got: Vec<&str> = first.links.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(got, [ids[1].as_str(), ids[2].as_str(), ids[3].as_str()]);
        let cursor = first.next_cursor.clone().unwrap();
        let second = store.page(parse_cursor(&cursor), Some(3));
        assert_eq!(second.links.len(), 1);
        assert_eq!(second.links[0].id, ids[4]);
        assert_eq!(second.next_cursor, None);
        // An exact fit has no next cursor; no limit is everything.
        assert_eq!(store.page(None, Some(4)).next_cursor, None);
        assert_eq!(store.page(None, None).links.len(), 4);
        // The cursor's own link evicted: paging resumes at the next link kept.
        let at_evicted = store.page(parse_cursor("c1"), None);
        assert_eq!(at_evicted.links.len(), 4);
        assert_eq!(parse_cursor("x1"), None);
        assert_eq!(parse_cursor("c-1"), None);
    }

    #[test]
    fn return_url_keeps_query_and_fragment() {
        assert_eq!(
            append_link_id("https://a.com/done?x=1#top", "link_1"),
            "https://a.com/done?x=1&linkId=link_1#top"
        );
        assert_eq!(
            append_link_id("myapp://done", "link_1"),
            "myapp://done?linkId=link_1"
        );
    }

    #[test]
    fn lifecycle_and_expiry() {
        let mut store = Store::default();
        let link = store.create(request(), 1_000);
        assert_eq!(link.expires_at, 11_000);
        assert_eq!(link.status_at(10_999), Status::Pending);
        assert_eq!(link.status_at(11_000), Status::Expired);
        assert!(matches!(
            store.claim(&link.claim_code, 2_000),
            ClaimOutcome::Claimed { .. }
        ));
        assert_eq!(
            store.claim(&link.claim_code, 2_000),
            ClaimOutcome::Conflict(Status::Active)
        );
        store
            .fail(
                &link.id,
                json!({"code":"AUTOMATION_ERROR","message":"x"}),
                3_000,
            )
            .unwrap();
        assert!(matches!(
            store.claim(&link.claim_code, 4_000),
            ClaimOutcome::Claimed { .. }
        ));
        store.complete(&link.id, raw(json!({})), 5_000).unwrap();
        assert_eq!(
            store.claim(&link.claim_code, 6_000),
            ClaimOutcome::Conflict(Status::Complete)
        );
        // A complete link stays complete past its expiry.
        assert_eq!(
            store.get(&link.id).unwrap().status_at(99_000),
            Status::Complete
        );
        assert_eq!(store.claim("clm_nope", 6_000), ClaimOutcome::NotFound);
        let other = store.create(request(), 1_000);
        assert_eq!(
            store.claim(&other.claim_code, 20_000),
            ClaimOutcome::Expired
        );
    }
}
