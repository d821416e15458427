//! Redelivery dedupe for webhook receivers and queue workers: the *processing/done* rule.
//!
//! Passage retries a webhook delivery (after 1 s and after 5 s) until the receiver answers 2xx, so
//! a receiver can see the same event more than once; the body carries no event id, so an event is
//! identified by `linkId` + `event` + `timestamp` ([`DedupeKey`]).
//!
//! # The rule
//!
//! Recording "seen" in one step cannot be right: if the write lands but its answer is lost (a
//! timeout, a crash right after), the retry is taken for a duplicate and the event is never
//! processed. So a store records two states:
//!
//! 1. [`claim`](DedupeStore::claim) before processing. A key nobody holds is recorded as
//!    **processing** with a *lease* and the caller gets [`Claim::Acquired`]: process the event.
//!    A key another caller is processing gives [`Claim::InProgress`] (answer non-2xx so Passage
//!    retries later, or retry yourself after the hint), a key already **done** gives
//!    [`Claim::Done`] (a duplicate: skip it and answer 2xx).
//! 2. [`complete`](DedupeStore::complete) after the handler succeeded: the key becomes **done**
//!    and stays so for the store's TTL.
//! 3. [`release`](DedupeStore::release) when the handler failed: the claim is dropped (only if it
//!    is still yours), so the next delivery is processed at once.
//!
//! What this gives on each fault:
//!
//! | fault | outcome |
//! |---|---|
//! | handler crashed, or the process died, before `complete` | the lease runs out, the next delivery is processed |
//! | the answer to `claim` was lost (timeout) | with a timeout the caller sees an error and answers 503; a claim that reaches Redis after the caller's deadline is refused by Redis itself, so it cannot turn the retry into a duplicate |
//! | the answer to `complete` was lost | the key stays *processing* until its lease ends, then a retry is processed again: a duplicate, bounded to this case |
//! | handler slower than the lease | another delivery may process the event in parallel: choose a lease longer than the handler's worst case |
//! | a done key older than the TTL | forgotten: a delivery after the TTL is processed again |
//!
//! So an event is processed **at least once**, and twice only when a handler finished but its
//! `complete` did not land (or a handler outran its lease).
//!
//! * [`MemoryDedupeStore`]: in-process, bounded in size; enough for one receiver process.
//! * `RedisDedupeStore` (cargo feature `redis`): shared by receivers and workers on several
//!   machines; reconnects after a Redis restart and bounds every call with a timeout.
//!
//! ```
//! use passage_connect::dedupe::{Claim, DedupeKey, DedupeStore, MemoryDedupeStore};
//!
//! # async fn demo() -> Result<(), passage_connect::dedupe::DedupeError> {
//! let store = MemoryDedupeStore::new();
//! let key = DedupeKey::new("link_abc123", "link.complete", 1_704_067_200_000);
//! let Claim::Acquired(token) = store.claim(&key).await? else { unreachable!() };
//! // A redelivery while the first is still being processed: ask Passage to retry later.
//! assert!(matches!(store.claim(&key).await?, Claim::InProgress { .. }));
//! match process().await {
//!     Ok(()) => store.complete(&key).await?,           // done: later deliveries are duplicates
//!     Err(_) => store.release(&key, &token).await?,    // let the next delivery try again
//! }
//! assert_eq!(store.claim(&key).await?, Claim::Done);
//! # Ok(()) }
//! # async fn process() -> Result<(), ()> { Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::webhook::{LinkEvent, WebhookEvent};

mod memory;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis-streams")]
pub(crate) use self::redis::connect_manager;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisDedupeStore, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
pub use memory::{MemoryDedupeStore, DEFAULT_CAPACITY, DEFAULT_LEASE, DEFAULT_TTL};

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

/// The answer to [`DedupeStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// Nobody held the key: it is now recorded as *processing* for the store's lease, on your
    /// behalf. Process the event, then call [`DedupeStore::complete`] (or
    /// [`DedupeStore::release`] with this token if processing failed).
    Acquired(ClaimToken),
    /// Another caller is processing the event (its lease has not run out). Do not process it;
    /// answer non-2xx so the delivery is retried (a crashed holder's lease ends after at most
    /// `retry_after`).
    InProgress {
        /// How long the current lease still runs.
        retry_after: std::time::Duration,
    },
    /// The event was processed and recorded *done* within the TTL: a duplicate, skip it.
    Done,
}

impl Claim {
    /// Whether the caller should process the event (the claim was acquired).
    pub fn is_acquired(&self) -> bool {
        matches!(self, Claim::Acquired(_))
    }
}

/// What a store holds for a key, read without claiming it (`RedisDedupeStore::state`,
/// [`MemoryDedupeStore::state_now`]): for a reconciler that must not take a claim it would not
/// process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DedupeState {
    /// No record (never seen, or forgotten after the TTL / a lease that ran out).
    Absent,
    /// Someone holds a *processing* claim whose lease has not run out.
    Processing,
    /// Recorded *done* within the TTL.
    Done,
}

/// Proof of a claim: [`DedupeStore::release`] drops a claim only when it is still held under
/// this token, so a caller whose lease ran out cannot drop the claim of the caller that took over.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken(String);

impl ClaimToken {
    /// A fresh random token (128 bits).
    pub fn random() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()))
    }

    /// The token as text (what a store writes).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClaimToken").field(&self.0).finish()
    }
}

/// A record of webhook events being processed and processed, following the processing/done rule
/// of the [module docs](self).
///
/// The trait is object-safe (`Arc<dyn DedupeStore>` works); methods return boxed futures.
pub trait DedupeStore: Send + Sync {
    /// Atomically: if nobody holds `key`, records it as *processing* for the store's lease and
    /// answers [`Claim::Acquired`]; otherwise answers [`Claim::InProgress`] or [`Claim::Done`].
    /// Among concurrent callers exactly one acquires.
    fn claim<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, Claim>;

    /// Records `key` as *done* for the store's TTL (call after the handler succeeded). Later
    /// claims answer [`Claim::Done`].
    fn complete<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()>;

    /// Drops the *processing* record of `key` if it is still held under `token` (call when the
    /// handler failed, so the next delivery is processed without waiting for the lease).
    fn release<'a>(&'a self, key: &'a DedupeKey, token: &'a ClaimToken) -> DedupeFuture<'a, ()>;

    /// Removes any record of `key` (processing or done), so the next delivery is processed
    /// again (an operator's tool: reprocessing on purpose).
    fn forget<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()>;
}

impl<S: DedupeStore + ?Sized> DedupeStore for std::sync::Arc<S> {
    fn claim<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, Claim> {
        (**self).claim(key)
    }

    fn complete<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()> {
        (**self).complete(key)
    }

    fn release<'a>(&'a self, key: &'a DedupeKey, token: &'a ClaimToken) -> DedupeFuture<'a, ()> {
        (**self).release(key, token)
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
    /// A Redis call did not answer within the store's timeout (Redis paused, overloaded or
    /// unreachable). The write may still land later; the processing/done rule makes that safe.
    #[cfg(feature = "redis")]
    #[error("redis dedupe store: {operation} timed out after {after:?}")]
    Timeout {
        /// The command that timed out.
        operation: &'static str,
        /// The timeout.
        after: std::time::Duration,
    },
    /// Redis refused a claim as arriving after the caller's deadline although the answer came
    /// within the timeout: this host's clock and the Redis server's disagree by about the
    /// timeout or more. Fix the clocks (NTP) or raise the timeout.
    #[cfg(feature = "redis")]
    #[error("redis dedupe store: claim refused as late although answered within {timeout:?}: this host's clock and the Redis server's disagree")]
    ClockSkew {
        /// The store's timeout (the claim's deadline is now + timeout by this host's clock).
        timeout: std::time::Duration,
    },
    /// A Redis answer was not one the store's commands return.
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
