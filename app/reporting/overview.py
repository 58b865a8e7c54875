"""What the level above sees (tổng hợp): every unit below with its report's state against its
deadline (on time, late, missing), and the consolidated numbers — summed from approved reports
only — beside the live numbers of the registry; exported as XLSX or CSV in the shape of the
annual statistics report."""

from __future__ import annotations

import io
from collections import Counter

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.reporting import figures
from app.reporting.models import ReportingDeadline, ReportingPeriod, ReportLevel, ReportState, UnitReport
from app.reporting.periods import period_label
from app.reporting.reports import STATE_NAMES, TIMELINESS_NAMES, approved_figures, timeliness
from app.spreadsheets import append_row, csv_bytes
from app.stats import counting
from app.stats.report import HEADER
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel
from app.units.service import in_force_on


def units_below(session: Session, above: AdministrativeUnit | None) -> list[AdministrativeUnit]:
    """The communes of a province in force today, or every province (the national level)."""
    today = clock.today()
    if above is None:
        query = select(AdministrativeUnit).where(AdministrativeUnit.level == UnitLevel.PROVINCE, *in_force_on(today))
    else:
        query = select(AdministrativeUnit).where(
            AdministrativeUnit.level == UnitLevel.COMMUNE,
            AdministrativeUnit.id.in_(select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == above.id)),
            *in_force_on(today),
        )
    return list(session.scalars(query.order_by(AdministrativeUnit.code)))


def states(session: Session, period: ReportingPeriod, above: AdministrativeUnit | None) -> tuple[list[dict], Counter]:
    """Each unit below with its state, deadline and timeliness; and the counts per timeliness."""
    below = units_below(session, above)
    level = ReportLevel.COMMUNE if above is not None else ReportLevel.PROVINCE
    rows = {
        row.unit_id: row
        for row in session.scalars(
            select(UnitReport).where(UnitReport.period_id == period.id, UnitReport.level == level)
        )
    }
    deadlines = {
        d.scope_unit_id: d
        for d in session.scalars(
            select(ReportingDeadline).where(ReportingDeadline.period_id == period.id, ReportingDeadline.level == level)
        )
    }
    today = clock.today()
    items, counts = [], Counter()
    for unit in below:
        row = rows.get(unit.id)
        # The most specific scope wins: the commune's own plan, its province's, the national one.
        deadline = (
            deadlines.get(unit.id) or (deadlines.get(above.id) if above is not None else None) or deadlines.get(None)
        )
        state = ReportState(row.state) if row else ReportState.DRAFT
        when = timeliness(state, row.submitted_at if row else None, deadline, today)
        counts[when] += 1
        items.append(
            {
                "unit": {"code": unit.code, "name": unit.name},
                "state": state.value,
                "state_label": STATE_NAMES[state],
                "due_on": deadline.due_on if deadline else None,
                "timeliness": when,
                "timeliness_label": TIMELINESS_NAMES[when],
                "submitted_at": row.submitted_at if row else None,
                "reason": row.reason if row else None,
            }
        )
    return items, counts


def consolidated(session: Session, period: ReportingPeriod, above: AdministrativeUnit | None) -> dict:
    """The sum of the approved reports below, and separately the registry's live numbers over
    the same territory (a province; the national level has only the approved sum)."""
    targets = figures.live_targets(session, above, period) if above is not None else {}
    approved = figures.consolidate(approved_figures(session, period, above), targets)
    live = figures.unit_figures(session, above, period) if above is not None else None
    return {"approved": approved, "live": live}


def _rows(items: list[dict]) -> list[list]:
    return [
        [
            item["title_name"],
            counting.segment_label(item["segment"]) or "",
            item["registered"],
            item["assessed"],
            item["recognised"],
            item["denominator"],
            item["denominator_label"],
            item["percent"],
            item["target_percent"],
            item["gap"],
            item["target_source"] or "",
        ]
        for item in items
    ]


def export(session: Session, period: ReportingPeriod, above: AdministrativeUnit | None, format: str) -> bytes:
    """The consolidated report: approved numbers in the annual report's columns, then the live
    numbers, then each unit's state against its deadline."""
    found = consolidated(session, period, above)
    units, counts = states(session, period, above)
    where = f"{above.name} ({above.code})" if above is not None else "toàn quốc"
    title = f"Tổng hợp {period_label(period).lower()} — {where}"
    made = f"Lập ngày {clock.today():%d/%m/%Y}; số liệu đã duyệt của {found['approved']['reports']} đơn vị"
    unit_header = ["Mã", "Đơn vị", "Trạng thái", "Hạn", "Đúng hạn?", "Gửi lúc", "Lý do trả lại"]
    unit_rows = [
        [
            u["unit"]["code"],
            u["unit"]["name"],
            u["state_label"],
            f"{u['due_on']:%d/%m/%Y}" if u["due_on"] else "",
            u["timeliness_label"],
            f"{clock.local_date(u['submitted_at']):%d/%m/%Y}" if u["submitted_at"] else "",
            u["reason"] or "",
        ]
        for u in units
    ]
    if format == "csv":
        return csv_bytes(
            [
                [title],
                [made],
                ["Số liệu đã duyệt (cộng từ các báo cáo đã duyệt)"],
                HEADER,
                *_rows(found["approved"]["items"]),
                [],
                *(
                    [["Số liệu trực tiếp từ sổ (chưa qua duyệt)"], HEADER, *_rows(found["live"]["items"]), []]
                    if found["live"]
                    else []
                ),
                unit_header,
                *unit_rows,
            ]
        )
    book = Workbook()
    sheet = book.active
    sheet.title = "Đã duyệt"
    sheets = [(None, found["approved"]["items"])]
    if found["live"]:
        sheets.append(("Trực tiếp", found["live"]["items"]))
    for name, items in sheets:
        if name is not None:
            sheet = book.create_sheet(name)
        append_row(sheet, [title if name is None else f"{title} — số liệu trực tiếp từ sổ, chưa qua duyệt"])
        sheet["A1"].font = Font(bold=True, size=13)
        append_row(sheet, [made])
        append_row(sheet, HEADER)
        for cell in sheet[3]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in _rows(items):
            append_row(sheet, row)
        for column, width in zip("ABCDEFGHIJK", (34, 26, 10, 12, 14, 10, 44, 10, 12, 14, 40), strict=True):
            sheet.column_dimensions[column].width = width
    sheet = book.create_sheet("Tình hình gửi báo cáo")
    append_row(sheet, unit_header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in unit_rows:
        append_row(sheet, row)
    append_row(sheet, [])
    for key, label in (("on_time", "Đúng hạn"), ("late", "Gửi muộn"), ("missing", "Quá hạn, chưa gửi")):
        append_row(sheet, [label, counts.get(key, 0)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
