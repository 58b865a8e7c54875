"""Registry API: people, households, clans, organisations, registrations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from app.auth.dependencies import CurrentPrincipal, require_roles
from app.database import SessionDep
from app.exceptions import problem_responses
from app.params import IdPath, Limit, Offset
from app.privacy.dependencies import PersonReadsDep
from app.privacy.router import AccessPurpose
from app.registry import service
from app.registry.dependencies import ClanDep, DuplicateAnswersDep, HouseholdDep, OrganisationDep, PersonDep
from app.registry.models import ClanHousehold, HouseholdMember, OrganisationStaff, Residence
from app.registry.national_id import NationalIds
from app.registry.schemas import (
    ClanCreate,
    ClanOut,
    HouseholdCreate,
    HouseholdJoin,
    HouseholdOut,
    LeaveIn,
    MemberIn,
    MoveIn,
    NationalIdSearch,
    OrganisationCreate,
    OrganisationOut,
    PersonCreate,
    PersonList,
    PersonOut,
    RegistrationCreate,
    RegistrationOut,
)
from app.rules import TitleCode
from app.units.schemas import UnitCodeStr

router = APIRouter(
    tags=["registry"],
    dependencies=[Depends(require_roles(*service.READERS))],
    responses=problem_responses(401, 403, 422),
)
WRITE = {"responses": problem_responses(404, 409), "status_code": status.HTTP_201_CREATED}


def get_national_ids(request: Request) -> NationalIds:
    return request.app.state.national_ids


NationalIdsDep = Annotated[NationalIds, Depends(get_national_ids)]


@router.post(
    "/people",
    response_model=PersonOut,
    summary="Ghi một người vào sổ",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 429),
)
def create_person(
    session: SessionDep,
    principal: CurrentPrincipal,
    ids: NationalIdsDep,
    duplicates: DuplicateAnswersDep,
    body: PersonCreate,
) -> PersonOut:
    return service.people_out(session, [service.create_person(session, principal, ids, body, duplicates)])[0]


@router.get(
    "/people",
    response_model=PersonList,
    responses=problem_responses(404),
    summary="Danh sách người trong phạm vi quản lý",
)
def list_people(
    session: SessionDep,
    principal: CurrentPrincipal,
    reads: PersonReadsDep,
    unit: Annotated[UnitCodeStr | None, Query(description="Chỉ người cư trú trong đơn vị này")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Một phần họ tên")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    purpose: AccessPurpose = None,
) -> PersonList:
    items, total = service.list_people(session, principal, unit_code=unit, q=q, limit=limit, offset=offset)
    reads.log([p.id for p in items], "list", purpose)
    return PersonList(items=items, total=total)


@router.post("/people-searches", response_model=PersonList, summary="Tìm người theo số CCCD (gửi trong thân yêu cầu)")
def search_people(
    session: SessionDep,
    principal: CurrentPrincipal,
    reads: PersonReadsDep,
    ids: NationalIdsDep,
    body: NationalIdSearch,
    purpose: AccessPurpose = None,
) -> PersonList:
    items = service.find_by_national_id(session, principal, ids, body.national_id.get_secret_value())
    reads.log([p.id for p in items], "search", purpose)
    return PersonList(items=items, total=len(items))


@router.get("/people/{person_id}", response_model=PersonOut, responses=problem_responses(404), summary="Một người")
def read_person(
    session: SessionDep,
    principal: CurrentPrincipal,
    reads: PersonReadsDep,
    person: PersonDep,
    purpose: AccessPurpose = None,
) -> PersonOut:
    reads.log([person.id], "read", purpose)
    return service.people_out(session, [person])[0]


@router.post("/households", response_model=HouseholdOut, summary="Ghi một hộ gia đình", **WRITE)
def create_household(session: SessionDep, principal: CurrentPrincipal, body: HouseholdCreate) -> HouseholdOut:
    return service.household_out(session, service.create_household(session, principal, body))


@router.get(
    "/households/{household_id}",
    response_model=HouseholdOut,
    responses=problem_responses(404),
    summary="Một hộ gia đình với thành viên",
)
def read_household(
    session: SessionDep,
    principal: CurrentPrincipal,
    reads: PersonReadsDep,
    household: HouseholdDep,
    purpose: AccessPurpose = None,
) -> HouseholdOut:
    out = service.household_out(session, household)
    reads.log([m.person_id for m in out.members], "household", purpose)
    return out


@router.post("/households/{household_id}/members", response_model=HouseholdOut, summary="Thêm thành viên", **WRITE)
def add_member(
    session: SessionDep, principal: CurrentPrincipal, household: HouseholdDep, body: MemberIn
) -> HouseholdOut:
    service.add_household_member(session, principal, household, body)
    return service.household_out(session, household)


@router.post(
    "/households/{household_id}/members/{person_id}/leave",
    response_model=HouseholdOut,
    responses=problem_responses(404),
    summary="Thành viên rời hộ",
)
def leave_household(
    session: SessionDep, principal: CurrentPrincipal, household: HouseholdDep, person_id: IdPath, body: LeaveIn
) -> HouseholdOut:
    unit_id = service.current_unit_id(session, Residence.household_id, household.id)
    service.end_membership(
        session,
        principal,
        HouseholdMember,
        HouseholdMember.household_id,
        household.id,
        HouseholdMember.person_id,
        person_id,
        unit_id,
        body.left_on,
        "household",
    )
    return service.household_out(session, household)


@router.post("/clans", response_model=ClanOut, summary="Ghi một dòng họ", **WRITE)
def create_clan(session: SessionDep, principal: CurrentPrincipal, body: ClanCreate) -> ClanOut:
    return service.clan_out(session, service.create_clan(session, principal, body))


@router.get("/clans/{clan_id}", response_model=ClanOut, responses=problem_responses(404), summary="Một dòng họ")
def read_clan(session: SessionDep, clan: ClanDep) -> ClanOut:
    return service.clan_out(session, clan)


@router.post("/clans/{clan_id}/households", response_model=ClanOut, summary="Thêm hộ vào dòng họ", **WRITE)
def add_clan_household(session: SessionDep, principal: CurrentPrincipal, clan: ClanDep, body: HouseholdJoin) -> ClanOut:
    service.add_clan_household(session, principal, clan, body.household_id, body.joined_on)
    return service.clan_out(session, clan)


@router.post(
    "/clans/{clan_id}/households/{household_id}/leave",
    response_model=ClanOut,
    responses=problem_responses(404),
    summary="Hộ rời dòng họ",
)
def leave_clan(
    session: SessionDep, principal: CurrentPrincipal, clan: ClanDep, household_id: IdPath, body: LeaveIn
) -> ClanOut:
    service.end_membership(
        session,
        principal,
        ClanHousehold,
        ClanHousehold.clan_id,
        clan.id,
        ClanHousehold.household_id,
        household_id,
        clan.home_unit_id,
        body.left_on,
        "clan",
    )
    return service.clan_out(session, clan)


@router.post("/organisations", response_model=OrganisationOut, summary="Ghi một cơ quan, đơn vị", **WRITE)
def create_organisation(session: SessionDep, principal: CurrentPrincipal, body: OrganisationCreate) -> OrganisationOut:
    return service.organisation_out(session, service.create_organisation(session, principal, body))


@router.get(
    "/organisations/{organisation_id}",
    response_model=OrganisationOut,
    responses=problem_responses(404),
    summary="Một cơ quan, đơn vị với cán bộ, người lao động",
)
def read_organisation(
    session: SessionDep,
    principal: CurrentPrincipal,
    reads: PersonReadsDep,
    organisation: OrganisationDep,
    purpose: AccessPurpose = None,
) -> OrganisationOut:
    out = service.organisation_out(session, organisation)
    reads.log([m.person_id for m in out.staff], "staff", purpose)
    return out


@router.post("/organisations/{organisation_id}/staff", response_model=OrganisationOut, summary="Thêm cán bộ", **WRITE)
def add_staff(
    session: SessionDep, principal: CurrentPrincipal, organisation: OrganisationDep, body: MemberIn
) -> OrganisationOut:
    service.add_staff(session, principal, organisation, body)
    return service.organisation_out(session, organisation)


@router.post(
    "/organisations/{organisation_id}/staff/{person_id}/leave",
    response_model=OrganisationOut,
    responses=problem_responses(404),
    summary="Cán bộ rời đơn vị",
)
def leave_organisation(
    session: SessionDep, principal: CurrentPrincipal, organisation: OrganisationDep, person_id: IdPath, body: LeaveIn
) -> OrganisationOut:
    unit_id = service.current_unit_id(session, Residence.organisation_id, organisation.id)
    service.end_membership(
        session,
        principal,
        OrganisationStaff,
        OrganisationStaff.organisation_id,
        organisation.id,
        OrganisationStaff.person_id,
        person_id,
        unit_id,
        body.left_on,
        "organisation",
    )
    return service.organisation_out(session, organisation)


@router.post("/registrations", response_model=RegistrationOut, summary="Đăng ký danh hiệu cho một năm", **WRITE)
def register(session: SessionDep, principal: CurrentPrincipal, body: RegistrationCreate) -> RegistrationOut:
    return service.registration_out(session, service.register(session, principal, body))


@router.post(
    "/people/{person_id}/residence", response_model=PersonOut, summary="Chuyển nơi cư trú của một người", **WRITE
)
def move_person(session: SessionDep, principal: CurrentPrincipal, person: PersonDep, body: MoveIn) -> PersonOut:
    service.move(session, principal, TitleCode.CITIZEN, person.id, body.unit_code, body.since)
    return service.people_out(session, [person])[0]


@router.post(
    "/households/{household_id}/residence", response_model=HouseholdOut, summary="Chuyển nơi cư trú của một hộ", **WRITE
)
def move_household(
    session: SessionDep, principal: CurrentPrincipal, household: HouseholdDep, body: MoveIn
) -> HouseholdOut:
    service.move(session, principal, TitleCode.FAMILY, household.id, body.unit_code, body.since)
    return service.household_out(session, household)


@router.post(
    "/organisations/{organisation_id}/residence",
    response_model=OrganisationOut,
    summary="Chuyển trụ sở của một cơ quan, đơn vị",
    **WRITE,
)
def move_organisation(
    session: SessionDep, principal: CurrentPrincipal, organisation: OrganisationDep, body: MoveIn
) -> OrganisationOut:
    service.move(session, principal, TitleCode.UNIT, organisation.id, body.unit_code, body.since)
    return service.organisation_out(session, organisation)
