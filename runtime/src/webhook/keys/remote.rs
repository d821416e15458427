//! [`RemoteKeys`]: keys fetched from Passage's key endpoint by id, with the cache of fetched
//! keys, single flight per id, the bounded negative cache of unknown ids, and the capped, timed
//! fetch itself. Which caller may fetch when is decided by the fetch slots (`slots.rs`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;

use super::slots::FetchSlots;
use super::{lock, read_map, write_map, KeyError, KeyFuture, KeySource, VerificationKey};
use crate::webhook::clock::{Clock, SystemClock};

/// Keys fetched from Passage's public `POST {base}/webhook_verification_key/get` by id, cached.
///
/// * A fetched key is cached by id for the life of the value (keys rotate rarely; a rotated key
///   gets a new id). A cached key is answered from memory: it never waits for a fetch.
/// * An id that is not cached triggers a fetch. Concurrent requests for the same id share one
///   fetch (single flight); fetches for different ids run side by side.
/// * At most [`with_fetch_burst`](Self::with_fetch_burst) fetches (default 4) are in flight at
///   once. A caller over that **waits** for a slot, at most the fetch timeout (then
///   [`KeyError::RefreshLimited`]); it is not refused at once. Slots are handed out by
///   **demand**: the id requested most often in the last minute goes first, ties first come
///   first served. Every genuine webhook names the same `kid`, and Passage retries a refused
///   webhook (after 1 s and 5 s), so the key genuine webhooks need is asked for again and again
///   while a stranger's random ids are asked for once each. Recent demand is kept for at most
///   1024 ids, forgotten once an id is settled (cached, or known unknown). There is no budget
///   over time: nothing a stranger spends is taken from the genuine key.
/// * Each fetch is bounded: a timeout (default 3 s, [`with_fetch_timeout`](Self::with_fetch_timeout))
///   and a body cap (default 64 KiB, [`with_max_body_bytes`](Self::with_max_body_bytes)); a
///   redirect is not followed (it is a [`KeyError::Status`]). A call waits at most the fetch
///   timeout for its turn, then at most the fetch timeout for the fetch itself.
/// * Ids the endpoint did not know (404, 400, or an answer without a key: the answer for an
///   unknown id is undocumented) are remembered for the negative TTL (default 5 min, at most
///   1024 ids) and refused without a fetch.
/// * When the endpoint is down, cached keys go on verifying; only uncached ids fail, with
///   [`KeyError::Fetch`] or [`KeyError::Status`].
///
/// # What a stranger can cost
///
/// [`WebhookVerifier`](crate::webhook::WebhookVerifier) asks for a key only after every check
/// that needs none (body hash, `iat`, `X-Passage-Timestamp`...), so a request that fails one
/// costs nothing here. A stranger holding no key can still send well-formed requests (it can
/// hash its own body and sign nothing) naming any `kid`. Each such request costs:
///
/// * at most **one fetch** (no amplification), and none for an id already cached or remembered
///   as unknown: a distinct id is fetched at most once per negative TTL while the negative
///   cache holds it (a stranger cycling through more than 1024 ids pushes older ones out, and
///   then pays one request per fetch);
/// * at most one of the [`with_fetch_burst`](Self::with_fetch_burst) slots, for at most the
///   fetch timeout; callers beyond the slots wait in a queue of at most 1024 (over that, the
///   caller with the least demand is refused with [`KeyError::RefreshLimited`]).
///
/// Residual risks:
///
/// * While a flood outruns the endpoint (more new ids a second than slots / fetch latency), a
///   **first** request for a new genuine key ties with the stranger's ids and may wait the
///   fetch timeout and fail ([`KeyError::RefreshLimited`], a 503 from the axum extractor);
///   Passage's retry then has more demand and takes the next free slot.
/// * A stranger that sends each random id `n` times ties with a genuine key asked for `n` times:
///   it pays `n` requests per id, and each id is then remembered as unknown.
/// * The fetches reach Passage's endpoint at the stranger's rate (one per request at most). If
///   Passage throttles this receiver for it, new genuine keys fail ([`KeyError::Status`]) until
///   the flood stops. Transient failures are not remembered, so a genuine key is fetched again as
///   soon as the endpoint answers.
/// * Seeding the key you expect ([`with_key`](Self::with_key)) takes the endpoint out of the path.
///
/// ```no_run
/// use passage_connect::webhook::{RemoteKeys, WebhookVerifier};
/// let keys = RemoteKeys::new("https://connect.getpassage.ai");
/// let verifier = WebhookVerifier::new(keys);
/// ```
#[derive(Debug, Clone)]
pub struct RemoteKeys {
    inner: Arc<RemoteInner>,
}

#[derive(Debug)]
struct RemoteInner {
    url: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    negative_ttl: Duration,
    negative_capacity: usize,
    cache: RwLock<HashMap<String, Arc<VerificationKey>>>,
    /// Unknown ids: when (Unix ms) they may be asked for again, and an insertion number so
    /// eviction of equally fresh entries is oldest-first.
    negative: RwLock<HashMap<String, (u64, u64)>>,
    negative_seq: std::sync::atomic::AtomicU64,
    fetch_timeout: Duration,
    max_body_bytes: usize,
    /// Fetches in flight at once, handed out by demand.
    slots: FetchSlots,
    /// One lock per id being fetched: the first caller fetches, the others wait for it and then
    /// find the key in the cache. Entries are removed when their holder is done.
    in_flight: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The default time limit of one key fetch: Passage's retries of a webhook come after 1 s and
/// 5 s, so a receiver should answer (or fail) well within that.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The default cap on a key endpoint answer (a PEM P-256 key with its JSON is ~300 bytes).
pub const DEFAULT_KEY_BODY_BYTES: usize = 64 * 1024;

/// The default number of [`RemoteKeys`] fetches in flight at once (the name is from when it
/// was the burst of a token bucket).
pub const DEFAULT_FETCH_BURST: u32 = 4;

/// Default production base URL.
pub const DEFAULT_BASE_URL: &str = "https://connect.getpassage.ai";

/// The base URL a `PASSAGE_BASE_URL` value names: the value, or [`DEFAULT_BASE_URL`] when unset
/// or blank.
fn base_url_from(value: Option<String>) -> String {
    match value {
        Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => DEFAULT_BASE_URL.to_owned(),
    }
}

impl RemoteKeys {
    /// Fetches from `base_url` (e.g. `https://connect.getpassage.ai`, or the emulator's URL).
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(DEFAULT_FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self::build(base_url, http, Arc::new(SystemClock))
    }

    /// Fetches from `PASSAGE_BASE_URL` (the variable [`Client::from_env`](crate::Client::from_env)
    /// and the `passage` CLI read), or from [`DEFAULT_BASE_URL`] when it is unset or empty, so a
    /// receiver started next to `passage mock` verifies the emulator's webhooks.
    ///
    /// ```no_run
    /// use passage_connect::webhook::{RemoteKeys, WebhookVerifier};
    /// // PASSAGE_BASE_URL=http://127.0.0.1:4010
    /// let verifier = WebhookVerifier::new(RemoteKeys::from_env());
    /// ```
    pub fn from_env() -> Self {
        Self::new(&base_url_from(
            std::env::var(crate::client::BASE_URL_ENV).ok(),
        ))
    }

    /// Fetches from the base URL `client` talks to, so the API and the keys come from one place.
    ///
    /// ```no_run
    /// use passage_connect::webhook::RemoteKeys;
    /// let client = passage_connect::Client::from_env()?;
    /// let keys = RemoteKeys::for_client(&client);
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn for_client(client: &crate::Client) -> Self {
        Self::new(client.base_url().as_str())
    }

    fn build(base_url: &str, http: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(RemoteInner {
                url: format!(
                    "{}/webhook_verification_key/get",
                    base_url.trim_end_matches('/')
                ),
                http,
                clock,
                negative_ttl: Duration::from_secs(300),
                negative_capacity: 1024,
                cache: RwLock::new(HashMap::new()),
                negative: RwLock::new(HashMap::new()),
                negative_seq: std::sync::atomic::AtomicU64::new(0),
                fetch_timeout: DEFAULT_FETCH_TIMEOUT,
                max_body_bytes: DEFAULT_KEY_BODY_BYTES,
                slots: FetchSlots::new(DEFAULT_FETCH_BURST),
                in_flight: std::sync::Mutex::new(HashMap::new()),
            }),
        }
    }

    fn reconfigure(self, f: impl FnOnce(&mut RemoteInner)) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| RemoteInner {
            url: shared.url.clone(),
            http: shared.http.clone(),
            clock: Arc::clone(&shared.clock),
            negative_ttl: shared.negative_ttl,
            negative_capacity: shared.negative_capacity,
            cache: RwLock::new(read_map(&shared.cache).clone()),
            negative: RwLock::new(HashMap::new()),
            negative_seq: std::sync::atomic::AtomicU64::new(0),
            fetch_timeout: shared.fetch_timeout,
            max_body_bytes: shared.max_body_bytes,
            slots: FetchSlots::new(shared.slots.capacity()),
            in_flight: std::sync::Mutex::new(HashMap::new()),
        });
        let mut inner = inner;
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Uses this HTTP client (proxies, TLS settings). Build it with
    /// `.redirect(reqwest::redirect::Policy::none())`: a key endpoint that redirects elsewhere
    /// should fail, not be followed.
    pub fn with_http_client(self, http: reqwest::Client) -> Self {
        self.reconfigure(|i| i.http = http)
    }

    /// Does nothing: fetches are no longer spaced in time (a time budget is one a stranger can
    /// spend, delaying the genuine key). Their number in flight is capped by
    /// [`with_fetch_burst`](Self::with_fetch_burst) instead.
    #[deprecated(
        since = "0.1.0",
        note = "no effect: fetches are capped by number in flight (`with_fetch_burst`), not spaced in time"
    )]
    pub fn with_min_refresh_interval(self, interval: Duration) -> Self {
        let _ = interval;
        self
    }

    /// How many fetches may be in flight at once (default [`DEFAULT_FETCH_BURST`], 4; at least
    /// 1). Callers over that wait for a slot, the most requested id first. (The name is from
    /// when this was the burst of a token bucket.)
    pub fn with_fetch_burst(self, burst: u32) -> Self {
        let burst = burst.max(1);
        self.reconfigure(|i| i.slots = FetchSlots::new(burst))
    }

    /// The time limit of one fetch, connection to last byte (default [`DEFAULT_FETCH_TIMEOUT`],
    /// 3 s), and of a caller's wait for its turn to fetch. Applies with a custom HTTP client too.
    pub fn with_fetch_timeout(self, timeout: Duration) -> Self {
        self.reconfigure(|i| i.fetch_timeout = timeout)
    }

    /// The largest key endpoint answer read, in bytes (default [`DEFAULT_KEY_BODY_BYTES`],
    /// 64 KiB); past it the fetch fails with [`KeyError::TooLarge`].
    pub fn with_max_body_bytes(self, bytes: usize) -> Self {
        self.reconfigure(|i| i.max_body_bytes = bytes)
    }

    /// How long an id the endpoint did not know is refused without asking (default 5 min).
    pub fn with_negative_ttl(self, ttl: Duration) -> Self {
        self.reconfigure(|i| i.negative_ttl = ttl)
    }

    /// How many unknown ids are remembered at most (default 1024).
    pub fn with_negative_capacity(self, capacity: usize) -> Self {
        self.reconfigure(|i| i.negative_capacity = capacity)
    }

    /// Reads time from `clock` (tests).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.reconfigure(|i| i.clock = clock)
    }

    /// Seeds the cache with a key you already have (e.g. from configuration).
    pub fn with_key(self, key: VerificationKey) -> Self {
        write_map(&self.inner.cache).insert(key.kid.clone(), Arc::new(key));
        self
    }

    /// The ids currently cached.
    pub fn cached_kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = read_map(&self.inner.cache).keys().cloned().collect();
        kids.sort();
        kids
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    async fn get(&self, kid: &str) -> Result<Arc<VerificationKey>, KeyError> {
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        if self.negatively_cached(kid) {
            return Err(KeyError::UnknownKey {
                kid: kid.to_owned(),
            });
        }
        let inner = &*self.inner;
        let demand = inner.slots.note_demand(kid);
        // One bound for all the waiting (behind a fetch of this id, then for a slot), so a call
        // lasts at most two fetch timeouts whatever the queue.
        let deadline = tokio::time::Instant::now() + inner.fetch_timeout;
        let flight = Arc::clone(
            lock(&inner.in_flight)
                .entry(kid.to_owned())
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(()))),
        );
        let Ok(_turn) = tokio::time::timeout_at(deadline, flight.lock()).await else {
            return Err(busy(kid));
        };
        // Removes the in-flight entry however this call ends (cancelled included), so ids of
        // abandoned requests do not pile up.
        let _entry = FlightEntry {
            in_flight: &inner.in_flight,
            kid,
            flight: &flight,
        };
        // A fetch for this id that finished while we waited may have settled it.
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        if self.negatively_cached(kid) {
            return Err(KeyError::UnknownKey {
                kid: kid.to_owned(),
            });
        }
        let Some(slot) = inner.slots.acquire(kid, demand, deadline).await else {
            return Err(busy(kid));
        };
        let fetched = self.fetch(kid).await;
        drop(slot);
        match fetched {
            Ok(key) => {
                let key = Arc::new(key);
                write_map(&inner.cache).insert(kid.to_owned(), Arc::clone(&key));
                inner.slots.settle(kid);
                Ok(key)
            }
            Err(err @ KeyError::UnknownKey { .. }) => {
                self.remember_unknown(kid, inner.clock.unix_millis());
                inner.slots.settle(kid);
                Err(err)
            }
            // A transient failure keeps the id's demand: its retries go first once it answers.
            Err(err) => Err(err),
        }
    }

    fn negatively_cached(&self, kid: &str) -> bool {
        let now = self.inner.clock.unix_millis();
        read_map(&self.inner.negative)
            .get(kid)
            .is_some_and(|&(until, _)| now < until)
    }

    fn remember_unknown(&self, kid: &str, now: u64) {
        let inner = &*self.inner;
        if inner.negative_capacity == 0 {
            return;
        }
        let seq = inner
            .negative_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut negative = write_map(&inner.negative);
        if negative.len() >= inner.negative_capacity {
            negative.retain(|_, (until, _)| *until > now);
        }
        if negative.len() >= inner.negative_capacity {
            // Still full of live entries: forget the one closest to expiry, oldest first.
            if let Some(oldest) = negative
                .iter()
                .min_by_key(|(_, entry)| **entry)
                .map(|(k, _)| k.clone())
            {
                negative.remove(&oldest);
            }
        }
        negative.insert(
            kid.to_owned(),
            (now.saturating_add(millis(inner.negative_ttl)), seq),
        );
    }

    async fn fetch(&self, kid: &str) -> Result<VerificationKey, KeyError> {
        let inner = &*self.inner;
        tracing::debug!(kid, url = %inner.url, "fetching webhook verification key");
        let response = inner
            .http
            .post(&inner.url)
            .timeout(inner.fetch_timeout)
            .json(&serde_json::json!({ "key_id": kid }))
            .send()
            .await
            .map_err(|source| KeyError::Fetch {
                kid: kid.to_owned(),
                url: inner.url.clone(),
                source,
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::BAD_REQUEST {
            return Err(KeyError::UnknownKey {
                kid: kid.to_owned(),
            });
        }
        if !status.is_success() {
            return Err(KeyError::Status {
                kid: kid.to_owned(),
                url: inner.url.clone(),
                status: status.as_u16(),
            });
        }
        let body = crate::client::read_capped(response, inner.max_body_bytes)
            .await
            .map_err(|err| match err {
                crate::client::ReadError::TooLarge => KeyError::TooLarge {
                    kid: kid.to_owned(),
                    url: inner.url.clone(),
                    limit: inner.max_body_bytes,
                },
                crate::client::ReadError::Transport(source) => KeyError::Fetch {
                    kid: kid.to_owned(),
                    url: inner.url.clone(),
                    source,
                },
            })?;
        parse_key_response(kid, &body)
    }
}

/// `{"key_id","key","algorithm"?,"created_at"?}`; unknown fields ignored.
#[derive(Deserialize)]
struct KeyResponse {
    key_id: Option<String>,
    key: Option<String>,
    algorithm: Option<String>,
}

fn parse_key_response(kid: &str, body: &[u8]) -> Result<VerificationKey, KeyError> {
    let answer: KeyResponse =
        serde_json::from_slice(body).map_err(|e| KeyError::InvalidResponse {
            kid: kid.to_owned(),
            message: format!("not the JSON object {{\"key_id\",\"key\"}}: {e}"),
        })?;
    let Some(pem) = answer.key.filter(|k| !k.is_empty()) else {
        // A 200 without a key is read as "no such key" (undocumented case).
        return Err(KeyError::UnknownKey {
            kid: kid.to_owned(),
        });
    };
    if let Some(returned) = answer.key_id.as_deref() {
        if returned != kid {
            return Err(KeyError::InvalidResponse {
                kid: kid.to_owned(),
                message: format!("asked for key `{kid}`, got key `{returned}`"),
            });
        }
    }
    if let Some(algorithm) = answer.algorithm {
        if algorithm != "ES256" {
            return Err(KeyError::UnsupportedAlgorithm {
                kid: kid.to_owned(),
                algorithm,
            });
        }
    }
    VerificationKey::from_spki_pem(kid, &pem)
}

impl KeySource for RemoteKeys {
    fn key<'a>(&'a self, kid: &'a str) -> KeyFuture<'a> {
        Box::pin(self.get(kid))
    }

    fn cached_key(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        read_map(&self.inner.cache).get(kid).map(Arc::clone)
    }
}

/// The refusal of a caller that found no fetch slot in time.
fn busy(kid: &str) -> KeyError {
    KeyError::RefreshLimited {
        kid: kid.to_owned(),
        retry_after: Duration::from_secs(1),
    }
}

/// The in-flight entry of one id while its holder works; removed on drop if still the same.
struct FlightEntry<'a> {
    in_flight: &'a std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    kid: &'a str,
    flight: &'a Arc<tokio::sync::Mutex<()>>,
}

impl Drop for FlightEntry<'_> {
    fn drop(&mut self) {
        let mut in_flight = lock(self.in_flight);
        if in_flight
            .get(self.kid)
            .is_some_and(|current| Arc::ptr_eq(current, self.flight))
        {
            in_flight.remove(self.kid);
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_passage_base_url_like_the_client() {
        assert_eq!(
            RemoteKeys::new(&base_url_from(Some("http://127.0.0.1:4010/".into()))).url(),
            "http://127.0.0.1:4010/webhook_verification_key/get"
        );
        for unset in [None, Some(String::new()), Some(" ".into())] {
            assert_eq!(base_url_from(unset), DEFAULT_BASE_URL);
        }
        let client = crate::Client::builder("psg_x")
            .base_url("http://127.0.0.1:4010")
            .build()
            .unwrap();
        assert_eq!(
            RemoteKeys::for_client(&client).url(),
            "http://127.0.0.1:4010/webhook_verification_key/get"
        );
    }

    #[test]
    fn key_response_shapes() {
        assert!(matches!(
            parse_key_response("k", br#"{"key_id":"k"}"#),
            Err(KeyError::UnknownKey { .. })
        ));
        assert!(matches!(
            parse_key_response("k", br#"{"key_id":"other","key":"x"}"#),
            Err(KeyError::InvalidResponse { .. })
        ));
        assert!(matches!(
            parse_key_response("k", br#"{"key_id":"k","key":"x","algorithm":"RS256"}"#),
            Err(KeyError::UnsupportedAlgorithm { .. })
        ));
        assert!(matches!(
            parse_key_response("k", b"<html>"),
            Err(KeyError::InvalidResponse { .. })
        ));
    }
}
