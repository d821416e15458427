//! [`WebhookVerifier`]: checks `X-Passage-Signature` and `X-Passage-Timestamp` against the raw
//! body, one check at a time, each failure its own [`VerifyError`] variant.
//!
//! The checks, in order (the first failing one is reported). Everything that needs no key comes
//! first, so a request that fails any of it never makes the key source fetch anything: a stranger
//! without a key cannot spend fetches with a wrong body hash, a stale `iat` or a missing header.
//!
//! 1. the body is at most the maximum size (default 1 MiB);
//! 2. `X-Passage-Signature` is present once, at most 8 KiB, ASCII, three non-empty base64url
//!    parts, each valid unpadded base64url;
//! 3. the JWT header is a JSON object without duplicate keys, `alg` is exactly `ES256` (so
//!    `none`, `HS256`, `RS256`, `ES384`... are refused before any key is touched), `typ` is `JWT`,
//!    no `crit`, and `kid` is 1 to 128 characters of `[A-Za-z0-9_.-]`;
//! 4. the signature is exactly 64 bytes (`r || s`; DER or truncated forms are refused);
//! 5. the claims are a JSON object without duplicate keys holding `request_body_sha256` (64 hex
//!    digits) and `iat` (Unix seconds);
//! 6. SHA-256 of the raw body equals `request_body_sha256` (compared in constant time; the hex
//!    is decoded first, so upper and lower case are both accepted: the value is covered by the
//!    signature, so its case carries no risk);
//! 7. `iat` is no older, and no further in the future, than the tolerance (default 5 min);
//! 8. `X-Passage-Timestamp` is present, a decimal integer, and within the tolerance of `iat`;
//! 9. the key source knows `kid` (a cached key is used at once; otherwise it may be fetched);
//! 10. the signature verifies with that key (ECDSA P-256 / SHA-256 with `ring`).
//!
//! Earlier versions looked the key up (and verified the signature) right after step 3: a
//! request with a wrong body hash and an unknown `kid` then got [`VerifyError::UnknownKid`]; it
//! now gets [`VerifyError::BodyHashMismatch`], and a forged token with bad claims gets the claim
//! error rather than [`VerifyError::BadSignature`]. So an error from steps 4 to 8 says nothing
//! about whether the token was signed by a known key: only success does.
//!
//! The body is parsed only after all of this, by [`VerifiedWebhook::event`].

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::clock::{Clock, SystemClock};
use super::event::{EventError, WebhookEvent};
use super::keys::{KeyError, KeySource, VerificationKey};
use super::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Default timestamp tolerance: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// Default maximum body size: 1 MiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 1024 * 1024;
/// Default maximum size of the `X-Passage-Signature` value: 8 KiB.
pub const DEFAULT_MAX_SIGNATURE_SIZE: usize = 8 * 1024;
/// Longest accepted `kid`.
pub const MAX_KID_LEN: usize = 128;

/// Whether `X-Passage-Timestamp` must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TimestampHeader {
    /// Absent is [`VerifyError::MissingTimestamp`] (the default: Passage always sends it).
    #[default]
    Required,
    /// Absent is accepted (the signed `iat` is checked either way); present, it is checked.
    /// For tools that have only the signature, such as `passage webhook verify` without
    /// `--timestamp`.
    Optional,
}

/// A part of the compact JWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtPart {
    /// The first part, the JOSE header.
    Header,
    /// The second part, the claims.
    Claims,
    /// The third part, the signature.
    Signature,
}

impl std::fmt::Display for JwtPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Claims => "claims",
            Self::Signature => "signature",
        })
    }
}

/// Why a webhook was refused. Each check has its own variant; messages name the header.
///
/// Attacker-controlled strings (an `alg`, a `kid`) appear only shortened and escaped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The body is larger than the configured maximum.
    #[error("webhook body is {len} bytes, more than the maximum of {max}")]
    BodyTooLarge {
        /// Body size.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// `X-Passage-Signature` is absent.
    #[error("X-Passage-Signature: header missing")]
    MissingSignature,
    /// `X-Passage-Signature` appears more than once.
    #[error("X-Passage-Signature: header sent {count} times, expected once")]
    MultipleSignatures {
        /// How many times.
        count: usize,
    },
    /// `X-Passage-Signature` is larger than the configured maximum.
    #[error("X-Passage-Signature: {len} bytes, more than the maximum of {max}")]
    SignatureHeaderTooLarge {
        /// Header value size.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// `X-Passage-Signature` holds bytes outside visible ASCII.
    #[error("X-Passage-Signature: not visible ASCII")]
    SignatureNotAscii,
    /// `X-Passage-Signature` is not three non-empty base64url parts separated by dots.
    #[error("X-Passage-Signature: not a compact JWT: {reason}")]
    MalformedJwt {
        /// What is wrong.
        reason: &'static str,
    },
    /// A part of the JWT is not valid unpadded base64url.
    #[error("X-Passage-Signature: the JWT {part} is not valid base64url")]
    InvalidBase64 {
        /// Which part.
        part: JwtPart,
    },
    /// The JWT header is not a JSON object.
    #[error("X-Passage-Signature: the JWT header is not a JSON object: {message}")]
    HeaderNotJson {
        /// The parser's message.
        message: String,
    },
    /// The JWT header has the same key twice (parsers disagree on which one wins).
    #[error("X-Passage-Signature: the JWT header has the key {key:?} more than once")]
    DuplicateHeaderKey {
        /// The repeated key (shortened).
        key: String,
    },
    /// `alg` is not exactly `ES256`.
    #[error("X-Passage-Signature: JWT algorithm {alg} refused, only \"ES256\" is accepted")]
    UnsupportedAlgorithm {
        /// What the header said (shortened, escaped), or `<missing>`.
        alg: String,
    },
    /// `typ` is not `JWT`.
    #[error("X-Passage-Signature: JWT type {typ} refused, expected \"JWT\"")]
    UnsupportedType {
        /// What the header said (shortened, escaped), or `<missing>`.
        typ: String,
    },
    /// The header has a `crit` member: no critical extension is supported (RFC 7515 §4.1.11).
    #[error("X-Passage-Signature: the JWT header has a `crit` member; no critical extension is supported")]
    CriticalHeader,
    /// The header has no `kid`.
    #[error("X-Passage-Signature: the JWT header has no `kid`")]
    MissingKid,
    /// `kid` is not 1 to 128 characters of `[A-Za-z0-9_.-]`.
    #[error("X-Passage-Signature: the JWT `kid` is malformed: {reason}")]
    InvalidKid {
        /// What is wrong.
        reason: &'static str,
    },
    /// No key with this id.
    #[error("X-Passage-Signature: unknown key id `{kid}`")]
    UnknownKid {
        /// The key id (well-formed by now).
        kid: String,
    },
    /// The key could not be had for another reason (endpoint down, no fetch slot free in time).
    #[error("X-Passage-Signature: key `{kid}` unavailable: {source}")]
    KeyUnavailable {
        /// The key id.
        kid: String,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// The signature is not 64 bytes (a DER-encoded or truncated signature).
    #[error("X-Passage-Signature: the signature is {len} bytes, expected 64 (r || s)")]
    SignatureLength {
        /// Decoded length.
        len: usize,
    },
    /// The signature does not verify with the key.
    #[error("X-Passage-Signature: the signature does not verify with key `{kid}`")]
    BadSignature {
        /// The key id.
        kid: String,
    },
    /// The claims are not a JSON object.
    #[error("X-Passage-Signature: the JWT claims are not a JSON object: {message}")]
    ClaimsNotJson {
        /// The parser's message.
        message: String,
    },
    /// The claims have the same key twice.
    #[error("X-Passage-Signature: the JWT claims have the key {key:?} more than once")]
    DuplicateClaim {
        /// The repeated key (shortened).
        key: String,
    },
    /// A required claim is absent (or null).
    #[error("X-Passage-Signature: the JWT claim `{claim}` is missing")]
    MissingClaim {
        /// `request_body_sha256` or `iat`.
        claim: &'static str,
    },
    /// A claim has the wrong form.
    #[error("X-Passage-Signature: the JWT claim `{claim}` is invalid: {reason}")]
    InvalidClaim {
        /// Which claim.
        claim: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The body's SHA-256 differs from `request_body_sha256`: the body was altered, or the
    /// signature belongs to another body.
    #[error("X-Passage-Signature: request_body_sha256 does not match the SHA-256 of the body")]
    BodyHashMismatch,
    /// `iat` is older than the tolerance: a late delivery or a replay.
    #[error("X-Passage-Signature: signed at {iat}, {age}s ago, beyond the tolerance of {tolerance_secs}s (replay?)")]
    Expired {
        /// The JWT's `iat`.
        iat: u64,
        /// Seconds between `iat` and now.
        age: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// `iat` is further in the future than the tolerance (clock skew or forgery).
    #[error("X-Passage-Signature: signed at {iat}, {ahead}s in the future, beyond the tolerance of {tolerance_secs}s")]
    IssuedInFuture {
        /// The JWT's `iat`.
        iat: u64,
        /// Seconds between now and `iat`.
        ahead: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// `X-Passage-Timestamp` is absent.
    #[error("X-Passage-Timestamp: header missing")]
    MissingTimestamp,
    /// `X-Passage-Timestamp` is not a decimal integer (or appears more than once).
    #[error("X-Passage-Timestamp: not a single decimal integer of Unix seconds")]
    InvalidTimestamp,
    /// `X-Passage-Timestamp` and the JWT's `iat` differ by more than the tolerance.
    #[error("X-Passage-Timestamp: {timestamp} differs from the JWT iat {iat} by more than the tolerance of {tolerance_secs}s")]
    TimestampMismatch {
        /// The header's value.
        timestamp: u64,
        /// The JWT's `iat`.
        iat: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
}

/// A webhook whose signature, body hash and time checked out. The body is not parsed yet:
/// call [`event`](Self::event).
#[derive(Debug, Clone)]
pub struct VerifiedWebhook {
    body: Bytes,
    kid: String,
    issued_at: u64,
}

impl VerifiedWebhook {
    /// The raw body, exactly as signed.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The raw body, consumed.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// The id of the key that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWT's `iat`, Unix seconds.
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// Parses the body into a typed event.
    pub fn event(&self) -> Result<WebhookEvent, EventError> {
        WebhookEvent::parse(&self.body)
    }
}

/// Verifies Passage webhooks. Cheap to clone (shares its key source).
///
/// ```no_run
/// # async fn run(headers: http::HeaderMap, body: bytes::Bytes) -> Result<(), Box<dyn std::error::Error>> {
/// use passage_connect::webhook::{RemoteKeys, WebhookEvent, WebhookVerifier};
///
/// let verifier = WebhookVerifier::new(RemoteKeys::new("https://connect.getpassage.ai"));
/// let verified = verifier.verify(&headers, &body).await?;
/// match verified.event()? {
///     WebhookEvent::LinkComplete(link) => println!("{} complete", link.link_id),
///     WebhookEvent::LinkFailed(link) => println!("{} failed: {:?}", link.link_id, link.error),
///     other => println!("ignoring {}", other.name()),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    keys: Arc<dyn KeySource>,
    clock: Arc<dyn Clock>,
    tolerance: Duration,
    max_body_size: usize,
    max_signature_size: usize,
    timestamp_header: TimestampHeader,
}

/// A webhook that passed every check that needs no key: only its signature is left.
struct ParsedJwt<'h> {
    signing_input: &'h [u8],
    kid: String,
    signature: Vec<u8>,
    iat: u64,
}

impl WebhookVerifier {
    /// A verifier taking keys from `keys`, with the default tolerance, size limits and the
    /// system clock.
    pub fn new(keys: impl KeySource + 'static) -> Self {
        Self::with_key_source(Arc::new(keys))
    }

    /// A verifier sharing an existing key source.
    pub fn with_key_source(keys: Arc<dyn KeySource>) -> Self {
        Self {
            keys,
            clock: Arc::new(SystemClock),
            tolerance: DEFAULT_TOLERANCE,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            max_signature_size: DEFAULT_MAX_SIGNATURE_SIZE,
            timestamp_header: TimestampHeader::Required,
        }
    }

    /// How far `iat` may be from now, either way, and `X-Passage-Timestamp` from `iat`
    /// (default 5 minutes).
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Largest accepted body (default 1 MiB).
    pub fn with_max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Largest accepted `X-Passage-Signature` value (default 8 KiB).
    pub fn with_max_signature_size(mut self, bytes: usize) -> Self {
        self.max_signature_size = bytes;
        self
    }

    /// Whether `X-Passage-Timestamp` must be present (default: required).
    pub fn with_timestamp_header(mut self, rule: TimestampHeader) -> Self {
        self.timestamp_header = rule;
        self
    }

    /// Reads the time from `clock` (tests).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The tolerance.
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// The maximum body size.
    pub fn max_body_size(&self) -> usize {
        self.max_body_size
    }

    /// The key source.
    pub fn key_source(&self) -> &Arc<dyn KeySource> {
        &self.keys
    }

    /// Verifies a webhook: `headers` as received, `body` the exact raw bytes. Asks the key
    /// source for the key (which may fetch it) only once every check that needs no key passed.
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<VerifiedWebhook, VerifyError> {
        let jwt = self.check_without_key(headers, body)?;
        let key = self.key_for(&jwt.kid).await?;
        check_signature(jwt, &key, Bytes::copy_from_slice(body))
    }

    /// Like [`verify`](Self::verify) for a body you already hold as [`Bytes`] (no copy).
    pub async fn verify_bytes(
        &self,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<VerifiedWebhook, VerifyError> {
        let jwt = self.check_without_key(headers, &body)?;
        let key = self.key_for(&jwt.kid).await?;
        check_signature(jwt, &key, body)
    }

    /// Verifies without waiting: only keys available in memory are used
    /// ([`StaticKeys`](super::StaticKeys), or keys [`RemoteKeys`](super::RemoteKeys) already
    /// cached). An id that is not available gives [`VerifyError::UnknownKid`].
    pub fn verify_sync(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<VerifiedWebhook, VerifyError> {
        let jwt = self.check_without_key(headers, body)?;
        let key = self
            .keys
            .cached_key(&jwt.kid)
            .ok_or_else(|| VerifyError::UnknownKid {
                kid: jwt.kid.clone(),
            })?;
        check_signature(jwt, &key, Bytes::copy_from_slice(body))
    }

    /// Step 9: the cached key, or the key source's answer (which may fetch).
    async fn key_for(&self, kid: &str) -> Result<Arc<VerificationKey>, VerifyError> {
        match self.keys.cached_key(kid) {
            Some(key) => Ok(key),
            None => self.keys.key(kid).await.map_err(|e| key_error(kid, e)),
        }
    }

    /// Steps 1 to 8: everything that needs no key.
    fn check_without_key<'h>(
        &self,
        headers: &'h HeaderMap,
        body: &[u8],
    ) -> Result<ParsedJwt<'h>, VerifyError> {
        if body.len() > self.max_body_size {
            return Err(VerifyError::BodyTooLarge {
                len: body.len(),
                max: self.max_body_size,
            });
        }
        let mut values = headers.get_all(SIGNATURE_HEADER).iter();
        let value = values.next().ok_or(VerifyError::MissingSignature)?;
        let extra = values.count();
        if extra > 0 {
            return Err(VerifyError::MultipleSignatures { count: extra + 1 });
        }
        if value.len() > self.max_signature_size {
            return Err(VerifyError::SignatureHeaderTooLarge {
                len: value.len(),
                max: self.max_signature_size,
            });
        }
        let token = value.to_str().map_err(|_| VerifyError::SignatureNotAscii)?;
        // Surrounding whitespace is not part of a field value (RFC 9110 §5.5); http keeps it.
        let token = token.trim_matches(|c| c == ' ' || c == '\t');
        let (header_b64, claims_b64, signature_b64) = split_compact(token)?;
        let header = decode_part(header_b64, JwtPart::Header)?;
        let claims = decode_part(claims_b64, JwtPart::Claims)?;
        let signature = decode_part(signature_b64, JwtPart::Signature)?;

        let [alg, typ, kid, crit] =
            pick_fields(&header, ["alg", "typ", "kid", "crit"]).map_err(|e| match e {
                PickError::Json(e) => VerifyError::HeaderNotJson {
                    message: e.to_string(),
                },
                PickError::Duplicate(key) => VerifyError::DuplicateHeaderKey { key: shorten(&key) },
            })?;
        match alg {
            Some(Value::String(a)) if a == "ES256" => {}
            other => {
                return Err(VerifyError::UnsupportedAlgorithm {
                    alg: describe(other.as_ref()),
                })
            }
        }
        match typ {
            Some(Value::String(t)) if t == "JWT" => {}
            other => {
                return Err(VerifyError::UnsupportedType {
                    typ: describe(other.as_ref()),
                })
            }
        }
        if crit.is_some() {
            return Err(VerifyError::CriticalHeader);
        }
        let kid = match kid {
            None => return Err(VerifyError::MissingKid),
            Some(Value::String(kid)) => check_kid(kid)?,
            Some(_) => {
                return Err(VerifyError::InvalidKid {
                    reason: "not a string",
                })
            }
        };
        if signature.len() != 64 {
            return Err(VerifyError::SignatureLength {
                len: signature.len(),
            });
        }
        let iat = self.check_claims(&claims, headers, body)?;
        // The signing input is `header.claims`: the token up to its last dot.
        let signing_input = &token.as_bytes()[..header_b64.len() + 1 + claims_b64.len()];
        Ok(ParsedJwt {
            signing_input,
            kid,
            signature,
            iat,
        })
    }

    /// Steps 5 to 8: the claims, the body hash, `iat` and `X-Passage-Timestamp`. Returns `iat`.
    ///
    /// The claims are not authenticated yet (the signature is checked last): these checks only
    /// refuse; a token that passes them still needs a valid signature.
    fn check_claims(
        &self,
        claims: &[u8],
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<u64, VerifyError> {
        let [hash, iat] =
            pick_fields(claims, ["request_body_sha256", "iat"]).map_err(|e| match e {
                PickError::Json(e) => VerifyError::ClaimsNotJson {
                    message: e.to_string(),
                },
                PickError::Duplicate(key) => VerifyError::DuplicateClaim { key: shorten(&key) },
            })?;
        let claimed = match hash {
            None | Some(Value::Null) => {
                return Err(VerifyError::MissingClaim {
                    claim: "request_body_sha256",
                })
            }
            Some(Value::String(hex_digest)) => {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(hex_digest.as_bytes(), &mut digest).map_err(|_| {
                    VerifyError::InvalidClaim {
                        claim: "request_body_sha256",
                        reason: "not 64 hexadecimal digits",
                    }
                })?;
                digest
            }
            Some(_) => {
                return Err(VerifyError::InvalidClaim {
                    claim: "request_body_sha256",
                    reason: "not a string",
                })
            }
        };
        let iat = match iat {
            None | Some(Value::Null) => return Err(VerifyError::MissingClaim { claim: "iat" }),
            Some(Value::Number(n)) => numeric_date(&n).ok_or(VerifyError::InvalidClaim {
                claim: "iat",
                reason: "not a non-negative number of seconds",
            })?,
            Some(_) => {
                return Err(VerifyError::InvalidClaim {
                    claim: "iat",
                    reason: "not a number",
                })
            }
        };

        let actual = Sha256::digest(body);
        if !bool::from(actual[..].ct_eq(&claimed)) {
            return Err(VerifyError::BodyHashMismatch);
        }

        let tolerance_secs = self.tolerance.as_secs();
        let now = self.clock.unix_secs();
        if now > iat && now - iat > tolerance_secs {
            return Err(VerifyError::Expired {
                iat,
                age: now - iat,
                tolerance_secs,
            });
        }
        if iat > now && iat - now > tolerance_secs {
            return Err(VerifyError::IssuedInFuture {
                iat,
                ahead: iat - now,
                tolerance_secs,
            });
        }

        let mut stamps = headers.get_all(TIMESTAMP_HEADER).iter();
        match stamps.next() {
            None if self.timestamp_header == TimestampHeader::Optional => {}
            None => return Err(VerifyError::MissingTimestamp),
            Some(stamp) => {
                if stamps.next().is_some() {
                    return Err(VerifyError::InvalidTimestamp);
                }
                let timestamp =
                    parse_decimal(stamp.as_bytes()).ok_or(VerifyError::InvalidTimestamp)?;
                if timestamp.abs_diff(iat) > tolerance_secs {
                    return Err(VerifyError::TimestampMismatch {
                        timestamp,
                        iat,
                        tolerance_secs,
                    });
                }
            }
        }

        Ok(iat)
    }
}

/// Step 10: the signature over `header.claims` with the key `kid` named.
fn check_signature(
    jwt: ParsedJwt<'_>,
    key: &VerificationKey,
    body: Bytes,
) -> Result<VerifiedWebhook, VerifyError> {
    if !key.verify_es256(jwt.signing_input, &jwt.signature) {
        return Err(VerifyError::BadSignature { kid: jwt.kid });
    }
    Ok(VerifiedWebhook {
        body,
        kid: jwt.kid,
        issued_at: jwt.iat,
    })
}

fn key_error(kid: &str, err: KeyError) -> VerifyError {
    match err {
        KeyError::UnknownKey { .. } => VerifyError::UnknownKid {
            kid: kid.to_owned(),
        },
        source => VerifyError::KeyUnavailable {
            kid: kid.to_owned(),
            source,
        },
    }
}

fn split_compact(token: &str) -> Result<(&str, &str, &str), VerifyError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::MalformedJwt {
            reason: "expected three parts separated by `.`",
        });
    };
    if h.is_empty() || c.is_empty() || s.is_empty() {
        return Err(VerifyError::MalformedJwt {
            reason: "a part is empty",
        });
    }
    let base64url = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !(base64url(h) && base64url(c) && base64url(s)) {
        return Err(VerifyError::MalformedJwt {
            reason: "a part has characters outside the base64url alphabet (padding `=` included)",
        });
    }
    Ok((h, c, s))
}

fn decode_part(part: &str, which: JwtPart) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::InvalidBase64 { part: which })
}

fn check_kid(kid: String) -> Result<String, VerifyError> {
    if kid.is_empty() {
        return Err(VerifyError::InvalidKid { reason: "empty" });
    }
    if kid.len() > MAX_KID_LEN {
        return Err(VerifyError::InvalidKid {
            reason: "longer than 128 characters",
        });
    }
    if !kid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(VerifyError::InvalidKid {
            reason: "characters outside [A-Za-z0-9_.-]",
        });
    }
    Ok(kid)
}

/// A JWT NumericDate: a non-negative integer, or a non-negative finite number (floored).
fn numeric_date(n: &serde_json::Number) -> Option<u64> {
    if let Some(u) = n.as_u64() {
        return Some(u);
    }
    match n.as_f64() {
        Some(f) if (0.0..1.8e19).contains(&f) => Some(f.floor() as u64),
        _ => None,
    }
}

/// ASCII digits only (no sign, no spaces), at most 20 of them.
fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// An attacker-provided value as shown in an error: escaped, at most 32 characters.
fn describe(value: Option<&Value>) -> String {
    match value {
        None => "<missing>".to_owned(),
        Some(Value::String(s)) => format!("{:?}", shorten(s)),
        Some(other) => shorten(&other.to_string()),
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 32;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut short: String = s.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

enum PickError {
    Json(serde_json::Error),
    Duplicate(String),
}

/// Parses a JSON object, returning the values of the `names` fields and refusing any key that
/// appears twice (anywhere at the top level, wanted or not).
fn pick_fields<const N: usize>(
    json: &[u8],
    names: [&'static str; N],
) -> Result<[Option<Value>; N], PickError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let picked = PickSeed { names }
        .deserialize(&mut de)
        .map_err(PickError::Json)?;
    de.end().map_err(PickError::Json)?;
    match picked {
        Picked::Fields(values) => Ok(values),
        Picked::Duplicate(key) => Err(PickError::Duplicate(key)),
    }
}

enum Picked<const N: usize> {
    Fields([Option<Value>; N]),
    Duplicate(String),
}

struct PickSeed<const N: usize> {
    names: [&'static str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for PickSeed<N> {
    type Value = Picked<N>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for PickSeed<N> {
    type Value = Picked<N>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: [Option<Value>; N] = std::array::from_fn(|_| None);
        let mut seen: Vec<String> = Vec::with_capacity(8);
        let mut duplicate = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if duplicate.is_none() && seen.iter().any(|k| *k == key) {
                duplicate = Some(key.to_string());
            }
            match self.names.iter().position(|n| *n == key) {
                Some(i) => values[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            if seen.len() < 256 {
                seen.push(key.into_owned());
            } else {
                return Err(de::Error::custom("more than 256 keys"));
            }
        }
        Ok(match duplicate {
            Some(key) => Picked::Duplicate(key),
            None => Picked::Fields(values),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_fields_detects_duplicates_and_non_objects() {
        assert!(matches!(
            pick_fields(br#"{"a":1,"b":2,"a":3}"#, ["a"]),
            Err(PickError::Duplicate(k)) if k == "a"
        ));
        assert!(matches!(
            pick_fields(br#"{"x":1,"x":2}"#, ["a"]),
            Err(PickError::Duplicate(k)) if k == "x"
        ));
        assert!(matches!(
            pick_fields(b"[1]", ["a"]),
            Err(PickError::Json(_))
        ));
        assert!(matches!(
            pick_fields(br#"{"a":1} x"#, ["a"]),
            Err(PickError::Json(_))
        ));
        let [a, b] = pick_fields(br#"{"a":"s","c":{"a":1,"a":2}}"#, ["a", "b"])
            .ok()
            .unwrap();
        assert_eq!(a, Some(Value::from("s")));
        assert_eq!(b, None);
    }

    #[test]
    fn numbers_and_kids() {
        assert_eq!(parse_decimal(b"1704067200"), Some(1_704_067_200));
        assert_eq!(parse_decimal(b"+1"), None);
        assert_eq!(parse_decimal(b" 1"), None);
        assert_eq!(parse_decimal(b"99999999999999999999"), None);
        assert!(check_kid("wsk_1705936800000".into()).is_ok());
        assert!(check_kid("../etc/passwd".into()).is_err());
        assert!(check_kid("a".repeat(129)).is_err());
        assert_eq!(
            numeric_date(&serde_json::Number::from_f64(1.5).unwrap()),
            Some(1)
        );
        assert_eq!(numeric_date(&serde_json::Number::from(-1)), None);
    }
}
