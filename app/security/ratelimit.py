"""Fixed-window rate limits kept in the database, so all workers share them.

One statement per check: insert the window's counter or add one to it, and read the result
(`INSERT … ON CONFLICT DO UPDATE … RETURNING`, on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.exceptions import Problem
from app.security.models import RateLimitWindow


def _insert(session: Session):
    dialect = session.bind.dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(RateLimitWindow)


def hit(session: Session, key: str, limit: int, window_seconds: int, now: datetime | None = None) -> int | None:
    """Count one request for `key`; returns seconds to wait when over `limit`, else None.

    Keys that hold personal data (a national ID) are hashed by the caller first."""
    now = now or datetime.now(UTC)
    start = datetime.fromtimestamp(now.timestamp() // window_seconds * window_seconds, UTC)
    statement = _insert(session).values(key=key, window_start=start, hits=1)
    statement = statement.on_conflict_do_update(
        index_elements=["key", "window_start"], set_={"hits": RateLimitWindow.hits + 1}
    ).returning(RateLimitWindow.hits)
    hits = session.execute(statement).scalar_one()
    session.commit()
    if hits > limit:
        return max(1, int((start + timedelta(seconds=window_seconds) - now).total_seconds()) + 1)
    return None


def enforce(session: Session, key: str, limit: int, window_seconds: int) -> None:
    retry_after = hit(session, key, limit, window_seconds)
    if retry_after is not None:
        raise Problem(
            429,
            "too_many_requests",
            "Quá nhiều yêu cầu",
            f"Đã vượt giới hạn yêu cầu. Vui lòng thử lại sau {retry_after} giây.",
            headers={"Retry-After": str(retry_after)},
        )


def opaque(value: str) -> str:
    """A key part that does not reveal the value (for national IDs and usernames)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def purge(session: Session, older_than: timedelta) -> int:
    result = session.execute(
        delete(RateLimitWindow).where(RateLimitWindow.window_start < datetime.now(UTC) - older_than)
    )
    session.commit()
    return result.rowcount or 0
