"""The access log is journalled and written in batches, off the request: the hot lookups write
nothing to the database, a process that dies loses no logged read, and a journal replayed twice
adds nothing twice."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from app.auth.models import Role
from app.privacy.access_log import AccessLog
from app.privacy.models import PersonAccessEvent
from app.registry.models import Person
from app.wiring import session_factory
from tests.helpers import bearer, login

API = "/api/v1"


@pytest.fixture
def person(session) -> int:
    row = Person(full_name="Mai Thị Lan", birth_date=None)
    session.add(row)
    session.commit()
    return row.id


def _logged(session, person_id: int) -> int:
    session.rollback()
    return session.scalar(select(func.count()).where(PersonAccessEvent.person_id == person_id))


@contextmanager
def _writes(engine):
    """The INSERT, UPDATE and DELETE statements `engine` runs inside the block, except the
    access log's own batches (its thread, which is the point)."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        if threading.current_thread().name == "access-log":
            return
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement.split("(")[0][:60])

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_the_hot_lookups_write_nothing_to_the_database(client, app, make_user, session):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    make_user("cong.phuong", Role.PORTAL_CLIENT, ["00367"])
    officer = bearer(login(client, "canbo.tx")["access_token"])
    portal = bearer(login(client, "cong.phuong")["access_token"])
    created = client.post(
        f"{API}/people",
        headers=officer,
        json={"full_name": "Mai Thị Lan", "birth_date": "1990-02-03", "unit_code": "00367"},
    )
    assert created.status_code == 201, created.text
    person = created.json()["id"]
    assert app.state.jobs.wait_idle(30)
    app.state.access_log.flush()
    with _writes(app.state.engine) as seen:
        status = client.get(f"{API}/subjects/person/{person}/titles", headers=portal)
        check = client.post(f"{API}/title-checks", json={"national_id": "001099000111", "birth_date": "1990-01-01"})
    assert (status.status_code, check.status_code) == (200, 200)
    assert seen == []
    # The read is logged all the same, once the batch is written.
    assert _logged(session, person) == 0
    assert app.state.access_log.flush() == 1
    assert _logged(session, person) == 1


def test_a_process_killed_before_its_batch_is_written_loses_no_read(database_url, engine, session, person, tmp_path):
    journal = tmp_path / "journal"
    child = textwrap.dedent(
        f"""
        import os
        import signal
        from app.database import create_db_engine
        from app.privacy.access_log import AccessLog
        from app.wiring import session_factory
        from pathlib import Path
        factory = session_factory(create_db_engine({database_url!r}))
        log = AccessLog(factory, Path({str(journal)!r}), flush_seconds=60)
        for n in range(5):
            log.record(None, [{person}], "read", f"lần {{n}}")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()[-2000:]
    assert _logged(session, person) == 0 and len(list(journal.glob("*.jsonl"))) == 1

    survivor = AccessLog(session_factory(engine), journal)
    assert survivor.replay_orphans() == 5
    assert _logged(session, person) == 5
    assert list(journal.glob("*.jsonl")) == []


def test_a_journal_replayed_after_its_rows_were_written_adds_nothing_twice(engine, session, person, tmp_path):
    journal = tmp_path / "journal"
    log = AccessLog(session_factory(engine), journal)
    log.record(None, [person], "read", "tra cứu hồ sơ")
    (segment,) = journal.glob("*.jsonl")
    kept = tmp_path / "kept.jsonl"
    shutil.copy(segment, kept)
    # A torn last line, as a process dying mid-write leaves it, is skipped.
    with kept.open("a", encoding="utf-8") as torn:
        torn.write('{"event_key": "abc", "person_id": ')
    assert log.flush() == 1 and not segment.exists()
    shutil.copy(kept, segment)  # the crash came between the insert and the deletion
    assert AccessLog(session_factory(engine), journal).replay_orphans() == 1
    assert _logged(session, person) == 1


def test_a_journal_held_by_a_living_process_is_not_replayed(engine, session, person, tmp_path):
    journal = tmp_path / "journal"
    living = AccessLog(session_factory(engine), journal, flush_seconds=60)
    living.record(None, [person], "read", "tra cứu hồ sơ")
    assert AccessLog(session_factory(engine), journal).replay_orphans() == 0
    assert _logged(session, person) == 0
    assert living.flush() == 1 and _logged(session, person) == 1


def test_a_failed_insert_keeps_the_reads_for_the_next_try(engine, session, person, tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    log = AccessLog(session_factory(engine), tmp_path / "journal")
    log.record(None, [person], "read", "tra cứu hồ sơ")
    real = log._insert

    def down(_entries):
        raise OperationalError("INSERT", {}, Exception("database unreachable"))

    monkeypatch.setattr(log, "_insert", down)
    assert log.flush() == 0 and len(list((tmp_path / "journal").glob("*.jsonl"))) == 1
    monkeypatch.setattr(log, "_insert", real)
    assert log.flush() == 1 and _logged(session, person) == 1
    assert list((tmp_path / "journal").glob("*.jsonl")) == []
