"""Logging reads of personal records from a route: `reads.log(person_ids, action, purpose)`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import CurrentPrincipal
from app.auth.principal import Principal
from app.privacy.access_log import AccessLog
from app.privacy.service import clean_purpose


class PersonReads:
    """The caller's reads of people's records, for the access log (nhật ký truy cập)."""

    def __init__(self, log: AccessLog, principal: Principal) -> None:
        self._log = log
        self._principal = principal

    def log(self, person_ids: list[int], action: str, purpose: str | None) -> None:
        self._log.record(self._principal.id or None, person_ids, action, clean_purpose(purpose))


def person_reads(request: Request, principal: CurrentPrincipal) -> PersonReads:
    return PersonReads(request.app.state.access_log, principal)


def access_log(request: Request) -> AccessLog:
    return request.app.state.access_log


PersonReadsDep = Annotated[PersonReads, Depends(person_reads)]
AccessLogDep = Annotated[AccessLog, Depends(access_log)]
