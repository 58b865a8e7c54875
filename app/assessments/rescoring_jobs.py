"""The jobs that work re-scoring runs (app/assessments/rescoring.py makes and reads them).

`POST /assessment-rescorings` makes a run (RescoringRun: title, version, scope, the last
assessment id it covers) and, once the request has committed, queues a job. The job works in
batches of BATCH_SIZE assessments in id order, each batch one short transaction that commits
its work together with the run's cursor (the last assessment id done) and counts:

1. the batch's distinct inputs are read with one GROUP BY — (subject group, unit groups,
   answers) and, where the version has derived indicators, (subject, reference date), whose
   derived values are counted for the whole batch by grouped SQL (derived.compute_many);
2. the engine runs once per distinct input (and once per run for an input seen in an earlier
   batch of the same worker); the outcomes are inserted in one executemany;
3. the batch's items (one per assessment reached) are one INSERT … SELECT joining the
   assessments to their outcome; then, unless it is a dry run, the new revisions are one
   INSERT … SELECT and the old rows are superseded by one UPDATE.

An assessment is superseded at most once (the unique index on `supersedes_id`), the batch's
UPDATE touches only rows still open and must touch exactly the rows it gave a revision, so a
batch repeated, raced or interrupted either commits whole or leaves nothing behind.

Resuming: a worker holds a run by name (`worker`) and shows it is alive with `heartbeat_at`,
renewed at the start of every batch. A run queued or running that nobody holds, or whose
heartbeat is older than LEASE_SECONDS, is taken over by `resume()` (the periodic job, or a
direct call) and continues after its cursor. A crash loses at most the batch in flight (rolled
back by the database) and the time until the lease runs out.

The engine (app/rules) stays pure: it receives values, never a session.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

from app import clock
from app.assessments import rescoring
from app.assessments.derived import compute_many, has_derived
from app.assessments.models import (
    Assessment,
    AssessmentState,
    RescoringItem,
    RescoringOutcome,
    RescoringRun,
    RescoringState,
)
from app.assessments.service import score_inputs
from app.audit.service import record as audit
from app.audit.service import snapshot
from app.criteria.models import CriteriaVersionRecord
from app.criteria.service import model_of
from app.database import UTCDateTime, owned_session
from app.exceptions import Problem
from app.rules import CriteriaVersion

LEASE_SECONDS = 120  # a run whose worker has not shown itself for this long is taken over
SLICE_SECONDS = 20.0  # a job works this long, then queues the rest (so a stop never waits long)
MAX_FAILURES = 5  # consecutive failed batches before the run is marked failed
CACHE_LIMIT = 100_000  # distinct inputs a worker remembers between batches

# What work() reports.
DONE = "done"  # finished (or failed, or not a run to work on)
MORE = "more"  # stopped at the end of its time slice or batch limit: queue it again
ELSEWHERE = "elsewhere"  # another worker holds it

logger = logging.getLogger("hoctap.rescoring")


class BatchRaced(Exception):  # noqa: N818 - read as "the batch raced with another write"
    """An assessment of the batch changed under it (decided or corrected meanwhile): the batch
    rolls back and is done again."""


class new_public_id(FunctionElement):  # noqa: N801 - an SQL function
    """A new revision's id, made by the database for each row: a version 7 UUID as text, whose
    first 48 bits are the batch's millisecond (`prefix`, "tttttttt-tttt-7") and whose other 74
    bits are random. Never derivable from the old id, and written in order at the end of the
    index of ids rather than on random pages of it (a million of them in one run)."""

    type = String()
    inherit_cache = True


@compiles(new_public_id, "postgresql")
def _id_postgresql(element, compiler, **kw) -> str:
    prefix = compiler.process(element.clauses, **kw)
    return f"overlay(gen_random_uuid()::text placing {prefix} from 1 for 15)"


@compiles(new_public_id, "sqlite")
def _id_sqlite(element, compiler, **kw) -> str:
    prefix = compiler.process(element.clauses, **kw)
    return (
        f"{prefix} || lower(substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) "
        "|| substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
    )


def _id_prefix(now) -> str:
    ms = int(now.timestamp() * 1000)
    return f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7"


# --- the job: batches ---------------------------------------------------------------------------


def _worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _stale_before(stale_seconds: float) -> Any:
    return clock.now() - timedelta(seconds=stale_seconds)


def _claim(factory: sessionmaker[Session], run_id: int, worker: str, stale_seconds: float = LEASE_SECONDS) -> bool:
    """Take the run for `worker` if nobody alive holds it (one conditional UPDATE)."""
    now = clock.now()
    with owned_session(factory) as session:
        claimed = session.execute(
            update(RescoringRun)
            .where(
                RescoringRun.id == run_id,
                RescoringRun.parent_id.is_not(None),
                RescoringRun.state.in_(rescoring.ACTIVE),
                or_(
                    RescoringRun.worker.is_(None),
                    RescoringRun.worker == worker,
                    RescoringRun.heartbeat_at.is_(None),
                    RescoringRun.heartbeat_at < _stale_before(stale_seconds),
                ),
            )
            .values(
                worker=worker,
                heartbeat_at=now,
                state=RescoringState.RUNNING,
                started_at=func.coalesce(RescoringRun.started_at, literal(now, UTCDateTime())),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            parent = select(RescoringRun.parent_id).where(RescoringRun.id == run_id).scalar_subquery()
            session.execute(
                update(RescoringRun)
                .where(RescoringRun.id == parent, RescoringRun.state == RescoringState.QUEUED)
                .values(state=RescoringState.RUNNING, started_at=now)
                .execution_options(synchronize_session=False)
            )
    return claimed == 1


def _release(factory: sessionmaker[Session], run_id: int, worker: str, error: BaseException | None = None) -> None:
    """Let go of the run (at the end of a slice, or after a failed batch, counting it)."""
    try:
        with owned_session(factory) as session:
            run = session.get(RescoringRun, run_id)
            if run is None or run.worker != worker:
                return
            run.worker = None
            if error is None:
                return
            run.failures += 1
            run.error = f"{type(error).__name__}"[:200]
            if run.failures >= MAX_FAILURES and run.state in rescoring.ACTIVE:
                run.state = RescoringState.FAILED
                run.finished_at = clock.now()
                run.error = (
                    f"Dừng sau {run.failures} lần lỗi liên tiếp ({type(error).__name__}); "
                    "tạo một lần chấm lại mới để tiếp tục phần còn lại."
                )[:200]
                logger.warning(
                    "re-scoring run %s (part %s) failed after %s errors", run.parent_id, run.id, run.failures
                )
                _settle(session, run, run.finished_at)
    except Exception as failure:  # the database is away: the lease runs out, resume() takes over
        logger.warning("could not release re-scoring run %s: %s", run_id, type(failure).__name__)


def _counts(run: RescoringRun) -> dict[str, int]:
    return {
        "total": run.total,
        "processed": run.processed,
        "changed": run.changed,
        "unchanged": run.unchanged,
        "problems": run.problems,
        "skipped": run.skipped,
        "batches": run.batches,
    }


def work(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    worker: str | None = None,
    seconds: float | None = SLICE_SECONDS,
    max_batches: int | None = None,
    stale_seconds: float = LEASE_SECONDS,
) -> str:
    """Work the run: DONE when it is finished (or failed, or there is nothing to work on), MORE
    when this call stopped after `seconds` or `max_batches` with work left (queue it again),
    ELSEWHERE when a live worker holds it. A batch that raises is rolled back, counted and
    re-raised (the queue retries the job); the run is released either way."""
    with owned_session(factory) as session:
        own_parts = rescoring.parts(session, run_id)
    if own_parts:  # a run rather than a part: its parts one after the other
        outcomes = [
            work(factory, part, seconds=seconds, max_batches=max_batches, stale_seconds=stale_seconds)
            for part in own_parts
        ]
        return next((outcome for outcome in (MORE, ELSEWHERE) if outcome in outcomes), DONE)
    worker = worker or _worker_name()
    if not _claim(factory, run_id, worker, stale_seconds):
        with owned_session(factory) as session:
            state = session.scalar(select(RescoringRun.state).where(RescoringRun.id == run_id))
        return ELSEWHERE if state in rescoring.ACTIVE else DONE
    return _work_claimed(factory, run_id, worker, seconds=seconds, max_batches=max_batches)


def _work_claimed(
    factory: sessionmaker[Session], run_id: int, worker: str, *, seconds: float | None, max_batches: int | None
) -> str:
    deadline = None if seconds is None else time.monotonic() + seconds
    cache: dict[tuple, dict[str, Any]] = {}
    done = 0
    try:
        while True:
            more = _batch(factory, run_id, worker, cache)
            if more is None:
                return ELSEWHERE  # the lease was lost to another worker
            if not more:
                return DONE
            done += 1
            if (max_batches is not None and done >= max_batches) or (
                deadline is not None and time.monotonic() >= deadline
            ):
                _release(factory, run_id, worker)
                return MORE
    except BaseException as error:
        _release(factory, run_id, worker, error)
        raise


def resume(
    factory: sessionmaker[Session], *, stale_seconds: float = LEASE_SECONDS, seconds: float | None = None
) -> list[int]:
    """Take up every run queued or running that nobody holds or whose worker is gone (no
    heartbeat for `stale_seconds`), and work it after its cursor: to the end, or for `seconds`
    each. Returns the runs that still have work left (to be queued again)."""
    with owned_session(factory) as session:
        orphans = list(
            session.scalars(
                select(RescoringRun.id)
                .where(
                    RescoringRun.parent_id.is_not(None),
                    RescoringRun.state.in_(rescoring.ACTIVE),
                    or_(
                        RescoringRun.worker.is_(None),
                        RescoringRun.heartbeat_at.is_(None),
                        RescoringRun.heartbeat_at < _stale_before(stale_seconds),
                    ),
                )
                .order_by(RescoringRun.id)
            )
        )
    left = []
    for run_id in orphans:
        worker = _worker_name()
        if not _claim(factory, run_id, worker, stale_seconds):
            continue  # taken meanwhile
        logger.info("resuming re-scoring run %s", run_id)
        if _work_claimed(factory, run_id, worker, seconds=seconds, max_batches=None) == MORE:
            left.append(run_id)
    return left


def _batch(factory: sessionmaker[Session], run_id: int, worker: str, cache: dict) -> bool | None:
    """One batch in its own transaction: True when there may be more, False when the run has
    just finished, None when `worker` no longer holds the run."""
    now = clock.now()
    with owned_session(factory) as session:
        # The heartbeat first: it shows the worker alive and (on PostgreSQL) locks the run row
        # until this batch commits, so no other worker can take the run in the middle of it.
        held = session.execute(
            update(RescoringRun)
            .where(
                RescoringRun.id == run_id, RescoringRun.worker == worker, RescoringRun.state == RescoringState.RUNNING
            )
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not held:
            return None
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            # Commit without waiting for the disk: a crash may then lose the last batches
            # whole — their work with their cursor, in one transaction — and they are done again.
            session.execute(text("SET LOCAL synchronous_commit = off"))
        run = session.get(RescoringRun, run_id, populate_existing=True)
        target = session.get(CriteriaVersionRecord, run.criteria_version_id)
        candidates = rescoring.candidates(run.title, target.id, rescoring.run_scope(run))
        model = model_of(target)
        derived = has_derived(model)
        low, number = run.cursor, run.batches + 1
        inputs = _inputs(session, candidates, low, run.last_id, derived)
        if not inputs:
            _finish(session, run, now)
            return False
        high = max(line.last_id for line in inputs)
        rows = and_(*candidates, Assessment.id > low, Assessment.id <= high)
        outcomes = _outcomes(session, run, model, target, inputs, number, derived, cache)
        session.execute(insert(RescoringOutcome.__table__), outcomes)
        # The batch's own rows of each table, every one by an index range: with the planner's
        # estimates of tables that were empty a moment ago, a nested loop over the outcomes
        # would be quadratic; hash joins of ranges stay linear (PostgreSQL; SQLite plans its own).
        if postgres:
            session.execute(text("SET LOCAL enable_nestloop = off"))
        _insert_items(session, run, rows, number, derived)
        mine = and_(  # the items this batch made, wherever they are joined to their outcome
            RescoringItem.run_id == run.id,
            RescoringItem.assessment_id > low,
            RescoringItem.assessment_id <= high,
            RescoringOutcome.run_id == run.id,
            RescoringOutcome.batch == number,
        )
        if not run.dry_run:
            _write_revisions(session, target, mine, and_(Assessment.id > low, Assessment.id <= high), now)
            session.execute(
                update(RescoringOutcome.__table__)
                .where(RescoringOutcome.run_id == run.id, RescoringOutcome.batch == number)
                .values(result=None, derived=None)  # the revisions hold them now
            )
        processed, changed, problems = session.execute(
            select(
                func.count(),
                func.count().filter(RescoringItem.changed == true()),
                func.count(RescoringOutcome.problems),
            )
            .select_from(RescoringItem)
            .join(RescoringOutcome, RescoringOutcome.id == RescoringItem.outcome_id)
            .where(mine)
        ).one()
        if postgres:
            session.execute(text("SET LOCAL enable_nestloop = on"))
        run.cursor = high
        run.batches = number
        run.processed += processed
        run.changed += changed
        run.problems += problems
        run.unchanged += processed - changed - problems
        run.failures = 0
        run.error = None
        session.flush()
    return True


def _inputs(
    session: Session, candidates: list[ColumnElement[bool]], low: int, last_id: int, derived: bool
) -> list[Any]:
    """The distinct inputs of the next rescoring.BATCH_SIZE candidates after `low`, each with the largest
    id it was seen at (one scan, one GROUP BY)."""
    columns = [Assessment.subject_group, Assessment.unit_groups, Assessment.answers]
    if derived:
        columns += [Assessment.subject_id, Assessment.reference_date]
    upcoming = (
        select(Assessment.id, *columns)
        .where(*candidates, Assessment.id > low, Assessment.id <= last_id)
        .order_by(Assessment.id)
        .limit(rescoring.BATCH_SIZE)
        .subquery()
    )
    keys = [upcoming.c[column.key] for column in columns]
    return session.execute(select(*keys, func.max(upcoming.c.id).label("last_id")).group_by(*keys)).all()


def _outcomes(
    session: Session,
    run: RescoringRun,
    model: CriteriaVersion,
    target: CriteriaVersionRecord,
    inputs: list[Any],
    number: int,
    derived: bool,
    cache: dict,
) -> list[dict[str, Any]]:
    """One outcome per distinct input of the batch, the engine run once per distinct input."""
    values = compute_many(session, model, {(i.subject_id, i.reference_date) for i in inputs}) if derived else {}
    if len(cache) > CACHE_LIMIT:
        cache.clear()
    outcomes = []
    for line in inputs:
        counted = values[(line.subject_id, line.reference_date)] if derived else {}
        key = (
            line.subject_group,
            line.unit_groups,
            line.answers,
            tuple(sorted((indicator, item["value"]) for indicator, item in counted.items())),
        )
        scored = cache.get(key)
        if scored is None:
            scored = cache[key] = _score(model, target, line.subject_group, line.unit_groups, line.answers, counted)
        outcomes.append(
            {
                "run_id": run.id,
                "batch": number,
                "subject_group": line.subject_group,
                "unit_groups": line.unit_groups,
                "answers": line.answers,
                "subject_id": line.subject_id if derived else None,
                "reference_date": line.reference_date if derived else None,
                **scored,
                "derived": None if run.dry_run else json.dumps(counted, sort_keys=True),
                "result": None if run.dry_run else scored["result"],
            }
        )
    return outcomes


def _score(
    model: CriteriaVersion,
    target: CriteriaVersionRecord,
    subject_group: str | None,
    unit_groups_text: str,
    answers_text: str,
    derived: dict,
) -> dict[str, Any]:
    """The engine on one distinct input: the outcome's columns (status, total, level, problems,
    request hash, result)."""
    try:
        answers, unit_groups = json.loads(answers_text), json.loads(unit_groups_text)
    except ValueError:
        return _problems(["answers: Không đọc được câu trả lời đã lưu."])
    try:
        result = score_inputs(model, answers, subject_group, unit_groups, derived)
    except Problem as problem:
        return _problems([f"{error.field.removeprefix('body.')}: {error.message}" for error in problem.errors or []])
    # A revision the service makes has no client body: its hash is that of what was scored.
    scored = {
        "answers": answers,
        "subject_group": subject_group,
        "unit_groups": unit_groups,
        "criteria_version": target.version_id,
    }
    return {
        "status": result.status,
        "total": Decimal(str(result.total)),
        "level": result.level,
        "problems": None,
        "request_hash": hashlib.sha256(json.dumps(scored, sort_keys=True).encode()).hexdigest(),
        "result": result.model_dump_json(),
    }


def _problems(sentences: list[str]) -> dict[str, Any]:
    return {
        "status": None,
        "total": None,
        "level": None,
        "problems": json.dumps(sentences or ["Câu trả lời không khớp phiên bản mới."], ensure_ascii=False),
        "request_hash": None,
        "result": None,
    }


def _insert_items(session: Session, run: RescoringRun, rows: ColumnElement[bool], number: int, derived: bool) -> None:
    """One item per assessment of the batch, joined to its outcome by its inputs."""
    a, o = Assessment.__table__.c, RescoringOutcome.__table__.c
    same_input = [
        o.run_id == run.id,
        o.batch == number,
        o.answers == a.answers,
        o.unit_groups == a.unit_groups,
        or_(o.subject_group == a.subject_group, and_(o.subject_group.is_(None), a.subject_group.is_(None))),
    ]
    if derived:
        same_input += [o.subject_id == a.subject_id, o.reference_date == a.reference_date]
    changed = case(
        (and_(o.problems.is_(None), or_(o.status != a.status, o.total != a.total)), true()),
        else_=false(),
    )
    into = _dialect_insert(session)(RescoringItem.__table__)
    session.execute(
        into.from_select(
            ["run_id", "assessment_id", "outcome_id", "changed"],
            select(literal(run.id, Integer()), a.id, o.id, changed)
            .select_from(Assessment.__table__.join(RescoringOutcome.__table__, and_(*same_input)))
            .where(rows),
        ).on_conflict_do_nothing()  # an assessment reached before (a batch done again): once
    )


def _dialect_insert(session: Session):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _write_revisions(
    session: Session, target: CriteriaVersionRecord, mine: ColumnElement[bool], batch: ColumnElement[bool], now
) -> None:
    """The batch's new revisions (one INSERT … SELECT) and its superseded rows (one UPDATE)."""
    a, o, i = Assessment.__table__.c, RescoringOutcome.__table__.c, RescoringItem.__table__.c
    # A reviewed assessment whose score may have changed goes back to be reviewed again.
    state = case(
        (a.state.in_((AssessmentState.DRAFT, AssessmentState.RETURNED)), a.state),
        else_=literal(AssessmentState.SUBMITTED.value, String()),
    )
    moment = literal(now, UTCDateTime())
    columns = {
        "public_id": new_public_id(literal(_id_prefix(now), String())),  # never derivable from the old id
        "request_hash": o.request_hash,
        "chain_id": a.chain_id,
        "revision": a.revision + 1,
        "supersedes_id": a.id,
        "title": a.title,
        "subject_id": a.subject_id,
        "period": a.period,
        "unit_id": a.unit_id,
        "reference_date": a.reference_date,
        "criteria_version_id": literal(target.id, Integer()),
        "criteria_content_hash": literal(target.content_hash, String()),
        "subject_group": a.subject_group,
        "unit_groups": a.unit_groups,
        "answers": a.answers,
        "evidence": a.evidence,
        "derived": o.derived,
        "result": o.result,
        "status": o.status,
        "total": o.total,
        "level": o.level,
        "state": state,
        "assessor_id": a.assessor_id,
        "row_version": literal(1, Integer()),
        "created_at": moment,
        "updated_at": moment,
    }
    scored = and_(mine, o.problems.is_(None))
    created = session.execute(
        insert(Assessment.__table__).from_select(
            list(columns),
            select(*columns.values())
            .select_from(
                RescoringItem.__table__.join(Assessment.__table__, a.id == i.assessment_id).join(
                    RescoringOutcome.__table__, o.id == i.outcome_id
                )
            )
            .where(scored, batch),
        ),
        execution_options={"preserve_rowcount": True},  # an INSERT's rowcount is not kept otherwise
    ).rowcount
    superseded = session.execute(
        update(Assessment.__table__)
        .where(
            a.id.in_(
                select(i.assessment_id)
                .select_from(RescoringItem.__table__.join(RescoringOutcome.__table__, o.id == i.outcome_id))
                .where(scored)
            ),
            a.state.in_(rescoring.OPEN),
            batch,
        )
        .values(state=AssessmentState.SUPERSEDED, row_version=a.row_version + 1, updated_at=now)
    ).rowcount
    if superseded != created:
        raise BatchRaced


def _finish(session: Session, run: RescoringRun, now) -> None:
    run.state = RescoringState.DONE
    run.finished_at = now
    run.worker = None
    run.error = None
    logger.info(
        "re-scoring run %s (part %s) done: %s processed, %s changed, %s problems in %s batches",
        run.parent_id,
        run.id,
        run.processed,
        run.changed,
        run.problems,
        run.batches,
    )
    _settle(session, run, now)


def _settle(session: Session, part: RescoringRun, now) -> None:
    """When the last part of a run has ended, the run ends: its counts, its state (failed if a
    part failed) and the audit event of its end. The run's row is locked first, so two parts
    ending at once settle it once."""
    session.flush()
    session.execute(
        update(RescoringRun)
        .where(RescoringRun.id == part.parent_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    run = session.get(RescoringRun, part.parent_id, populate_existing=True)
    if run is None or run.state not in rescoring.ACTIVE:
        return
    ended = session.execute(
        select(RescoringRun.state, RescoringRun.error).where(RescoringRun.parent_id == run.id)
    ).all()
    if any(state in rescoring.ACTIVE for state, _ in ended):
        return
    for name, value in rescoring.summed(session, run.id).items():
        setattr(run, name, value)
    failed = [error for state, error in ended if state == RescoringState.FAILED]
    run.state = RescoringState.FAILED if failed else RescoringState.DONE
    run.error = failed[0] if failed else None
    run.skipped = max(run.total - run.processed, 0)
    run.finished_at = now
    run.started_at = run.started_at or now
    audit(
        session,
        rescoring.run_scope(run),
        "fail" if failed else "finish",
        "rescoring_run",
        run.id,
        None,
        snapshot(run),
        **_counts(run),
    )
    session.flush()
    logger.info(
        "re-scoring run %s %s: %s processed, %s changed, %s problems, %s skipped in %s batches",
        run.id,
        run.state,
        run.processed,
        run.changed,
        run.problems,
        run.skipped,
        run.batches,
    )
