//! Webhooks: verifying Passage's `X-Passage-Signature` ([`WebhookVerifier`]), the keys it
//! needs ([`KeySource`], [`StaticKeys`], [`RemoteKeys`]), and typed events ([`WebhookEvent`]).
//!
//! # Why `ring` verifies
//!
//! Verification runs on every webhook, so it uses `ring`'s ECDSA P-256
//! (`ECDSA_P256_SHA256_FIXED`): its P-256 code is the BoringSSL/OpenSSL-derived `nistz256`
//! assembly, so a verification costs about what OpenSSL's does (see `BENCHMARKS.md`); it has a
//! long audit and fuzzing record; it needs no C toolchain beyond `cc` (no cmake, no Go, no
//! OpenSSL headers); and it was already a dependency. `jsonwebtoken` would add a generic JWT
//! layer (and, before v10, pulls `ring` anyway) while the checks here must be exactly Passage's;
//! `p256` (RustCrypto, pure Rust) is several times slower at verification; `aws-lc-rs` is as
//! fast but needs cmake (and more) to build.
//!
//! Signing (feature `test-util`, module [`signing`]) uses `p256` instead: an implementation
//! independent of the verifier, so tests that sign with one and verify with the other check
//! two implementations against each other.

mod clock;
mod event;
mod keys;
mod verify;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod signing;

pub use clock::{Clock, ManualClock, SystemClock};
pub use event::{EventError, LinkEvent, WebhookEvent};
pub use keys::{
    KeyError, KeyFuture, KeySource, RemoteKeys, StaticKeys, VerificationKey, DEFAULT_BASE_URL,
    DEFAULT_FETCH_BURST, DEFAULT_FETCH_TIMEOUT, DEFAULT_KEY_BODY_BYTES,
};
pub use verify::{
    JwtPart, TimestampHeader, VerifiedWebhook, VerifyError, WebhookVerifier, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_SIGNATURE_SIZE, DEFAULT_TOLERANCE, MAX_KID_LEN,
};

/// The header map type the verifier reads (re-exported from `http`).
pub use http::{HeaderMap, HeaderValue};

/// The header carrying the compact ES256 JWT (`X-Passage-Signature`; header names are
/// case-insensitive).
pub const SIGNATURE_HEADER: &str = "x-passage-signature";
/// The header carrying the signing time in Unix seconds (`X-Passage-Timestamp`).
pub const TIMESTAMP_HEADER: &str = "x-passage-timestamp";
