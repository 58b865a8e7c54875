"""Path dependencies that load a registry object the caller may see (404 otherwise).

Object-level jurisdiction lives here, shared by every route, never in route bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import CurrentPrincipal
from app.database import SessionDep
from app.params import IdPath
from app.registry import service
from app.registry.models import Clan, Household, Organisation, Person


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
