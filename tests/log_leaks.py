"""What must never be in the service's logs, checked over the whole test run's log file at the
end of the session (conftest.py) and by tests/test_logs.py on its own traffic."""

from __future__ import annotations

import re

from tests.helpers import DEFAULT_PASSWORD

PATTERNS = {
    "a test password": re.compile(re.escape(DEFAULT_PASSWORD) + "|mat-khau-"),
    "a token (JWT)": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\."),
    # A national ID (CCCD): 12 digits beginning with 0, not part of a longer number or hex id.
    "a 12-digit national ID": re.compile(r"(?<![0-9a-fA-F-])0[0-9]{11}(?![0-9])"),
}


def leaks(text: str, *secrets: str) -> list[str]:
    """The kinds of secret found in `text`: the generic patterns, and any of `secrets`."""
    found = [name for name, pattern in PATTERNS.items() if pattern.search(text)]
    found += [f"a given secret ({secret[:4]}…)" for secret in secrets if secret and secret in text]
    return found
