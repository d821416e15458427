//! Webhook verification keys: the [`KeySource`] trait, keys from your configuration
//! ([`StaticKeys`]) and keys fetched from Passage by id ([`RemoteKeys`]).
//!
//! Invariant: an unknown `kid` never makes the receiver fetch without bound, and no budget a
//! stranger can spend delays the fetch of the key genuine webhooks use. [`RemoteKeys`] fetches
//! an id at most once at a time, at most a few ids at once (callers over that wait for a slot,
//! the id asked for most often recently first), remembers ids the endpoint did not know for a
//! while (bounded negative cache), and reads each answer under a size cap and a short timeout.
//! A cached key is answered from memory without waiting for any fetch.
//!
//! This file holds what every key source shares: [`VerificationKey`], [`KeyError`], the
//! [`KeySource`] trait and [`StaticKeys`]. `remote.rs` is [`RemoteKeys`] (fetch, cache,
//! negative cache); `slots.rs` hands out its fetch slots by demand.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

mod remote;
mod slots;

pub use remote::{
    RemoteKeys, DEFAULT_BASE_URL, DEFAULT_FETCH_BURST, DEFAULT_FETCH_TIMEOUT,
    DEFAULT_KEY_BODY_BYTES,
};

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
}
