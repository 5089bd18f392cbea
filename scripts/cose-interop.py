#!/usr/bin/python3
"""An independent COSE_Sign1 (RFC 9052 §4.4) signer and verifier for EdDSA over Ed25519.

It shares no code with src/protocol: CBOR comes from cbor2 and Ed25519 from pyca/cryptography
(Debian: python3-cbor2, python3-cryptography). src/protocol/interop.test.ts drives it:

  cose-interop.py verify SIGN1_HEX PUBLIC_KEY_HEX   prints "ok" (exit 0) or "fail: why" (exit 1)
  cose-interop.py sign SEED_HEX PAYLOAD_HEX [TYP]   prints the tagged COSE_Sign1 as hex

Exit status 2 means the script was misused (wrong arguments, not hex).
"""

import hashlib
import sys

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

COSE_SIGN1_TAG = 18  # RFC 9052 §2
HEADER_ALG = 1  # RFC 9052 §3.1
HEADER_KID = 4
HEADER_TYP = 16  # RFC 9596 §2
ALG_EDDSA = -8  # RFC 9053 §2.2
TYP_VERDICT = 65101  # Tattler's verdict Content-Format (src/protocol/cose.ts COSE_TYP)
KID_BYTES = 8  # Tattler kid: SHA-256(raw public key)[0:8]


def to_be_signed(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 §4.4 Sig_structure for COSE_Sign1 with an empty external_aad."""
    return cbor2.dumps(["Signature1", protected, b"", payload], canonical=True)


def key_id(public_raw: bytes) -> bytes:
    """Tattler's key identifier of a raw Ed25519 public key."""
    return hashlib.sha256(public_raw).digest()[:KID_BYTES]


def check(sign1_bytes: bytes, public_raw: bytes) -> str | None:
    """Why the COSE_Sign1 does not verify under the key, or None when it does."""
    try:
        item = cbor2.loads(sign1_bytes)
    except cbor2.CBORDecodeError as err:
        return f"not CBOR: {err}"
    if not isinstance(item, cbor2.CBORTag) or item.tag != COSE_SIGN1_TAG:
        return "not a COSE_Sign1 (tag 18)"
    if not isinstance(item.value, list) or len(item.value) != 4:
        return "COSE_Sign1 is not a 4-element array"
    protected, unprotected, payload, signature = item.value
    if not isinstance(protected, bytes) or not isinstance(payload, bytes):
        return "protected header or payload is not a byte string"
    if not isinstance(unprotected, dict) or not isinstance(signature, bytes):
        return "unprotected header is not a map or signature is not a byte string"
    try:
        header = cbor2.loads(protected)
    except cbor2.CBORDecodeError as err:
        return f"protected header is not CBOR: {err}"
    if not isinstance(header, dict) or header.get(HEADER_ALG) != ALG_EDDSA:
        return "protected header does not say alg EdDSA (-8)"
    if header.get(HEADER_KID) != key_id(public_raw):
        return "kid is not SHA-256(public key)[0:8]"
    public_key = Ed25519PublicKey.from_public_bytes(public_raw)
    try:
        public_key.verify(signature, to_be_signed(protected, payload))
    except InvalidSignature:
        return "bad signature"
    return None


def sign(seed: bytes, payload: bytes, typ: int) -> bytes:
    """A tagged COSE_Sign1 with protected {alg, kid, typ} and an empty unprotected map."""
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    public_raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    # RFC 8949 §4.2.1 deterministic encoding: integer keys sorted, preferred argument sizes.
    protected = cbor2.dumps(
        {HEADER_ALG: ALG_EDDSA, HEADER_KID: key_id(public_raw), HEADER_TYP: typ},
        canonical=True,
    )
    signature = private_key.sign(to_be_signed(protected, payload))
    return cbor2.dumps(
        cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]), canonical=True
    )


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 3 and argv[0] == "verify":
            problem = check(bytes.fromhex(argv[1]), bytes.fromhex(argv[2]))
            print("ok" if problem is None else f"fail: {problem}")
            return 0 if problem is None else 1
        if len(argv) in (3, 4) and argv[0] == "sign":
            typ = int(argv[3]) if len(argv) == 4 else TYP_VERDICT
            print(sign(bytes.fromhex(argv[1]), bytes.fromhex(argv[2]), typ).hex())
            return 0
    except ValueError as err:
        print(f"usage error: {err}", file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
