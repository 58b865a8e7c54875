"""The criteria store: drafts, publication (immutable), retirement, resolution of the version
in force, diffs and dry-run evaluation."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from pathlib import Path

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record as audit
from app.audit.service import snapshot
from app.auth.principal import Principal
from app.criteria.models import CriteriaVersionProvince, CriteriaVersionRecord, VersionState
from app.criteria.schemas import EvaluationRequest, VersionDetail, VersionSummary
from app.exceptions import Conflict, FieldError, NotFound, Problem
from app.migrate import PROJECT_ROOT
from app.rules import (
    AnswersInvalid,
    Change,
    CriteriaVersion,
    EvaluationContext,
    InvalidCriteria,
    Result,
    canonical_json,
    content_hash,
    diff_versions,
    evaluate,
    load_file,
    load_text,
    parse_version,
)

CRITERIA_DIR = PROJECT_ROOT / "criteria"


def criteria_problem(invalid: InvalidCriteria) -> Problem:
    errors = [
        FieldError(
            field=issue.where + (f" (dòng {issue.line})" if issue.line else ""),
            code="invalid_criteria",
            message=issue.message,
        )
        for issue in invalid.issues
    ]
    return Problem(
        422,
        "invalid_criteria",
        "Bộ tiêu chí không hợp lệ",
        f"Tệp tiêu chí có {len(errors)} lỗi; xem danh sách errors.",
        errors=errors,
    )


@lru_cache(maxsize=256)
def _model_from_content(content_hash_: str, content: str) -> CriteriaVersion:
    # Published content never changes, so one parse per hash is enough.
    return parse_version(json.loads(content))


def model_of(record: CriteriaVersionRecord) -> CriteriaVersion:
    return _model_from_content(record.content_hash, record.content)


def _provinces(session: Session, record: CriteriaVersionRecord) -> list[str]:
    return list(
        session.scalars(
            select(CriteriaVersionProvince.province_code)
            .where(CriteriaVersionProvince.version_pk == record.id)
            .order_by(CriteriaVersionProvince.province_code)
        )
    )


def summary(session: Session, record: CriteriaVersionRecord) -> VersionSummary:
    return VersionSummary(
        title=record.title,
        version=record.version_id,
        name=record.name,
        state=VersionState(record.state),
        effective_from=record.effective_from,
        effective_to=record.effective_to,
        scope=record.scope,
        provinces=_provinces(session, record),
        provisional=record.provisional,
        content_hash=record.content_hash,
        published_at=record.published_at,
        retired_at=record.retired_at,
    )


def detail(session: Session, record: CriteriaVersionRecord) -> VersionDetail:
    return VersionDetail(**summary(session, record).model_dump(), content=json.loads(record.content))


def _visible_states(principal: Principal | None) -> list[str]:
    states = [VersionState.PUBLISHED, VersionState.RETIRED]
    return [*states, VersionState.DRAFT] if principal is not None and principal.is_admin else states


def get_version(
    session: Session, title: str, version_id: str, principal: Principal | None = None
) -> CriteriaVersionRecord:
    record = session.scalar(
        select(CriteriaVersionRecord).where(
            CriteriaVersionRecord.title == title,
            CriteriaVersionRecord.version_id == version_id,
            CriteriaVersionRecord.state.in_(_visible_states(principal)),
        )
    )
    if record is None:
        raise NotFound(f"Không có phiên bản tiêu chí {title}/{version_id}.")
    return record


def list_versions(
    session: Session,
    principal: Principal | None,
    *,
    title: str | None,
    state: VersionState | None,
    limit: int,
    offset: int,
) -> tuple[list[VersionSummary], int]:
    query = select(CriteriaVersionRecord).where(CriteriaVersionRecord.state.in_(_visible_states(principal)))
    if title:
        query = query.where(CriteriaVersionRecord.title == title)
    if state:
        query = query.where(CriteriaVersionRecord.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    records = session.scalars(
        query.order_by(
            CriteriaVersionRecord.title, CriteriaVersionRecord.effective_from, CriteriaVersionRecord.version_id
        )
        .limit(limit)
        .offset(offset)
    )
    return [summary(session, record) for record in records], total


def save_draft(
    session: Session, version: CriteriaVersion, actor: Principal | None = None
) -> tuple[CriteriaVersionRecord, bool]:
    """Store `version` as a draft (replacing an earlier draft of the same id).

    A published or retired version never changes: the same content again is accepted as a
    no-op (returns created=False); different content under its id is refused.
    """
    digest = content_hash(version)
    record = session.scalar(
        select(CriteriaVersionRecord).where(
            CriteriaVersionRecord.title == version.title, CriteriaVersionRecord.version_id == version.version
        )
    )
    if record is not None and record.state != VersionState.DRAFT:
        if record.content_hash == digest:
            return record, False
        raise Conflict(
            f"Phiên bản {version.title}/{version.version} đã công bố và không thể thay đổi. "
            "Văn bản sửa đổi phải được nạp với một mã phiên bản mới.",
            code="version_immutable",
        )
    before = snapshot(record) if record is not None else None
    if record is None:
        record = CriteriaVersionRecord(title=version.title, version_id=version.version, state=VersionState.DRAFT)
        session.add(record)
    record.name = version.name
    record.content = canonical_json(version)
    record.content_hash = digest
    record.effective_from = version.effective_from
    record.effective_to = version.effective_to
    record.scope = version.applies_to.scope
    record.provisional = version.any_provisional
    session.flush()
    session.execute(delete(CriteriaVersionProvince).where(CriteriaVersionProvince.version_pk == record.id))
    session.add_all(
        CriteriaVersionProvince(version_pk=record.id, province_code=code) for code in version.applies_to.provinces
    )
    audit(
        session,
        actor,
        "save_draft",
        "criteria_version",
        record.id,
        before,
        snapshot(record),
        version=f"{version.title}/{version.version}",
    )
    session.flush()
    return record, True


def publish(session: Session, record: CriteriaVersionRecord, actor_id: int | None) -> CriteriaVersionRecord:
    if record.state == VersionState.PUBLISHED:
        return record
    if record.state != VersionState.DRAFT:
        raise Conflict("Chỉ phiên bản nháp mới được công bố.", code="invalid_state")
    before = snapshot(record)
    record.state = VersionState.PUBLISHED
    record.published_at = clock.now()
    record.published_by_id = actor_id
    retire_replaced(session, record)
    audit(
        session,
        None,
        "publish",
        "criteria_version",
        record.id,
        before,
        snapshot(record),
        actor_id=actor_id,
        version=f"{record.title}/{record.version_id}",
    )
    session.flush()
    return record


def retire(session: Session, record: CriteriaVersionRecord, actor: Principal | None = None) -> CriteriaVersionRecord:
    if record.state != VersionState.PUBLISHED:
        raise Conflict("Chỉ phiên bản đã công bố mới được ngừng áp dụng.", code="invalid_state")
    before = snapshot(record)
    record.state = VersionState.RETIRED
    record.retired_at = clock.now()
    audit(
        session,
        actor,
        "retire",
        "criteria_version",
        record.id,
        before,
        snapshot(record),
        version=f"{record.title}/{record.version_id}",
    )
    session.flush()
    return record


def publish_file(session: Session, path: Path, actor_id: int | None = None) -> str:
    """Validate and publish one criteria file; returns one line for a report."""
    version = load_file(path)
    record, changed = save_draft(session, version)
    if not changed:
        return f"unchanged  {version.title}/{version.version}"
    publish(session, record, actor_id)
    return f"published  {version.title}/{version.version}  {record.content_hash[:12]}"


def shipped_files() -> list[Path]:
    return sorted(CRITERIA_DIR.glob("*/*.yaml"))


def publish_shipped(session: Session) -> str:
    """Seed loader: publish every shipped criteria file (idempotent)."""
    lines = []
    for path in shipped_files():
        try:
            lines.append(publish_file(session, path))
        except Conflict as conflict:
            raise Conflict(f"{path.relative_to(CRITERIA_DIR.parent)}: {conflict.detail}", code=conflict.code) from None
    # A shipped version that replaces another retires it, whichever of the two was published first.
    retired = []
    for record in session.scalars(
        select(CriteriaVersionRecord).where(CriteriaVersionRecord.state == VersionState.PUBLISHED)
    ).all():
        retired += retire_replaced(session, record)
    published = sum(line.startswith("published") for line in lines)
    summary_line = f"Criteria: {published} versions published, {len(lines) - published} already present"
    return summary_line + (f", {len(retired)} replaced and retired." if retired else ".")


def resolve(
    session: Session, title: str, province_code: str | None, on: date, managing_level: str | None = None
) -> CriteriaVersionRecord:
    """The published version of `title` in force on `on` for a province (and, for an
    organisation, its managing level): a version made for that province wins over a national
    one, a version made for the managing level over a general one; among equals the latest
    start wins."""
    specific = select(CriteriaVersionProvince.version_pk).where(CriteriaVersionProvince.province_code == province_code)
    query = (
        select(CriteriaVersionRecord)
        .where(
            CriteriaVersionRecord.title == title,
            CriteriaVersionRecord.state == VersionState.PUBLISHED,
            CriteriaVersionRecord.effective_from <= on,
            or_(CriteriaVersionRecord.effective_to.is_(None), CriteriaVersionRecord.effective_to > on),
            or_(CriteriaVersionRecord.scope == "national", CriteriaVersionRecord.id.in_(specific)),
        )
        .order_by(
            (CriteriaVersionRecord.scope == "national").asc(),
            CriteriaVersionRecord.effective_from.desc(),
            CriteriaVersionRecord.id.desc(),
        )
    )
    candidates = []
    for record in session.scalars(query):
        levels = model_of(record).applies_to.managing_levels
        if not levels:
            candidates.append((1, record))
        elif managing_level in levels:
            candidates.append((0, record))
    if not candidates:
        where = f" cho tỉnh {province_code}" if province_code else ""
        level = f", đơn vị do cấp {managing_level} quản lý" if managing_level else ""
        raise NotFound(f"Không có bộ tiêu chí {title} đang áp dụng ngày {on:%d/%m/%Y}{where}{level}.")
    return min(candidates, key=lambda item: item[0])[1]


def retire_replaced(session: Session, record: CriteriaVersionRecord, actor: Principal | None = None) -> list[str]:
    """Retire the published versions that `record` says it replaces (same title)."""
    retired = []
    for version_id in model_of(record).replaces:
        old = session.scalar(
            select(CriteriaVersionRecord).where(
                CriteriaVersionRecord.title == record.title,
                CriteriaVersionRecord.version_id == version_id,
                CriteriaVersionRecord.state == VersionState.PUBLISHED,
            )
        )
        if old is not None:
            retire(session, old, actor)
            retired.append(version_id)
    return retired


def diff(old: CriteriaVersionRecord, new: CriteriaVersionRecord) -> list[Change]:
    return diff_versions(model_of(old), model_of(new))


def dry_run(record: CriteriaVersionRecord, body: EvaluationRequest) -> Result:
    context = EvaluationContext(
        subject_group=body.context.subject_group, unit_groups=frozenset(body.context.unit_groups)
    )
    try:
        return evaluate(model_of(record), body.answers, body.derived, context)
    except AnswersInvalid as invalid:
        raise answers_problem(invalid) from None


def answers_problem(invalid: AnswersInvalid, context_field: str = "body.context.") -> Problem:
    """The engine's issues with the names of the fields the caller sent: `answers.x` is
    `body.answers.x`; the engine's `context.subject_group` is where the request carries the
    context (`body.context.` for a dry run, `body.` for an assessment)."""
    errors = [
        FieldError(
            field=(context_field + issue.field.removeprefix("context."))
            if issue.field.startswith("context.")
            else "body." + issue.field,
            code=issue.code,
            message=issue.message,
        )
        for issue in invalid.issues
    ]
    return Problem(
        422,
        "invalid_answers",
        "Câu trả lời không khớp bộ tiêu chí",
        "Một số câu trả lời không hợp lệ; xem danh sách errors.",
        errors=errors,
    )


def parse_upload(text: str) -> CriteriaVersion:
    try:
        return load_text(text)
    except InvalidCriteria as invalid:
        raise criteria_problem(invalid) from None


def json_schema_text() -> str:
    """The JSON Schema of criteria files, as committed in criteria/schema.json."""
    schema = CriteriaVersion.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "hoctap criteria version"
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
