"""Importing recognition decisions of past years (quyết định công nhận): one row per subject
recognised; the rows sharing a commune code and a decision number are one decision, recorded
through the API's own `create_decision` and given its signed credentials by the API's own
`issue_for_decision`, in the same transaction, as `POST /decisions` does.

A decision recognises assessments that are reviewed (đã thẩm định) and pass: each row's subject
must have such an assessment for the title and year (import the assessments first, reviewed
with the day of their review). A decision already recorded (same commune, same number) is
matched, not recorded again, so the same file again creates nothing."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.assessments.models import Assessment, AssessmentState, Decision, Recognition
from app.assessments.schemas import DecisionCreate
from app.assessments.service import DECIDERS, create_decision
from app.auth.tokens import CredentialKeys
from app.config import get_settings
from app.credentials import service as credentials
from app.credentials.dependencies import Signing
from app.exceptions import Problem
from app.imports import subjects
from app.imports.kinds import Context, Kind, Row, RowError, RowErrors
from app.imports.sheets import Column
from app.rules import TitleCode
from app.stats.report import TITLE_NAMES
from app.text import clean_name
from app.units.service import in_jurisdiction, unit_named

# Where a session finds the app's credential signing (its keys and public address), put on the
# session factory by the app; the CLI and a separate worker sign with their settings' keys.
SIGNING = "credential_signing"
DECISION = ("decided_on", "signer", "title", "period")  # what every row of one decision repeats
COLUMNS = [
    Column(
        "commune_code", "Mã xã ra quyết định", True, "Mã xã, phường ban hành quyết định (hiểu theo ngày quyết định)."
    ),
    Column("number", "Số quyết định", True, "Ví dụ 15/QĐ-UBND. Các dòng cùng mã xã và cùng số là một quyết định."),
    Column("decided_on", "Ngày quyết định", True, "dd/mm/yyyy; không trước năm đánh giá và ngày thẩm định."),
    Column("signer", "Người ký", True, "Ví dụ Chủ tịch UBND phường Thanh Xuân."),
    Column("title", "Danh hiệu", True, subjects.TITLE_GUIDE),
    Column("period", "Năm đánh giá", True, "Năm của danh hiệu được công nhận, ví dụ 2024."),
    *subjects.columns(),
]
_EXAMPLE_DECISION = ["00367", "15/QĐ-UBND", "15/01/2025", "Chủ tịch UBND phường Thanh Xuân", "Công dân học tập", "2024"]
EXAMPLE = [
    [*_EXAMPLE_DECISION, "001085012345", "", "", ""],
    [*_EXAMPLE_DECISION, "", "Trần Thị Bình", "09/07/1987", "00367-001"],
]
# Assessment states in words, for the reasons a row is refused.
STATE_WORDS = {
    AssessmentState.DRAFT: "nháp",
    AssessmentState.SUBMITTED: "đã nộp",
    AssessmentState.RETURNED: "bị trả lại",
    AssessmentState.REVIEWED: "đã thẩm định",
    AssessmentState.DECIDED: "đã có quyết định công nhận",
}


def record_key(row: Row) -> tuple[str, str]:
    return (row.get("commune_code") or "").strip(), clean_name(row.get("number") or "").casefold()


def _same(row: Row, first: Row, key: str) -> bool:
    return clean_name(row.get(key) or "").casefold() == clean_name(first.get(key) or "").casefold()


def apply(context: Context, rows: list[Row]) -> tuple[int, int]:
    first = rows[0]
    errors = [
        RowError(key, f"Các dòng của cùng quyết định số {first.get('number')} phải ghi giống dòng {first.number}.", row)
        for row in rows[1:]
        for key in DECISION
        if not _same(row, first, key)
    ]
    title = subjects.title(first, "title")
    period = subjects.year(first, "period")
    decided_on = subjects.day(first, "decided_on")
    subject_ids: dict[int, Row] = {}
    for row in rows:
        try:
            subject_id = subjects.resolve(context, title, row)
        except RowError as unknown:
            errors.append(unknown)
            continue
        if subject_id in subject_ids:
            reason = f"Đối tượng này đã có ở dòng {subject_ids[subject_id].number} của cùng quyết định."
            errors.append(RowError(subjects.column_of(title, row), reason, row))
        else:
            subject_ids[subject_id] = row
    if errors:
        raise RowErrors(errors)
    if _recorded(context, first, title, period, decided_on, subject_ids):
        return 0, 1
    chosen = {
        subject_id: _assessment(context, title, period, subject_id, row) for subject_id, row in subject_ids.items()
    }
    errors = [found for found in chosen.values() if isinstance(found, RowError)]
    if errors:
        raise RowErrors(errors)
    body = DecisionCreate(
        commune_code=first.get("commune_code") or "",
        number=first.get("number") or "",
        decided_on=decided_on,
        signer=first.get("signer") or "",
        title=title,
        period=period,
        assessment_ids=[assessment.public_id for assessment in chosen.values()],
    )
    try:
        decision = create_decision(context.session, context.principal, body)
    except Problem as refused:
        raise _row_errors(refused, list(subject_ids.values()), title) from None
    signing = _signing(context)
    credentials.issue_for_decision(context.session, signing.keys, signing.base_url, context.principal, decision)
    return 1, 0


def _recorded(
    context: Context, first: Row, title: TitleCode, period: int, decided_on: date | None, subject_ids: dict[int, Row]
) -> bool:
    """Whether the commune already has this decision (by number): then it must be this same
    decision (title, year, subjects), and nothing is written."""
    if decided_on is None:
        return False
    try:
        commune = unit_named(context.session, (first.get("commune_code") or "").strip(), decided_on, "commune_code")
    except Problem:
        return False  # create_decision says what is wrong with the code
    decision = context.session.scalar(
        select(Decision).where(Decision.unit_id == commune.id, Decision.number == (first.get("number") or "").strip())
    )
    if decision is None:
        return False
    if context.principal.role not in DECIDERS or not in_jurisdiction(context.session, context.principal, commune.id):
        raise RowError("commune_code", "Xã ra quyết định ngoài phạm vi quản lý của tài khoản.", first)
    if (decision.title, decision.period) != (title, period):
        reason = (
            f"{commune.name} đã có quyết định số {decision.number} công nhận {TITLE_NAMES[TitleCode(decision.title)]} "
            f"năm {decision.period}."
        )
        raise RowError("number", reason, first)
    recognised = set(
        context.session.scalars(select(Recognition.subject_id).where(Recognition.decision_id == decision.id))
    )
    missing = [
        RowError(
            subjects.column_of(title, row),
            f"Quyết định số {decision.number} đã được ghi nhận nhưng không công nhận đối tượng này; không thêm được "
            "đối tượng vào một quyết định đã ghi.",
            row,
        )
        for subject_id, row in subject_ids.items()
        if subject_id not in recognised
    ]
    if missing:
        raise RowErrors(missing)
    return True


def _assessment(context: Context, title: TitleCode, period: int, subject_id: int, row: Row) -> Assessment | RowError:
    """The subject's reviewed, passing assessment of the title and year that the decision
    recognises, or why there is none (in the words of the assessment's state)."""
    found = list(
        context.session.scalars(
            select(Assessment)
            .where(
                Assessment.title == title,
                Assessment.subject_id == subject_id,
                Assessment.period == period,
                Assessment.state != AssessmentState.SUPERSEDED,
            )
            .order_by(Assessment.id.desc())
        )
    )
    column = subjects.column_of(title, row)
    name = f"{TITLE_NAMES[title]} năm {period}"
    reviewed = [assessment for assessment in found if assessment.state == AssessmentState.REVIEWED]
    if reviewed:
        # A failing one is refused by create_decision, with its reason.
        return next((assessment for assessment in reviewed if assessment.status == "dat"), reviewed[0])
    if not found:
        reason = (
            f"Đối tượng này chưa có bản đánh giá {name}: hãy nhập bản đánh giá (trạng thái đã thẩm định) trước khi "
            "nhập quyết định."
        )
        return RowError(column, reason, row)
    state = STATE_WORDS.get(AssessmentState(found[0].state), found[0].state)
    if found[0].state == AssessmentState.DECIDED:
        return RowError(column, f"Bản đánh giá {name} của đối tượng này đã có quyết định công nhận khác.", row)
    reason = (
        f"Bản đánh giá {name} của đối tượng này đang ở trạng thái “{state}”, chưa được thẩm định: quyết định chỉ "
        "công nhận bản đánh giá đã thẩm định và đạt."
    )
    return RowError(column, reason, row)


def _row_errors(refused: Problem, rows: list[Row], title: TitleCode) -> RowErrors:
    """create_decision's errors on the rows they are about: `body.assessment_ids.N` is the Nth
    subject's row; the decision's own fields are on the first row."""
    found = []
    for error in refused.errors or []:
        parts = error.field.split(".")
        if "assessment_ids" in parts and parts[-1].isdigit() and int(parts[-1]) < len(rows):
            row = rows[int(parts[-1])]
            found.append(RowError(subjects.column_of(title, row), error.message, row))
        else:
            key = parts[-1] if parts[-1] in {column.key for column in COLUMNS} else ""
            found.append(RowError(key, error.message, rows[0]))
    return RowErrors(found or [RowError("", refused.detail, rows[0])])


def _signing(context: Context) -> Signing:
    """The app's signing when the import runs in the app; otherwise (the CLI, `hoctap worker`)
    the keys of this process's settings, as `hoctap credentials issue-missing` uses."""
    signing = context.session.info.get(SIGNING) or context.cache.get(SIGNING)
    if signing is None:
        settings = get_settings()
        keys = CredentialKeys(settings.credential_key_dir, create=not settings.is_production)
        signing = context.cache[SIGNING] = Signing(keys, settings.public_base_url)
    return signing


KIND = Kind(
    key="decisions",
    label="Quyết định công nhận các năm trước",
    columns=COLUMNS,
    example=EXAMPLE,
    apply=apply,
    record_key=record_key,
    guide=(
        "Mỗi dòng là một đối tượng được công nhận; các dòng cùng mã xã và cùng số quyết định là một quyết định "
        "(cùng ngày, người ký, danh hiệu và năm).",
        "Quyết định chỉ công nhận bản đánh giá đã thẩm định và đạt: hãy nhập bản đánh giá (trạng thái đã thẩm định, "
        "với ngày thẩm định) trước. Mỗi danh hiệu được công nhận được cấp giấy công nhận điện tử như khi ghi quyết "
        "định qua API. Quyết định đã ghi (cùng xã, cùng số) không bị ghi lại.",
    ),
    roles=DECIDERS,
)
