//! Webhook verification against hostile input: a table of 51 forged, altered, replayed and
//! malformed webhooks over 27 `VerifyError` variants (counts asserted exactly), each message
//! checked to name the header, claim or key it is about; and valid webhooks signed with the
//! `p256` crate (the test-util signer), which the verifier (ring) must accept.
#![cfg(feature = "test-util")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use passage_connect::webhook::signing::{sign_compact_jwt, sign_webhook, WebhookSigningKey};
use passage_connect::webhook::{
    JwtPart, KeyFuture, KeySource, ManualClock, StaticKeys, VerificationKey, VerifyError,
    WebhookEvent, WebhookVerifier,
};
use sha2::{Digest as _, Sha256};

const NOW: u64 = 1_704_067_210;
const KID: &str = "wsk_1705936800000";
const BODY: &[u8] = br#"{"event":"link.complete","linkId":"link_abc123","status":"complete","result":{"billing":[{"periodStart":"01/15/2025","periodEnd":"02/14/2025","amountDue":85.0,"currency":"USD"}]},"error":null,"timestamp":1704067200000}"#;

struct Fixture {
    key: WebhookSigningKey,
    other_key: WebhookSigningKey,
    verifier: WebhookVerifier,
    lookups: Arc<AtomicUsize>,
}

/// Static keys that count how often a key is asked for.
#[derive(Debug)]
struct CountingKeys {
    inner: StaticKeys,
    lookups: Arc<AtomicUsize>,
}

impl KeySource for CountingKeys {
    fn key<'a>(&'a self, kid: &'a str) -> KeyFuture<'a> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.key(kid)
    }
    fn cached_key(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.cached_key(kid)
    }
}

fn fixture() -> Fixture {
    let key = WebhookSigningKey::generate();
    let lookups = Arc::new(AtomicUsize::new(0));
    let keys = CountingKeys {
        inner: StaticKeys::from_pem(KID, &key.public_key_pem()).unwrap(),
        lookups: Arc::clone(&lookups),
    };
    Fixture {
        verifier: WebhookVerifier::new(keys).with_clock(ManualClock::at_unix_secs(NOW)),
        key,
        other_key: WebhookSigningKey::generate(),
        lookups,
    }
}

fn headers(signature: &str, timestamp: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "X-Passage-Signature",
        HeaderValue::from_str(signature).unwrap(),
    );
    h.insert(
        "X-Passage-Timestamp",
        HeaderValue::from_str(timestamp).unwrap(),
    );
    h
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn std_header(kid: &str) -> String {
    format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#)
}

fn std_claims(body: &[u8], iat: u64) -> String {
    format!(
        r#"{{"request_body_sha256":"{}","iat":{iat}}}"#,
        hash_hex(body)
    )
}

fn parts(jwt: &str) -> Vec<String> {
    jwt.split('.').map(str::to_owned).collect()
}

fn signature_bytes(jwt: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(&parts(jwt)[2]).unwrap()
}

fn with_signature(jwt: &str, sig: &[u8]) -> String {
    let p = parts(jwt);
    format!("{}.{}.{}", p[0], p[1], b64(sig))
}

type Check = fn(&VerifyError) -> bool;

struct Case {
    name: &'static str,
    headers: HeaderMap,
    body: Vec<u8>,
    expect: Check,
}

fn cases(f: &Fixture) -> Vec<Case> {
    let valid = sign_webhook(&f.key, KID, BODY, NOW);
    let ts = NOW.to_string();
    let mut out = Vec::new();
    let mut case = |name: &'static str, headers: HeaderMap, body: &[u8], expect: Check| {
        out.push(Case {
            name,
            headers,
            body: body.to_vec(),
            expect,
        })
    };

    // Body and header envelope.
    let huge_body = vec![b' '; 1024 * 1024 + 1];
    let huge_signed = sign_webhook(&f.key, KID, &huge_body, NOW);
    case("huge body", huge_signed.to_header_map(), &huge_body, |e| {
        matches!(
            e,
            VerifyError::BodyTooLarge {
                len: 1_048_577,
                max: 1_048_576
            }
        )
    });
    let mut h = HeaderMap::new();
    h.insert("X-Passage-Timestamp", HeaderValue::from_str(&ts).unwrap());
    case("missing signature header", h, BODY, |e| {
        matches!(e, VerifyError::MissingSignature)
    });
    let mut h = valid.to_header_map();
    h.append(
        "X-Passage-Signature",
        HeaderValue::from_str(&valid.signature).unwrap(),
    );
    case("signature header twice", h, BODY, |e| {
        matches!(e, VerifyError::MultipleSignatures { count: 2 })
    });
    let huge = format!(
        "{}.{}.{}",
        "A".repeat(4000),
        "A".repeat(4000),
        "A".repeat(400)
    );
    case("huge signature header", headers(&huge, &ts), BODY, |e| {
        matches!(e, VerifyError::SignatureHeaderTooLarge { max: 8192, .. })
    });
    let mut h = valid.to_header_map();
    h.insert(
        "X-Passage-Signature",
        HeaderValue::from_bytes(b"eyJ\xff.a.b").unwrap(),
    );
    case("non-ASCII signature header", h, BODY, |e| {
        matches!(e, VerifyError::SignatureNotAscii)
    });
    let p = parts(&valid.signature);
    case(
        "two parts",
        headers(&format!("{}.{}", p[0], p[1]), &ts),
        BODY,
        |e| matches!(e, VerifyError::MalformedJwt { .. }),
    );
    case(
        "four parts",
        headers(&format!("{}.x", valid.signature), &ts),
        BODY,
        |e| matches!(e, VerifyError::MalformedJwt { .. }),
    );
    case(
        "alg none with an empty signature part",
        headers(
            &format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT","kid":"wsk_1705936800000"}"#),
                p[1]
            ),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::MalformedJwt { .. }),
    );
    case(
        "padded base64",
        headers(&format!("{}=.{}.{}", p[0], p[1], p[2]), &ts),
        BODY,
        |e| matches!(e, VerifyError::MalformedJwt { .. }),
    );
    let mut bad_len = p[0].clone();
    while bad_len.len() % 4 != 1 {
        bad_len.push('A');
    }
    case(
        "invalid base64 (length)",
        headers(&format!("{bad_len}.{}.{}", p[1], p[2]), &ts),
        BODY,
        |e| {
            matches!(
                e,
                VerifyError::InvalidBase64 {
                    part: JwtPart::Header
                }
            )
        },
    );
    let mut bad_sig_part = p[2].clone();
    bad_sig_part.pop();
    bad_sig_part.push('B'); // non-zero trailing bits: not canonical base64
    case(
        "invalid base64 (trailing bits)",
        headers(&format!("{}.{}.{}", p[0], p[1], bad_sig_part), &ts),
        BODY,
        |e| {
            matches!(
                e,
                VerifyError::InvalidBase64 {
                    part: JwtPart::Signature
                }
            )
        },
    );

    // JWT header.
    let signed =
        |header: &str, claims: &str| sign_compact_jwt(&f.key, header.as_bytes(), claims.as_bytes());
    let claims = std_claims(BODY, NOW);
    case(
        "header not JSON",
        headers(&signed("{alg:ES256}", &claims), &ts),
        BODY,
        |e| matches!(e, VerifyError::HeaderNotJson { .. }),
    );
    case(
        "header a JSON array",
        headers(&signed("[1]", &claims), &ts),
        BODY,
        |e| matches!(e, VerifyError::HeaderNotJson { .. }),
    );
    case(
        "duplicate alg in header",
        headers(
            &signed(
                r#"{"alg":"none","typ":"JWT","kid":"wsk_1705936800000","alg":"ES256"}"#,
                &claims,
            ),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::DuplicateHeaderKey { key } if key == "alg"),
    );
    case(
        "duplicate kid in header",
        headers(
            &signed(
                r#"{"alg":"ES256","typ":"JWT","kid":"wsk_1705936800000","kid":"other"}"#,
                &claims,
            ),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::DuplicateHeaderKey { key } if key == "kid"),
    );
    let none_jwt = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"none","typ":"JWT","kid":"wsk_1705936800000"}"#),
        b64(claims.as_bytes()),
        b64(b"x")
    );
    case(
        "alg none",
        headers(&none_jwt, &ts),
        BODY,
        |e| matches!(e, VerifyError::UnsupportedAlgorithm { alg } if alg == "\"none\""),
    );
    // The classic key-confusion forgery: HS256 with the public key PEM as the HMAC secret.
    let hs_input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT","kid":"wsk_1705936800000"}"#),
        b64(claims.as_bytes())
    );
    let hmac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, f.key.public_key_pem().as_bytes());
    let tag = ring::hmac::sign(&hmac_key, hs_input.as_bytes());
    case(
        "HS256 with the public key as HMAC secret",
        headers(&format!("{hs_input}.{}", b64(tag.as_ref())), &ts),
        BODY,
        |e| matches!(e, VerifyError::UnsupportedAlgorithm { alg } if alg == "\"HS256\""),
    );
    case(
        "RS256 header",
        headers(
            &signed(
                r#"{"alg":"RS256","typ":"JWT","kid":"wsk_1705936800000"}"#,
                &claims,
            ),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::UnsupportedAlgorithm { .. }),
    );
    case(
        "ES384 header",
        headers(
            &signed(
                r#"{"alg":"ES384","typ":"JWT","kid":"wsk_1705936800000"}"#,
                &claims,
            ),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::UnsupportedAlgorithm { alg } if alg == "\"ES384\""),
    );
    case(
        "lowercase es256",
        headers(
            &signed(
                r#"{"alg":"es256","typ":"JWT","kid":"wsk_1705936800000"}"#,
                &claims,
            ),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::UnsupportedAlgorithm { .. }),
    );
    case(
        "alg missing",
        headers(
            &signed(r#"{"typ":"JWT","kid":"wsk_1705936800000"}"#, &claims),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::UnsupportedAlgorithm { alg } if alg == "<missing>"),
    );
    case(
        "typ JWE",
        headers(
            &signed(
                r#"{"alg":"ES256","typ":"JWE","kid":"wsk_1705936800000"}"#,
                &claims,
            ),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::UnsupportedType { .. }),
    );
    case(
        "crit header",
        headers(
            &signed(
                r#"{"alg":"ES256","typ":"JWT","kid":"wsk_1705936800000","crit":["b64"],"b64":false}"#,
                &claims,
            ),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::CriticalHeader),
    );
    case(
        "kid missing",
        headers(&signed(r#"{"alg":"ES256","typ":"JWT"}"#, &claims), &ts),
        BODY,
        |e| matches!(e, VerifyError::MissingKid),
    );
    case(
        "kid with path characters",
        headers(
            &signed(&std_header("../../keys/wsk_1705936800000"), &claims),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::InvalidKid { .. }),
    );
    case(
        "kid too long",
        headers(&signed(&std_header(&"k".repeat(129)), &claims), &ts),
        BODY,
        |e| matches!(e, VerifyError::InvalidKid { .. }),
    );
    case(
        "kid a number",
        headers(
            &signed(r#"{"alg":"ES256","typ":"JWT","kid":7}"#, &claims),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::InvalidKid { .. }),
    );
    case(
        "unknown kid",
        headers(&signed(&std_header("wsk_0"), &claims), &ts),
        BODY,
        |e| matches!(e, VerifyError::UnknownKid { kid } if kid == "wsk_0"),
    );

    // Signature.
    let sig = signature_bytes(&valid.signature);
    let der = p256::ecdsa::Signature::from_slice(&sig).unwrap().to_der();
    case(
        "DER-encoded signature",
        headers(&with_signature(&valid.signature, der.as_bytes()), &ts),
        BODY,
        |e| matches!(e, VerifyError::SignatureLength { len } if (68..=72).contains(len)),
    );
    case(
        "truncated signature",
        headers(&with_signature(&valid.signature, &sig[..63]), &ts),
        BODY,
        |e| matches!(e, VerifyError::SignatureLength { len: 63 }),
    );
    let mut swapped = sig[32..].to_vec();
    swapped.extend_from_slice(&sig[..32]);
    case(
        "r and s swapped",
        headers(&with_signature(&valid.signature, &swapped), &ts),
        BODY,
        |e| matches!(e, VerifyError::BadSignature { .. }),
    );
    let mut flipped = sig.clone();
    flipped[10] ^= 1;
    case(
        "one bit of the signature flipped",
        headers(&with_signature(&valid.signature, &flipped), &ts),
        BODY,
        |e| matches!(e, VerifyError::BadSignature { .. }),
    );
    let wrong = sign_webhook(&f.other_key, KID, BODY, NOW);
    case(
        "signed with another key",
        wrong.to_header_map(),
        BODY,
        |e| matches!(e, VerifyError::BadSignature { .. }),
    );
    let altered_claims = format!(
        "{}.{}.{}",
        p[0],
        b64(std_claims(BODY, NOW + 1).as_bytes()),
        p[2]
    );
    case("altered claims", headers(&altered_claims, &ts), BODY, |e| {
        matches!(e, VerifyError::BadSignature { .. })
    });
    let altered_header = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"ES256","typ":"JWT","kid":"wsk_1705936800000","x":1}"#),
        p[1],
        p[2]
    );
    case("altered header", headers(&altered_header, &ts), BODY, |e| {
        matches!(e, VerifyError::BadSignature { .. })
    });

    // Claims.
    let h = std_header(KID);
    case(
        "claims not JSON",
        headers(&signed(&h, "iat=1"), &ts),
        BODY,
        |e| matches!(e, VerifyError::ClaimsNotJson { .. }),
    );
    let dup = format!(
        r#"{{"request_body_sha256":"{}","iat":{NOW},"iat":1}}"#,
        hash_hex(BODY)
    );
    case(
        "duplicate iat claim",
        headers(&signed(&h, &dup), &ts),
        BODY,
        |e| matches!(e, VerifyError::DuplicateClaim { key } if key == "iat"),
    );
    case(
        "hash claim missing",
        headers(&signed(&h, &format!(r#"{{"iat":{NOW}}}"#)), &ts),
        BODY,
        |e| {
            matches!(
                e,
                VerifyError::MissingClaim {
                    claim: "request_body_sha256"
                }
            )
        },
    );
    case(
        "iat claim missing",
        headers(
            &signed(
                &h,
                &format!(r#"{{"request_body_sha256":"{}"}}"#, hash_hex(BODY)),
            ),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::MissingClaim { claim: "iat" }),
    );
    case(
        "hash claim not hex",
        headers(
            &signed(
                &h,
                &format!(
                    r#"{{"request_body_sha256":"{}","iat":{NOW}}}"#,
                    "z".repeat(64)
                ),
            ),
            &ts,
        ),
        BODY,
        |e| {
            matches!(
                e,
                VerifyError::InvalidClaim {
                    claim: "request_body_sha256",
                    ..
                }
            )
        },
    );
    case(
        "hash claim base64 instead of hex",
        headers(
            &signed(
                &h,
                &format!(
                    r#"{{"request_body_sha256":"{}","iat":{NOW}}}"#,
                    b64(&Sha256::digest(BODY))
                ),
            ),
            &ts,
        ),
        BODY,
        |e| {
            matches!(
                e,
                VerifyError::InvalidClaim {
                    claim: "request_body_sha256",
                    ..
                }
            )
        },
    );
    case(
        "iat a string",
        headers(
            &signed(
                &h,
                &format!(
                    r#"{{"request_body_sha256":"{}","iat":"{NOW}"}}"#,
                    hash_hex(BODY)
                ),
            ),
            &ts,
        ),
        BODY,
        |e| matches!(e, VerifyError::InvalidClaim { claim: "iat", .. }),
    );
    let other_body = sign_webhook(&f.key, KID, b"{\"event\":\"link.failed\"}", NOW);
    case(
        "signature of another body",
        other_body.to_header_map(),
        BODY,
        |e| matches!(e, VerifyError::BodyHashMismatch),
    );
    let upper_other = format!(
        r#"{{"request_body_sha256":"{}","iat":{NOW}}}"#,
        hash_hex(b"other").to_uppercase()
    );
    case(
        "uppercase hash of another body",
        headers(&signed(&h, &upper_other), &ts),
        BODY,
        |e| matches!(e, VerifyError::BodyHashMismatch),
    );
    case(
        "body with a trailing newline",
        valid.to_header_map(),
        &[BODY, b"\n"].concat(),
        |e| matches!(e, VerifyError::BodyHashMismatch),
    );

    // Time.
    let old = sign_webhook(&f.key, KID, BODY, NOW - 301);
    case(
        "replay of an old valid webhook",
        old.to_header_map(),
        BODY,
        |e| {
            matches!(
                e,
                VerifyError::Expired {
                    age: 301,
                    tolerance_secs: 300,
                    ..
                }
            )
        },
    );
    let future = sign_webhook(&f.key, KID, BODY, NOW + 301);
    case("iat in the future", future.to_header_map(), BODY, |e| {
        matches!(e, VerifyError::IssuedInFuture { ahead: 301, .. })
    });
    let mut h = valid.to_header_map();
    h.remove("X-Passage-Timestamp");
    case("timestamp header missing", h, BODY, |e| {
        matches!(e, VerifyError::MissingTimestamp)
    });
    case(
        "timestamp not an integer",
        headers(&valid.signature, "1704067210.5"),
        BODY,
        |e| matches!(e, VerifyError::InvalidTimestamp),
    );
    case(
        "timestamp negative",
        headers(&valid.signature, "-1"),
        BODY,
        |e| matches!(e, VerifyError::InvalidTimestamp),
    );
    case(
        "timestamp disagreeing with iat",
        headers(&valid.signature, &(NOW - 1000).to_string()),
        BODY,
        |e| matches!(e, VerifyError::TimestampMismatch { .. }),
    );
    out
}

/// The variant's name, from its `Debug` form (`InvalidClaim { .. }` gives `InvalidClaim`).
fn variant_name(e: &VerifyError) -> String {
    format!("{e:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// What a message promises to name: the header it is about (as its prefix; the body for the body
/// size) and, for checks of one claim or key, that claim or key.
fn promised(e: &VerifyError) -> (&'static str, Option<String>) {
    let header = match e {
        VerifyError::MissingTimestamp
        | VerifyError::InvalidTimestamp
        | VerifyError::TimestampMismatch { .. } => "X-Passage-Timestamp: ",
        VerifyError::BodyTooLarge { .. } => "webhook body is ",
        _ => "X-Passage-Signature: ",
    };
    let named = match e {
        VerifyError::MissingClaim { claim, .. } | VerifyError::InvalidClaim { claim, .. } => {
            Some(format!("`{claim}`"))
        }
        VerifyError::DuplicateClaim { key, .. } | VerifyError::DuplicateHeaderKey { key, .. } => {
            Some(format!("{key:?}"))
        }
        VerifyError::UnknownKid { kid, .. } | VerifyError::BadSignature { kid, .. } => {
            Some(format!("`{kid}`"))
        }
        VerifyError::BodyHashMismatch => Some("request_body_sha256".to_string()),
        _ => None,
    };
    (header, named)
}

#[tokio::test]
async fn hostile_webhooks_fail_with_their_own_variant() {
    let f = fixture();
    let cases = cases(&f);
    assert_eq!(
        cases.len(),
        51,
        "the table's size changed: update the count"
    );
    let mut failures = Vec::new();
    let mut variants = std::collections::BTreeSet::new();
    for case in &cases {
        match f.verifier.verify(&case.headers, &case.body).await {
            Ok(_) => failures.push(format!("{}: verified, expected an error", case.name)),
            Err(e) if (case.expect)(&e) => {
                variants.insert(variant_name(&e));
                let msg = e.to_string();
                let (header, named) = promised(&e);
                if !msg.starts_with(header) {
                    failures.push(format!(
                        "{}: `{msg}` does not start with {header:?}",
                        case.name
                    ));
                }
                if let Some(named) = named.filter(|n| !msg.contains(n.as_str())) {
                    failures.push(format!("{}: `{msg}` does not name {named}", case.name));
                }
            }
            Err(e) => failures.push(format!("{}: wrong error: {e:?}", case.name)),
        }
        // The sync path agrees.
        match f.verifier.verify_sync(&case.headers, &case.body) {
            Err(e) if (case.expect)(&e) => {}
            other => failures.push(format!("{}: verify_sync gave {other:?}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // 51 cases over these variants exactly (several cases per variant): a variant missing here
    // is a check no hostile case reaches.
    // `KeyUnavailable` is the one variant not here: it needs a failing key source
    // (runtime/tests/webhook_keys.rs covers it).
    let expected: std::collections::BTreeSet<String> = [
        "BadSignature",
        "BodyHashMismatch",
        "BodyTooLarge",
        "ClaimsNotJson",
        "CriticalHeader",
        "DuplicateClaim",
        "DuplicateHeaderKey",
        "Expired",
        "HeaderNotJson",
        "InvalidBase64",
        "InvalidClaim",
        "InvalidKid",
        "InvalidTimestamp",
        "IssuedInFuture",
        "MalformedJwt",
        "MissingClaim",
        "MissingKid",
        "MissingSignature",
        "MissingTimestamp",
        "MultipleSignatures",
        "SignatureHeaderTooLarge",
        "SignatureLength",
        "SignatureNotAscii",
        "TimestampMismatch",
        "UnknownKid",
        "UnsupportedAlgorithm",
        "UnsupportedType",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(expected.len(), 27);
    assert_eq!(variants, expected);
}

#[tokio::test]
async fn algorithm_and_kid_checks_happen_before_any_key_lookup() {
    let f = fixture();
    let claims = std_claims(BODY, NOW);
    for header in [
        r#"{"alg":"none","typ":"JWT","kid":"wsk_1705936800000"}"#,
        r#"{"alg":"HS256","typ":"JWT","kid":"wsk_1705936800000"}"#,
        r#"{"alg":"ES384","typ":"JWT","kid":"wsk_1705936800000"}"#,
        r#"{"alg":"ES256","typ":"JWT","kid":"../x"}"#,
        r#"{"alg":"ES256","typ":"JWT","kid":"a","kid":"b"}"#,
    ] {
        let jwt = sign_compact_jwt(&f.key, header.as_bytes(), claims.as_bytes());
        let err = f
            .verifier
            .verify(&headers(&jwt, &NOW.to_string()), BODY)
            .await
            .unwrap_err();
        assert!(
            !matches!(
                err,
                VerifyError::UnknownKid { .. } | VerifyError::BadSignature { .. }
            ),
            "{err:?}"
        );
    }
    assert_eq!(
        f.lookups.load(Ordering::SeqCst),
        0,
        "a key was looked up for a refused header"
    );
}

#[tokio::test]
async fn valid_webhooks_from_the_independent_signer_verify() {
    let f = fixture();
    let signed = sign_webhook(&f.key, KID, BODY, NOW);
    let verified = f
        .verifier
        .verify(&signed.to_header_map(), BODY)
        .await
        .unwrap();
    assert_eq!(verified.kid(), KID);
    assert_eq!(verified.issued_at(), NOW);
    assert_eq!(verified.body(), BODY);
    match verified.event().unwrap() {
        WebhookEvent::LinkComplete(link) => assert_eq!(link.link_id, "link_abc123"),
        other => panic!("{other:?}"),
    }
    let sync = f
        .verifier
        .verify_sync(&signed.to_header_map(), BODY)
        .unwrap();
    assert_eq!(sync.issued_at(), NOW);

    // Edges of the tolerance, both ways, and a timestamp header a few seconds off iat.
    for iat in [NOW - 300, NOW + 300] {
        let s = sign_webhook(&f.key, KID, BODY, iat);
        f.verifier.verify(&s.to_header_map(), BODY).await.unwrap();
    }
    f.verifier
        .verify(&headers(&signed.signature, &(NOW + 3).to_string()), BODY)
        .await
        .unwrap();

    // Uppercase hex of the right body: the claim is signed, so its case is accepted.
    let upper = format!(
        r#"{{"request_body_sha256":"{}","iat":{NOW}}}"#,
        hash_hex(BODY).to_uppercase()
    );
    let jwt = sign_compact_jwt(&f.key, std_header(KID).as_bytes(), upper.as_bytes());
    f.verifier
        .verify(&headers(&jwt, &NOW.to_string()), BODY)
        .await
        .unwrap();

    // Header names are case-insensitive; surrounding spaces in the value are ignored.
    let mut h = HeaderMap::new();
    h.insert(
        "x-passage-signature",
        HeaderValue::from_str(&format!(" {} ", signed.signature)).unwrap(),
    );
    h.insert(
        "X-PASSAGE-TIMESTAMP",
        HeaderValue::from_str(&signed.timestamp).unwrap(),
    );
    f.verifier.verify(&h, BODY).await.unwrap();

    // Extra header fields and extra claims are ignored (tolerant reader).
    let jwt = sign_compact_jwt(
        &f.key,
        br#"{"kid":"wsk_1705936800000","typ":"JWT","alg":"ES256","x5t":"abc"}"#,
        format!(
            r#"{{"iat":{NOW},"request_body_sha256":"{}","jti":"1"}}"#,
            hash_hex(BODY)
        )
        .as_bytes(),
    );
    f.verifier
        .verify(&headers(&jwt, &NOW.to_string()), BODY)
        .await
        .unwrap();

    // An empty body is a body like any other.
    let empty = sign_webhook(&f.key, KID, b"", NOW);
    f.verifier
        .verify(&empty.to_header_map(), b"")
        .await
        .unwrap();
}

#[tokio::test]
async fn limits_and_tolerance_are_configurable() {
    let f = fixture();
    let verifier = f
        .verifier
        .clone()
        .with_tolerance(Duration::from_secs(10))
        .with_max_body_size(16)
        .with_max_signature_size(64);
    let signed = sign_webhook(&f.key, KID, BODY, NOW - 11);
    assert!(matches!(
        verifier.verify(&signed.to_header_map(), b"{}").await,
        Err(VerifyError::SignatureHeaderTooLarge { max: 64, .. })
    ));
    assert!(matches!(
        verifier.verify(&signed.to_header_map(), BODY).await,
        Err(VerifyError::BodyTooLarge { max: 16, .. })
    ));
    let verifier = f.verifier.clone().with_tolerance(Duration::from_secs(10));
    assert!(matches!(
        verifier.verify(&signed.to_header_map(), BODY).await,
        Err(VerifyError::Expired {
            tolerance_secs: 10,
            ..
        })
    ));
}

#[test]
fn error_messages_name_the_header() {
    let f = fixture();
    let mut h = HeaderMap::new();
    h.insert("X-Passage-Timestamp", HeaderValue::from_static("1"));
    let e = f.verifier.verify_sync(&h, BODY).unwrap_err();
    assert!(e.to_string().contains("X-Passage-Signature"), "{e}");
    let signed = sign_webhook(&f.key, KID, BODY, NOW);
    let mut h = signed.to_header_map();
    h.remove("X-Passage-Timestamp");
    let e = f.verifier.verify_sync(&h, BODY).unwrap_err();
    assert!(e.to_string().contains("X-Passage-Timestamp"), "{e}");
    // An attacker's alg is shortened in the message.
    let jwt = sign_compact_jwt(
        &f.key,
        format!(r#"{{"alg":"{}","typ":"JWT","kid":"k"}}"#, "A".repeat(500)).as_bytes(),
        b"{}",
    );
    let e = f
        .verifier
        .verify_sync(&headers(&jwt, "1"), BODY)
        .unwrap_err();
    assert!(e.to_string().len() < 200, "{e}");
}
