"""A person's data rights: who read the record, a full export, de-identification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from app.auth.dependencies import CurrentPrincipal, require_roles
from app.auth.models import Role
from app.database import SessionDep
from app.exceptions import problem_responses
from app.params import Limit, Offset, text
from app.privacy import service
from app.privacy.dependencies import AccessLogDep, PersonReadsDep
from app.registry import service as registry
from app.registry.dependencies import PersonDep
from app.registry.schemas import PersonOut

router = APIRouter(tags=["privacy"], responses=problem_responses(401, 403, 404))
# A query parameter (Vietnamese text cannot travel in HTTP headers); the access log of requests
# never records query strings, and the purpose is not personal data.
AccessPurpose = Annotated[str | None, Query(max_length=200, description="Lý do tra cứu, ghi vào nhật ký truy cập")]


class AccessEventOut(BaseModel):
    at: datetime
    user_id: int | None
    action: str
    purpose: str


class AccessEventList(BaseModel):
    items: list[AccessEventOut]
    total: int


class DeidentifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: text(min_length=3, max_length=1000) = Field(description="Căn cứ yêu cầu (ví dụ: đơn của chủ thể dữ liệu)")


@router.get(
    "/people/{person_id}/access-log",
    response_model=AccessEventList,
    dependencies=[Depends(require_roles(Role.ADMIN))],
    summary="Ai đã xem hồ sơ của một người, khi nào, vì sao",
)
def access_log(
    person: PersonDep, session: SessionDep, journal: AccessLogDep, limit: Limit = 50, offset: Offset = 0
) -> AccessEventList:
    journal.flush()  # every read this process has answered, before it is listed
    events, total = service.access_events(session, person.id, limit, offset)
    return AccessEventList(
        items=[AccessEventOut(at=e.at, user_id=e.user_id, action=e.action, purpose=e.purpose) for e in events],
        total=total,
    )


@router.get(
    "/people/{person_id}/export",
    response_model=dict[str, Any],
    summary="Xuất toàn bộ dữ liệu về một người (theo yêu cầu của chủ thể dữ liệu)",
)
def export(
    person: PersonDep,
    session: SessionDep,
    principal: CurrentPrincipal,
    reads: PersonReadsDep,
    journal: AccessLogDep,
    purpose: AccessPurpose = None,
) -> dict:
    service.require_controller(principal)
    reads.log([person.id], "export", purpose)
    journal.flush()  # the export lists the access log, this read included
    return service.export_person(session, person)


@router.post(
    "/people/{person_id}/deidentify",
    response_model=PersonOut,
    responses=problem_responses(409, 422),
    summary="Ẩn danh hồ sơ theo yêu cầu; số liệu thống kê giữ nguyên",
)
def deidentify(
    person: PersonDep, session: SessionDep, principal: CurrentPrincipal, body: DeidentifyRequest
) -> PersonOut:
    service.require_controller(principal)
    service.deidentify(session, principal, person, body.reason)
    return registry.people_out(session, [person])[0]
