"""Import jobs: an uploaded file becomes a job that a background worker checks and, unless it is
a dry run or a row has an error, writes in one transaction (all or nothing). A worker killed in
the middle leaves nothing written; the job is taken up again once its heartbeat is old. The same
file uploaded again is answered with what the first upload did."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.audit.service import record as audit
from app.auth.models import User
from app.auth.principal import Principal
from app.auth.service import load_principal
from app.database import owned_session
from app.exceptions import NotFound, Problem
from app.imports import catalogue, people, people_sql, records, sheets
from app.imports.kinds import Context
from app.imports.models import ImportJob, ImportState
from app.registry.national_id import NationalIds

logger = logging.getLogger("hoctap.imports")
KINDS = catalogue.KINDS
PENDING, START = "import_jobs_pending", "import_jobs_start"
STALE_AFTER = timedelta(minutes=2)
MAX_ATTEMPTS = 3
SHOWN_ERRORS = 100


def template(session: Session, kind: str, variant: str | None = None) -> bytes:
    """The kind's XLSX template (for a kind with variants, the variant's columns)."""
    found = KINDS[kind]
    columns = catalogue.columns(session, found, variant)
    title = f"Mẫu nhập: {found.label}" + (f" ({variant})" if variant else "")
    return sheets.template(columns, title, found.example, found.guide)


def start(
    session: Session,
    principal: Principal,
    kind: str,
    file_name: str,
    content: bytes,
    dry_run: bool,
    on_day: date,
    variant: str | None = None,
) -> tuple[ImportJob, bool]:
    """A job for the file (202), or the job that already imported this same file (200)."""
    found = KINDS[kind]
    if principal.role not in found.roles:
        raise Problem(403, "forbidden", "Không có quyền", "Tài khoản này không được nhập loại dữ liệu này.")
    if not content:
        raise Problem(422, "validation_failed", "Tệp trống", "Tệp gửi lên không có nội dung.")
    variant = variant if found.variant_columns is not None else None
    catalogue.columns(session, found, variant)  # an unknown variant is refused now, not in the job
    digest = hashlib.sha256(content).hexdigest()
    done = session.scalar(
        select(ImportJob)
        .where(
            ImportJob.file_digest == digest,
            ImportJob.kind == kind,
            ImportJob.variant == variant if variant else ImportJob.variant.is_(None),
            ImportJob.dry_run.is_(False),
            ImportJob.state == ImportState.DONE,
            ImportJob.created_by_id == (principal.id or None),
        )
        .order_by(ImportJob.id.desc())
    )
    if done is not None and not dry_run:
        return done, False
    job = ImportJob(
        public_id=str(uuid.uuid4()),
        kind=kind,
        variant=variant,
        state=ImportState.QUEUED,
        dry_run=dry_run,
        file_name=file_name[:200],
        file_digest=digest,
        content=content,
        on_day=on_day,
        created_by_id=principal.id or None,
    )
    session.add(job)
    session.flush()
    audit(session, principal, "upload", "import_job", job.id, None, None, kind=kind, dry_run=dry_run)
    session.info.setdefault(PENDING, []).append(job.id)
    return job, True


def kinds(session: Session) -> list[dict[str, Any]]:
    """What can be imported, for the API and the pages; a kind with variants lists them."""
    return [
        {
            "key": kind.key,
            "label": kind.label,
            "variants": [
                {"key": key, "label": label} for key, label in (kind.variants(session) if kind.variants else [])
            ],
        }
        for kind in KINDS.values()
    ]


def list_jobs(session: Session, principal: Principal, limit: int, offset: int) -> tuple[list[dict], int]:
    """The caller's imports (an administrator's: everyone's), newest first."""
    mine = select(ImportJob)
    if not principal.is_admin:
        mine = mine.where(ImportJob.created_by_id == principal.id)
    total = session.scalar(select(func.count()).select_from(mine.subquery())) or 0
    jobs = session.scalars(mine.order_by(ImportJob.id.desc()).limit(limit).offset(offset))
    return [summary(job) for job in jobs], total


def get(session: Session, principal: Principal, public_id: str) -> ImportJob:
    job = session.scalar(select(ImportJob).where(ImportJob.public_id == public_id.lower()))
    if job is None or not (principal.is_admin or job.created_by_id == principal.id):
        raise NotFound("Không tìm thấy lần nhập này.")
    return job


def summary(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.public_id,
        "kind": job.kind,
        "variant": job.variant,
        "state": job.state,
        "dry_run": job.dry_run,
        "file_name": job.file_name,
        "on_day": job.on_day,
        "total_rows": job.total_rows,
        "checked_rows": job.checked_rows,
        "created": job.created,
        "matched": job.matched,
        "error_count": job.error_count,
        "errors": json.loads(job.errors),
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


# --- the worker -------------------------------------------------------------------------------


def run(
    factory: sessionmaker[Session], ids: NationalIds, job_id: int, on_progress: Callable[[int], Any] | None = None
) -> str:
    """Check the file and write it (one transaction). Returns the job's final state;
    `on_progress(rows checked)` follows the check (the CLI's progress bar)."""
    with owned_session(factory) as session:
        if not _claim(session, job_id):
            return session.scalar(select(ImportJob.state).where(ImportJob.id == job_id)) or "missing"
        key = session.scalar(select(ImportJob.kind).where(ImportJob.id == job_id))
    with owned_session(factory) as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite and not KINDS[key].fast:
            # SQLite (WAL): a transaction that has read cannot start writing once another
            # connection has committed ("database is locked" at once, whatever the busy timeout).
            # Records are written as they are read, so the one write lock is taken first.
            _beat(session, job_id)
        job = session.get(ImportJob, job_id)
        user = session.get(User, job.created_by_id) if job.created_by_id else None
        principal = load_principal(session, user.id, user.credential_version) if user else None
        if principal is None:
            job.state, job.finished_at = ImportState.FAILED, clock.now()
            job.errors = json.dumps(
                [{"row": 0, "column": "", "value": None, "reason": "Tài khoản đã nhập tệp không còn hiệu lực."}]
            )
            return job.state
        kind = KINDS[job.kind]
        # SQLite has one writer: while records are written as they are read (every kind but
        # people), another connection could not note the progress (it would wait for this
        # import's lock); there only the caller hears it. People are checked before any write.
        noted = kind.fast or not sqlite

        def progress(count: int) -> None:
            if noted:
                with owned_session(factory) as other:  # visible at once, apart from the import's transaction
                    other.execute(
                        ImportJob.__table__.update()
                        .where(ImportJob.id == job_id)
                        .values(checked_rows=count, heartbeat_at=clock.now())
                    )
            if on_progress is not None:
                on_progress(count)

        try:
            if kind.fast:
                outcome = _people(session, principal, ids, job, progress)
            else:
                context = Context(session, principal, ids, job.on_day, job.variant, job_id=job.id)
                columns = catalogue.columns(session, kind, job.variant)
                outcome = records.run(kind, context, columns, sheets.rows(job.content), not job.dry_run, progress)
        except sheets.UnreadableFileError as unreadable:
            outcome = records.Outcome(errors=[sheets.error(0, "", None, str(unreadable))])
        job.total_rows = job.checked_rows = outcome.rows
        job.error_count, job.matched, job.created = len(outcome.errors), outcome.matched, outcome.created
        job.errors = json.dumps(outcome.errors[:SHOWN_ERRORS], ensure_ascii=False)
        job.finished_at = clock.now()
        job.content = b""  # the file (national IDs in clear) is not kept once its job is over
        if outcome.errors:
            job.state, job.error_report, job.created = ImportState.REFUSED, sheets.error_report(outcome.errors), 0
            return job.state
        if not job.dry_run:
            audit(
                session, principal, "import", "import_job", job.id, None, None, created=job.created, matched=job.matched
            )
        job.state = ImportState.DONE
        return job.state


def _people(session: Session, principal: Principal, ids: NationalIds, job: ImportJob, progress) -> records.Outcome:
    """People: checked in bulk and, unless a row is wrong or this is a dry run, written in bulk —
    on PostgreSQL set-based in a staging table (people_sql.py), elsewhere row by row."""
    if people_sql.supported(session):
        found = people_sql.run(
            session, principal, ids, job.on_day, sheets.rows(job.content), progress, write=not job.dry_run
        )
        return records.Outcome(rows=found.rows, created=found.created, matched=found.matched, errors=found.errors)
    checked = people.check(session, principal, ids, job.on_day, sheets.rows(job.content), progress)
    outcome = records.Outcome(rows=checked.rows, matched=checked.matched, errors=checked.errors)
    outcome.created = len(checked.new)
    if not checked.errors and not job.dry_run:
        # SQLite (WAL): the check only read, and others (the progress notes) have committed since,
        # so its snapshot could not start writing. A new transaction takes the one write lock
        # first, then matches again what may have been registered meanwhile, then writes.
        job_id = job.id
        session.commit()
        _beat(session, job_id)
        people.match_existing(session, ids, checked)
        outcome.matched = checked.matched
        outcome.created = people.write(session, ids, checked)
    return outcome


def _beat(session: Session, job_id: int) -> None:
    session.execute(update(ImportJob).where(ImportJob.id == job_id).values(heartbeat_at=clock.now()))


def _claimable(now: datetime):
    """A job a worker may take: queued, or running with a worker silent too long (killed)."""
    silent = (ImportJob.state == ImportState.RUNNING) & (ImportJob.heartbeat_at < now - STALE_AFTER)
    return (ImportJob.state == ImportState.QUEUED) | silent


def _claim(session: Session, job_id: int) -> bool:
    """Take the job for this worker in one UPDATE, so two workers (a queued job and the periodic
    resume) never run it both. A job that failed its attempts is marked failed and its file let go."""
    now = clock.now()
    claimable = (ImportJob.id == job_id) & _claimable(now)
    taken = session.execute(
        update(ImportJob)
        .where(claimable, ImportJob.attempts < MAX_ATTEMPTS)
        .values(state=ImportState.RUNNING, attempts=ImportJob.attempts + 1, heartbeat_at=now)
    ).rowcount
    if not taken:
        session.execute(
            update(ImportJob)
            .where(claimable, ImportJob.attempts >= MAX_ATTEMPTS)
            .values(state=ImportState.FAILED, finished_at=now, content=b"")
        )
    return taken == 1


def stale(session: Session) -> list[int]:
    """Jobs to be run again: queued but not taken for a while (their queue entry lost), or whose
    worker has been silent too long (killed)."""
    now = clock.now()
    forgotten = (ImportJob.state == ImportState.QUEUED) & (ImportJob.created_at < now - STALE_AFTER)
    return list(
        session.scalars(
            select(ImportJob.id).where(forgotten | (_claimable(now) & (ImportJob.state == ImportState.RUNNING)))
        )
    )


def install(factory: sessionmaker[Session], start_job: Callable[[int], Any] | None = None) -> None:
    """Queue every job a transaction of `factory`'s sessions made, once it has committed."""
    if start_job is not None:
        factory.kw.setdefault("info", {})[START] = start_job
    if not event.contains(factory, "after_commit", _after_commit):
        event.listen(factory, "after_commit", _after_commit)
        event.listen(factory, "after_rollback", lambda session: session.info.pop(PENDING, None))


def _after_commit(session: Session) -> None:
    jobs = session.info.pop(PENDING, None)
    start_job = session.info.get(START)
    for job_id in jobs or ():
        if start_job is None:
            continue  # the periodic resume takes it up
        try:
            start_job(job_id)
        except Exception as error:  # recorded; the periodic resume takes it up
            logger.warning("could not queue import job %s: %s", job_id, type(error).__name__)
