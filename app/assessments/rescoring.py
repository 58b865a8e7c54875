"""Re-scoring the open assessments of a title under another published criteria version, at scale:
the runs (chấm lại hàng loạt). This module makes and reads them; `rescoring_jobs.py` works them.

`POST /assessment-rescorings` makes a run (RescoringRun: title, version, scope, the last
assessment id it covers), split into PARTS parts by id range, and, once the request has
committed, queues a job per part. `GET …/{id}` shows the run's progress (its parts' counts
summed) and `GET …/{id}/items` a page of what happened to each assessment.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    event,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.types import String

from app.assessments.models import (
    Assessment,
    AssessmentState,
    RescoringItem,
    RescoringOutcome,
    RescoringRun,
    RescoringState,
)
from app.assessments.schemas import RescoreItem, RescoreRequest, RescoreRun
from app.assessments.service import DECIDERS
from app.audit.service import record as audit
from app.audit.service import snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.criteria.models import CriteriaVersionRecord, VersionState
from app.exceptions import Conflict, Forbidden, NotFound, invalid_field
from app.registry.service import within
from app.units.service import in_jurisdiction

BATCH_SIZE = 10_000  # assessments per batch (one transaction)
PARTS = 2  # a run is split into this many parts (id ranges), each worked by its own job at once

PENDING = "rescoring_pending_runs"  # session.info: runs made in this transaction, queued after commit
START = "rescoring_start"  # session factory info: callback(run_id) that queues a run's job

OPEN = tuple(AssessmentState.open_states())
ACTIVE = (RescoringState.QUEUED, RescoringState.RUNNING)

logger = logging.getLogger("hoctap.rescoring")


# --- the request: a run is made and queued ------------------------------------------------------


def _target(session: Session, title: str, version_id: str) -> CriteriaVersionRecord:
    target = session.scalar(
        select(CriteriaVersionRecord).where(
            CriteriaVersionRecord.title == title, CriteriaVersionRecord.version_id == version_id
        )
    )
    if target is None:
        raise invalid_field(
            "body.to_version",
            "unknown_version",
            f"Không có phiên bản tiêu chí {version_id} của danh hiệu {title}.",
        )
    if target.state != VersionState.PUBLISHED:
        raise Conflict(
            f"Phiên bản {version_id} (trường to_version) đang ở trạng thái {target.state}: "
            "chỉ chấm lại theo phiên bản đang công bố.",
            code="invalid_state",
        )
    return target


def candidates(title: str, target_id: int, scope: Principal) -> list[ColumnElement[bool]]:
    """The open assessments of the title, in the scope, not already under the target version."""
    return [
        Assessment.title == title,
        Assessment.state.in_(OPEN),
        Assessment.criteria_version_id != target_id,
        within(scope, Assessment.unit_id),
    ]


def start(session: Session, principal: Principal, body: RescoreRequest) -> RescoringRun:
    """Make a run over the open assessments of the title in the caller's units; its job is
    queued when the request's transaction commits. Decided assessments are never touched."""
    if principal.role not in DECIDERS:
        raise Forbidden("Chỉ cán bộ xã/phường hoặc quản trị viên được chấm lại.")
    target = _target(session, body.title, body.to_version)
    total, first_id, last_id = session.execute(
        select(func.count(), func.min(Assessment.id), func.max(Assessment.id)).where(
            *candidates(body.title, target.id, principal)
        )
    ).one()
    fields = {
        "title": body.title,
        "criteria_version_id": target.id,
        "dry_run": body.dry_run,
        "state": RescoringState.QUEUED,
        "scope_all": principal.is_admin,
        "scope_units": json.dumps([] if principal.is_admin else sorted(principal.unit_ids)),
        "created_by_id": principal.id or None,
    }
    run = RescoringRun(**fields, last_id=last_id or 0, cursor=0, total=total)
    session.add(run)
    session.flush()
    # Its parts: the id range cut in equal spans, each worked by its own job at the same time.
    count = max(1, min(PARTS, -(-total // BATCH_SIZE)))
    low, high = (first_id or 1) - 1, last_id or 0
    span = -(-(high - low) // count)
    parts = [
        RescoringRun(
            **fields,
            parent_id=run.id,
            cursor=low + k * span,
            last_id=high if k == count - 1 else low + (k + 1) * span,
            total=0,
        )
        for k in range(count)
    ]
    session.add_all(parts)
    session.flush()
    audit(
        session,
        principal,
        "start",
        "rescoring_run",
        run.id,
        None,
        snapshot(run),
        title=body.title,
        to_version=body.to_version,
        dry_run=body.dry_run,
        total=total,
    )
    session.flush()
    session.info.setdefault(PENDING, []).extend(part.id for part in parts)
    return run


def install(factory: sessionmaker[Session], start_job: Callable[[int], Any] | None = None) -> None:
    """Queue the job of every run a transaction of `factory`'s sessions made, once it has
    committed (a job started earlier could not see its run). Idempotent."""
    if start_job is not None:
        factory.kw.setdefault("info", {})[START] = start_job
    if not event.contains(factory, "after_commit", _after_commit):
        event.listen(factory, "after_commit", _after_commit)
        event.listen(factory, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    runs = session.info.pop(PENDING, None)
    start_job = session.info.get(START)
    for run_id in runs or ():
        if start_job is None:
            continue  # nobody to queue it with: resume() takes it up
        try:
            start_job(run_id)
        except Exception as error:  # the run is recorded; the periodic resume takes it up
            logger.warning("could not queue re-scoring run %s: %s", run_id, type(error).__name__)


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


# --- reading a run ------------------------------------------------------------------------------


def _visible(session: Session, principal: Principal, run: RescoringRun) -> bool:
    """A run is seen by admins and by those whose jurisdiction covers every unit of its
    creator's (a run made by an admin covers everything: admins only)."""
    if principal.is_admin:
        return True
    units = json.loads(run.scope_units)
    return not run.scope_all and bool(units) and all(in_jurisdiction(session, principal, unit) for unit in units)


def get_run(session: Session, principal: Principal, run_id: int) -> RescoringRun:
    run = session.get(RescoringRun, run_id)
    if run is None or run.parent_id is not None or not _visible(session, principal, run):
        raise NotFound("Không tìm thấy lần chấm lại.")
    return run


def run_out(session: Session, run: RescoringRun) -> RescoreRun:
    version = session.scalar(
        select(CriteriaVersionRecord.version_id).where(CriteriaVersionRecord.id == run.criteria_version_id)
    )
    counts = summed(session, run.id)
    return RescoreRun(
        id=run.id,
        title=run.title,
        to_version=version,
        dry_run=run.dry_run,
        state=run.state,
        total=run.total,
        **counts,
        skipped=run.skipped,
        error=run.error,
        created_by=run.created_by_id,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def summed(session: Session, run_id: int) -> dict[str, int]:
    """The counts of a run: its parts' summed."""
    part = RescoringRun
    columns = ("processed", "changed", "unchanged", "problems", "batches")
    sums = session.execute(
        select(*(func.coalesce(func.sum(getattr(part, name)), 0) for name in columns)).where(part.parent_id == run_id)
    ).one()
    return {name: int(value) for name, value in zip(columns, sums, strict=True)}


def parts(session: Session, run_id: int) -> list[int]:
    """The ids of a run's parts, in id order."""
    return list(
        session.scalars(select(RescoringRun.id).where(RescoringRun.parent_id == run_id).order_by(RescoringRun.id))
    )


def items(session: Session, run: RescoringRun, *, limit: int, offset: int) -> tuple[list[RescoreItem], int]:
    """A page of the run's items in assessment order, and how many there are."""
    old, new = aliased(Assessment), aliased(Assessment)
    item, outcome = RescoringItem, RescoringOutcome
    mine = select(RescoringRun.id).where(RescoringRun.parent_id == run.id)
    query = (
        select(
            old.public_id,
            CriteriaVersionRecord.version_id,
            old.status,
            old.total,
            outcome.status,
            outcome.total,
            item.changed,
            outcome.problems,
        )
        .select_from(item)
        .join(old, old.id == item.assessment_id)
        .join(CriteriaVersionRecord, CriteriaVersionRecord.id == old.criteria_version_id)
        .join(outcome, outcome.id == item.outcome_id)
        .where(item.run_id.in_(mine))
        .order_by(item.assessment_id)
        .limit(limit)
        .offset(offset)
    )
    if run.dry_run:
        query = query.add_columns(literal(None, String()).label("new_id"))
    else:
        # The new revision is the one row that supersedes the old (a unique index).
        query = query.add_columns(new.public_id).outerjoin(
            new,
            and_(
                new.supersedes_id == old.id,
                new.criteria_version_id == run.criteria_version_id,
                outcome.problems.is_(None),
            ),
        )
    page = [
        RescoreItem(
            assessment_id=public_id,
            new_assessment_id=new_id,
            from_version=version,
            old_status=old_status,
            old_total=float(old_total),
            new_status=new_status,
            new_total=float(new_total) if new_total is not None else None,
            changed=bool(changed),
            problems=json.loads(problems) if problems else [],
        )
        for public_id, version, old_status, old_total, new_status, new_total, changed, problems, new_id in (
            session.execute(query)
        )
    ]
    total = session.scalar(select(func.count()).select_from(item).where(item.run_id.in_(mine))) or 0
    return page, total


def run_scope(run: RescoringRun) -> Principal:
    """The creator's scope as the run recorded it (also the actor of the run's audit events)."""
    return Principal(
        id=run.created_by_id or 0,
        username="",
        role=Role.ADMIN if run.scope_all else Role.COMMUNE_OFFICER,
        unit_ids=frozenset(json.loads(run.scope_units)),
    )
