"""Path dependencies that load a registry object the caller may see (404 otherwise).

Object-level jurisdiction lives here, shared by every route, never in route bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import CurrentPrincipal
from app.auth.principal import Principal
from app.database import SessionDep
from app.params import IdPath
from app.privacy.service import DUPLICATE_CHECK_PURPOSE
from app.registry import service
from app.registry.models import Clan, Household, Organisation, Person
from app.security import ratelimit


def person_in_scope(person_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Person:
    return service.get_person(session, principal, person_id)


def household_in_scope(household_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Household:
    return service.get_household(session, principal, household_id)


def clan_in_scope(clan_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Clan:
    return service.get_clan(session, principal, clan_id)


def organisation_in_scope(organisation_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Organisation:
    return service.get_organisation(session, principal, organisation_id)


PersonDep = Annotated[Person, Depends(person_in_scope)]
HouseholdDep = Annotated[Household, Depends(household_in_scope)]
ClanDep = Annotated[Clan, Depends(clan_in_scope)]
OrganisationDep = Annotated[Organisation, Depends(organisation_in_scope)]


class DuplicateIdAnswers:
    """Answers that a national ID is already registered tell the caller that a person exists:
    each one is logged as an access to that person (the access log is written apart from the
    request, which is refused and rolled back), and an account gets only so many per hour. Past the
    limit, any creation naming a national ID is refused with 429, so the limit cannot be probed
    either."""

    def __init__(self, request: Request, principal: Principal) -> None:
        self._limiter: ratelimit.RateLimiter = request.app.state.rate_limiter
        self._limit = ratelimit.per_hour("duplicate-id", request.app.state.settings.duplicate_id_answers_per_hour)
        self._access_log = request.app.state.access_log
        self._principal = principal

    def before_lookup(self) -> None:
        self._limiter.refuse_if_exhausted(self._limit, str(self._principal.id))

    def found(self, person_id: int) -> None:
        self._limiter.hit(self._limit, str(self._principal.id))
        self._access_log.record(self._principal.id or None, [person_id], "duplicate_check", DUPLICATE_CHECK_PURPOSE)


def duplicate_answers(request: Request, principal: CurrentPrincipal) -> DuplicateIdAnswers:
    return DuplicateIdAnswers(request, principal)


DuplicateAnswersDep = Annotated[DuplicateIdAnswers, Depends(duplicate_answers)]
