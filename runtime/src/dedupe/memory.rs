//! The in-process dedupe store: a bounded map of processing and done records, reading an
//! injectable clock.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{Claim, ClaimToken, DedupeFuture, DedupeKey, DedupeState, DedupeStore};
use crate::webhook::{Clock, SystemClock};

/// Default number of keys a [`MemoryDedupeStore`] keeps.
pub const DEFAULT_CAPACITY: usize = 100_000;
/// Default time a *done* key is remembered. Passage's retries span about 6 s; an hour leaves room
/// for slow queues and manual replays.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);
/// Default lease of a *processing* claim: how long a claim holder may take before another
/// delivery may process the event. Longer than a handler's worst case, short enough that a crashed
/// holder does not block the event for long.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// An in-memory [`DedupeStore`]: a claim holds a key as *processing* for the lease, a completed
/// key is *done* for the TTL, and at most `capacity` keys are held (when full, the oldest record
/// is forgotten first).
///
/// It is per process: receivers on several machines need a shared store such as
/// `RedisDedupeStore` (feature `redis`). Cloning is cheap and clones share the same records.
#[derive(Clone)]
pub struct MemoryDedupeStore {
    inner: Arc<Mutex<Records>>,
    capacity: NonZeroUsize,
    ttl: Duration,
    lease: Duration,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for MemoryDedupeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDedupeStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .field("clock", &self.clock)
            .finish()
    }
}

/// The records: a map from key to (insertion sequence, expiry, state), and the keys in insertion
/// order. Eviction pops from the front of `order`: the oldest record first when over capacity, and
/// expired records while they are at the front. A record behind a longer-lived one (a short lease
/// after a long TTL, or a clock step back) is evicted later; lookups check the expiry
/// themselves, so this only delays freeing memory, bounded by the capacity. An entry of `order` whose
/// sequence no longer matches the map (the key was forgotten or re-inserted) is stale and skipped.
#[derive(Default)]
struct Records {
    map: HashMap<DedupeKey, Entry>,
    order: VecDeque<(u64, DedupeKey)>,
    next_seq: u64,
}

#[derive(Clone)]
struct Entry {
    seq: u64,
    expires_at: u64,
    state: State,
}

#[derive(Clone)]
enum State {
    Processing(ClaimToken),
    Done,
}

impl Records {
    /// Drops expired keys, then the oldest keys beyond `capacity`.
    fn evict(&mut self, now: u64, capacity: usize) {
        while let Some((seq, key)) = self.order.front() {
            let live = self
                .map
                .get(key)
                .filter(|e| e.seq == *seq)
                .map(|e| e.expires_at);
            match live {
                None => {
                    self.order.pop_front();
                }
                Some(expires_at) if expires_at <= now || self.map.len() > capacity => {
                    self.map.remove(key);
                    self.order.pop_front();
                }
                Some(_) => break,
            }
        }
        // `forget` leaves stale entries behind; keep `order` bounded even if none reach the front.
        if self.order.len() > capacity.saturating_mul(2) {
            let map = &self.map;
            self.order
                .retain(|(seq, key)| map.get(key).is_some_and(|e| e.seq == *seq));
        }
    }

    fn insert(&mut self, key: &DedupeKey, expires_at: u64, state: State) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.map.insert(
            key.clone(),
            Entry {
                seq,
                expires_at,
                state,
            },
        );
        self.order.push_back((seq, key.clone()));
    }
}

impl MemoryDedupeStore {
    /// A store with [`DEFAULT_CAPACITY`] keys, [`DEFAULT_TTL`], [`DEFAULT_LEASE`] and the system
    /// clock.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Records::default())),
            capacity: NonZeroUsize::new(DEFAULT_CAPACITY).unwrap_or(NonZeroUsize::MIN),
            ttl: DEFAULT_TTL,
            lease: DEFAULT_LEASE,
            clock: Arc::new(SystemClock),
        }
    }

    /// Keeps at most `capacity` keys; when a new key arrives at a full store, the oldest goes.
    pub fn with_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Remembers each *done* key for `ttl` after it was completed.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Holds each claim as *processing* for `lease`; after it, another claim acquires the key.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Reads the time from `clock` instead of the system clock (tests: share one
    /// [`ManualClock`](crate::webhook::ManualClock) with the verifier).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The number of keys currently held (expired keys may still count until the next call).
    pub fn len(&self) -> usize {
        self.records().map.len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Synchronous form of [`DedupeStore::claim`].
    pub fn claim_now(&self, key: &DedupeKey) -> Claim {
        let now = self.clock.unix_millis();
        let mut records = self.records();
        records.evict(now, self.capacity.get());
        if let Some(entry) = records.map.get(key) {
            if entry.expires_at > now {
                return match entry.state {
                    State::Done => Claim::Done,
                    State::Processing(_) => Claim::InProgress {
                        retry_after: Duration::from_millis(entry.expires_at - now),
                    },
                };
            }
        }
        let token = ClaimToken::random();
        let expires_at = now.saturating_add(millis(self.lease));
        records.insert(key, expires_at, State::Processing(token.clone()));
        records.evict(now, self.capacity.get());
        Claim::Acquired(token)
    }

    /// What the store holds for `key`, without claiming it.
    ///
    /// ```
    /// use passage_connect::dedupe::{DedupeKey, DedupeState, MemoryDedupeStore};
    /// let store = MemoryDedupeStore::new();
    /// let key = DedupeKey::new("link_1", "link.complete", 1);
    /// assert_eq!(store.state_now(&key), DedupeState::Absent);
    /// store.claim_now(&key);
    /// assert_eq!(store.state_now(&key), DedupeState::Processing);
    /// store.complete_now(&key);
    /// assert_eq!(store.state_now(&key), DedupeState::Done);
    /// ```
    pub fn state_now(&self, key: &DedupeKey) -> DedupeState {
        let now = self.clock.unix_millis();
        match self.records().map.get(key) {
            Some(entry) if entry.expires_at > now => match entry.state {
                State::Done => DedupeState::Done,
                State::Processing(_) => DedupeState::Processing,
            },
            _ => DedupeState::Absent,
        }
    }

    /// Synchronous form of [`DedupeStore::complete`].
    pub fn complete_now(&self, key: &DedupeKey) {
        let now = self.clock.unix_millis();
        let mut records = self.records();
        records.insert(key, now.saturating_add(millis(self.ttl)), State::Done);
        records.evict(now, self.capacity.get());
    }

    /// Synchronous form of [`DedupeStore::release`].
    pub fn release_now(&self, key: &DedupeKey, token: &ClaimToken) {
        let mut records = self.records();
        let held = matches!(
            records.map.get(key),
            Some(Entry { state: State::Processing(held), .. }) if held == token
        );
        if held {
            records.map.remove(key);
        }
    }

    /// Removes `key`. Synchronous form of [`DedupeStore::forget`].
    pub fn forget_now(&self, key: &DedupeKey) {
        self.records().map.remove(key);
    }

    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        // No code path panics while holding the lock, and the records stay consistent if one did.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryDedupeStore {
    fn default() -> Self {
        Self::new()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl DedupeStore for MemoryDedupeStore {
    fn claim<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, Claim> {
        let claim = self.claim_now(key);
        Box::pin(async move { Ok(claim) })
    }

    fn complete<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()> {
        self.complete_now(key);
        Box::pin(async { Ok(()) })
    }

    fn release<'a>(&'a self, key: &'a DedupeKey, token: &'a ClaimToken) -> DedupeFuture<'a, ()> {
        self.release_now(key, token);
        Box::pin(async { Ok(()) })
    }

    fn forget<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()> {
        self.forget_now(key);
        Box::pin(async { Ok(()) })
    }
}
