#!/usr/bin/env python3
"""Check a hoctap certificate (a W3C Verifiable Credential, `application/vc+jwt`) with no network:
only the issuer's saved public keys (JWKS) and saved status lists (W3C Bitstring Status List).

    python verify_offline.py credential.jwt --jwks jwks.json \
        --status-list revocation.jwt --status-list suspension.jwt [--at 2027-02-01] [--json]

Save the files once, while online (see docs/credentials.md, "Offline verification"):

    curl -o jwks.json        https://<registry>/.well-known/jwks.json
    curl -o revocation.jwt   https://<registry>/api/v1/status-lists/1/revocation
    curl -o suspension.jwt   https://<registry>/api/v1/status-lists/1/suspension

It prints valid / revoked / suspended / expired / invalid with the title's details, and exits
0 only when the credential is valid. A status list is only as fresh as the day it was saved: the
output says when each list was published. Needs Python 3.9+ and the `cryptography` package; it
imports nothing of hoctap and opens no socket.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import json
import sys
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

EXIT = {"valid": 0, "revoked": 1, "suspended": 1, "expired": 1, "invalid": 2}


class Untrusted(Exception):  # noqa: N818 - reads as the verdict it carries
    """The credential (or a status list) cannot be trusted; the message says why."""


def b64url_decode(part: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except ValueError as error:
        raise Untrusted("not base64url") from error
    # Only the canonical encoding: otherwise spare bits of the last character could change.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != part:
        raise Untrusted("not canonical base64url")
    return raw


def public_keys(jwks: dict) -> dict:
    keys = {}
    for key in jwks.get("keys", []):
        if key.get("kty") != "EC" or key.get("crv") != "P-256" or "kid" not in key or "d" in key:
            continue  # only public P-256 keys sign credentials
        x, y = (int.from_bytes(b64url_decode(key[name]), "big") for name in ("x", "y"))
        numbers = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1())
        keys[key["kid"]] = numbers.public_key()
    return keys


def open_jws(token: str, keys: dict) -> dict:
    """The JSON payload of an ES256 compact JWS signed by one of `keys`."""
    token = token.strip()
    parts = token.split(".")
    if len(parts) != 3 or not token.isascii():
        raise Untrusted("not a compact JWS")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except ValueError as error:
        raise Untrusted("unreadable header") from error
    if not isinstance(header, dict) or header.get("alg") != "ES256" or header.get("typ") != "vc+jwt":
        raise Untrusted("not an ES256 vc+jwt")
    key = keys.get(header.get("kid"))
    if key is None:
        raise Untrusted(f"signed by an unknown key ({header.get('kid')!r})")
    signature = b64url_decode(parts[2])
    if len(signature) != 64:
        raise Untrusted("bad signature")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as error:
        raise Untrusted("bad signature: the content was changed or the signature forged") from error
    try:
        payload = json.loads(b64url_decode(parts[1]))
    except ValueError as error:
        raise Untrusted("unreadable payload") from error
    if not isinstance(payload, dict):
        raise Untrusted("payload is not an object")
    return payload


def instant(value) -> datetime:
    if not isinstance(value, str):
        raise Untrusted("missing date")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise Untrusted("date without time zone")
    return parsed


def bit(encoded: str, index: int) -> bool:
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise Untrusted("encodedList is not multibase base64url")
    packed = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    with gzip.GzipFile(fileobj=io.BytesIO(packed)) as stream:
        bits = stream.read(2_000_001)  # a list is 16 KB; refuse a decompression bomb
    if len(bits) > 2_000_000 or not 0 <= index < len(bits) * 8:
        raise Untrusted("status index outside the list")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def verify(token: str, jwks: dict, status_lists: list[str], at: datetime) -> dict:
    keys = public_keys(jwks)
    try:
        credential = open_jws(token, keys)
        if "VerifiableCredential" not in (credential.get("type") or []):
            raise Untrusted("not a verifiable credential")
        valid_from, valid_until = instant(credential.get("validFrom")), instant(credential.get("validUntil"))
        if valid_from > at:
            raise Untrusted("not valid yet")
        lists = {}
        for saved in status_lists:
            status_list = open_jws(saved, keys)
            lists[status_list.get("id")] = status_list
        flags, published = {}, {}
        entries = credential.get("credentialStatus") or []
        for entry in entries if isinstance(entries, list) else [entries]:
            url, purpose = entry.get("statusListCredential"), entry.get("statusPurpose")
            status_list = lists.get(url)
            if status_list is None:
                raise Untrusted(f"no saved status list {url}")
            subject = status_list.get("credentialSubject") or {}
            if subject.get("statusPurpose") != purpose:
                raise Untrusted(f"status list {url} is not a {purpose} list")
            flags[purpose] = bit(subject.get("encodedList"), int(entry.get("statusListIndex")))
            published[purpose] = status_list.get("validFrom")
    except (Untrusted, ValueError, TypeError, AttributeError, OSError, EOFError) as error:
        return {"status": "invalid", "reason": str(error) or error.__class__.__name__}
    if flags.get("revocation"):
        status = "revoked"
    elif flags.get("suspension"):
        status = "suspended"
    elif valid_until <= at:
        status = "expired"
    else:
        status = "valid"
    recognition = credential.get("recognition") or {}
    subject = credential.get("credentialSubject") or {}
    return {
        "status": status,
        "title": (subject.get("achievement") or {}).get("name"),
        "period": recognition.get("period"),
        "level": recognition.get("level"),
        "holder": subject.get("name"),
        "issuer": (credential.get("issuer") or {}).get("name"),
        "decision": recognition.get("decision"),
        "criteria_version": recognition.get("criteriaVersion"),
        "valid_from": credential.get("validFrom"),
        "valid_until": credential.get("validUntil"),
        "status_lists_published": published,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a hoctap certificate offline.")
    parser.add_argument("credential", help="file holding the credential (vc+jwt)")
    parser.add_argument("--jwks", required=True, help="saved /.well-known/jwks.json")
    parser.add_argument("--status-list", action="append", default=[], help="saved status list (repeat)")
    parser.add_argument("--at", help="check as of this day or instant (default: now)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    with open(args.credential, encoding="ascii") as handle:
        token = handle.read()
    with open(args.jwks, encoding="utf-8") as handle:
        jwks = json.load(handle)
    lists = []
    for path in args.status_list:
        with open(path, encoding="ascii") as handle:
            lists.append(handle.read().strip())
    at = datetime.now(timezone.utc)  # noqa: UP017 - the verifier runs on Python 3.9 too
    if args.at:
        at = datetime.fromisoformat(args.at if "T" in args.at else args.at + "T12:00:00+07:00")
    result = verify(token, jwks, lists, at)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(result["status"])
        for name, value in result.items():
            if name != "status" and value not in (None, {}, ""):
                print(f"  {name}: {value}")
    return EXIT[result["status"]]


if __name__ == "__main__":
    sys.exit(main())
