//! Webhook verification keys: the [`KeySource`] trait, keys from your configuration
//! ([`StaticKeys`]) and keys fetched from Passage by id ([`RemoteKeys`]).
//!
//! Invariant: an unknown `kid` never makes the receiver fetch without bound, and no budget a
//! stranger can spend delays the fetch of the key genuine webhooks use. [`RemoteKeys`] fetches
//! an id at most once at a time, at most a few ids at once (callers over that wait for a slot,
//! the id asked for most often recently first), remembers ids the endpoint did not know for a
//! while (bounded negative cache), and reads each answer under a size cap and a short timeout.
//! A cached key is answered from memory without waiting for any fetch.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde::Deserialize;

use super::clock::{Clock, SystemClock};

/// The DER prefix of a P-256 `SubjectPublicKeyInfo` with an uncompressed point:
/// `SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes) }`. DER is canonical,
/// so every such key starts with exactly these bytes and is followed by the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A P-256 public key that verifies webhook signatures, with its key id.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationKey {
    kid: String,
    /// Uncompressed SEC1 point `0x04 || x || y`.
    point: [u8; 65],
}

impl VerificationKey {
    /// Reads a PEM SPKI key (`-----BEGIN PUBLIC KEY-----`, as returned by
    /// `/webhook_verification_key/get`). Only P-256 keys are accepted.
    pub fn from_spki_pem(kid: impl Into<String>, pem: &str) -> Result<Self, KeyError> {
        let kid = kid.into();
        let der = pem_to_der(pem).map_err(|reason| KeyError::InvalidKey {
            kid: kid.clone(),
            reason,
        })?;
        Self::from_spki_der(kid, &der)
    }

    /// Reads a DER SPKI key. Only P-256 keys with an uncompressed point are accepted.
    pub fn from_spki_der(kid: impl Into<String>, der: &[u8]) -> Result<Self, KeyError> {
        let kid = kid.into();
        match der.strip_prefix(&P256_SPKI_PREFIX[..]) {
            Some(point) => Self::from_sec1_point(kid, point),
            None => Err(KeyError::InvalidKey {
                kid,
                reason:
                    "not a P-256 SubjectPublicKeyInfo with an uncompressed point (ES256 keys only)"
                        .into(),
            }),
        }
    }

    /// Builds a key from an uncompressed SEC1 point (`0x04 || x || y`, 65 bytes). The point is
    /// checked to lie on the curve.
    pub fn from_sec1_point(kid: impl Into<String>, point: &[u8]) -> Result<Self, KeyError> {
        let kid = kid.into();
        let point: [u8; 65] = match point.try_into() {
            Ok(p) if point[0] == 0x04 => p,
            _ => {
                return Err(KeyError::InvalidKey {
                    kid,
                    reason: "expected an uncompressed P-256 point of 65 bytes".into(),
                })
            }
        };
        // ring validates the point when it verifies; checking now surfaces a bad key at load
        // time rather than as a bad signature on every webhook.
        if !point_is_on_curve(&point) {
            return Err(KeyError::InvalidKey {
                kid,
                reason: "the point is not on the P-256 curve".into(),
            });
        }
        Ok(Self { kid, point })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The uncompressed SEC1 point.
    pub fn sec1_point(&self) -> &[u8; 65] {
        &self.point
    }

    /// Verifies an ES256 signature (64-byte `r || s`) over `message` with ring.
    pub fn verify_es256(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point[..])
            .verify(message, signature)
            .is_ok()
    }
}

/// Whether `point` is on P-256, checked with ring's own point parsing: ring's ECDH accepts a
/// peer public key only if it is a valid point, so an agreement attempt tells us.
fn point_is_on_curve(point: &[u8; 65]) -> bool {
    use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, ECDH_P256};
    let rng = ring::rand::SystemRandom::new();
    let Ok(private) = EphemeralPrivateKey::generate(&ECDH_P256, &rng) else {
        return false;
    };
    agree_ephemeral(private, &UnparsedPublicKey::new(&ECDH_P256, point), |_| ()).is_ok()
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("alg", &"ES256")
            .finish_non_exhaustive()
    }
}

fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    let start = pem
        .find(BEGIN)
        .ok_or_else(|| format!("no `{BEGIN}` line (a PEM SubjectPublicKeyInfo is expected)"))?
        + BEGIN.len();
    let len = pem[start..]
        .find(END)
        .ok_or_else(|| format!("no `{END}` line"))?;
    // Tolerate CRLF and a body whose newlines arrived as literal `\n` escapes.
    let body: String = pem[start..start + len]
        .replace("\\n", "")
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(body.as_bytes())
        .map_err(|e| format!("the PEM body is not base64: {e}"))
}

/// Why a verification key could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No key with this id: not in the configuration, or the endpoint does not know it.
    #[error("no webhook verification key with id `{kid}`")]
    UnknownKey {
        /// The requested id.
        kid: String,
    },
    /// The key is not a usable P-256 public key.
    #[error("webhook verification key `{kid}`: {reason}")]
    InvalidKey {
        /// The key id.
        kid: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The endpoint says the key is for another algorithm than ES256.
    #[error("webhook verification key `{kid}` is for algorithm `{algorithm}`, not ES256")]
    UnsupportedAlgorithm {
        /// The key id.
        kid: String,
        /// The algorithm the endpoint named.
        algorithm: String,
    },
    /// The id is not cached and no fetch slot came free within the fetch timeout (every slot
    /// was busy with ids asked for at least as often), or the queue of callers waiting for a
    /// slot was full of such ids. Try again later: an id asked for again goes before ids asked
    /// for once. (Before fetch slots, this was the refusal of a token bucket over fetches.)
    #[error("webhook verification key `{kid}` is not cached and every key fetch slot is busy; retry after {retry_after:?}")]
    RefreshLimited {
        /// The requested id.
        kid: String,
        /// A hint of when to try again (1 s, Passage's first retry).
        retry_after: Duration,
    },
    /// The key endpoint could not be reached or timed out.
    #[error("fetching webhook verification key `{kid}` from {url}: {source}")]
    Fetch {
        /// The requested id.
        kid: String,
        /// The endpoint URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The key endpoint answered with an unexpected HTTP status.
    #[error("fetching webhook verification key `{kid}` from {url}: HTTP {status}")]
    Status {
        /// The requested id.
        kid: String,
        /// The endpoint URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The key endpoint's answer is larger than the fetcher's cap
    /// ([`RemoteKeys::with_max_body_bytes`], default 64 KiB; a P-256 key in PEM is ~180 bytes).
    /// Reading stopped at the cap.
    #[error("fetching webhook verification key `{kid}` from {url}: the answer is larger than the {limit}-byte limit; reading stopped there")]
    TooLarge {
        /// The requested id.
        kid: String,
        /// The endpoint URL.
        url: String,
        /// The cap in bytes.
        limit: usize,
    },
    /// The key endpoint's answer is not `{"key_id","key"}`.
    #[error("fetching webhook verification key `{kid}`: unexpected answer: {message}")]
    InvalidResponse {
        /// The requested id.
        kid: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The future returned by [`KeySource::key`].
pub type KeyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Arc<VerificationKey>, KeyError>> + Send + 'a>>;

/// Where the verifier gets the public key named by a webhook's `kid`.
///
/// Implement it for your own key store (a database, a secrets manager):
///
/// ```
/// use std::sync::Arc;
/// use passage_connect::webhook::{KeyError, KeyFuture, KeySource, VerificationKey};
///
/// #[derive(Debug)]
/// struct OneKey(Arc<VerificationKey>);
///
/// impl KeySource for OneKey {
///     fn key<'a>(&'a self, kid: &'a str) -> KeyFuture<'a> {
///         Box::pin(async move {
///             if kid == self.0.kid() {
///                 Ok(Arc::clone(&self.0))
///             } else {
///                 Err(KeyError::UnknownKey { kid: kid.to_owned() })
///             }
///         })
///     }
/// }
/// ```
pub trait KeySource: Send + Sync + fmt::Debug {
    /// The key with id `kid`. `kid` has already been checked to be 1 to 128 characters of
    /// `[A-Za-z0-9_.-]`.
    fn key<'a>(&'a self, kid: &'a str) -> KeyFuture<'a>;

    /// The key with id `kid` if it is available without waiting (in memory); `None` otherwise.
    /// The verifier tries this first, and [`WebhookVerifier::verify_sync`](super::WebhookVerifier::verify_sync)
    /// uses only this.
    fn cached_key(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        let _ = kid;
        None
    }
}

impl<T: KeySource + ?Sized> KeySource for Arc<T> {
    fn key<'a>(&'a self, kid: &'a str) -> KeyFuture<'a> {
        (**self).key(kid)
    }
    fn cached_key(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        (**self).cached_key(kid)
    }
}

/// Keys from your configuration, by id.
///
/// ```
/// use passage_connect::webhook::StaticKeys;
/// let pem = "-----BEGIN PUBLIC KEY-----\n\
///     MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaYc+ZFux/DNTaq7laLvUgfBlAVpc\n\
///     O0yOYBKU+nxuLs/Fiw9vKdmjQtKSrlqgaKqsmHpvzxBu5jqlUns+T/0u+g==\n\
///     -----END PUBLIC KEY-----\n";
/// let keys = StaticKeys::from_pem("wsk_1705936800000", pem).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticKeys {
    keys: HashMap<String, Arc<VerificationKey>>,
    any_kid: Option<Arc<VerificationKey>>,
}

impl StaticKeys {
    /// No keys yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One PEM SPKI key under `kid`.
    pub fn from_pem(kid: &str, pem: &str) -> Result<Self, KeyError> {
        let mut keys = Self::new();
        keys.insert(VerificationKey::from_spki_pem(kid, pem)?);
        Ok(keys)
    }

    /// Adds a PEM SPKI key under `kid` (builder form).
    pub fn with_pem(mut self, kid: &str, pem: &str) -> Result<Self, KeyError> {
        self.insert(VerificationKey::from_spki_pem(kid, pem)?);
        Ok(self)
    }

    /// Adds a key (replacing one with the same id).
    pub fn insert(&mut self, key: VerificationKey) {
        self.keys.insert(key.kid.clone(), Arc::new(key));
    }

    /// A single key used whatever `kid` a webhook names (the `kid` must still be well-formed).
    ///
    /// For tools and tests that hold one PEM file without knowing its id (the `passage webhook
    /// verify` command). A receiver in production should map ids to keys instead, so a rotated
    /// key is noticed.
    pub fn any_kid(pem: &str) -> Result<Self, KeyError> {
        Ok(Self {
            keys: HashMap::new(),
            any_kid: Some(Arc::new(VerificationKey::from_spki_pem("*", pem)?)),
        })
    }

    fn lookup(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.keys.get(kid).or(self.any_kid.as_ref()).map(Arc::clone)
    }
}

impl KeySource for StaticKeys {
    fn key<'a>(&'a self, kid: &'a str) -> KeyFuture<'a> {
        let found = self.lookup(kid).ok_or_else(|| KeyError::UnknownKey {
            kid: kid.to_owned(),
        });
        Box::pin(std::future::ready(found))
    }

    fn cached_key(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.lookup(kid)
    }
}

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
/// [`WebhookVerifier`](super::WebhookVerifier) asks for a key only after every check that needs
/// none (body hash, `iat`, `X-Passage-Timestamp`...), so a request that fails one costs nothing
/// here. A stranger holding no key can still send well-formed requests (it can hash its own
/// body and sign nothing) naming any `kid`. Each such request costs:
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
    slots: fetch_slots::FetchSlots,
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
                slots: fetch_slots::FetchSlots::new(DEFAULT_FETCH_BURST),
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
            slots: fetch_slots::FetchSlots::new(shared.slots.capacity()),
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
        self.reconfigure(|i| i.slots = fetch_slots::FetchSlots::new(burst))
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

/// A poisoned lock only means another thread panicked mid-insert into a map of immutable
/// values: the map is still consistent, so go on with it.
fn read_map<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_map<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Fetch slots: at most `capacity` key fetches in flight; callers over that wait in a queue
/// served by recent demand for their id (most requested first, then first come), so a stranger's
/// ids, each asked for once, cannot keep out an id that genuine webhooks keep asking for.
mod fetch_slots {
    use std::cmp::Reverse;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::sync::oneshot;
    use tokio::time::Instant;

    use super::lock;

    /// Requests older than this no longer count as demand: it spans Passage's retries (5 s) with
    /// room, and a steady stream of genuine webhooks keeps its key's count fresh.
    const DEMAND_WINDOW: Duration = Duration::from_secs(60);
    /// Most ids whose demand is remembered (entries are dropped once an id is settled).
    const DEMAND_CAPACITY: usize = 1024;
    /// Most callers waiting for a slot; beyond it the one with the least demand is refused.
    const MAX_WAITING: usize = 1024;

    #[derive(Debug)]
    pub(super) struct FetchSlots {
        state: Mutex<State>,
    }

    #[derive(Debug)]
    struct State {
        capacity: usize,
        busy: usize,
        /// Invariant: non-empty only while `busy == capacity` (a freed slot goes straight to
        /// a waiter).
        waiting: Vec<Waiter>,
        next_seq: u64,
        demand: HashMap<String, Demand>,
    }

    #[derive(Debug, Clone, Copy)]
    struct Demand {
        count: u32,
        last: Instant,
    }

    #[derive(Debug)]
    struct Waiter {
        kid: String,
        seq: u64,
        /// The demand when it queued: a floor, should the id's entry be evicted meanwhile.
        floor: u32,
        grant: oneshot::Sender<()>,
    }

    /// A fetch slot; freeing it hands it to the waiter with the most demand.
    #[derive(Debug)]
    pub(super) struct Slot<'a> {
        slots: &'a FetchSlots,
    }

    impl Drop for Slot<'_> {
        fn drop(&mut self) {
            lock(&self.slots.state).hand_on();
        }
    }

    /// A place in the queue. Dropped without being turned into a [`Slot`] (timeout, or the
    /// caller's future dropped), it leaves the queue, or hands on a slot granted meanwhile.
    struct Ticket<'a> {
        slots: &'a FetchSlots,
        seq: u64,
        grant: oneshot::Receiver<()>,
        taken: bool,
    }

    impl Drop for Ticket<'_> {
        fn drop(&mut self) {
            if self.taken {
                return;
            }
            let mut state = lock(&self.slots.state);
            if let Some(i) = state.waiting.iter().position(|w| w.seq == self.seq) {
                state.waiting.swap_remove(i);
            } else if self.grant.try_recv().is_ok() {
                state.hand_on();
            }
        }
    }

    impl FetchSlots {
        pub(super) fn new(capacity: u32) -> Self {
            Self {
                state: Mutex::new(State {
                    capacity: usize::try_from(capacity.max(1)).unwrap_or(usize::MAX),
                    busy: 0,
                    waiting: Vec::new(),
                    next_seq: 0,
                    demand: HashMap::new(),
                }),
            }
        }

        pub(super) fn capacity(&self) -> u32 {
            u32::try_from(lock(&self.state).capacity).unwrap_or(u32::MAX)
        }

        /// Counts one request for `kid` (not cached, not known unknown); returns its demand.
        pub(super) fn note_demand(&self, kid: &str) -> u32 {
            lock(&self.state).note(kid, Instant::now())
        }

        /// Forgets the demand of an id that is cached or known unknown now.
        pub(super) fn settle(&self, kid: &str) {
            lock(&self.state).demand.remove(kid);
        }

        /// A slot for fetching `kid`, waiting until `deadline` at most; `None` if none came.
        pub(super) async fn acquire(
            &self,
            kid: &str,
            demand: u32,
            deadline: Instant,
        ) -> Option<Slot<'_>> {
            let grant = {
                let mut state = lock(&self.state);
                if state.busy < state.capacity {
                    state.busy += 1;
                    return Some(Slot { slots: self });
                }
                let (grant, receiver) = oneshot::channel();
                let seq = state.next_seq;
                state.next_seq += 1;
                let waiter = Waiter {
                    kid: kid.to_owned(),
                    seq,
                    floor: demand,
                    grant,
                };
                if !state.enqueue(waiter, Instant::now()) {
                    return None;
                }
                Ticket {
                    slots: self,
                    seq,
                    grant: receiver,
                    taken: false,
                }
            };
            let mut ticket = grant;
            match tokio::time::timeout_at(deadline, &mut ticket.grant).await {
                Ok(Ok(())) => {
                    ticket.taken = true;
                    Some(Slot { slots: self })
                }
                // Timed out, or pushed out of a full queue (its sender dropped).
                _ => None,
            }
        }
    }

    impl State {
        fn note(&mut self, kid: &str, now: Instant) -> u32 {
            if !self.demand.contains_key(kid) && self.demand.len() >= DEMAND_CAPACITY {
                self.demand
                    .retain(|_, d| now.duration_since(d.last) < DEMAND_WINDOW);
                if self.demand.len() >= DEMAND_CAPACITY {
                    // Still full of live ids: forget the least requested, oldest first.
                    if let Some(victim) = self
                        .demand
                        .iter()
                        .min_by_key(|(_, d)| (d.count, d.last))
                        .map(|(k, _)| k.clone())
                    {
                        self.demand.remove(&victim);
                    }
                }
            }
            let entry = self.demand.entry(kid.to_owned()).or_insert(Demand {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= DEMAND_WINDOW {
                entry.count = 0;
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
            entry.count
        }

        /// How much `waiter` is wanted now: requests for its id in the window, at least what it
        /// had when it queued.
        fn priority(&self, waiter: &Waiter, now: Instant) -> u32 {
            let recent = self
                .demand
                .get(&waiter.kid)
                .filter(|d| now.duration_since(d.last) < DEMAND_WINDOW)
                .map_or(0, |d| d.count);
            recent.max(waiter.floor)
        }

        /// Queues `waiter`, pushing out the least wanted one if the queue is full and it is
        /// wanted less than the newcomer; `false` if the newcomer is the one refused.
        fn enqueue(&mut self, waiter: Waiter, now: Instant) -> bool {
            if self.waiting.len() >= MAX_WAITING {
                let newcomer = self.priority(&waiter, now);
                let least = self
                    .waiting
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, w)| (self.priority(w, now), Reverse(w.seq)))
                    .map(|(i, w)| (i, self.priority(w, now)));
                match least {
                    // Dropping its sender wakes it with an error: it gives up at once.
                    Some((i, p)) if p < newcomer => drop(self.waiting.swap_remove(i)),
                    _ => return false,
                }
            }
            self.waiting.push(waiter);
            true
        }

        /// A slot came free: give it to the most wanted waiter (oldest among equals), or keep
        /// it free.
        fn hand_on(&mut self) {
            let now = Instant::now();
            while let Some(i) = self
                .waiting
                .iter()
                .enumerate()
                .max_by_key(|(_, w)| (self.priority(w, now), Reverse(w.seq)))
                .map(|(i, _)| i)
            {
                let waiter = self.waiting.swap_remove(i);
                if waiter.grant.send(()).is_ok() {
                    return;
                }
            }
            self.busy = self.busy.saturating_sub(1);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn far() -> Instant {
            Instant::now() + Duration::from_secs(3600)
        }

        #[tokio::test]
        async fn a_freed_slot_goes_to_the_most_requested_id_then_first_come() {
            let slots = std::sync::Arc::new(FetchSlots::new(1));
            let held = slots.acquire("held", 1, far()).await.unwrap();
            let order = std::sync::Arc::new(Mutex::new(Vec::new()));
            let mut tasks = Vec::new();
            for (queued, kid) in ["once_a", "once_b", "wanted"].into_iter().enumerate() {
                slots.note_demand(kid);
                let (task_slots, order) = (slots.clone(), order.clone());
                tasks.push(tokio::spawn(async move {
                    let slot = task_slots.acquire(kid, 1, far()).await.unwrap();
                    lock(&order).push(kid);
                    drop(slot);
                }));
                while lock(&slots.state).waiting.len() <= queued {
                    tokio::task::yield_now().await;
                }
            }
            // Passage retries `wanted` twice while all wait.
            slots.note_demand("wanted");
            slots.note_demand("wanted");
            drop(held);
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*lock(&order), ["wanted", "once_a", "once_b"]);
            let state = lock(&slots.state);
            assert_eq!((state.busy, state.waiting.len()), (0, 0));
        }

        #[tokio::test]
        async fn a_caller_that_times_out_or_goes_away_leaves_no_trace() {
            let slots = FetchSlots::new(1);
            let held = slots.acquire("held", 1, far()).await.unwrap();
            let soon = Instant::now() + Duration::from_millis(20);
            assert!(slots.acquire("late", 1, soon).await.is_none());
            // A waiter whose future is dropped while queued (its request went away).
            let gone =
                tokio::time::timeout(Duration::from_millis(20), slots.acquire("gone", 1, far()))
                    .await;
            assert!(gone.is_err());
            assert_eq!(lock(&slots.state).waiting.len(), 0);
            drop(held);
            assert_eq!(lock(&slots.state).busy, 0);
            assert!(slots.acquire("next", 1, far()).await.is_some());
            assert_eq!(lock(&slots.state).busy, 0);
        }

        #[test]
        fn a_full_queue_refuses_the_least_wanted() {
            let mut state = FetchSlots::new(1).state.into_inner().unwrap();
            let now = Instant::now();
            let mut receivers = Vec::new();
            for seq in 0..MAX_WAITING as u64 {
                let (grant, rx) = oneshot::channel();
                receivers.push(rx);
                let waiter = Waiter {
                    kid: format!("rnd_{seq}"),
                    seq,
                    floor: 1,
                    grant,
                };
                assert!(state.enqueue(waiter, now));
            }
            let (grant, _rx) = oneshot::channel();
            let same = Waiter {
                kid: "also_once".into(),
                seq: 5000,
                floor: 1,
                grant,
            };
            assert!(!state.enqueue(same, now), "a tie does not push anyone out");
            let (grant, _rx) = oneshot::channel();
            let wanted = Waiter {
                kid: "wanted".into(),
                seq: 5001,
                floor: 3,
                grant,
            };
            assert!(state.enqueue(wanted, now));
            assert_eq!(state.waiting.len(), MAX_WAITING);
            // The newest of the least wanted was pushed out (its sender dropped).
            assert_eq!(
                receivers.last_mut().unwrap().try_recv(),
                Err(oneshot::error::TryRecvError::Closed)
            );
            assert_eq!(
                receivers[0].try_recv(),
                Err(oneshot::error::TryRecvError::Empty)
            );
            assert!(!state
                .waiting
                .iter()
                .any(|w| w.seq == MAX_WAITING as u64 - 1));
        }

        #[test]
        fn demand_is_bounded_and_forgets_the_least_requested() {
            let mut state = FetchSlots::new(1).state.into_inner().unwrap();
            let now = Instant::now();
            assert_eq!(state.note("wanted", now), 1);
            assert_eq!(state.note("wanted", now), 2);
            for i in 0..DEMAND_CAPACITY * 2 {
                state.note(&format!("rnd_{i}"), now);
            }
            assert_eq!(state.demand.len(), DEMAND_CAPACITY);
            assert_eq!(state.note("wanted", now), 3);
            // Outside the window the count starts again.
            assert_eq!(state.note("wanted", now + DEMAND_WINDOW), 1);
        }
    }
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
    fn rejects_non_p256_material() {
        assert!(matches!(
            VerificationKey::from_spki_pem("k", "nope"),
            Err(KeyError::InvalidKey { .. })
        ));
        assert!(matches!(
            VerificationKey::from_sec1_point("k", &[4u8; 65]),
            Err(KeyError::InvalidKey { .. })
        ));
        assert!(matches!(
            VerificationKey::from_spki_der("k", &[0x30, 0x03, 0x02, 0x01, 0x00]),
            Err(KeyError::InvalidKey { .. })
        ));
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
