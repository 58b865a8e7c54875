"""A request's database work is bounded: by a time limit (a setting), and by its client — when
the client goes away, its query is cancelled. Loads give the planner statistics of what they
loaded, so no query runs blind."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import text

from app.main import create_app
from tests.conftest import TEST_DATABASE_URL, make_settings, serve
from tests.helpers import assert_problem

API = "/api/v1"
ON_POSTGRES = TEST_DATABASE_URL is not None


def _slow_sql(seconds: int) -> str:
    if ON_POSTGRES:
        return f"SELECT pg_sleep({seconds})"
    # SQLite has no sleep: a count it takes far longer than `seconds` to reach.
    return (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT count(*) FROM (SELECT x FROM c LIMIT 10000000000)"
    )


class SlowUnits:
    """Stands in for the unit search: runs one slow statement on the request's session."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.finished = threading.Event()
        self.outcome: str | None = None

    def __call__(self, session, **_kwargs):
        try:
            session.execute(text(_slow_sql(self.seconds)))
            self.outcome = "completed"
        except Exception as error:
            self.outcome = type(error).__name__
            raise
        finally:
            self.finished.set()
        return [], 0


def test_a_statement_past_the_time_limit_is_stopped_with_503(database_url, monkeypatch):
    slow = SlowUnits(seconds=30)
    monkeypatch.setattr("app.units.service.list_units", slow)
    app = create_app(make_settings(database_url, statement_timeout_seconds=1))
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        started = time.monotonic()
        response = client.get(f"{API}/units")
        elapsed = time.monotonic() - started
    assert_problem(response, 503, "query_timeout")
    assert response.headers["retry-after"]
    assert elapsed < 10 and slow.outcome == "OperationalError"


def test_a_query_stops_when_its_client_goes_away(database_url, monkeypatch, engine):
    slow = SlowUnits(seconds=60)
    monkeypatch.setattr("app.units.service.list_units", slow)
    app = create_app(make_settings(database_url, statement_timeout_seconds=120))
    with serve(app) as base:
        with httpx.Client(base_url=base, timeout=1.5) as client, pytest.raises(httpx.ReadTimeout):
            client.get(f"{API}/units")  # the client gives up and closes its connection
        gave_up = time.monotonic()
        assert slow.finished.wait(timeout=15), "the query went on after its client left"
        stopped_after = time.monotonic() - gave_up
    assert slow.outcome == "OperationalError" and stopped_after < 10
    if ON_POSTGRES:
        with engine.connect() as connection:
            running = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'"
                )
            )
        assert running == 0


def test_loads_leave_planner_statistics(session):
    from app.stats.synthetic import generate

    generate(session, "01", 300, 2025, seed=3)
    for table in ("administrative_units", "unit_ancestors", "people", "residences"):
        if ON_POSTGRES:
            analysed = session.scalar(
                text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = :table"),
                {"table": table},
            )
        else:
            analysed = session.scalar(
                text("SELECT count(*) > 0 FROM sqlite_stat1 WHERE tbl = :table"), {"table": table}
            )
        assert analysed, table
