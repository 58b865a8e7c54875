"""Shared request parameters: ids that fit the database's integer, and page bounds."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_DB_INT = 2_147_483_647  # PostgreSQL `integer`; a larger id would be a 500, not a 404

IdPath = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
Limit = Annotated[int, Query(ge=1, le=200, description="Số phần tử tối đa trong một trang")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Bỏ qua bao nhiêu phần tử")]
