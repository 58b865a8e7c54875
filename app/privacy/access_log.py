"""The access log of personal records (nhật ký truy cập), written off the request.

A staff or portal read of a person's record must be logged, but a database write per read would
put a commit on the hottest paths (title status, lists). Each read is instead appended, as one
line, to this process's journal file and kept in memory; a background thread inserts what has
gathered every `flush_seconds` in one statement and then deletes the journal segment it came
from. Nothing waits for the database.

What a crash can lose:
- the process dies (killed, out of memory, a bug): nothing. The lines are in the operating
  system's file cache the moment the read is answered; the next process to start with the same
  database replays every journal no living process holds (each holds its own under a lock);
- the machine loses power or the kernel crashes: the lines not yet inserted (at most the last
  `flush_seconds`) and not yet written back to disk by the kernel — unless
  `HOCTAP_ACCESS_LOG_FSYNC=true`, which syncs each line to disk before the answer (slower).
Each entry carries a random key, unique in the table, so a segment replayed after its rows were
inserted (a crash between the insert and the deletion) adds nothing twice.

Reads of the log itself (`GET /people/{id}/access-log`, the export) flush first, so they show
every read this process has answered; another process's reads appear within `flush_seconds`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.database import owned_session
from app.privacy.models import PersonAccessEvent

logger = logging.getLogger("hoctap.privacy")


@dataclass
class Entry:
    event_key: str
    person_id: int
    user_id: int | None
    at: datetime
    action: str
    purpose: str


class _Segment:
    """One journal file, held under an exclusive lock while this process may still need it."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"{os.getpid()}-{uuid.uuid4().hex}.jsonl"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.used = False

    def append(self, data: bytes, sync: bool) -> None:
        os.write(self.fd, data)  # one write of whole lines: appends never interleave
        if sync:
            os.fsync(self.fd)
        self.used = True

    def remove(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)


class AccessLog:
    def __init__(
        self, factory: sessionmaker[Session], directory: Path, flush_seconds: float = 0.2, fsync: bool = False
    ) -> None:
        self._factory = factory
        self._directory = directory
        self._flush_seconds = flush_seconds
        self._fsync = fsync
        self._lock = threading.Lock()  # pending entries and the current segment
        self._flushing = threading.Lock()  # one flush at a time
        self._pending: list[Entry] = []
        self._segment: _Segment | None = None
        self._written: list[_Segment] = []  # segments whose entries are being or were not yet inserted
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._starts = 0

    # --- the request side -------------------------------------------------------------------

    def record(self, user_id: int | None, person_ids: list[int], action: str, purpose: str) -> None:
        """Log that `user_id` read these people's records (no database work here)."""
        if not person_ids:
            return
        at = clock.now()
        entries = [
            Entry(uuid.uuid4().hex, person_id, user_id, at, action, purpose) for person_id in dict.fromkeys(person_ids)
        ]
        data = "".join(json.dumps(_line(entry), ensure_ascii=False) + "\n" for entry in entries).encode()
        with self._lock:
            if self._segment is None:
                self._directory.mkdir(parents=True, exist_ok=True)
                self._segment = _Segment(self._directory)
            self._segment.append(data, self._fsync)
            self._pending.extend(entries)

    # --- the background side ----------------------------------------------------------------

    def flush(self) -> int:
        """Insert every pending entry now; returns how many were inserted. On a database error
        the entries stay pending (and in their journal) for the next try."""
        with self._flushing:
            with self._lock:
                entries, self._pending = self._pending, []
                if self._segment is not None and self._segment.used:
                    self._written.append(self._segment)
                    self._segment = None
                done = list(self._written)
            if not entries:
                self._discard(done)
                return 0
            try:
                self._insert(entries)
            except SQLAlchemyError as error:
                logger.warning("access log: insert failed, kept for retry: %s", type(error).__name__)
                with self._lock:
                    self._pending[:0] = entries
                return 0
            self._discard(done)
            return len(entries)

    def _discard(self, segments: list[_Segment]) -> None:
        with self._lock:
            self._written = [s for s in self._written if s not in segments]
        for segment in segments:
            segment.remove()

    def _insert(self, entries: list[Entry]) -> None:
        rows = [asdict(entry) for entry in entries]
        with owned_session(self._factory) as session:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            statement = dialect.insert(PersonAccessEvent).on_conflict_do_nothing(index_elements=["event_key"])
            try:
                with session.begin_nested():
                    session.execute(statement, rows)
            except IntegrityError:
                # A row that can never be inserted (its person or account is gone) must not hold
                # back the others: insert one by one and drop only such rows.
                dropped = 0
                for row in rows:
                    try:
                        with session.begin_nested():
                            session.execute(statement, [row])
                    except IntegrityError:
                        dropped += 1
                logger.warning("access log: %d entries dropped, naming records that no longer exist", dropped)

    def replay_orphans(self) -> int:
        """Insert the journals no living process holds (left by one that died); returns the
        number of entries read. A torn last line (the process died mid-write) is skipped."""
        if not self._directory.is_dir():
            return 0
        replayed = 0
        for path in sorted(self._directory.glob("*.jsonl")):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a living process holds it
                entries = []
                with os.fdopen(os.dup(fd), encoding="utf-8") as journal:
                    for line in journal:
                        try:
                            entries.append(_entry(json.loads(line)))
                        except (ValueError, KeyError, TypeError):
                            continue
                if entries:
                    self._insert(entries)
                path.unlink(missing_ok=True)
                replayed += len(entries)
            finally:
                os.close(fd)
        if replayed:
            logger.info("access log: %d entries replayed from journals left by stopped processes", replayed)
        return replayed

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            try:
                self.flush()
            except Exception as error:  # the thread must survive anything; entries stay journalled
                logger.warning("access log: flush failed: %s", type(error).__name__)

    def start(self) -> None:
        with self._lock:
            self._starts += 1
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        try:
            self.replay_orphans()
        except SQLAlchemyError as error:
            logger.warning("access log: replay failed, journals kept: %s", type(error).__name__)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._starts = max(self._starts - 1, 0)
            if self._starts or self._thread is None:
                return
            thread, self._thread = self._thread, None
        self._stop.set()
        thread.join()
        self.flush()
        with self._lock:
            segment, self._segment = self._segment, None
        if segment is not None and not segment.used:
            segment.remove()


def _line(entry: Entry) -> dict:
    return {**asdict(entry), "at": entry.at.isoformat()}


def _entry(line: dict) -> Entry:
    return Entry(
        event_key=str(line["event_key"]),
        person_id=int(line["person_id"]),
        user_id=int(line["user_id"]) if line["user_id"] is not None else None,
        at=datetime.fromisoformat(line["at"]),
        action=str(line["action"])[:32],
        purpose=str(line["purpose"])[:200],
    )
