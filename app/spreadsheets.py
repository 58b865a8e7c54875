"""Writing cells into every spreadsheet and CSV the service produces, safe against formula
injection (OWASP "CSV injection"): text that a spreadsheet program would run as a formula — a
target's document number `=HYPERLINK(...)`, a name beginning with `+` or `@` — is written as
text. Numbers and dates stay numbers and dates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

# What a spreadsheet program reads as the start of a formula (tab and CR too: some programs
# skip them and read what follows).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_cell(value: Any) -> Any:
    """A CSV value: formula-like text gets a leading apostrophe, which spreadsheet programs
    show as text; None is an empty cell."""
    if value is None:
        return ""
    return "'" + value if is_formula_like(value) else value


def csv_bytes(rows: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 CSV with Excel's BOM (so Vietnamese opens correctly), every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def append_row(sheet: Worksheet, values: Iterable[Any]) -> None:
    """Append a row to an XLSX sheet. openpyxl turns any string starting with "=" into a
    formula; formula-like text is written as a text cell with Excel's quote prefix instead."""
    row = []
    for value in values:
        if is_formula_like(value):
            cell = Cell(sheet, value=value)
            cell.data_type = "s"
            cell.quotePrefix = True
            row.append(cell)
        else:
            row.append(value)
    sheet.append(row)
