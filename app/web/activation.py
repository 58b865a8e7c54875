"""Trang kích hoạt tài khoản (/kich-hoat): the holder of an account created from a spreadsheet
sets its first password with the one-time code, on a phone, with no REST client. The link in the
codes sheet carries the username and code after `#`, which the browser never sends: a small
script (app/static/activate.js) fills the form from it.

There is no session yet, so the form is protected by a double-submit token: a random value in a
SameSite=Strict, HttpOnly cookie scoped to this page and the same value in a hidden field; a page
of another site can send neither."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.auth import activation
from app.auth.schemas import ActivationRequest
from app.database import SessionDep
from app.exceptions import Problem
from app.security import ratelimit
from app.security.client import client_address
from app.web.rendering import page
from app.web.staff import errors_from

router = APIRouter(include_in_schema=False)
PAGE = activation.PAGE
COOKIE = "hoctap_kich_hoat"


def _form(request: Request, *, status_code=200, username: str = "", code: str = "", errors=(), done: bool = False):
    token = secrets.token_urlsafe(32)
    response = page(
        "staff/activate.html",
        status_code=status_code,
        csrf=token,
        username=username,
        code=code,
        errors=list(errors),
        done=done,
        days=request.app.state.settings.activation_code_days,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.set_cookie(
        COOKIE,
        token,
        max_age=3600,
        httponly=True,
        secure=request.app.state.settings.is_production,
        samesite="strict",
        path=PAGE,
    )
    return response


@router.get(PAGE, response_class=HTMLResponse)
def activation_form(request: Request) -> HTMLResponse:
    return _form(request)


@router.post(PAGE, response_class=HTMLResponse)
def activate(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=100)] = "",
    code: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=300)] = "",
    password_again: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    cookie = request.cookies.get(COOKIE) or ""
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
        reason = "Biểu mẫu đã hết hạn hoặc không gửi từ trang này. Hãy tải lại trang và thử lại."
        return _form(request, status_code=403, username=username, errors=[("form", reason)])
    try:
        body = ActivationRequest(username=username, code=code, password=password)
    except ValidationError as invalid:
        return _form(request, status_code=422, username=username, code=code, errors=errors_from(invalid))
    if password != password_again:
        mismatch = [("password_again", "Hai lần nhập mật khẩu không giống nhau.")]
        return _form(request, status_code=422, username=username, code=code, errors=mismatch)
    # The same limit on failed attempts per account and address as the API's activation.
    limiter: ratelimit.RateLimiter = request.app.state.rate_limiter
    key = (ratelimit.opaque(body.username.strip().lower()), client_address(request))
    failures = activation.failure_limit(request.app.state.settings)
    try:
        limiter.refuse_if_exhausted(failures, *key)
        activation.activate(session, request.app.state.passwords, body.username, body.code, body.password)
    except Problem as refused:
        if refused.status != 429:
            limiter.hit(failures, *key)
        return _form(request, status_code=refused.status, username=username, errors=errors_from(refused))
    return _form(request, username=body.username.strip().lower(), done=True)
