"""Writing and reading the audit log. Every service that writes calls `record` inside its
transaction, so a write and its audit row commit or roll back together."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.auth.principal import Principal


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(entity: Any) -> dict[str, Any]:
    """The entity's column values, for a digest."""
    return {attr.key: _plain(getattr(entity, attr.key)) for attr in inspect(entity).mapper.column_attrs}


def digest(state: dict[str, Any] | None) -> str | None:
    if state is None:
        return None
    return hashlib.sha256(json.dumps(state, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    entity: str,
    entity_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(
            actor_id=actor.id if actor and actor.id else None,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before_digest=digest(before),
            after_digest=digest(after),
            detail=json.dumps({k: _plain(v) for k, v in detail.items()}, ensure_ascii=False, sort_keys=True),
        )
    )


def list_events(
    session: Session, *, entity: str | None, entity_id: int | None, actor_id: int | None, limit: int, offset: int
) -> tuple[list[AuditEvent], int]:
    query = select(AuditEvent)
    if entity:
        query = query.where(AuditEvent.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == entity_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    events = list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)))
    return events, total
