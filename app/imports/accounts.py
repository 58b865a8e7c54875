"""Nhập tài khoản hàng loạt: assessor and officer accounts from a sheet, by administrators only.

Each row goes through the rules of `POST /users` (`create_user`: the username's form, the
role's levels of units, units in force today) but gets no password: the account cannot sign in
until its holder sets one on the activation page with a one-time code. An account whose
username exists already is matched, not changed, and gets no new code, so uploading the same
rows again creates nothing.

The codes are drawn when the importing administrator downloads the job's codes sheet (username,
name, role, code, expiry, activation link), which is possible once; the codes exist in clear
nowhere else (app/auth/activation.py). A lost sheet: a fresh code per account through
`POST /api/v1/users/{id}/activation-code`."""

from __future__ import annotations

import io
import re

import openpyxl
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.auth import activation
from app.auth.models import Role, User
from app.auth.principal import Principal
from app.auth.schemas import AccountCreate
from app.auth.service import create_user
from app.config import Settings
from app.exceptions import Conflict, NotFound
from app.imports.kinds import Context, Kind, Row, RowError
from app.imports.models import ImportJob, ImportState
from app.imports.sheets import Column
from app.spreadsheets import append_row
from app.text import plain

KEY = "accounts"
COLUMNS = [
    Column(
        "username",
        "Tên đăng nhập",
        True,
        "3–64 ký tự: chữ không dấu, số, dấu chấm, gạch dưới, gạch ngang; bắt đầu bằng chữ hoặc số. "
        "Tên đã có trong hệ thống: giữ nguyên tài khoản đó, không cấp mã mới.",
    ),
    Column("full_name", "Họ và tên", True, "Họ và tên đầy đủ, có dấu."),
    Column("role", "Vai trò", True, "Người đánh giá (Hội Khuyến học), Cán bộ cấp xã hoặc Cán bộ cấp tỉnh."),
    Column(
        "unit_codes",
        "Mã đơn vị phụ trách",
        True,
        "Cán bộ cấp xã: mã xã/phường; người đánh giá: mã xã/phường hoặc thôn, tổ dân phố; cán bộ cấp tỉnh: "
        "mã tỉnh. Nhiều mã cách nhau bằng dấu phẩy. Mã đang có hiệu lực hôm nay.",
    ),
]
EXAMPLE = [["nguyen.thi.hoa", "Nguyễn Thị Hoa", "Người đánh giá (Hội Khuyến học)", "00367"]]
GUIDE = (
    "Tài khoản tạo từ tệp chưa có mật khẩu: không ai biết một mật khẩu chung hay mặc định.",
    "Sau khi nhập, người nhập tải “Bảng mã kích hoạt” (một lần duy nhất): mỗi người nhận mã của mình, "
    "mở đường dẫn kích hoạt và tự đặt mật khẩu. Mã dùng một lần và hết hạn sau số ngày ghi trong bảng.",
)
# The role column in Vietnamese (accents and case do not matter) or as the API's code.
ROLE_WORDS: dict[str, Role] = {
    "Người đánh giá (Hội Khuyến học)": Role.ASSESSOR,
    "Người đánh giá": Role.ASSESSOR,
    "Hội Khuyến học": Role.ASSESSOR,
    "Cán bộ Hội Khuyến học": Role.ASSESSOR,
    "Cán bộ cấp xã": Role.COMMUNE_OFFICER,
    "Cán bộ xã": Role.COMMUNE_OFFICER,
    "Cán bộ phường": Role.COMMUNE_OFFICER,
    "Cán bộ xã/phường": Role.COMMUNE_OFFICER,
    "Cán bộ cấp xã/phường": Role.COMMUNE_OFFICER,
    "Cán bộ cấp tỉnh": Role.PROVINCE_OFFICER,
    "Cán bộ tỉnh": Role.PROVINCE_OFFICER,
}
ROLE_LABELS = {
    Role.ASSESSOR: "Người đánh giá (Hội Khuyến học)",
    Role.COMMUNE_OFFICER: "Cán bộ cấp xã",
    Role.PROVINCE_OFFICER: "Cán bộ cấp tỉnh",
}
# Accounts that act for everyone or for a machine are made one by one, never from a sheet.
NOT_FROM_A_SHEET = {"quan tri vien": Role.ADMIN, "cong thong tin": Role.PORTAL_CLIENT}
_KNOWN_ROLES = {plain(word): role for word, role in ROLE_WORDS.items()} | {role.value: role for role in ROLE_LABELS}
_USERNAMES = "account_usernames"


def _role(row: Row) -> Role:
    text = plain(row.get("role") or "")
    role = _KNOWN_ROLES.get(text)
    if role is not None:
        return role
    if text in NOT_FROM_A_SHEET or text in (Role.ADMIN.value, Role.PORTAL_CLIENT.value):
        raise RowError("role", "Tài khoản quản trị hoặc cổng thông tin không tạo từ tệp; hãy tạo từng tài khoản.", row)
    raise RowError("role", "Phải là một trong: " + ", ".join(ROLE_LABELS.values()) + ".", row)


def _unit_codes(row: Row) -> list[str]:
    return [code for code in re.split(r"[,;\s]+", row.get("unit_codes") or "") if code]


def apply(context: Context, rows: list[Row]) -> tuple[int, int]:
    """One account: matched when its username exists, else created without a password and
    waiting for its code (drawn with the codes sheet)."""
    row = rows[0]
    session = context.session
    if not context.principal.is_admin:  # the job's check already refuses; kept next to the write
        raise RowError("username", "Chỉ quản trị viên được tạo tài khoản.", row)
    typed = (row.get("username") or "").strip().lower()
    seen: dict[str, int] = context.cache.setdefault(_USERNAMES, {})
    if typed in seen:
        raise RowError("username", f"Tên đăng nhập trùng với dòng {seen[typed]} của tệp.", row)
    if typed:
        seen[typed] = row.number
    if typed and session.scalar(select(User.id).where(User.username == typed)) is not None:
        return 0, 1
    data = AccountCreate(
        username=row.get("username") or "",
        full_name=row.get("full_name") or "",
        role=_role(row),
        unit_codes=_unit_codes(row),
    )
    user = create_user(session, None, data, context.principal)
    activation.add_pending(session, user, context.job_id)
    return 1, 0


KIND = Kind(
    key=KEY,
    label="Tài khoản người đánh giá và cán bộ (mã kích hoạt một lần)",
    columns=COLUMNS,
    example=EXAMPLE,
    apply=apply,
    guide=GUIDE,
    roles=(Role.ADMIN,),
)


# --- the codes sheet ----------------------------------------------------------------------------


def codes_sheet(session: Session, principal: Principal, public_id: str, settings: Settings) -> bytes:
    """The codes of the accounts an import created, for the administrator who made the import,
    once: 404 for anyone else, 409 when the import made no account to deliver, 410 after."""
    job = session.scalar(select(ImportJob).where(ImportJob.public_id == public_id.lower()))
    if job is None or not principal.is_admin or job.created_by_id != principal.id:
        raise NotFound("Không tìm thấy lần nhập này (bảng mã chỉ dành cho người đã nhập tệp).")
    if job.kind != KEY:
        raise Conflict("Lần nhập này không phải nhập tài khoản nên không có mã kích hoạt.", code="not_accounts_import")
    if job.dry_run or job.state != ImportState.DONE:
        raise Conflict(
            "Chỉ lần nhập đã ghi xong (không phải kiểm tra thử) mới có bảng mã kích hoạt.", code="import_not_written"
        )
    issued = activation.deliver(session, principal, job.id, settings.activation_code_days)
    return _workbook(issued, settings.public_base_url)


def _workbook(issued: list[activation.Issued], base_url: str) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Mã kích hoạt"
    headers = ["Tên đăng nhập", "Họ và tên", "Vai trò", "Mã kích hoạt", "Hết hạn", "Đường dẫn kích hoạt"]
    append_row(sheet, headers)
    for index, width in enumerate((20, 28, 30, 18, 18, 70), start=1):
        sheet.cell(row=1, column=index).font = Font(bold=True)
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    for each in issued:
        user = each.user
        link = activation.activation_url(base_url, user.username, each.code)
        expires = each.expires_at.astimezone(clock.zone())
        # A name is written as text even when it starts like a formula (append_row).
        append_row(
            sheet,
            [user.username, user.full_name, ROLE_LABELS.get(Role(user.role), user.role), each.code,
             f"{expires:%d/%m/%Y %H:%M}", link],
        )  # fmt: skip
        sheet.cell(row=sheet.max_row, column=6).hyperlink = link
    guide = book.create_sheet("Hướng dẫn")
    for line in (
        "Bảng này chỉ tải được một lần; mã không được lưu ở đâu khác. Giữ kín, giao riêng cho từng người.",
        "Mỗi người mở đường dẫn của mình (hoặc trang /kich-hoat, gõ tên đăng nhập và mã), tự đặt mật khẩu.",
        "Mỗi mã dùng một lần và hết hạn vào thời điểm ở cột “Hết hạn” (giờ Việt Nam).",
        "Mã mất hoặc hết hạn: quản trị viên cấp mã mới cho tài khoản đó (mã cũ hết hiệu lực).",
        "Sau khi giao xong mã, hãy xoá tệp này.",
    ):
        append_row(guide, [line])
    guide.column_dimensions["A"].width = 110
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
