"""Every piece of token code lives here, so the JWT library can be swapped in one place.

Access tokens are short-lived JWTs signed with ES256/RS256 (a private key with a `kid`,
public part at `/.well-known/jwks.json`) or, in development only, HS256. Verification accepts
exactly the configured algorithm, checks issuer, audience, expiry and the key id, and turns
every failure into a 401. Refresh tokens are opaque random strings stored as SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import JWTError, jwk, jws, jwt
from jose.exceptions import JOSEError

from app import clock
from app.config import ASYMMETRIC_ALGORITHMS, Settings
from app.exceptions import NotAuthenticated

ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
# python-jose option names; `iat`, `nbf` and `exp` are required and checked below against the
# service's clock (python-jose would check them against the system's).
_REQUIRED_CLAIMS = ("sub", "iss", "aud", "jti")
_LEEWAY_SECONDS = 30  # clock skew tolerated between signer and verifier


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    role: str
    token_id: str
    issued_at: int
    credential_version: int
    expires_at: datetime


def _jwk_thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: the default key id when none is configured."""
    members = ("crv", "kty", "x", "y") if public_jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({m: public_jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self.algorithm = settings.jwt_algorithm
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.access_ttl = timedelta(seconds=settings.access_token_ttl_seconds)
        self.refresh_ttl = timedelta(seconds=settings.refresh_token_ttl_seconds)
        # kid -> verification key; the signing key is always one of them.
        self._verification_keys: dict[str, Any] = {}
        self._public_jwks: list[dict[str, Any]] = []
        if self.algorithm in ASYMMETRIC_ALGORITHMS:
            private_pem = settings.private_key_pem()
            if private_pem is None:  # Settings already refuses this; kept for direct callers
                raise ValueError("an asymmetric algorithm needs a private key")
            private_key = jwk.construct(private_pem, algorithm=self.algorithm)
            if private_key.is_public():
                raise ValueError("HOCTAP_JWT_PRIVATE_KEY must be a private key")
            public = private_key.public_key().to_dict()
            self.kid = settings.jwt_kid or _jwk_thumbprint(public)
            self._signing_key: Any = private_pem
            self._add_public(self.kid, public)
            for path in settings.jwt_previous_public_key_files:
                old = jwk.construct(path.read_text(encoding="utf-8"), algorithm=self.algorithm)
                old_public = old.public_key().to_dict() if not old.is_public() else old.to_dict()
                self._add_public(_jwk_thumbprint(old_public), old_public)
        else:
            self.kid = settings.jwt_kid or "dev-hs256"
            self._signing_key = settings.secret_key.get_secret_value()
            self._verification_keys[self.kid] = self._signing_key

    def _add_public(self, kid: str, public_jwk: dict[str, Any]) -> None:
        entry = {**public_jwk, "kid": kid, "use": "sig", "alg": self.algorithm}
        self._public_jwks.append(entry)
        self._verification_keys[kid] = entry

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """Public keys for verifiers; empty in HS256 development mode (the key is secret)."""
        return {"keys": list(self._public_jwks)}

    def issue_access_token(
        self, user_id: int, role: str, credential_version: int, now: datetime | None = None
    ) -> tuple[str, int]:
        now = now or clock.now()
        expires = now + self.access_ttl
        claims = {
            "sub": str(user_id),
            "role": role,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
            "typ": ACCESS_TOKEN_TYPE,
            "cv": credential_version,
        }
        token = jwt.encode(claims, self._signing_key, algorithm=self.algorithm, headers={"kid": self.kid})
        return token, int(self.access_ttl.total_seconds())

    def verify_access_token(self, token: str) -> AccessClaims:
        invalid = NotAuthenticated("Mã truy cập không hợp lệ.", code="invalid_token")
        try:
            header = jwt.get_unverified_header(token)
        except JWTError:
            raise invalid from None
        # Checked before decoding: "none", HS256-with-public-key confusion and any other
        # algorithm than the configured one never reach signature verification.
        if header.get("alg") != self.algorithm:
            raise invalid
        key = self._verification_keys.get(header.get("kid", ""))
        if key is None:
            raise invalid
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                # Times are checked below against the service's one clock.
                options={
                    **{"require_" + claim: True for claim in _REQUIRED_CLAIMS},
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except JWTError:
            raise invalid from None
        subject, version = str(claims.get("sub", "")), claims.get("cv")
        times = [claims.get(name) for name in ("iat", "nbf", "exp")]
        if (
            claims.get("typ") != ACCESS_TOKEN_TYPE
            or not (subject.isascii() and subject.isdigit() and len(subject) <= 10)
            or not isinstance(version, int)
            or isinstance(version, bool)
            or not all(isinstance(t, int) and not isinstance(t, bool) and 0 < t < 2**33 for t in times)
        ):
            raise invalid
        now = clock.now().timestamp()
        issued_at, not_before, expires = times
        if not_before > now + _LEEWAY_SECONDS or issued_at > now + _LEEWAY_SECONDS:
            raise invalid
        if expires <= now:
            raise NotAuthenticated("Phiên đăng nhập đã hết hạn.", code="token_expired")
        return AccessClaims(
            user_id=int(subject),
            role=str(claims.get("role", "")),
            token_id=str(claims["jti"]),
            issued_at=issued_at,
            credential_version=version,
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    def new_refresh_token(self) -> tuple[str, str]:
        """A fresh opaque refresh token and the digest to store."""
        plain = secrets.token_urlsafe(32)
        return plain, refresh_token_digest(plain)


def refresh_token_digest(plain: str) -> str:
    # 256 random bits need no slow hash; SHA-256 keeps the lookup indexable.
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


# --- verifiable credentials ------------------------------------------------------------------
# Certificates of recognised titles are W3C Verifiable Credentials secured as JWS (VC-JOSE-COSE,
# media type `application/vc+jwt`), always ES256 whatever the access tokens use: anyone must be
# able to check them with the published public key, years after they were issued.

CREDENTIAL_ALGORITHM = "ES256"
CREDENTIAL_TYP = "vc+jwt"
SIGNING_KEY_FILE = "signing-key.pem"
RETIRED_DIR = "retired"


class CredentialSignatureError(ValueError):
    """A credential whose signature cannot be trusted; `code` says why, for the verifier's answer."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def new_credential_private_key_pem() -> str:
    """A fresh P-256 private key in PKCS#8 PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _public_jwk(pem: str) -> dict[str, Any]:
    key = jwk.construct(pem, algorithm=CREDENTIAL_ALGORITHM)
    return (key.public_key() if not key.is_public() else key).to_dict()


def _write_new_file(path, text: str) -> bool:
    """Create `path` with `text` unless it exists (several processes may start at once)."""

    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(text)
    return True


class CredentialKeys:
    """The keys that sign credentials, kept in a folder outside the database:
    `signing-key.pem` (the private key in use) and `retired/*.pem` (public keys of earlier ones,
    still published so what they signed keeps verifying). A key id is the key's RFC 7638
    thumbprint, so it names the key itself and cannot be reused for another."""

    def __init__(self, directory, *, create: bool) -> None:
        self.directory = Path(directory)
        signing_path = self.directory / SIGNING_KEY_FILE
        if not signing_path.exists():
            if not create:
                raise ValueError(f"no credential signing key at {signing_path} (run `hoctap credentials new-key`)")
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_new_file(signing_path, new_credential_private_key_pem())
        self._signing_pem = signing_path.read_text(encoding="ascii")
        if jwk.construct(self._signing_pem, algorithm=CREDENTIAL_ALGORITHM).is_public():
            raise ValueError(f"{signing_path} must hold a private key")
        public = _public_jwk(self._signing_pem)
        self.kid = _jwk_thumbprint(public)
        self._keys: dict[str, dict[str, Any]] = {}
        self._add(public)
        retired = self.directory / RETIRED_DIR
        for path in sorted(retired.glob("*.pem")) if retired.is_dir() else []:
            self._add(_public_jwk(path.read_text(encoding="ascii")))

    def _add(self, public_jwk: dict[str, Any]) -> None:
        kid = _jwk_thumbprint(public_jwk)
        self._keys[kid] = {**public_jwk, "kid": kid, "use": "sig", "alg": CREDENTIAL_ALGORITHM}

    def jwks(self) -> list[dict[str, Any]]:
        return list(self._keys.values())

    def sign(self, payload: dict[str, Any]) -> str:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return jws.sign(
            body.encode("utf-8"),
            self._signing_pem,
            headers={"kid": self.kid, "typ": CREDENTIAL_TYP, "cty": "vc"},
            algorithm=CREDENTIAL_ALGORITHM,
        )

    def open(self, token: str) -> dict[str, Any]:
        """The payload of a credential signed by one of these keys, or CredentialSignatureError."""
        return open_credential(token, self._keys)


def open_credential(token: str, keys: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Check a compact JWS credential against public keys by kid; return its JSON payload."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 20_000 or not token.isascii():
        raise CredentialSignatureError("malformed")
    # Only the canonical base64url of each part: otherwise the spare low bits of a part's last
    # character could change without changing what is signed, and a changed credential verify.
    for part in token.split("."):
        try:
            canonical = base64.urlsafe_b64encode(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except ValueError:
            raise CredentialSignatureError("malformed") from None
        if canonical.rstrip(b"=").decode("ascii") != part:
            raise CredentialSignatureError("malformed")
    try:
        header = jws.get_unverified_header(token)
    except (JOSEError, ValueError):
        raise CredentialSignatureError("malformed") from None
    if not isinstance(header, dict):
        raise CredentialSignatureError("malformed")
    # Only ES256 with a known key: "none", HMAC with a public key and any other algorithm are
    # refused before a signature is checked.
    if header.get("alg") != CREDENTIAL_ALGORITHM or header.get("typ") != CREDENTIAL_TYP:
        raise CredentialSignatureError("wrong_algorithm")
    key = keys.get(str(header.get("kid", "")))
    if key is None:
        raise CredentialSignatureError("unknown_key")
    try:
        body = jws.verify(token, key, algorithms=[CREDENTIAL_ALGORITHM])
        payload = json.loads(body)
    except (JOSEError, ValueError):
        raise CredentialSignatureError("bad_signature") from None
    if not isinstance(payload, dict):
        raise CredentialSignatureError("malformed")
    return payload


def rotate_credential_key(directory) -> tuple[str, str]:
    """Retire the signing key (its public part stays published) and start a new one."""

    directory = Path(directory)
    old = CredentialKeys(directory, create=False)
    retired = directory / RETIRED_DIR
    retired.mkdir(parents=True, exist_ok=True)

    public_pem = (
        serialization.load_pem_private_key(old._signing_pem.encode("ascii"), password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    (retired / f"{old.kid}.pem").write_text(public_pem, encoding="ascii")
    staging = directory / (SIGNING_KEY_FILE + ".new")
    staging.unlink(missing_ok=True)
    _write_new_file(staging, new_credential_private_key_pem())
    os.replace(staging, directory / SIGNING_KEY_FILE)  # atomic: a reader sees the old key or the new
    return old.kid, CredentialKeys(directory, create=False).kid
