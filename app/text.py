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
