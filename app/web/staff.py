"""Staff pages: signing in and out, the start page, and finding or registering people. The same
accounts, roles and jurisdiction as the API; the services do the work."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from app import clock
from app.auth.models import UserUnit
from app.auth.service import authenticate
from app.database import SessionDep
from app.exceptions import NotAuthenticated, Problem, field_errors
from app.registry import service as registry
from app.registry.dependencies import DuplicateIdAnswers
from app.registry.listing import places
from app.registry.schemas import PersonCreate
from app.security import ratelimit
from app.security.client import client_address
from app.text import iso_day
from app.units.models import AdministrativeUnit
from app.web import sessions
from app.web.rendering import page
from app.web.sessions import CsrfChecked, StaffDep

router = APIRouter(include_in_schema=False)

ROLE_NAMES = {
    "admin": "Quản trị viên",
    "province_officer": "Cán bộ cấp tỉnh",
    "commune_officer": "Cán bộ cấp xã",
    "assessor": "Người đánh giá (Hội Khuyến học)",
    "portal_client": "Cổng thông tin",
}


def staff_page(template: str, who: sessions.Staff, status_code: int = 200, **context) -> HTMLResponse:
    return page(template, status_code=status_code, who=who, role_names=ROLE_NAMES, **context)


def errors_from(problem_or_validation) -> list[tuple[str, str]]:
    """(field, message) pairs of a service's problem or a schema's validation error."""
    if isinstance(problem_or_validation, ValidationError):
        return [(e.field, e.message) for e in field_errors(problem_or_validation.errors(include_url=False))]
    problem: Problem = problem_or_validation
    if problem.errors:
        return [(e.field.removeprefix("body."), e.message) for e in problem.errors]
    return [("form", problem.detail)]


SERVICE_WORKER = (Path(__file__).resolve().parent.parent / "static" / "sw.js").read_bytes()


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, from the site's root so it may keep the staff pages (its scope)."""
    return Response(
        SERVICE_WORKER,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/dang-nhap", response_class=HTMLResponse)
def login_form(next: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
    return page("staff/login.html", next=sessions.safe_next(next), error=None, username="")


@router.post("/dang-nhap", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/can-bo",
):
    # The same limit on failed attempts per account and address as the API's token endpoint.
    limiter: ratelimit.RateLimiter = request.app.state.rate_limiter
    key = (ratelimit.opaque(username.strip().lower()), client_address(request))
    failures = ratelimit.per_minute("login-failures", request.app.state.settings.login_attempts_per_15_minutes, 15)
    limiter.refuse_if_exhausted(failures, *key)
    try:
        user = authenticate(session, request.app.state.passwords, username, password)
    except NotAuthenticated as refused:
        limiter.hit(failures, *key)
        return page(
            "staff/login.html", status_code=401, next=sessions.safe_next(next), error=refused.detail, username=username
        )
    token = sessions.start(session, user)
    response = RedirectResponse(sessions.safe_next(next), status_code=303)
    response.set_cookie(
        sessions.COOKIE,
        token,
        max_age=sessions.SESSION_HOURS * 3600,
        httponly=True,
        secure=request.app.state.settings.is_production,
        samesite="lax",
        path="/",
    )
    return response


@router.post("/dang-xuat", dependencies=[CsrfChecked])
def logout(request: Request, session: SessionDep) -> RedirectResponse:
    sessions.end(session, request.cookies.get(sessions.COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


def my_units(session, who: sessions.Staff) -> list[AdministrativeUnit]:
    return list(
        session.scalars(
            select(AdministrativeUnit)
            .join(UserUnit, UserUnit.unit_id == AdministrativeUnit.id)
            .where(UserUnit.user_id == who.principal.id)
            .order_by(AdministrativeUnit.code)
        )
    )


@router.get("/can-bo", response_class=HTMLResponse)
def start(session: SessionDep, who: StaffDep) -> HTMLResponse:
    return staff_page("staff/start.html", who, units=my_units(session, who), year=clock.today().year)


@router.get("/can-bo/nguoi", response_class=HTMLResponse)
def people(
    session: SessionDep,
    who: StaffDep,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    found, total = [], 0
    if q and q.strip():
        found, total = registry.list_people(session, who.principal, unit_code=None, q=q, limit=50, offset=0)
    return staff_page(
        "staff/people.html",
        who,
        q=q or "",
        found=found,
        total=total,
        errors=[],
        values={},
        places=places(session, who.principal),
    )


@router.post("/can-bo/nguoi", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def register_person(request: Request, session: SessionDep, who: StaffDep):
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in ("full_name", "birth_date", "sex", "unit_code")}
    national_id = str(form.get("national_id", "")).strip()
    try:
        data = PersonCreate(
            full_name=values["full_name"],
            birth_date=iso_day(values["birth_date"]),
            sex=values["sex"] or None,
            unit_code=values["unit_code"],
            national_id=national_id or None,
        )
        person = registry.create_person(
            session,
            who.principal,
            request.app.state.national_ids,
            data,
            DuplicateIdAnswers(request, who.principal),
        )
    except (ValidationError, Problem) as failed:
        return staff_page(
            "staff/people.html",
            who,
            status_code=422,
            q="",
            found=[],
            total=0,
            errors=errors_from(failed),
            values=values,
            places=places(session, who.principal),
        )
    return RedirectResponse(f"/can-bo/danh-gia/moi?title=citizen&subject_id={person.id}", status_code=303)
