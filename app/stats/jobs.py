"""Background jobs that keep the pre-built counts up to date (summary.py says why they exist).

- `rebuild(units)`: queued after a write commits, for the units it touched;
- `build(units, year, basis)`: queued by a read that had to count units live;
- `sweep()`: every minute, whatever is still out of date (a new day, a bulk change, a job lost
  with an in-memory queue), in batches of short transactions.

Each job opens its own session and owns its transaction; none is needed for correctness (reads
count live what is not built), only for speed. Within a process, builds take turns (they would
only collide on the same units); a build that meets one of another process gives way and is
retried by the queue.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.database import owned_session
from app.stats import counting, summary
from app.units.models import AdministrativeUnit

SWEEP_BATCH = 500  # units per transaction
SWEEP_SECONDS = 45.0  # a sweep yields to the next one rather than overlapping it
_turns = threading.Lock()


class BuildConflictError(Exception):
    """Another process was building the same units: the queue runs the job again shortly."""


def rebuild(factory: sessionmaker[Session], units: list[int]) -> int:
    with _turns, owned_session(factory) as session:
        made = summary.catch_up(session, set(_existing(session, units)))
    if made is None:
        raise BuildConflictError
    return made


def build(factory: sessionmaker[Session], units: list[int], year: int, basis: str) -> int:
    made = 0
    for start in range(0, len(units), SWEEP_BATCH):
        with _turns, owned_session(factory) as session:
            batch = _existing(session, units[start : start + SWEEP_BATCH])
            done = summary.build(session, batch, year, counting.reference_day(year), basis) if batch else 0
        if done is None:
            raise BuildConflictError
        made += done
    return made


def sweep(factory: sessionmaker[Session]) -> int:
    """Bring every out-of-date build up to date; returns how many units were rebuilt."""
    made, deadline = 0, time.monotonic() + SWEEP_SECONDS
    while time.monotonic() < deadline:
        with _turns, owned_session(factory) as session:
            batches = summary.out_of_date(session, SWEEP_BATCH)
            if not batches:
                break
            progress = 0
            for year, basis, units in batches:
                progress += summary.build(session, units, year, counting.reference_day(year), basis) or 0
        if not progress:
            break  # what is left is being built by another job right now
        made += progress
    return made


def _existing(session: Session, units: list[int]) -> list[int]:
    """The units that still exist (a queued job may outlive a unit deleted meanwhile)."""
    if not units:
        return []
    return sorted(session.scalars(select(AdministrativeUnit.id).where(AdministrativeUnit.id.in_(units))))
