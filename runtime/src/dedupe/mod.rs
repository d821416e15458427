//! Redelivery dedupe for webhook receivers.
//!
//! Passage retries a webhook delivery (after 1 s and after 5 s) until the receiver answers 2xx, so
//! a receiver can see the same event more than once; the body carries no event id, so an event is
//! identified by `linkId` + `event` + `timestamp` ([`DedupeKey`]). A [`DedupeStore`] remembers the
//! keys it has seen for a while and answers whether a key is new:
//!
//! * [`MemoryDedupeStore`]: in-process, bounded in size, with a TTL; enough for one receiver process.
//! * `RedisDedupeStore` (cargo feature `redis`): shared by receivers on several machines, using
//!   `SET key 1 NX EX ttl`.
//!
//! ```
//! use passage_connect::dedupe::{DedupeKey, DedupeStore, MemoryDedupeStore};
//!
//! # async fn demo() -> Result<(), passage_connect::dedupe::DedupeError> {
//! let store = MemoryDedupeStore::new();
//! let key = DedupeKey::new("link_abc123", "link.complete", 1_704_067_200_000);
//! assert!(store.first_seen(&key).await?); // process it
//! assert!(!store.first_seen(&key).await?); // a redelivery: skip it
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::webhook::{LinkEvent, WebhookEvent};

mod memory;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisDedupeStore;
pub use memory::{MemoryDedupeStore, DEFAULT_CAPACITY, DEFAULT_TTL};

/// The future returned by [`DedupeStore`] methods (boxed so the trait stays object-safe).
pub type DedupeFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DedupeError>> + Send + 'a>>;

/// What identifies one webhook event: the link, the event name and the event's timestamp.
///
/// Passage's webhook body has no event id; the API notes say to dedupe by `linkId` + `event` +
/// `timestamp`. One link may legitimately produce `link.failed` and later `link.complete`
/// (a failed link can be claimed again), and those keys differ.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupeKey {
    /// The link id (`linkId`), e.g. `link_abc123`.
    pub link_id: String,
    /// The event name (`event`), e.g. `link.complete`; unknown event names are kept as sent.
    pub event: String,
    /// The event's `timestamp`, Unix milliseconds.
    pub timestamp: u64,
}

impl DedupeKey {
    /// A key from its three parts.
    pub fn new(link_id: impl Into<String>, event: impl Into<String>, timestamp_ms: u64) -> Self {
        Self {
            link_id: link_id.into(),
            event: event.into(),
            timestamp: timestamp_ms,
        }
    }

    /// The key of a `link.*` event named `event` (`link.complete`, `link.failed`).
    pub fn for_link_event(event: &str, link: &LinkEvent) -> Self {
        Self::new(link.link_id.as_str(), event, link.timestamp)
    }

    /// The key of a parsed event, or `None` for an event this SDK does not know (its body's
    /// shape is unknown, so no key can be derived from it: decide yourself, e.g. from
    /// [`WebhookEvent::Unknown`]'s raw body).
    pub fn from_event(event: &WebhookEvent) -> Option<Self> {
        event
            .link_event()
            .map(|link| Self::for_link_event(event.name(), link))
    }

    /// The key as one string, `<link_id>:<event>:<timestamp>`, with `%` and `:` in the first two
    /// parts percent-encoded so that distinct keys never map to the same string. Used as the Redis
    /// key (after the store's prefix).
    pub fn to_storage_key(&self) -> String {
        let mut out = String::with_capacity(self.link_id.len() + self.event.len() + 24);
        push_escaped(&mut out, &self.link_id);
        out.push(':');
        push_escaped(&mut out, &self.event);
        out.push(':');
        out.push_str(&self.timestamp.to_string());
        out
    }
}

fn push_escaped(out: &mut String, part: &str) {
    for c in part.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            c => out.push(c),
        }
    }
}

impl From<(&str, &str, u64)> for DedupeKey {
    /// From [`LinkEvent::dedupe_key`]'s `(link_id, event, timestamp)`.
    fn from((link_id, event, timestamp): (&str, &str, u64)) -> Self {
        Self::new(link_id, event, timestamp)
    }
}

impl fmt::Display for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_storage_key())
    }
}

/// A record of webhook events already seen, answering "is this the first delivery?".
///
/// Call [`first_seen`](DedupeStore::first_seen) after verifying the signature and before
/// processing; it records the key atomically, so among concurrent deliveries of one event exactly
/// one gets `true`. If processing then fails *and you answer non-2xx so Passage retries*, call
/// [`forget`](DedupeStore::forget) so the retry is not dropped as a duplicate.
///
/// The trait is object-safe (`Arc<dyn DedupeStore>` works); methods return boxed futures.
pub trait DedupeStore: Send + Sync {
    /// Records `key` and returns `true` if it was not already recorded (process the event), or
    /// `false` if it was seen within the store's TTL (a redelivery: skip it, still answer 2xx).
    fn first_seen<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, bool>;

    /// Removes `key`, so the next delivery of that event counts as first seen again.
    fn forget<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()>;
}

impl<S: DedupeStore + ?Sized> DedupeStore for std::sync::Arc<S> {
    fn first_seen<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, bool> {
        (**self).first_seen(key)
    }

    fn forget<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()> {
        (**self).forget(key)
    }
}

/// Why a dedupe store could not answer.
///
/// A receiver that gets this error should answer non-2xx (so Passage retries) or process the event
/// anyway, depending on whether a duplicate or a lost event is worse for it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DedupeError {
    /// A Redis command failed (connection refused, timeout, auth, ...).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    #[error("redis dedupe store: {operation} failed: {source}")]
    Redis {
        /// The command or step that failed (`SET NX`, `DEL`, `connect`).
        operation: &'static str,
        /// The Redis client's error.
        #[source]
        source: ::redis::RedisError,
    },
    /// A Redis answer was not what `SET NX` returns (`OK` or nil).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    #[error("redis dedupe store: unexpected reply to {operation}: {reply}")]
    UnexpectedReply {
        /// The command that got the reply.
        operation: &'static str,
        /// The reply, as debug text.
        reply: String,
    },
    /// A user-implemented store's backend failed.
    #[error("dedupe store {store}: {source}")]
    Backend {
        /// A short name of the store (for logs).
        store: &'static str,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_key_is_unambiguous() {
        let a = DedupeKey::new("a:b", "c", 1);
        let b = DedupeKey::new("a", "b:c", 1);
        assert_ne!(a.to_storage_key(), b.to_storage_key());
        assert_eq!(a.to_storage_key(), "a%3Ab:c:1");
        let c = DedupeKey::new("a%3Ab", "c", 1);
        assert_ne!(a.to_storage_key(), c.to_storage_key());
        assert_eq!(
            DedupeKey::new("link_abc123", "link.complete", 1_704_067_200_000).to_string(),
            "link_abc123:link.complete:1704067200000"
        );
    }

    #[test]
    fn key_from_events() {
        let body = br#"{"event":"link.failed","linkId":"link_1","status":"failed","error":null,"timestamp":1704067200000}"#;
        let event = WebhookEvent::parse(body).unwrap();
        let key = DedupeKey::from_event(&event).unwrap();
        assert_eq!(
            key,
            DedupeKey::new("link_1", "link.failed", 1_704_067_200_000)
        );
        let link = event.link_event().unwrap();
        assert_eq!(DedupeKey::from(link.dedupe_key("link.failed")), key);
        let unknown = WebhookEvent::parse(br#"{"event":"link.other","linkId":"x"}"#).unwrap();
        assert_eq!(DedupeKey::from_event(&unknown), None);
    }

    #[test]
    fn store_is_object_safe() {
        let store: std::sync::Arc<dyn DedupeStore> = std::sync::Arc::new(MemoryDedupeStore::new());
        let _also_a_store: &dyn DedupeStore = &store;
    }
}
