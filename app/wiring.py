"""What the app factory and the CLI wire onto the sessions they make.

`app/database.py` knows no domain; work that must follow a write (keeping the pre-built
statistics exact) is installed here, on the session factory of whoever owns the sessions, and
the background jobs that work needs are registered here on that owner's `Jobs`.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.assessments import rescoring, rescoring_jobs
from app.config import get_settings
from app.database import create_session_factory, owned_session
from app.imports import service as imports
from app.jobs import Jobs
from app.privacy import service as privacy
from app.registry.national_id import NationalIds
from app.stats import invalidation
from app.stats import jobs as count_jobs
from app.stats.service import STALE_COUNTS


def session_factory(
    engine: Engine,
    jobs: Jobs | None = None,
    sweep_minutes: int = 1,
    rebuild_delay: float = 0.0,
    national_ids: NationalIds | None = None,
) -> sessionmaker[Session]:
    """Sessions whose writes keep the pre-built statistics exact. With `jobs`, what a write
    makes stale (and what a read had to count live) is queued to be rebuilt there, and a sweep
    runs every `sweep_minutes` (0: never; tests call it themselves). Re-scoring runs a
    transaction makes are queued there once it commits, and the same sweep interval takes up
    runs whose worker is gone (app/assessments/rescoring.py)."""
    factory = create_session_factory(engine)
    if jobs is None:
        invalidation.install(factory)
        rescoring.install(factory)
        imports.install(factory)
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
    # The units written within `rebuild_delay` seconds are rebuilt by one job, not one per write.
    invalidation.install(factory, on_change=jobs.gathered(rebuild_task, rebuild_delay).add)

    def rescore(run_id: int) -> str:
        outcome = rescoring_jobs.work(factory, run_id)
        if outcome == rescoring_jobs.MORE:  # its time slice is over: the rest is the next job's
            rescore_task(run_id)
        return outcome

    def rescore_resume() -> int:
        left = rescoring_jobs.resume(factory, seconds=rescoring_jobs.SLICE_SECONDS)
        for run_id in left:
            rescore_task(run_id)
        return len(left)

    rescore_task = jobs.task("rescoring.run", rescore)
    if sweep_minutes:
        jobs.periodic("rescoring_jobs.resume", rescore_resume, every_minutes=sweep_minutes)
    rescoring.install(factory, start_job=lambda run_id: rescore_task(run_id))

    def run_import(job_id: int) -> str:
        return imports.run(factory, national_ids or NationalIds(get_settings()), job_id)

    def resume_imports() -> int:
        with owned_session(factory) as session:
            waiting = imports.stale(session)
        for job_id in waiting:
            import_task(job_id)
        return len(waiting)

    import_task = jobs.task("imports.run", run_import, retries=0)
    if sweep_minutes:
        jobs.periodic("imports.resume", resume_imports, every_minutes=sweep_minutes)
    imports.install(factory, start_job=lambda job_id: import_task(job_id))
    return factory


def rekey_task(factory: sessionmaker[Session], jobs: Jobs):
    """The job that stores a national ID's digest under the current key, found under an older
    one by a lookup that writes nothing itself (the title check)."""

    def rekey(person_id: int, from_version: int, digest: str, to_version: int) -> None:
        with owned_session(factory) as session:
            privacy.rekey(session, person_id, from_version, digest, to_version)

    return jobs.task("privacy.rekey", rekey)
