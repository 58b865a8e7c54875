"""Reading uploaded spreadsheets row by row (XLSX through openpyxl's read-only mode, CSV as
UTF-8), and writing templates and error reports (formula-safe cells, app/spreadsheets.py)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import openpyxl
from openpyxl.styles import Font

from app.spreadsheets import append_row

MAX_BYTES = 20_000_000  # about 200,000 rows of people
DATA_SHEET = "Dữ liệu"
GUIDE_SHEET = "Hướng dẫn"


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the Vietnamese header in the file
    required: bool
    guide: str  # what to write, for the instructions sheet


class UnreadableFileError(ValueError):
    """Not an XLSX or UTF-8 CSV file we can read; the message is Vietnamese."""


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def error(row: int, column: str, value, reason: str) -> dict:
    """One error of a file, as reports and the API show it."""
    return {"row": row, "column": column, "value": value if value is None else str(value)[:200], "reason": reason}


def masked(key: str, value: str | None) -> str | None:
    """A cell as an error may show it: a national ID (even a mistyped one) masked."""
    if value and "national_id" in key:
        return "*" * max(len(value) - 4, 0) + value[-4:]
    return value


def header_positions(columns: list[Column], header: list[str | None]) -> tuple[dict[str, int], list[dict]]:
    """Which column holds each field, from the header row; unknown or missing headers are errors."""
    positions: dict[str, int] = {}
    errors = []
    by_header = {column.header.lower(): column for column in columns}
    for index, name in enumerate(header):
        if name is None:
            continue
        column = by_header.get(name.strip().lower())
        if column is None:
            errors.append(error(1, name, name, "Cột không có trong mẫu; hãy tải mẫu mới nhất."))
        else:
            positions[column.key] = index
    for column in columns:
        if column.required and column.key not in positions:
            errors.append(error(1, column.header, None, "Thiếu cột bắt buộc."))
    return positions, errors


def rows(content: bytes) -> Iterator[list[str | None]]:
    """Every row of the file's first sheet (or the CSV), cells as trimmed text or None."""
    if content[:4] == b"PK\x03\x04":
        try:
            book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
            raise UnreadableFileError("Tệp Excel bị hỏng hoặc không phải tệp .xlsx.") from error
        sheet = book[DATA_SHEET] if DATA_SHEET in book.sheetnames else book.worksheets[0]
        try:
            for row in sheet.iter_rows(values_only=True):
                yield [_cell(value) for value in row]
        finally:
            book.close()
        return
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFileError("Tệp CSV phải lưu theo bảng mã UTF-8 (Excel: CSV UTF-8).") from error
    for row in csv.reader(io.StringIO(text)):
        yield [_cell(value) for value in row]


def estimated_rows(content: bytes) -> int:
    """About how many data rows a file has, for a progress bar (never read for anything else)."""
    if content[:4] == b"PK\x03\x04":
        try:
            book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
            sheet = book[DATA_SHEET] if DATA_SHEET in book.sheetnames else book.worksheets[0]
            count = (sheet.max_row or 1) - 1
            book.close()
            return max(count, 1)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError):
            return 1
    return max(content.count(b"\n") - 1, 1)


def template(columns: list[Column], title: str, example: list[list[str]], guide_lines: tuple[str, ...] = ()) -> bytes:
    """An XLSX template: the data sheet with its headers (every column typed as text, so a
    national ID keeps its leading zeros) and an instructions sheet."""
    book = openpyxl.Workbook()
    data = book.active
    data.title = DATA_SHEET
    append_row(data, [column.header for column in columns])
    for row in example:
        append_row(data, row)
    for index, column in enumerate(columns, start=1):
        data.cell(row=1, column=index).font = Font(bold=True)
        letter = data.cell(row=1, column=index).column_letter
        data.column_dimensions[letter].width = max(14, len(column.header) + 4)
        for row in range(2, 2002):
            data.cell(row=row, column=index).number_format = "@"
    guide = book.create_sheet(GUIDE_SHEET)
    append_row(guide, [title])
    append_row(guide, ["Điền từ dòng 2 của trang “Dữ liệu”; giữ nguyên dòng tiêu đề. Dòng ví dụ có thể xoá."])
    append_row(guide, ["Ngày viết dd/mm/yyyy (ví dụ 05/04/1990). Mỗi tệp được kiểm tra toàn bộ trước khi ghi."])
    for line in guide_lines:
        append_row(guide, [line])
    append_row(guide, [])
    append_row(guide, ["Cột", "Bắt buộc", "Cách điền"])
    for column in columns:
        append_row(guide, [column.header, "có" if column.required else "không", column.guide])
    guide.column_dimensions["A"].width = 24
    guide.column_dimensions["C"].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def error_report(errors: list[dict]) -> bytes:
    """Every error as a row: row number, column, the value as given, the reason (Vietnamese)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Lỗi"
    append_row(sheet, ["Dòng", "Cột", "Giá trị", "Lý do"])
    for error in errors:
        append_row(sheet, [error["row"], error["column"], error["value"], error["reason"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
