"""Text helpers for Vietnamese names."""

from __future__ import annotations

import re
import unicodedata


def plain(text: str) -> str:
    """Lower case without diacritics, đ as d, single spaces: "Phường Thanh Xuân" -> "phuong thanh xuan".

    Names are stored in this form too, so "thanh xuan" finds "Thanh Xuân" with a plain LIKE on
    both SQLite and PostgreSQL (no unaccent extension needed).
    """
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return re.sub(r"\s+", " ", stripped).strip().lower()


def clean_name(text: str) -> str:
    """A name as stored: NFC, single spaces, trimmed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


# Control characters (C0 but tab, line feed and carriage return; DEL; C1) and lone surrogates:
# no field has a use for them, PostgreSQL refuses NUL in text, and a surrogate cannot be stored
# as UTF-8. Text may hold line breaks and tabs; a single-line value (a name, a code, a query
# parameter) may not.
FORBIDDEN_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
FORBIDDEN_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def forbidden_character(text: str, *, single_line: bool = False) -> str | None:
    """The first character no input may carry, as `U+XXXX`, or None."""
    match = (FORBIDDEN_IN_LINE if single_line else FORBIDDEN_IN_TEXT).search(text)
    return f"U+{ord(match.group()):04X}" if match else None
