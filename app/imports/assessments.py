"""Importing assessments (bản đánh giá), a template per title and criteria version: the variant
is "<title>:<criteria version>", e.g. "citizen:qd324-2023" (`GET /imports/kinds` lists them).
One row an assessment: the subject, the period, one column per indicator the assessor answers
(derived indicators are computed by the registry, as in the API), and the state to leave it in.

Each row is filed through the API's own `create_assessment` (scored by the rule engine, the
version in force checked) and moved on through the API's own `transition`:
- nháp (draft), đã nộp (submitted, the default), or đã thẩm định (reviewed). Reviewing needs a
  reviewer other than the assessor, except for an administrator; in an import the importing
  account files every row, so only an administrator's import may leave rows reviewed. A review
  done on paper keeps its day (Ngày thẩm định), so a past decision can follow it.
- The assessment's client id is a UUID 5 of title, subject, period and version: the same file
  again replays into the same assessments and creates nothing; a row whose answers changed since
  is refused (correct it with a revision, on the pages or through the API)."""

from __future__ import annotations

import re
import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments.models import Assessment, AssessmentState
from app.assessments.schemas import AssessmentCreate, Transition
from app.assessments.service import (
    create_assessment,
    default_reference_date,
    etag,
    transition,
    version_in_force,
)
from app.criteria.models import CriteriaVersionRecord, VersionState
from app.criteria.service import model_of
from app.exceptions import Conflict, Problem, invalid_field
from app.imports import subjects
from app.imports.kinds import Context, Kind, Row, RowError
from app.imports.sheets import Column
from app.registry.service import subject_unit
from app.rules import CriteriaVersion, TitleCode
from app.rules.model import Indicator, IndicatorKind
from app.stats.report import TITLE_NAMES
from app.text import plain
from app.web import forms

# Client ids of imported assessments: uuid5(NAMESPACE, "title|subject|period|version").
NAMESPACE = uuid.UUID("6f0f2d7c-3d1e-5b8e-9a57-0c1d2b3e4f50")
# What the assessment is left in, and how far along the API's transitions that is.
STATES = {
    "nhap": AssessmentState.DRAFT,
    "draft": AssessmentState.DRAFT,
    "da nop": AssessmentState.SUBMITTED,
    "nop": AssessmentState.SUBMITTED,
    "submitted": AssessmentState.SUBMITTED,
    "da tham dinh": AssessmentState.REVIEWED,
    "tham dinh": AssessmentState.REVIEWED,
    "reviewed": AssessmentState.REVIEWED,
}
_ORDER = [AssessmentState.DRAFT, AssessmentState.SUBMITTED, AssessmentState.REVIEWED, AssessmentState.DECIDED]
YES = {"co", "dat", "x", "yes", "true", "1"}
NO = {"khong", "khong dat", "chua dat", "no", "false", "0"}


def _record(session: Session, variant: str) -> tuple[TitleCode, CriteriaVersionRecord]:
    """The title and published criteria version a variant names; 422 on `variant` otherwise."""
    title, _, version_id = variant.partition(":")
    record = None
    if title in subjects.TITLES:
        record = session.scalar(
            select(CriteriaVersionRecord).where(
                CriteriaVersionRecord.title == title,
                CriteriaVersionRecord.version_id == version_id,
                CriteriaVersionRecord.state == VersionState.PUBLISHED,
            )
        )
    if record is None:
        raise invalid_field(
            "variant",
            "unknown_variant",
            f"Không có mẫu đánh giá “{variant}”: ghi danh hiệu và bộ tiêu chí đang công bố, ví dụ "
            "citizen:qd324-2023 (danh sách: GET /api/v1/imports/kinds).",
        )
    return TitleCode(title), record


def variants(session: Session) -> list[tuple[str, str]]:
    """One variant per published criteria version of a title whose subjects a file can name."""
    records = session.scalars(
        select(CriteriaVersionRecord)
        .where(
            CriteriaVersionRecord.state == VersionState.PUBLISHED,
            CriteriaVersionRecord.title.in_([title.value for title in subjects.TITLES]),
        )
        .order_by(CriteriaVersionRecord.title, CriteriaVersionRecord.effective_from, CriteriaVersionRecord.id)
    )
    found = []
    for record in records:
        until = f" đến {record.effective_to:%d/%m/%Y}" if record.effective_to else ""
        found.append(
            (f"{record.title}:{record.version_id}", f"{record.name} (từ {record.effective_from:%d/%m/%Y}{until})")
        )
    return found


def _answered(model: CriteriaVersion) -> list[tuple[Indicator, forms.FormField]]:
    """The indicators an assessor answers, in the version's order, as the assessment form shows
    them (forms.sections), over every subject group; derived ones are the registry's."""
    fields: dict[str, forms.FormField] = {}
    for group in [None, *(group.id for group in model.subject_groups)]:
        for section in forms.sections(model, group):
            for field in section.fields:
                if field.kind != IndicatorKind.DERIVED:
                    fields.setdefault(field.id, field)
    return [(indicator, fields[indicator.id]) for indicator in model.indicators() if indicator.id in fields]


def _indicator_guide(model: CriteriaVersion, indicator: Indicator, field: forms.FormField) -> str:
    if indicator.kind == IndicatorKind.YES_NO:
        guide = "có hoặc không."
    elif indicator.kind == IndicatorKind.SCORE:
        guide = f"Điểm từ 0 đến {field.max_points}" + (f", bước {field.step}" if field.step != "1" else "") + "."
    else:
        bounds = f", từ {field.minimum} đến {field.maximum}" if field.minimum and field.maximum else ""
        guide = f"Một số{f' ({field.unit})' if field.unit else ''}{bounds}; dấu phẩy hay dấu chấm thập phân đều được."
    if indicator.groups is not None:
        labels = {group.id: group.label for group in model.subject_groups}
        guide += " Chỉ cho nhóm: " + ", ".join(labels.get(group, group) for group in indicator.groups) + "."
    if indicator.levels is not None:
        labels = {level.id: level.label for level in model.levels}
        guide += " Chỉ xét ở: " + ", ".join(labels.get(level, level) for level in indicator.levels) + "."
    if field.mandatory:
        guide += " Bắt buộc."
    if field.provisional:
        guide += " (Chưa đối chiếu văn bản chính thức.)"
    return guide


def variant_columns(session: Session, variant: str) -> list[Column]:
    title, record = _record(session, variant)
    model = model_of(record)
    columns = [
        *subjects.columns(title),
        Column("period", "Năm đánh giá", True, "Năm của kỳ đánh giá, ví dụ 2025."),
        Column(
            "reference_date",
            "Ngày tham chiếu",
            False,
            "dd/mm/yyyy, trong năm đánh giá; bỏ trống là 31/12 của năm đó (hôm nay nếu năm chưa hết).",
        ),
    ]
    if model.subject_groups:
        labels = ", ".join(group.label for group in model.subject_groups)
        columns.append(Column("subject_group", "Nhóm đối tượng", True, f"Một trong: {labels}."))
    if model.overrides:
        labels = "; ".join(override.label for override in model.overrides)
        guide = f"Bỏ trống, hoặc (địa bàn thuộc nhóm có ngưỡng riêng): {labels}."
        columns.append(Column("unit_groups", "Nhóm địa bàn", False, guide))
    headers = {column.header.casefold() for column in columns} | {"trạng thái", "ngày thẩm định"}
    for indicator, field in _answered(model):
        header = field.label
        if header.casefold() in headers:  # two indicators worded alike: the header says which
            header = f"{field.label} ({indicator.id})"
        headers.add(header.casefold())
        required = indicator.mandatory and indicator.groups is None and indicator.levels is None
        columns.append(Column(indicator.id, header, required, _indicator_guide(model, indicator, field)))
    columns += [
        Column(
            "state",
            "Trạng thái",
            False,
            "nháp, đã nộp (bỏ trống là đã nộp) hoặc đã thẩm định. Người thẩm định phải khác người lập bản "
            "đánh giá, và khi nhập tệp thì tài khoản nhập là người lập: chỉ tài khoản quản trị nhập được "
            "“đã thẩm định”.",
        ),
        Column(
            "reviewed_on",
            "Ngày thẩm định",
            False,
            "Chỉ khi đã thẩm định: ngày thẩm định trên hồ sơ (dd/mm/yyyy, từ năm đánh giá đến hôm nay); bỏ trống "
            "là hôm nay. Quyết định công nhận không được ghi ngày trước ngày thẩm định.",
        ),
    ]
    return columns


def _choice(written: str, row: Row, key: str, options: dict[str, str], what: str) -> str:
    """An option written by its id or its label (with or without accents)."""
    written = plain(written)
    by_word = {plain(label): option for option, label in options.items()} | {plain(o): o for o in options}
    if written not in by_word:
        raise RowError(key, f"{what} phải là một trong: {', '.join(options.values())}.", row)
    return by_word[written]


def _answers(model: CriteriaVersion, group: str | None, row: Row) -> dict:
    """The row's answers as the API takes them, read by the assessment form's own reader."""
    form = {}
    for indicator, _ in _answered(model):
        written = row.get(indicator.id)
        if not written:
            continue
        if indicator.groups is not None and group not in indicator.groups:
            raise RowError(indicator.id, "Chỉ số này không áp dụng cho nhóm đối tượng đã chọn; để trống.", row)
        if indicator.kind == IndicatorKind.YES_NO:
            word = plain(written)
            if word not in YES | NO:
                raise RowError(indicator.id, "Ghi có hoặc không.", row)
            written = "yes" if word in YES else "no"
        form[forms.FIELD_PREFIX + indicator.id] = written
    return forms.read_answers(model, group, form)


def _version(context: Context) -> tuple[TitleCode, CriteriaVersionRecord, CriteriaVersion]:
    if "version" not in context.cache:
        title, record = _record(context.session, context.variant or "")
        context.cache["version"] = title, record, model_of(record)
    return context.cache["version"]


def apply(context: Context, rows: list[Row]) -> tuple[int, int]:
    row = rows[0]
    title, record, model = _version(context)
    subject_id = subjects.resolve(context, title, row)
    period = subjects.year(row, "period")
    group = None
    if model.subject_groups:
        options = {group.id: group.label for group in model.subject_groups}
        group = _choice(row.get("subject_group") or "", row, "subject_group", options, "Nhóm đối tượng")
    unit_groups = set()
    if model.overrides:
        options = {override.unit_group: override.label for override in model.overrides}
        for written in filter(None, (part.strip() for part in re.split(r"[,;]", row.get("unit_groups") or ""))):
            unit_groups.add(_choice(written, row, "unit_groups", options, "Nhóm địa bàn"))
    target = STATES.get(plain(row.get("state") or "đã nộp"))
    if target is None:
        raise RowError("state", "Trạng thái phải là nháp, đã nộp hoặc đã thẩm định.", row)
    reviewed_on = subjects.day(row, "reviewed_on")
    if reviewed_on is not None and target != AssessmentState.REVIEWED:
        raise RowError("reviewed_on", "Chỉ ghi ngày thẩm định khi trạng thái là đã thẩm định.", row)
    body = AssessmentCreate(
        id=str(uuid.uuid5(NAMESPACE, f"{title.value}|{subject_id}|{period}|{record.version_id}")),
        title=title,
        subject_id=subject_id,
        period=period,
        criteria_version=record.version_id,
        reference_date=subjects.day(row, "reference_date"),
        subject_group=group,
        unit_groups=sorted(unit_groups),
        answers=_answers(model, group, row),
        # Filed as a draft and moved on by the API's transitions, so the same answers imported
        # again in a later state replay into the same assessment.
        submit=False,
    )
    try:
        assessment, created = create_assessment(context.session, context.principal, body)
    except Conflict as conflict:
        if conflict.code != "idempotency_conflict":
            raise
        reason = (
            f"Đối tượng này đã có bản đánh giá {TITLE_NAMES[title]} năm {period} theo bộ tiêu chí "
            f"{record.version_id} (nhập trước đây) với nội dung khác; hãy sửa bản đó (tạo bản sửa) trên trang "
            "hoặc qua API, không nhập lại."
        )
        raise RowError(subjects.column_of(title, row), reason, row) from None
    except Problem as refused:
        if not any(error.code == "not_in_force" for error in refused.errors or []):
            raise
        raise _other_version(context, body, record, row) from None
    _move_on(context, row, assessment, target, reviewed_on)
    return (1, 0) if created else (0, 1)


def _other_version(context: Context, body: AssessmentCreate, record: CriteriaVersionRecord, row: Row) -> RowError:
    """A row the template's version does not apply to: which version does, and so which template
    to use (the API's own words speak of a body's field)."""
    reference_date = body.reference_date or default_reference_date(body.period)
    unit_id = subject_unit(context.session, body.title, body.subject_id)
    in_force = version_in_force(
        context.session, body.title, body.subject_id, unit_id, reference_date, None, "period"
    ).version_id
    reason = (
        f"Mẫu này theo bộ tiêu chí {record.version_id}; bộ tiêu chí áp dụng cho đối tượng này vào ngày "
        f"{reference_date:%d/%m/%Y} là {in_force}: hãy nhập dòng này bằng mẫu {body.title.value}:{in_force}."
    )
    return RowError("reference_date" if body.reference_date else "period", reason, row)


def _move_on(
    context: Context, row: Row, assessment: Assessment, target: AssessmentState, reviewed_on: date | None
) -> None:
    """Take the assessment to `target` through the API's transitions; one already there or
    beyond (reviewed, decided, or since corrected by a revision) is left as it is."""
    if assessment.state == AssessmentState.SUPERSEDED:
        return
    if assessment.state == AssessmentState.RETURNED:
        reason = (
            f"Bản đánh giá này đã bị trả lại ({assessment.return_reason}); hãy sửa trên trang hoặc qua API rồi nộp lại."
        )
        raise RowError("state", reason, row)
    while _ORDER.index(AssessmentState(assessment.state)) < _ORDER.index(target):
        action = "submit" if assessment.state == AssessmentState.DRAFT else "review"
        try:
            transition(
                context.session,
                context.principal,
                assessment,
                Transition(action=action),
                etag(assessment),
                reviewed_on=reviewed_on if action == "review" else None,
            )
        except Problem as refused:
            column = "reviewed_on" if refused.errors and refused.errors[0].field == "body.reviewed_on" else "state"
            reason = refused.errors[0].message if refused.errors else refused.detail
            if action == "review" and refused.status == 403:
                reason += " Khi nhập tệp, tài khoản nhập là người lập: chỉ tài khoản quản trị nhập được “đã thẩm định”."
            raise RowError(column, reason, row) from None


KIND = Kind(
    key="assessments",
    label="Bản đánh giá (theo danh hiệu và bộ tiêu chí)",
    columns=[],
    example=[],
    apply=apply,
    guide=(
        "Mỗi dòng là một bản đánh giá của một đối tượng cho một năm, theo đúng bộ tiêu chí của mẫu (bộ tiêu chí "
        "phải đang áp dụng vào ngày tham chiếu). Mỗi chỉ số một cột; chỉ số do hệ thống tính (tỉ lệ thành viên đạt "
        "danh hiệu…) không có cột.",
        "Nhập lại cùng tệp không tạo bản đánh giá mới.",
    ),
    variant_columns=variant_columns,
    variants=variants,
)
