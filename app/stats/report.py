"""The annual report of a unit (báo cáo năm) as XLSX or CSV: per title (and per segment a target
names) registered, assessed, recognised, percentage, and one row for every target that applies
with its document, what is still short of it and whether it is met; then the reporting deadlines
of the documents that bind the unit (service.deadlines_binding). The CSV holds the same rows as
the workbook: the first sheet, an empty row, then the deadlines sheet."""

from __future__ import annotations

import io
from datetime import date, timedelta

from fastapi import Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy.orm import Session

from app import clock
from app.rules import TitleCode
from app.spreadsheets import append_row, csv_bytes
from app.stats import counting
from app.stats.schemas import AppliedTarget, TargetSource
from app.stats.service import UNNUMBERED, PlanDeadline, deadlines_binding, progress
from app.units.models import AdministrativeUnit

TITLE_NAMES = {
    TitleCode.CITIZEN: "Công dân học tập",
    TitleCode.FAMILY: "Gia đình học tập",
    TitleCode.CLAN: "Dòng họ học tập",
    TitleCode.COMMUNITY: "Cộng đồng học tập (thôn, tổ dân phố)",
    TitleCode.UNIT: "Đơn vị học tập",
    TitleCode.COMMUNE: "Cộng đồng học tập cấp xã",
    TitleCode.DISTRICT: "Cộng đồng học tập cấp huyện",
    TitleCode.PROVINCE: "Cộng đồng học tập cấp tỉnh",
}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# One row per title and segment with the target in force only: the columns the reporting chain's
# consolidated report (app/reporting/overview.py) writes its summed rows under.
HEADER = [
    "Danh hiệu",
    "Nhóm",
    "Đăng ký",
    "Được đánh giá",
    "Được công nhận",
    "Mẫu số",
    "Định nghĩa mẫu số",
    "Tỉ lệ (%)",
    "Chỉ tiêu (%)",
    "Còn thiếu (điểm %)",
    "Văn bản chỉ tiêu",
]
# The annual report: one row per target that applies.
REPORT_HEADER = [
    "Danh hiệu",
    "Nhóm đối tượng",
    "Đăng ký",
    "Được đánh giá",
    "Được công nhận",
    "Mẫu số",
    "Định nghĩa mẫu số",
    "Tỉ lệ (%)",
    "Chỉ tiêu (%)",
    "Còn thiếu (điểm %)",
    "Tình trạng",
    "Văn bản đặt chỉ tiêu",
    "Đơn vị đặt chỉ tiêu",
    "Câu nêu chỉ tiêu",
    "Câu trên là",
]
WIDTHS = (30, 26, 10, 12, 14, 10, 40, 10, 11, 12, 18, 36, 28, 60, 40)
LEGEND = (
    "Mỗi chỉ tiêu áp dụng cho đơn vị là một dòng, văn bản gần đơn vị nhất trước. Còn thiếu: số điểm phần trăm "
    "còn phải tăng để đạt chỉ tiêu, bằng 0 khi đã đạt. Ô trống: không áp dụng hoặc chưa tính được."
)
DEADLINE_HEADER = [
    "Hạn",
    "Hằng năm",
    "Văn bản",
    "Cơ quan ban hành",
    "Phạm vi của văn bản",
    "Vì sao áp dụng cho đơn vị",
    "Nội dung",
]
DEADLINE_WIDTHS = (12, 10, 28, 40, 30, 40, 80)

SENTENCE_KINDS = {
    "verbatim": "Nguyên văn của văn bản",
    "secondary": "Lời của nguồn thứ cấp nhắc lại văn bản, không phải nguyên văn",
    "summary": "Tóm tắt của hệ thống, không phải nguyên văn",
}
BINDS_AS = {
    "own": "Văn bản của chính đơn vị",
    "ancestor": "Văn bản của cấp trên",
    "former": "Văn bản của đơn vị cũ, nay thuộc địa bàn đơn vị (sau sắp xếp đơn vị hành chính)",
    "national": "Văn bản áp dụng toàn quốc",
}
NO_TARGET = "Không có chỉ tiêu"
NOT_COUNTED = "Chưa tính được (mẫu số bằng 0)"
MET = "Đã đạt"
NOT_MET = "Chưa đạt"


def document_cell(number: str | None, day: date | None) -> str:
    """A document by number and date (two Hà Nội plans carry the number 290)."""
    cell = number or UNNUMBERED
    return cell + (f" ngày {day:%d/%m/%Y}" if day else "")


def source_cell(source: TargetSource) -> str:
    """The target's document and its issuer; the number comes first, as officers cite it."""
    return f"{document_cell(source.document_number, source.document_date)} — {source.issuer}"


def sentence_kind_cell(source: TargetSource) -> str:
    """Whether the sentence shown is the document's own words, and if not where it comes from."""
    kind = SENTENCE_KINDS[source.sentence_kind]
    if source.quoted_from and source.sentence_kind != "verbatim":
        return f"{kind}; nguồn: {source.quoted_from}"
    return kind


def _ended(valid_to: date | None) -> str:
    return f" (đến hết {valid_to - timedelta(days=1):%d/%m/%Y})" if valid_to else ""


def target_scope_cell(target: AppliedTarget) -> str:
    if target.unit is not None:
        return f"{target.unit.name} ({target.unit.code}){_ended(target.unit.valid_to)}"
    if target.unit_group is not None:
        label = counting.group_label(target.unit_group)
        return label[:1].upper() + label[1:]
    return "Toàn quốc"


def status_cell(target: AppliedTarget | None) -> str:
    if target is None:
        return NO_TARGET
    if target.met is None:
        return NOT_COUNTED
    if target.met:
        return MET
    # "trên N%" is not met at exactly N% (the gap is then 0): say what is asked.
    return f"{NOT_MET} (phải trên {target.percent:g}%)" if target.comparison == ">" else NOT_MET


def report_rows(session: Session, unit: AdministrativeUnit, year: int) -> list[list]:
    """One row per target that applies to an item (the item's numbers repeated), or one row for
    an item no target applies to."""
    result = progress(session, unit, year)
    rows = []
    for item in result.items:
        segment_scope = counting.Scope(unit=unit, year=year, reference_day=result.reference_date, segment=item.segment)
        # QĐ 677's populations are people counted through their families or employers: nobody
        # registers or is assessed as one of them.
        counted = item.segment not in counting.LEARNING_MEMBERS
        numbers = [
            TITLE_NAMES[item.title],
            item.segment_label or "",
            counting.registered_count(session, item.title, segment_scope) if counted else None,
            counting.assessed_count(session, item.title, segment_scope) if counted else None,
            item.numerator,
            item.denominator,
            item.denominator_label,
            item.percent,
        ]
        for target in item.targets or [None]:
            if target is None:
                rows.append([*numbers, None, None, NO_TARGET, "", "", "", ""])
                continue
            rows.append(
                [
                    *numbers,
                    target.percent,
                    target.gap,
                    status_cell(target),
                    source_cell(target.source),
                    target_scope_cell(target),
                    target.source.sentence,
                    sentence_kind_cell(target.source),
                ]
            )
    return rows


def deadline_rows(session: Session, unit: AdministrativeUnit, year: int) -> list[list]:
    """The deadlines sheet: a title line, the header, one row per deadline binding the unit at
    the end of the year (or today)."""
    deadlines: list[PlanDeadline] = deadlines_binding(session, unit, counting.reference_day(year))
    rows: list[list] = [
        [f"Hạn báo cáo theo các văn bản áp dụng cho {unit.name} ({unit.code}){_ended(unit.valid_to)}"],
        DEADLINE_HEADER,
    ]
    for deadline in deadlines:
        scope = deadline.scope
        rows.append(
            [
                deadline.due,
                "có" if deadline.every_year else "không",
                document_cell(deadline.document_number, deadline.document_date),
                deadline.issuer,
                f"{scope.name} ({scope.code}){_ended(scope.valid_to)}" if scope else "Toàn quốc",
                BINDS_AS[deadline.binds_as],
                deadline.what,
            ]
        )
    if not deadlines:
        rows.append(["Không có văn bản nào áp dụng cho đơn vị nêu hạn báo cáo."])
    return rows


def heading_rows(unit: AdministrativeUnit, year: int) -> list[list]:
    return [
        [f"Báo cáo xây dựng xã hội học tập năm {year} — {unit.name} ({unit.code}){_ended(unit.valid_to)}"],
        [f"Lập ngày {clock.today():%d/%m/%Y}", LEGEND],
        REPORT_HEADER,
    ]


def as_csv(session: Session, unit: AdministrativeUnit, year: int) -> bytes:
    rows = [*heading_rows(unit, year), *report_rows(session, unit, year), [], *deadline_rows(session, unit, year)]
    return csv_bytes(rows)


def _bold_row(sheet, row: int) -> None:
    for cell in sheet[row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def as_xlsx(session: Session, unit: AdministrativeUnit, year: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = f"Năm {year}"
    for row in [*heading_rows(unit, year), *report_rows(session, unit, year)]:
        append_row(sheet, row)
    sheet["A1"].font = Font(bold=True, size=13)
    _bold_row(sheet, 3)
    for column, width in zip("ABCDEFGHIJKLMNO", WIDTHS, strict=True):
        sheet.column_dimensions[column].width = width
    deadlines = book.create_sheet("Hạn báo cáo")
    for row in deadline_rows(session, unit, year):
        append_row(deadlines, row)
    deadlines["A1"].font = Font(bold=True, size=13)
    _bold_row(deadlines, 2)
    for column, width in zip("ABCDEFG", DEADLINE_WIDTHS, strict=True):
        deadlines.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def download(session: Session, unit: AdministrativeUnit, year: int, format: str) -> Response:
    """The report as an attachment, for the API and the staff pages alike."""
    name = f"bao-cao-xhht-{unit.code}-{year}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "csv":
        return Response(as_csv(session, unit, year), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(as_xlsx(session, unit, year), media_type=XLSX_TYPE, headers=headers)
