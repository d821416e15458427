//! The in-process dedupe store: a bounded map with a TTL, reading an injectable clock.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{DedupeFuture, DedupeKey, DedupeStore};
use crate::webhook::{Clock, SystemClock};

/// Default number of keys a [`MemoryDedupeStore`] keeps.
pub const DEFAULT_CAPACITY: usize = 100_000;
/// Default time a key is remembered. Passage's retries span about 6 s; an hour leaves room for
/// slow queues and manual replays.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);

/// An in-memory [`DedupeStore`]: remembers each key for a TTL, and at most `capacity` keys
/// (when full, the oldest key is forgotten first).
///
/// It is per process: receivers on several machines need a shared store such as
/// `RedisDedupeStore` (feature `redis`). Cloning is cheap and clones share the same records.
#[derive(Clone)]
pub struct MemoryDedupeStore {
    inner: Arc<Mutex<Records>>,
    capacity: NonZeroUsize,
    ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for MemoryDedupeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDedupeStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .field("clock", &self.clock)
            .finish()
    }
}

/// The records: a map from key to (insertion sequence, expiry), and the keys in insertion order.
/// Because the TTL is the same for every key, insertion order is also expiry order (unless the
/// wall clock steps back, which only delays eviction: lookups check the expiry themselves), so
/// both eviction rules pop from the front of `order`. An entry of `order` whose
/// sequence no longer matches the map (the key was forgotten or re-inserted) is stale and skipped.
#[derive(Default)]
struct Records {
    map: HashMap<DedupeKey, Entry>,
    order: VecDeque<(u64, DedupeKey)>,
    next_seq: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    seq: u64,
    expires_at: u64,
}

impl Records {
    /// Drops expired keys, then the oldest keys beyond `capacity`.
    fn evict(&mut self, now: u64, capacity: usize) {
        while let Some((seq, key)) = self.order.front() {
            let live = self.map.get(key).filter(|e| e.seq == *seq).copied();
            match live {
                None => {
                    self.order.pop_front();
                }
                Some(entry) if entry.expires_at <= now || self.map.len() > capacity => {
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

    fn insert(&mut self, key: &DedupeKey, expires_at: u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.map.insert(key.clone(), Entry { seq, expires_at });
        self.order.push_back((seq, key.clone()));
    }
}

impl MemoryDedupeStore {
    /// A store with [`DEFAULT_CAPACITY`] keys, [`DEFAULT_TTL`] and the system clock.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Records::default())),
            capacity: NonZeroUsize::new(DEFAULT_CAPACITY).unwrap_or(NonZeroUsize::MIN),
            ttl: DEFAULT_TTL,
            clock: Arc::new(SystemClock),
        }
    }

    /// Keeps at most `capacity` keys; when a new key arrives at a full store, the oldest goes.
    pub fn with_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Remembers each key for `ttl` after it was first seen.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
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

    /// Records `key`; `true` if it was not held (or had expired). Synchronous form of
    /// [`DedupeStore::first_seen`].
    pub fn first_seen_now(&self, key: &DedupeKey) -> bool {
        let now = self.clock.unix_millis();
        let mut records = self.records();
        records.evict(now, self.capacity.get());
        if let Some(entry) = records.map.get(key) {
            if entry.expires_at > now {
                return false;
            }
        }
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let expires_at = now.saturating_add(ttl_ms);
        records.insert(key, expires_at);
        records.evict(now, self.capacity.get());
        true
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

impl DedupeStore for MemoryDedupeStore {
    fn first_seen<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, bool> {
        let fresh = self.first_seen_now(key);
        Box::pin(async move { Ok(fresh) })
    }

    fn forget<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()> {
        self.forget_now(key);
        Box::pin(async { Ok(()) })
    }
}
