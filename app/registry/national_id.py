"""National ID numbers (CCCD): validated, turned into a keyed HMAC and a mask, never stored.

Only six of the twelve digits are random, so a plain hash could be reversed by trying every
number; an HMAC under a key that lives outside the database cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from app.config import Settings

NATIONAL_ID_PATTERN = re.compile(r"^[0-9]{12}$")


class NationalIds:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.national_id_key.get_secret_value().encode("utf-8")
        self.key_version = settings.national_id_key_version
        self._previous = [
            key.get_secret_value().encode("utf-8")
            for version, key in sorted(settings.national_id_previous_keys.items())
            if version != self.key_version
        ]

    def digest(self, national_id: str) -> str:
        """The digest stored for new records (current key)."""
        return hmac.new(self._key, national_id.encode("ascii"), hashlib.sha256).hexdigest()

    def digests(self, national_id: str) -> list[str]:
        """Digests under the current and every previous key, for look-ups during a rotation."""
        number = national_id.encode("ascii")
        return [self.digest(national_id)] + [
            hmac.new(key, number, hashlib.sha256).hexdigest() for key in self._previous
        ]

    @staticmethod
    def mask(national_id: str) -> str:
        # The leading digits encode province, sex and birth year: show only the last four.
        return "*" * 8 + national_id[-4:]
