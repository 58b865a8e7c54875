"""The public verification page of certificates: what a phone opens from the QR code."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse

from app import clock
from app.credentials import service
from app.credentials.dependencies import SigningDep
from app.credentials.router import VerifyLimit
from app.credentials.service import parse_instant
from app.database import SessionDep
from app.web.rendering import page, short_date

router = APIRouter(include_in_schema=False, dependencies=[VerifyLimit])

STATUS_LOOK = {
    "valid": ("ok", "✔", "Hợp lệ"),
    "revoked": ("bad", "✖", "Đã thu hồi"),
    "suspended": ("warn", "!", "Tạm đình chỉ"),
    "expired": ("warn", "!", "Hết hiệu lực"),
    "invalid": ("bad", "✖", "Không hợp lệ"),
}


def _local_day(value: str | None, days_before: int = 0) -> str | None:
    instant = parse_instant(value)
    if instant is None:
        return None
    return short_date(clock.local_date(instant) - timedelta(days=days_before))


def _page(checked: service.Verification | None, status_code: int = 200) -> HTMLResponse:
    # Every field present (empty when unknown): the template reads them without guarding each.
    details = {**service.credential_summary({}), **(checked.credential if checked else {})}
    decided_on = details.get("decided_on")
    context = {
        "checked": checked,
        "look": STATUS_LOOK[checked.status] if checked else None,
        "details": details,
        "valid_from": _local_day(details.get("valid_from")),
        # validUntil is the first day the title no longer holds; people read the last day it does.
        "last_day": _local_day(details.get("valid_until"), days_before=1),
        "decided_on": short_date(date.fromisoformat(decided_on)) if isinstance(decided_on, str) else None,
    }
    return page("pages/verify.html", status_code=status_code, **context)


@router.get("/verify", response_class=HTMLResponse)
def verify_form() -> HTMLResponse:
    return _page(None)


@router.post("/verify", response_class=HTMLResponse)
def verify_pasted(
    session: SessionDep,
    signing: SigningDep,
    credential: Annotated[str, Form(max_length=20_000)] = "",
) -> HTMLResponse:
    token = credential.strip()
    checked = service.verify(session, signing.keys, signing.base_url, token) if token else None
    return _page(checked)


@router.get("/verify/{token}", response_class=HTMLResponse)
def verify_link(
    session: SessionDep,
    signing: SigningDep,
    token: Annotated[str, Path(min_length=1, max_length=20_000)],
) -> HTMLResponse:
    """`token` is the short code of a QR link or a whole credential (JWT)."""
    if "." in token:
        checked = service.verify(session, signing.keys, signing.base_url, token)
    else:
        checked = service.verify_code(session, signing.keys, signing.base_url, token)
    return _page(checked, 404 if checked.reason == "unknown_credential" else 200)
