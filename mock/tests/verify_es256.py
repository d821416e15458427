#!/usr/bin/env python3
"""Independent check of a Passage webhook signature (used by mock/tests/webhooks.rs).

Verifies, with the `cryptography` package (OpenSSL) rather than the Rust signer's RustCrypto code:
the compact JWT's header is exactly alg ES256 / typ JWT / the expected kid, the 64-byte r||s
signature verifies under the PEM SPKI public key, `request_body_sha256` is the hex SHA-256 of the
raw body, and `iat` equals X-Passage-Timestamp.

usage: verify_es256.py PUBLIC_KEY_PEM_FILE BODY_FILE SIGNATURE TIMESTAMP KID
exit 0 and prints "ok" when everything holds; exit 1 with the failed check otherwise;
exit 3 if `cryptography` is not installed.
"""
import base64
import hashlib
import json
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
except ImportError:
    print("python package `cryptography` is not installed", file=sys.stderr)
    sys.exit(3)


def b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def main() -> None:
    if len(sys.argv) != 6:
        fail(__doc__)
    pem_file, body_file, jwt, timestamp, kid = sys.argv[1:]
    with open(pem_file, "rb") as f:
        public_key = serialization.load_pem_public_key(f.read())
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        fail("not a P-256 public key")
    with open(body_file, "rb") as f:
        body = f.read()

    parts = jwt.split(".")
    if len(parts) != 3:
        fail("not a compact JWT")
    header = json.loads(b64url(parts[0]))
    claims = json.loads(b64url(parts[1]))
    if header != {"alg": "ES256", "typ": "JWT", "kid": kid}:
        fail(f"unexpected header {header}")
    raw = b64url(parts[2])
    if len(raw) != 64:
        fail(f"signature is {len(raw)} bytes, expected 64 (r||s)")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public_key.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        fail("signature does not verify")
    if claims.get("request_body_sha256") != hashlib.sha256(body).hexdigest():
        fail("request_body_sha256 does not match the body")
    if str(claims.get("iat")) != timestamp:
        fail(f"iat {claims.get('iat')} != X-Passage-Timestamp {timestamp}")
    print("ok")


main()
