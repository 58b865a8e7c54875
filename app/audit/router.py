"""The audit log, readable by admins."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.audit import service
from app.auth.dependencies import require_roles
from app.auth.models import Role
from app.database import SessionDep
from app.exceptions import problem_responses
from app.params import Limit, Offset

router = APIRouter(
    prefix="/audit",
    tags=["audit"],
    dependencies=[Depends(require_roles(Role.ADMIN))],
    responses=problem_responses(401, 403, 422),
)


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    action: str
    entity: str
    entity_id: int
    before_digest: str | None
    after_digest: str | None
    detail: dict[str, Any]


class AuditEventList(BaseModel):
    items: list[AuditEventOut]
    total: int


@router.get("", response_model=AuditEventList, summary="Nhật ký ghi: ai, khi nào, làm gì, trên đối tượng nào")
def list_events(
    session: SessionDep,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    actor_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AuditEventList:
    events, total = service.list_events(
        session, entity=entity, entity_id=entity_id, actor_id=actor_id, limit=limit, offset=offset
    )
    return AuditEventList(
        items=[
            AuditEventOut(
                id=e.id,
                at=e.at,
                actor_id=e.actor_id,
                action=e.action,
                entity=e.entity,
                entity_id=e.entity_id,
                before_digest=e.before_digest,
                after_digest=e.after_digest,
                detail=json.loads(e.detail),
            )
            for e in events
        ],
        total=total,
    )
