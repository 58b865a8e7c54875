"""Importing registrations (đăng ký danh hiệu): one row a registration of a subject for a title
and a year, written through the registry's own `register` (the API's rules and errors). A
registration already in the registry (same title, subject and year) is matched, not created, so
the same file again creates nothing."""

from __future__ import annotations

from sqlalchemy import select

from app.imports import subjects
from app.imports.kinds import Context, Kind, Row
from app.imports.sheets import Column
from app.registry.models import Registration
from app.registry.schemas import RegistrationCreate
from app.registry.service import register

COLUMNS = [
    Column("title", "Danh hiệu", True, subjects.TITLE_GUIDE),
    *subjects.columns(),
    Column("year", "Năm đăng ký", True, "Năm của danh hiệu, ví dụ 2025 (đến năm sau là nhiều nhất)."),
    Column("registered_on", "Ngày đăng ký", False, "dd/mm/yyyy; bỏ trống là hôm nay."),
]
EXAMPLE = [
    ["Công dân học tập", "001085012345", "", "", "", "2025", "05/01/2025"],
    ["Gia đình học tập", "", "Hộ ông Nguyễn Văn An", "", "00367-001", "2025", "05/01/2025"],
    ["Cộng đồng học tập", "", "", "", "00367-001", "2025", "05/01/2025"],
]


def apply(context: Context, rows: list[Row]) -> tuple[int, int]:
    row = rows[0]
    title = subjects.title(row, "title")
    data = RegistrationCreate(
        title=title,
        subject_id=subjects.resolve(context, title, row),
        year=subjects.year(row, "year"),
        registered_on=subjects.day(row, "registered_on"),
    )
    if context.session.scalar(
        select(Registration.id).where(
            Registration.title == data.title, Registration.subject_id == data.subject_id, Registration.year == data.year
        )
    ):
        return 0, 1
    register(context.session, context.principal, data)
    return 1, 0


KIND = Kind(
    key="registrations",
    label="Đăng ký danh hiệu",
    columns=COLUMNS,
    example=EXAMPLE,
    apply=apply,
    guide=(
        "Mỗi dòng là một đối tượng đăng ký một danh hiệu cho một năm. Đối tượng đã đăng ký danh hiệu đó cho năm đó "
        "thì không bị ghi lại.",
    ),
)
