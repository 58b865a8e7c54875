"""Shared request types: ids that fit the database's integer, page bounds, dates and years in a
sane range, days that cannot lie in the future, national ID numbers."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, StringConstraints

from app import clock
from app.text import forbidden_character

MAX_DB_INT = 2_147_483_647  # PostgreSQL `integer`; a larger id would be a 500, not a 404
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2100, 12, 31)

IdPath = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
Limit = Annotated[int, Query(ge=1, le=200, description="Số phần tử tối đa trong một trang")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Bỏ qua bao nhiêu phần tử")]


def _iso_day(value: Any) -> Any:
    """Dates only as YYYY-MM-DD (or a date): no timestamps or numbers slipping through lax parsing."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return value
    raise ValueError("Phải là ngày theo dạng YYYY-MM-DD.")


def _in_range(value: date) -> date:
    # Far dates are never meant, and arithmetic on them (a validity period after 9999-12-31)
    # would overflow.
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"Ngày phải trong khoảng {FIRST_DAY:%d/%m/%Y}–{LAST_DAY:%d/%m/%Y}.")
    return value


def _not_future(value: date) -> date:
    today = clock.today()
    if value > today:
        raise ValueError(f"Không được sau ngày hôm nay ({today:%d/%m/%Y}): không ghi điều chưa xảy ra.")
    return value


Day = Annotated[date, BeforeValidator(_iso_day), AfterValidator(_in_range)]
# A day on which something happened (moved in, joined, registered, decided): today at the latest,
# "today" being the date in Vietnam.
PastDay = Annotated[Day, AfterValidator(_not_future)]


def _not_future_year(value: int) -> int:
    if value > clock.today().year:
        raise ValueError(f"Năm chưa tới: chỉ đến năm {clock.today().year}.")
    return value


Year = Annotated[int, Field(ge=2000, le=2100, strict=True)]
# A year that has begun (assessed, recognised): not a later one.
PastYear = Annotated[Year, AfterValidator(_not_future_year)]


def _single_line(value: str | None) -> str | None:
    if value is not None and (char := forbidden_character(value, single_line=True)):
        raise ValueError(f"Có ký tự điều khiển hoặc không hợp lệ ({char}); hãy xoá.")
    return value


# Form fields (multipart or URL-encoded): no control characters, as the input guard enforces
# for URL-encoded forms, query strings and JSON.
FormLine = AfterValidator(_single_line)


def text(min_length: int = 1, max_length: int = 1000):
    """Free text a person must give (a reason, a signer, a decision number): surrounding white
    space dropped before the length is checked, so "   " is not a reason."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)]


NATIONAL_ID_DIGITS = re.compile(r"[0-9]{12}")  # ASCII digits only: `str.isdigit` also takes "２" and "²"


def _national_id(value: SecretStr) -> SecretStr:
    if not NATIONAL_ID_DIGITS.fullmatch(value.get_secret_value()):
        raise ValueError("Số CCCD phải gồm đúng 12 chữ số 0–9.")
    return value


# SecretStr keeps the number out of reprs, logs and error echoes.
NationalId = Annotated[
    SecretStr,
    AfterValidator(_national_id),
    Field(description="Số CCCD 12 chữ số (0–9); chỉ lưu dạng HMAC", json_schema_extra={"format": "national-id"}),
]
