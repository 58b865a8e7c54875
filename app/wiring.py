"""What the app factory and the CLI wire onto the sessions they make.

`app/database.py` knows no domain; work that must follow a write (keeping the pre-built
statistics exact) is installed here, on the session factory of whoever owns the sessions, and
the background jobs that work needs are registered here on that owner's `Jobs`.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.database import create_session_factory
from app.jobs import Jobs
from app.stats import invalidation
from app.stats import jobs as count_jobs
from app.stats.service import STALE_COUNTS


def session_factory(engine: Engine, jobs: Jobs | None = None, sweep_minutes: int = 1) -> sessionmaker[Session]:
    """Sessions whose writes keep the pre-built statistics exact. With `jobs`, what a write
    makes stale (and what a read had to count live) is queued to be rebuilt there, and a sweep
    runs every `sweep_minutes` (0: never; tests call it themselves)."""
    factory = create_session_factory(engine)
    if jobs is None:
        invalidation.install(factory)
        return factory

    def rebuild(units: list[int]) -> int:
        return count_jobs.rebuild(factory, units)

    def build(units: list[int], year: int, basis: str) -> int:
        return count_jobs.build(factory, units, year, basis)

    def sweep() -> int:
        return count_jobs.sweep(factory)

    rebuild_task = jobs.task("counts.rebuild", rebuild)
    build_task = jobs.task("counts.build", build)
    if sweep_minutes:
        jobs.periodic("counts.sweep", sweep, every_minutes=sweep_minutes)
    factory.kw.setdefault("info", {})[STALE_COUNTS] = lambda units, year, basis: build_task(sorted(units), year, basis)
    invalidation.install(factory, on_change=lambda units: rebuild_task(sorted(units)))
    return factory
