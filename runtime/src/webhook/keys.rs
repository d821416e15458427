//! Webhook verification keys: the [`KeySource`] trait, keys from your configuration
//! ([`StaticKeys`]) and keys fetched from Passage by id ([`RemoteKeys`]).
//!
//! Invariant: an unknown `kid` never makes the receiver fetch without bound. [`RemoteKeys`]
//! fetches through a token bucket (a small burst, then one fetch per refresh interval) whatever
//! the number of distinct unknown ids, remembers ids the endpoint did not know for a while
//! (bounded negative cache), and reads each answer under a size cap and a short timeout.
//! Fetches for different ids run side by side (one in flight per id), and a cached key is
//! answered from memory without waiting for any fetch.

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
    /// The id is not cached and a fetch already happened less than the refresh interval ago (or
    /// the id was recently reported unknown); try again later.
    #[error("webhook verification key `{kid}` is not cached and key refresh is rate limited; retry after {retry_after:?}")]
    RefreshLimited {
        /// The requested id.
        kid: String,
        /// When the next fetch will be allowed.
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
///   fetch; fetches for different ids run concurrently (a slow endpoint delays each new id by one
///   fetch, not by one fetch per id queued before it).
/// * Fetches go through a token bucket: at most [`with_fetch_burst`](Self::with_fetch_burst)
///   (default 4) at once after a quiet period, then one more per refresh interval (default 5 s),
///   whatever the number of distinct unknown ids: a flood of random `kid`s costs a burst, then one
///   request per interval; a caller over the budget gets [`KeyError::RefreshLimited`] at once.
///   The catch: while such a flood goes on, a genuinely new id may have to wait for a later
///   interval (Passage retries after 1 s and 5 s).
/// * Each fetch is bounded: a timeout (default 3 s, [`with_fetch_timeout`](Self::with_fetch_timeout))
///   and a body cap (default 64 KiB, [`with_max_body_bytes`](Self::with_max_body_bytes)); a
///   redirect is not followed (it is a [`KeyError::Status`]).
/// * Ids the endpoint did not know (404, 400, or an answer without a key: the answer for an
///   unknown id is undocumented) are remembered for the negative TTL (default 5 min, at most
///   1024 ids) and refused without a fetch.
/// * When the endpoint is down, cached keys go on verifying; only uncached ids fail, with
///   [`KeyError::Fetch`] or [`KeyError::Status`].
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
    min_refresh_interval: Duration,
    negative_ttl: Duration,
    negative_capacity: usize,
    cache: RwLock<HashMap<String, Arc<VerificationKey>>>,
    /// Unknown ids: when (Unix ms) they may be asked for again, and an insertion number so
    /// eviction of equally fresh entries is oldest-first.
    negative: RwLock<HashMap<String, (u64, u64)>>,
    negative_seq: std::sync::atomic::AtomicU64,
    fetch_timeout: Duration,
    max_body_bytes: usize,
    fetch_burst: u32,
    /// The fetch budget (token bucket over the clock).
    bucket: std::sync::Mutex<Bucket>,
    /// One lock per id being fetched: the first caller fetches, the others wait for it and then
    /// find the key in the cache. Entries are removed when their fetch ends.
    in_flight: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A token bucket in Unix ms: `tokens` fetches may start now; one token is added per refresh
/// interval since `refilled_at`, up to the burst.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    refilled_at: u64,
}

impl Bucket {
    /// Takes a token, or says in how long the next one comes.
    fn take(&mut self, now: u64, interval: u64, burst: u32) -> Result<(), Duration> {
        if interval == 0 {
            return Ok(());
        }
        let earned = now.saturating_sub(self.refilled_at) / interval;
        if earned > 0 {
            let tokens = u64::from(self.tokens).saturating_add(earned);
            self.tokens = u32::try_from(tokens).unwrap_or(u32::MAX).min(burst);
            self.refilled_at = if self.tokens == burst {
                now
            } else {
                self.refilled_at + earned * interval
            };
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            Ok(())
        } else {
            let next = self.refilled_at.saturating_add(interval);
            Err(Duration::from_millis(next.saturating_sub(now).max(1)))
        }
    }
}

/// The default time limit of one key fetch: Passage's retries of a webhook come after 1 s and
/// 5 s, so a receiver should answer (or fail) well within that.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The default cap on a key endpoint answer (a PEM P-256 key with its JSON is ~300 bytes).
pub const DEFAULT_KEY_BODY_BYTES: usize = 64 * 1024;

/// The default burst of [`RemoteKeys`] fetches.
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
        Self::build(
            base_url,
            http,
            Arc::new(SystemClock),
            Duration::from_secs(5),
        )
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

    fn build(
        base_url: &str,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        interval: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(RemoteInner {
                url: format!(
                    "{}/webhook_verification_key/get",
                    base_url.trim_end_matches('/')
                ),
                http,
                clock,
                min_refresh_interval: interval,
                negative_ttl: Duration::from_secs(300),
                negative_capacity: 1024,
                cache: RwLock::new(HashMap::new()),
                negative: RwLock::new(HashMap::new()),
                negative_seq: std::sync::atomic::AtomicU64::new(0),
                fetch_timeout: DEFAULT_FETCH_TIMEOUT,
                max_body_bytes: DEFAULT_KEY_BODY_BYTES,
                fetch_burst: DEFAULT_FETCH_BURST,
                bucket: std::sync::Mutex::new(Bucket {
                    tokens: DEFAULT_FETCH_BURST,
                    refilled_at: 0,
                }),
                in_flight: std::sync::Mutex::new(HashMap::new()),
            }),
        }
    }

    fn reconfigure(self, f: impl FnOnce(&mut RemoteInner)) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| RemoteInner {
            url: shared.url.clone(),
            http: shared.http.clone(),
            clock: Arc::clone(&shared.clock),
            min_refresh_interval: shared.min_refresh_interval,
            negative_ttl: shared.negative_ttl,
            negative_capacity: shared.negative_capacity,
            cache: RwLock::new(read_map(&shared.cache).clone()),
            negative: RwLock::new(HashMap::new()),
            negative_seq: std::sync::atomic::AtomicU64::new(0),
            fetch_timeout: shared.fetch_timeout,
            max_body_bytes: shared.max_body_bytes,
            fetch_burst: shared.fetch_burst,
            bucket: std::sync::Mutex::new(Bucket {
                tokens: shared.fetch_burst,
                refilled_at: 0,
            }),
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

    /// After the burst, at most one fetch per `interval` (default 5 s; zero: no limit).
    pub fn with_min_refresh_interval(self, interval: Duration) -> Self {
        self.reconfigure(|i| i.min_refresh_interval = interval)
    }

    /// How many fetches may start at once after a quiet period (default 4, at least 1).
    pub fn with_fetch_burst(self, burst: u32) -> Self {
        let burst = burst.max(1);
        self.reconfigure(|i| {
            i.fetch_burst = burst;
            *lock(&i.bucket) = Bucket {
                tokens: burst,
                refilled_at: 0,
            };
        })
    }

    /// The time limit of one fetch, connection to last byte (default [`DEFAULT_FETCH_TIMEOUT`],
    /// 3 s). Applies with a custom HTTP client too.
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
        let flight = Arc::clone(
            lock(&inner.in_flight)
                .entry(kid.to_owned())
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(()))),
        );
        let _turn = flight.lock().await;
        // A fetch for this id that finished while we waited may have settled it.
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        if self.negatively_cached(kid) {
            return Err(KeyError::UnknownKey {
                kid: kid.to_owned(),
            });
        }
        let now = inner.clock.unix_millis();
        let budget =
            lock(&inner.bucket).take(now, millis(inner.min_refresh_interval), inner.fetch_burst);
        let fetched = match budget {
            Ok(()) => self.fetch(kid).await,
            Err(retry_after) => Err(KeyError::RefreshLimited {
                kid: kid.to_owned(),
                retry_after,
            }),
        };
        {
            let mut in_flight = lock(&inner.in_flight);
            if in_flight
                .get(kid)
                .is_some_and(|current| Arc::ptr_eq(current, &flight))
            {
                in_flight.remove(kid);
            }
        }
        match fetched {
            Ok(key) => {
                let key = Arc::new(key);
                write_map(&inner.cache).insert(kid.to_owned(), Arc::clone(&key));
                Ok(key)
            }
            Err(err @ KeyError::UnknownKey { .. }) => {
                self.remember_unknown(kid, now);
                Err(err)
            }
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
