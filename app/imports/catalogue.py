"""Every kind that can be imported, by its key."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.exceptions import invalid_field
from app.imports import (
    accounts,
    assessments,
    clans,
    decisions,
    households,
    moves,
    organisations,
    people,
    registrations,
    villages,
)
from app.imports.kinds import Kind
from app.imports.sheets import Column

KINDS: dict[str, Kind] = {
    kind.key: kind
    for kind in (
        people.KIND,
        households.KIND,
        clans.KIND,
        organisations.KIND,
        villages.KIND,
        accounts.KIND,
        moves.KIND,
        moves.HOUSEHOLD_KIND,
        registrations.KIND,
        assessments.KIND,
        decisions.KIND,
    )
}


def columns(session: Session, kind: Kind, variant: str | None) -> list[Column]:
    """The kind's columns; a kind with variants needs a known one (422 naming `variant`)."""
    if kind.variant_columns is None:
        return kind.columns
    if not variant:
        reason = "Loại dữ liệu này cần chọn biến thể (ví dụ danh hiệu và bộ tiêu chí)."
        raise invalid_field("variant", "missing", reason)
    return kind.columns + kind.variant_columns(session, variant)
