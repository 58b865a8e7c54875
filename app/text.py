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
    # Recomposed, so scripts that NFD splits into letters (Hangul) do not grow.
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", stripped)).strip().lower()


def clean_name(text: str) -> str:
    """A name as stored: NFC, single spaces, trimmed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def name_field(max_length: int):
    """A validator for a name field: the name as stored (`clean_name`), not empty, and within
    `max_length` once normalised, in both its stored and its search form (NFC can lengthen a
    text: "\u0958" becomes two characters), so no name is longer than its column."""

    def validate(value: str) -> str:
        value = clean_name(value)
        if not value:
            raise ValueError("Tên không được để trống.")
        if max(len(value), len(plain(value))) > max_length:
            raise ValueError(f"Tên dài quá {max_length} ký tự (sau khi chuẩn hoá Unicode).")
        return value

    return validate


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


def iso_day(text: str) -> str | None:
    """A day as people write it (05/04/1990, 5/4/1990) or as ISO (1990-04-05), in ISO; anything
    else is returned as typed, for the schema to refuse with its message. Blank is None."""
    text = text.strip()
    if not text:
        return None
    parts = text.split("/")
    if len(parts) == 3 and all(part.isascii() and part.isdigit() for part in parts) and len(parts[2]) == 4:
        day, month, year = (int(part) for part in parts)
        return f"{year:04d}-{month:02d}-{day:02d}"
    return text
