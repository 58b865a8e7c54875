"""Shared request parameters: ids that fit the database's integer, and page bounds."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator

MAX_DB_INT = 2_147_483_647  # PostgreSQL `integer`; a larger id would be a 500, not a 404

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


Day = Annotated[date, BeforeValidator(_iso_day)]
