"""Liveness and readiness probes for load balancers and the container HEALTHCHECK."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.exceptions import Problem, problem_responses
from app.migrate import current_revisions, head_revisions

router = APIRouter(tags=["health"])
logger = logging.getLogger("hoctap.health")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    migration: str


@router.get("/healthz", response_model=Health, summary="Tiến trình còn chạy")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses=problem_responses(503),
    summary="Sẵn sàng phục vụ: CSDL kết nối được và đã nâng cấp tới phiên bản mới nhất",
)
def readyz(request: Request) -> Readiness:
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = current_revisions(connection)
    except SQLAlchemyError:
        logger.warning("readiness: database unreachable", exc_info=True)
        raise Problem(503, "database_unavailable", "Chưa sẵn sàng", "Không kết nối được cơ sở dữ liệu.") from None
    heads = head_revisions()
    if current != heads:
        raise Problem(
            503,
            "migrations_pending",
            "Chưa sẵn sàng",
            "Cơ sở dữ liệu chưa được nâng cấp tới phiên bản mới nhất (chạy `hoctap migrate`).",
        )
    return Readiness(status="ok", database="ok", migration=",".join(sorted(heads)))
