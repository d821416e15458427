//! Signing webhooks exactly as Passage does, for tests (feature `test-util`).
//!
//! Passage signs every webhook with a compact ES256 JWT in `X-Passage-Signature` and puts the
//! signing time in `X-Passage-Timestamp`. This module produces the same two headers so you can
//! test your own webhook handler end to end, the way `svix`'s `sign` or `async-stripe`'s
//! `generate_test_header` are used. The local emulator signs with this very code.
//!
//! Signing uses the RustCrypto `p256` crate, an implementation independent of the `ring` code
//! that [`WebhookVerifier`](super::WebhookVerifier) verifies with, so a test that signs here and
//! verifies there checks two implementations against each other.
//!
//! ```no_run
//! # async fn handler_test() -> Result<(), Box<dyn std::error::Error>> {
//! use passage_connect::webhook::signing::{sign_webhook, WebhookSigningKey};
//! use passage_connect::webhook::{StaticKeys, WebhookEvent, WebhookVerifier};
//!
//! // One key pair per test run: the private half signs, the public half goes in your config.
//! let key = WebhookSigningKey::generate();
//! let verifier = WebhookVerifier::new(StaticKeys::from_pem("key_test", &key.public_key_pem())?);
//!
//! let body = br#"{"event":"link.complete","linkId":"link_abc123","status":"complete","result":{"billing":[]},"error":null,"timestamp":1704067200000}"#;
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! let headers = sign_webhook(&key, "key_test", body, now).to_header_map();
//!
//! // Send `headers` + `body` to your own handler (e.g. `axum::Router` + `tower::ServiceExt::oneshot`),
//! // or check them directly:
//! let verified = verifier.verify(&headers, body).await?;
//! assert!(matches!(verified.event()?, WebhookEvent::LinkComplete(_)));
//! # Ok(()) }
//! ```

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use sha2::{Digest as _, Sha256};

use super::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// A P-256 private key that signs webhooks like Passage does.
///
/// `Debug` prints only the public key's fingerprint-free marker, never the private scalar.
#[derive(Clone)]
pub struct WebhookSigningKey {
    key: SigningKey,
}

/// Why a signing key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// The text holds neither a `BEGIN PRIVATE KEY` (PKCS#8) nor a `BEGIN EC PRIVATE KEY`
    /// (SEC1) PEM block.
    #[error("signing key: expected a PEM block `BEGIN PRIVATE KEY` (PKCS#8) or `BEGIN EC PRIVATE KEY` (SEC1)")]
    NotPem,
    /// The PEM block is there but is not a valid P-256 private key.
    #[error("signing key: the {format} PEM block is not a valid P-256 private key: {message}")]
    InvalidKey {
        /// `PKCS#8` or `SEC1`.
        format: &'static str,
        /// What the decoder said (never contains key material).
        message: String,
    },
}

impl WebhookSigningKey {
    /// Generates a fresh random key (operating-system randomness).
    pub fn generate() -> Self {
        Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    /// Loads a P-256 private key from PEM: PKCS#8 (`-----BEGIN PRIVATE KEY-----`, what
    /// `openssl genpkey` writes) or SEC1 (`-----BEGIN EC PRIVATE KEY-----`, what
    /// `openssl ecparam -genkey` writes).
    pub fn from_pem(pem: &str) -> Result<Self, SigningError> {
        if pem.contains("-----BEGIN PRIVATE KEY-----") {
            let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| SigningError::InvalidKey {
                format: "PKCS#8",
                message: e.to_string(),
            })?;
            Ok(Self { key })
        } else if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
            let secret =
                p256::SecretKey::from_sec1_pem(pem).map_err(|e| SigningError::InvalidKey {
                    format: "SEC1",
                    message: e.to_string(),
                })?;
            Ok(Self {
                key: SigningKey::from(secret),
            })
        } else {
            Err(SigningError::NotPem)
        }
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn to_pkcs8_pem(&self) -> String {
        match self.key.to_pkcs8_pem(LineEnding::LF) {
            Ok(pem) => pem.as_str().to_owned(),
            // Encoding a valid in-memory P-256 key cannot fail; an empty string would be refused
            // by every reader, so the failure cannot go unnoticed.
            Err(_) => String::new(),
        }
    }

    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the form Passage's
    /// `/webhook_verification_key/get` returns and [`StaticKeys`](super::StaticKeys) reads.
    pub fn public_key_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The uncompressed SEC1 public point (`0x04 || x || y`, 65 bytes).
    pub fn public_key_sec1(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    /// Signs `message` with ES256 and returns the 64-byte `r || s`.
    fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        let signature: Signature = self.key.sign(message);
        signature.to_bytes().into()
    }
}

impl fmt::Debug for WebhookSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSigningKey")
            .field("curve", &"P-256")
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// The two headers Passage sends with a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhookHeaders {
    /// Value of `X-Passage-Signature`: the compact ES256 JWT.
    pub signature: String,
    /// Value of `X-Passage-Timestamp`: Unix seconds, the JWT's `iat`.
    pub timestamp: String,
}

impl SignedWebhookHeaders {
    /// The headers as an [`http::HeaderMap`] holding `X-Passage-Signature` and
    /// `X-Passage-Timestamp` (add `Content-Type: application/json` yourself if your handler
    /// checks it).
    pub fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(2);
        // Both values are base64url / ASCII digits, always valid header values.
        if let Ok(v) = HeaderValue::from_str(&self.signature) {
            map.insert(SIGNATURE_HEADER, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.timestamp) {
            map.insert(TIMESTAMP_HEADER, v);
        }
        map
    }
}

/// Signs a webhook body exactly as Passage does.
///
/// The JWT header is `{"alg":"ES256","typ":"JWT","kid":<kid>}`, the claims
/// `{"request_body_sha256":<lowercase hex SHA-256 of body>,"iat":<iat_unix_secs>}`, and the
/// signature the 64-byte `r || s` in base64url without padding. `X-Passage-Timestamp` is
/// `iat_unix_secs`.
pub fn sign_webhook(
    key: &WebhookSigningKey,
    kid: &str,
    body: &[u8],
    iat_unix_secs: u64,
) -> SignedWebhookHeaders {
    // Written by hand to keep the documented field order alg, typ, kid (serde_json's map
    // would sort the keys); the kid is JSON-escaped by serde_json.
    let header = format!(
        r#"{{"alg":"ES256","typ":"JWT","kid":{}}}"#,
        serde_json::Value::from(kid)
    );
    let claims = format!(
        r#"{{"request_body_sha256":"{}","iat":{}}}"#,
        hex::encode(Sha256::digest(body)),
        iat_unix_secs
    );
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.as_bytes()),
        URL_SAFE_NO_PAD.encode(claims.as_bytes())
    );
    let signature = key.sign_raw(signing_input.as_bytes());
    SignedWebhookHeaders {
        signature: format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)),
        timestamp: iat_unix_secs.to_string(),
    }
}

/// Signs an arbitrary JWT signing input (`base64url(header).base64url(claims)`) and returns the
/// complete compact JWT. For building hostile test cases (altered headers or claims that are
/// still correctly signed).
pub fn sign_compact_jwt(key: &WebhookSigningKey, header_json: &[u8], claims_json: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header_json),
        URL_SAFE_NO_PAD.encode(claims_json)
    );
    let signature = key.sign_raw(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_has_documented_shape() {
        let key = WebhookSigningKey::generate();
        let signed = sign_webhook(&key, "key_abc123", b"{}", 1_704_067_200);
        let parts: Vec<&str> = signed.signature.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = URL_SAFE_NO_PAD.decode(parts[0]).unwrap();
        assert_eq!(
            header,
            br#"{"alg":"ES256","typ":"JWT","kid":"key_abc123"}"#.to_vec()
        );
        let claims = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        assert_eq!(
            claims,
            br#"{"request_body_sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","iat":1704067200}"#.to_vec()
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64);
        assert_eq!(signed.timestamp, "1704067200");
        let map = signed.to_header_map();
        assert_eq!(map.get("x-passage-timestamp").unwrap(), "1704067200");
        assert_eq!(
            map.get("X-Passage-Signature").unwrap(),
            signed.signature.as_str()
        );
    }

    #[test]
    fn pem_round_trips_pkcs8_and_sec1() {
        let key = WebhookSigningKey::generate();
        let pkcs8 = key.to_pkcs8_pem();
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = WebhookSigningKey::from_pem(&pkcs8).unwrap();
        assert_eq!(again.public_key_pem(), key.public_key_pem());

        use p256::elliptic_curve::SecretKey;
        let secret: SecretKey<p256::NistP256> = SecretKey::from(key.key.clone());
        let sec1 = secret.to_sec1_pem(LineEnding::LF).unwrap();
        assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        let from_sec1 = WebhookSigningKey::from_pem(&sec1).unwrap();
        assert_eq!(from_sec1.public_key_pem(), key.public_key_pem());
        assert!(key
            .public_key_pem()
            .starts_with("-----BEGIN PUBLIC KEY-----"));
    }

    #[test]
    fn bad_pem_is_typed_and_debug_hides_key() {
        assert!(matches!(
            WebhookSigningKey::from_pem("hello"),
            Err(SigningError::NotPem)
        ));
        assert!(matches!(
            WebhookSigningKey::from_pem(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            ),
            Err(SigningError::InvalidKey { .. })
        ));
        let key = WebhookSigningKey::generate();
        let dbg = format!("{key:?}");
        assert!(dbg.contains("redacted"));
        let pem = key.to_pkcs8_pem();
        let body: String = pem.lines().nth(1).unwrap().to_owned();
        assert!(!dbg.contains(&body));
    }
}
