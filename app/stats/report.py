"""The annual report of a unit (báo cáo năm) as XLSX or CSV: per title registered, assessed,
recognised, percentage, target and gap, and the reporting deadlines named in the plans."""

from __future__ import annotations

import io

from fastapi import Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy.orm import Session

from app import clock
from app.rules import TitleCode
from app.spreadsheets import append_row, csv_bytes
from app.stats import counting
from app.stats.service import progress, reporting_deadlines
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


SENTENCE_KINDS = {
    "verbatim": "nguyên văn",
    "secondary": "lời của nguồn thứ cấp",
    "summary": "tóm tắt, không phải nguyên văn",
}


def source_cell(source) -> str:
    """The target's document, and whether the sentence shown with it is the document's words."""
    cell = f"{source.document_number} — {source.issuer} ({SENTENCE_KINDS[source.sentence_kind]})"
    return cell + (
        f"; nguồn: {source.quoted_from}" if source.quoted_from and source.sentence_kind != "verbatim" else ""
    )


def report_rows(session: Session, unit: AdministrativeUnit, year: int) -> list[list]:
    result = progress(session, unit, year)
    scope = counting.Scope(unit=unit, year=year, reference_day=result.reference_date)
    rows = []
    for item in result.items:
        segment_scope = counting.Scope(unit=unit, year=year, reference_day=scope.reference_day, segment=item.segment)
        plain_segment = item.segment in (None, counting.EDUCATION)
        registered = counting.registered_count(session, item.title, segment_scope) if plain_segment else None
        assessed = counting.assessed_count(session, item.title, segment_scope) if plain_segment else None
        source = item.target_source
        rows.append(
            [
                TITLE_NAMES[item.title],
                item.segment or "",
                registered,
                assessed,
                item.numerator,
                item.denominator,
                item.denominator_label,
                item.percent,
                item.target_percent,
                item.gap,
                source_cell(source) if source else "",
            ]
        )
    return rows


def as_csv(session: Session, unit: AdministrativeUnit, year: int) -> bytes:
    rows: list[list] = [
        [
            f"Báo cáo xây dựng xã hội học tập năm {year}",
            f"{unit.code} {unit.name}",
            f"lập ngày {clock.today():%d/%m/%Y}",
        ],
        HEADER,
        *report_rows(session, unit, year),
        [],
        ["Hạn báo cáo theo kế hoạch", "Văn bản", "Nội dung"],
    ]
    rows += [[deadline["date"], deadline["document"], deadline["what"]] for deadline in reporting_deadlines()]
    return csv_bytes(rows)


def as_xlsx(session: Session, unit: AdministrativeUnit, year: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = f"Năm {year}"
    append_row(sheet, [f"Báo cáo xây dựng xã hội học tập năm {year} — {unit.name} ({unit.code})"])
    sheet["A1"].font = Font(bold=True, size=13)
    append_row(sheet, [f"Lập ngày {clock.today():%d/%m/%Y}"])
    append_row(sheet, HEADER)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in report_rows(session, unit, year):
        append_row(sheet, row)
    for column, width in zip("ABCDEFGHIJK", (34, 26, 10, 12, 14, 10, 44, 10, 12, 14, 40), strict=True):
        sheet.column_dimensions[column].width = width
    deadlines = book.create_sheet("Hạn báo cáo")
    append_row(deadlines, ["Hạn", "Văn bản", "Cơ quan", "Nội dung", "Hằng năm"])
    for cell in deadlines[1]:
        cell.font = Font(bold=True)
    for deadline in reporting_deadlines():
        append_row(
            deadlines,
            [
                deadline["date"],
                deadline["document"],
                deadline["issuer"],
                deadline["what"],
                "có" if deadline["every_year"] else "",
            ],
        )
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
