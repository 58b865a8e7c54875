"""Database engine, declarative base, the request-scoped session and bounds on database work.

One code path serves SQLite (embedded default) and PostgreSQL (production). SQLite gets WAL,
foreign keys and a busy timeout on every connection, because its defaults (no FK enforcement,
rollback journal) would let bad writes through and block readers during writes.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, ClassVar

from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from app import clock

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both backends (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar = {datetime: UTCDateTime()}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


# --- bounded database work -------------------------------------------------------------------
# A request's queries run under a time limit, and are cancelled when the client goes away, so
# one slow or abandoned request cannot hold a connection and a CPU for minutes. The connections
# a request checks out are noted in a request-scoped list (a context variable, which follows the
# request into the thread pool) so that the request's watcher can cancel them.
_request_connections: ContextVar[list | None] = ContextVar("request_connections", default=None)


class RequestConnections:
    """The DBAPI connections in use by one request, to be cancelled if its client leaves."""

    def __init__(self) -> None:
        self._items: list = []
        self.cancelled = False

    def __enter__(self) -> RequestConnections:
        self._token = _request_connections.set(self._items)
        return self

    def __exit__(self, *_exc) -> None:
        _request_connections.reset(self._token)

    def cancel(self) -> None:
        """Stop whatever the request's connections are running (thread-safe on both drivers)."""
        self.cancelled = True
        for dbapi_connection in list(self._items):
            with suppress(Exception):  # a connection that just finished or closed
                if hasattr(dbapi_connection, "interrupt"):  # sqlite3
                    dbapi_connection.interrupt()
                else:  # psycopg 3
                    dbapi_connection.cancel_safe(timeout=2.0)


def _note_checkout(dbapi_connection, record, _proxy, timeout_seconds: float | None) -> None:
    items = _request_connections.get()
    if items is not None:
        items.append(dbapi_connection)
        record.info["request_items"] = items
    if timeout_seconds is not None:
        record.info["deadline"] = time.monotonic() + timeout_seconds


def _note_checkin(dbapi_connection, record) -> None:
    items = record.info.pop("request_items", None)
    if items is not None:
        with suppress(ValueError):
            items.remove(dbapi_connection)
    record.info.pop("deadline", None)


def _configure_sqlite(dbapi_connection, record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
    # SQLite has no statement timeout: a progress handler ends the work past the deadline of
    # the current checkout (the connection's "statement_timeout").
    info = record.info

    def past_deadline() -> int:
        return int(time.monotonic() > info.get("deadline", math.inf))

    dbapi_connection.set_progress_handler(past_deadline, 20_000)


def create_db_engine(url: str, pool_size: int = 10, *, statement_timeout_seconds: float | None = None) -> Engine:
    """Engine for `url`; creates the SQLite file's folder when needed.

    Bound parameters never appear in SQLAlchemy's error messages (`hide_parameters`): an error
    about an INSERT into `people` would otherwise carry a name, a birth date and a digest into
    any log that prints it. `statement_timeout_seconds` bounds each statement (PostgreSQL) or
    each checkout (SQLite) of the service's own requests; the CLI's loads run unbounded."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        pool = {} if parsed.database in (None, "", ":memory:") else {"pool_size": pool_size, "max_overflow": pool_size}
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True, **pool)
        event.listen(engine, "connect", _configure_sqlite)
    else:
        # JIT compilation costs PostgreSQL 25–50 ms on the counting queries, more than it saves
        # on queries that each touch a few thousand rows by index (measured on the benchmark).
        # Parallel workers are processes forked per query: under concurrent requests they only
        # add process start-up (a quarter of the machine's CPU in system time in the soak).
        options = "-c jit=off -c max_parallel_workers_per_gather=0"
        if statement_timeout_seconds is not None:
            options += f" -c statement_timeout={int(statement_timeout_seconds * 1000)}"
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args={"options": options},
        )
        statement_timeout_seconds = None  # the server enforces it
    event.listen(
        engine,
        "checkout",
        lambda dbapi, record, proxy: _note_checkout(dbapi, record, proxy, statement_timeout_seconds),
    )
    event.listen(engine, "checkin", _note_checkin)
    return engine


def create_async_db_engine(url: str, pool_size: int = 10, *, statement_timeout_seconds: float | None = None):
    """An asyncio engine on the same database, for the few read-only lookups served without a
    thread per request (title status, title check): psycopg's async mode on PostgreSQL,
    aiosqlite on SQLite. Same settings as the sync engine; nothing is written through it."""
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(
            parsed.set(drivername="sqlite+aiosqlite"), hide_parameters=True, isolation_level="AUTOCOMMIT"
        )
        event.listen(engine.sync_engine, "connect", _configure_async_sqlite)
        return engine
    options = "-c jit=off -c default_transaction_read_only=on"
    if statement_timeout_seconds is not None:
        options += f" -c statement_timeout={int(statement_timeout_seconds * 1000)}"
    return create_async_engine(
        parsed.set(drivername="postgresql+psycopg"),
        # No overflow: an overflow connection is closed when returned, so under load every
        # lookup beyond the pool paid for a new server process (measured: connection set-up in
        # the lookups' profile, and PostgreSQL forking beside them). Lookups beyond the pool
        # wait for a connection on the event loop.
        pool_size=pool_size,
        max_overflow=0,
        # No ping per checkout (a round trip per lookup); a connection the server dropped is
        # invalidated by its first error and replaced.
        pool_recycle=1800,
        hide_parameters=True,
        # Reads only, one statement at a time: no BEGIN and ROLLBACK round trips around them.
        isolation_level="AUTOCOMMIT",
        connect_args={"options": options},
    )


def _configure_async_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "busy_timeout=5000", "query_only=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def is_cancelled_query(error: BaseException) -> bool:
    """A statement stopped by the time limit or by a cancel (not a bug in the query)."""
    if not isinstance(error, OperationalError):
        return False
    orig = error.orig
    if orig is not None and type(orig).__name__ == "QueryCanceled":  # psycopg
        return True
    return isinstance(orig, sqlite3.OperationalError) and "interrupted" in str(orig)


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for `engine`. Work that follows a write (the statistics hooks) is installed on
    the factory by whoever makes it (`app.wiring`), never here."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def owned_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that owns its transaction: committed when the block ends, rolled back if it
    raises. A request's session (`get_session`), a CLI command's, and a deliberately separate
    short write (an access-log row that must be kept although the request answers with an
    error) are all this."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class RequestSlots:
    """How many requests of this process may hold a database session at once: the pool's
    size, so a request that has its connection never waits for one. Requests beyond it wait
    here, on the event loop, holding neither a connection nor a thread. (Without it, requests
    holding a connection between two thread-pool hops and threads waiting for a connection
    could starve each other until the pool's checkout timed out: 500s under load.)"""

    def __init__(self, size: int) -> None:
        self.size = size
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def semaphore(self) -> asyncio.Semaphore:
        # One per event loop: a test may serve the same app from several loops, one after another.
        loop = asyncio.get_running_loop()
        semaphore = self._per_loop.get(loop)
        if semaphore is None:
            semaphore = self._per_loop[loop] = asyncio.Semaphore(self.size)
        return semaphore


async def request_slot(request: Request) -> AsyncIterator[None]:
    async with request.app.state.request_slots.semaphore():
        yield


def get_session(request: Request, _slot: Annotated[None, Depends(request_slot, scope="function")]) -> Iterator[Session]:
    """The request owns the transaction: services only flush; this commits when the route
    returns and rolls back on any error, before the response is sent."""
    with owned_session(request.app.state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_session_factory(request: Request) -> sessionmaker[Session]:
    return request.app.state.session_factory


SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]


def analyze(session: Session) -> None:
    """Refresh the planner's statistics after a bulk load (PostgreSQL's ANALYZE; on SQLite it
    fills sqlite_stat1). Run after the load has committed."""
    session.execute(text("ANALYZE"))
    session.commit()
