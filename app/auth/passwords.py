"""Argon2id password hashing (argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.config import Settings

# Stored instead of a hash for an account that has no password yet (created from a spreadsheet,
# waiting for its one-time activation code). No password verifies against it.
UNUSABLE_PASSWORD = "!"  # noqa: S105 - a marker, not a password


def is_usable(password_hash: str | None) -> bool:
    return bool(password_hash) and not password_hash.startswith(UNUSABLE_PASSWORD)


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        )
        # Verified against when the username is unknown, so both paths cost the same time.
        self._dummy_hash = self._hasher.hash("hoctap-timing-equaliser")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        usable = is_usable(password_hash)
        try:
            # An unknown user or an account without a password costs the same time as a real check.
            return self._hasher.verify(password_hash if usable else self._dummy_hash, password) and usable
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
