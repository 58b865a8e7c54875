"""The annual report of a unit (báo cáo năm) as XLSX or CSV: per title registered, assessed,
recognised, percentage, target and gap, and the reporting deadlines named in the plans."""

from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy.orm import Session

from app.rules import TitleCode
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
                f"{source.document_number} — {source.issuer}" if source else "",
            ]
        )
    return rows


def as_csv(session: Session, unit: AdministrativeUnit, year: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [f"Báo cáo xây dựng xã hội học tập năm {year}", f"{unit.code} {unit.name}", f"lập ngày {date.today():%d/%m/%Y}"]
    )
    writer.writerow(HEADER)
    writer.writerows(["" if value is None else value for value in row] for row in report_rows(session, unit, year))
    writer.writerow([])
    writer.writerow(["Hạn báo cáo theo kế hoạch", "Văn bản", "Nội dung"])
    for deadline in reporting_deadlines():
        writer.writerow([deadline["date"], deadline["document"], deadline["what"]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 correctly


def as_xlsx(session: Session, unit: AdministrativeUnit, year: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = f"Năm {year}"
    sheet.append([f"Báo cáo xây dựng xã hội học tập năm {year} — {unit.name} ({unit.code})"])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([f"Lập ngày {date.today():%d/%m/%Y}"])
    sheet.append(HEADER)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in report_rows(session, unit, year):
        sheet.append(row)
    for column, width in zip("ABCDEFGHIJK", (34, 26, 10, 12, 14, 10, 44, 10, 12, 14, 40), strict=True):
        sheet.column_dimensions[column].width = width
    deadlines = book.create_sheet("Hạn báo cáo")
    deadlines.append(["Hạn", "Văn bản", "Cơ quan", "Nội dung", "Hằng năm"])
    for cell in deadlines[1]:
        cell.font = Font(bold=True)
    for deadline in reporting_deadlines():
        deadlines.append(
            [
                deadline["date"],
                deadline["document"],
                deadline["issuer"],
                deadline["what"],
                "có" if deadline["every_year"] else "",
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
