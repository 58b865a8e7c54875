"""Subjects, memberships, residence and registrations, always within the caller's jurisdiction.

Jurisdiction (phạm vi quản lý) is applied in SQL: a subject's home unit (its current residence,
a clan's home commune, the village or commune itself) must lie under one of the caller's
units. A record outside it reads as 404; creating or changing something there is 403.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from functools import cache
from typing import Protocol

from sqlalchemy import ColumnElement, Integer, Select, bindparam, exists, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record as audit
from app.audit.service import snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.exceptions import Conflict, FieldError, Forbidden, NotFound, Problem, invalid_field
from app.registry.models import (
    Clan,
    ClanHousehold,
    Household,
    HouseholdMember,
    Organisation,
    OrganisationStaff,
    Person,
    PersonSector,
    Registration,
    Residence,
)
from app.registry.national_id import NationalIds
from app.registry.schemas import (
    ClanCreate,
    ClanHouseholdOut,
    ClanOut,
    HouseholdCreate,
    HouseholdOut,
    MemberIn,
    MemberOut,
    OrganisationCreate,
    OrganisationOut,
    PersonCreate,
    PersonOut,
    RegistrationCreate,
    RegistrationOut,
    UnitBrief,
)
from app.rules import TitleCode
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel
from app.units.service import in_jurisdiction, require_current_or_writable, unit_named

READERS = (Role.ADMIN, Role.PROVINCE_OFFICER, Role.COMMUNE_OFFICER, Role.ASSESSOR)
WRITERS = (Role.ADMIN, Role.COMMUNE_OFFICER, Role.ASSESSOR)

# Each title has one kind of subject.
TITLE_SUBJECT: dict[TitleCode, str] = {
    TitleCode.CITIZEN: "person",
    TitleCode.FAMILY: "household",
    TitleCode.CLAN: "clan",
    TitleCode.COMMUNITY: "community",
    TitleCode.UNIT: "organisation",
    TitleCode.COMMUNE: "commune",
    TitleCode.DISTRICT: "district",
    TitleCode.PROVINCE: "province",
}
# The titles whose subject is an administrative unit, and its level.
UNIT_SUBJECT_LEVEL = {
    "community": UnitLevel.VILLAGE,
    "commune": UnitLevel.COMMUNE,
    "district": UnitLevel.DISTRICT,
    "province": UnitLevel.PROVINCE,
}
SUBJECT_TITLE = {kind: title for title, kind in TITLE_SUBJECT.items()}


def within(principal: Principal, unit_id: ColumnElement) -> ColumnElement[bool]:
    """SQL condition: `unit_id` lies under one of the caller's units."""
    if principal.is_admin:
        return true()
    return exists().where(UnitAncestor.unit_id == unit_id, UnitAncestor.ancestor_id.in_(principal.unit_ids))


def require_writer(session: Session, principal: Principal, unit_id: int) -> None:
    if principal.role not in WRITERS or not in_jurisdiction(session, principal, unit_id):
        raise Forbidden("Tài khoản không được ghi dữ liệu của đơn vị này.")


@cache
def _home_unit_statement(title: TitleCode) -> Select:
    """Select of the unit a subject belongs to today, as `unit_id`, for `:subject_id`."""
    kind = TITLE_SUBJECT[title]
    subject_id = bindparam("subject_id", type_=Integer)
    if kind in ("person", "household", "organisation"):
        column = getattr(Residence, f"{kind}_id")
        return select(Residence.unit_id.label("unit_id")).where(column == subject_id, Residence.valid_to.is_(None))
    if kind == "clan":
        return select(Clan.home_unit_id.label("unit_id")).where(Clan.id == subject_id)
    return select(AdministrativeUnit.id.label("unit_id")).where(
        AdministrativeUnit.id == subject_id, AdministrativeUnit.level == UNIT_SUBJECT_LEVEL[kind]
    )


@cache
def _visible_home_unit_statement(title: TitleCode, everywhere: bool) -> Select:
    """The home unit, selected only when it lies under one of `:unit_ids` (or `everywhere`).
    Built once per title: the lookups run it thousands of times a second."""
    home = _home_unit_statement(title).subquery()
    if everywhere:
        return select(home.c.unit_id)
    return select(home.c.unit_id).where(
        exists().where(
            UnitAncestor.unit_id == home.c.unit_id,
            UnitAncestor.ancestor_id.in_(bindparam("unit_ids", expanding=True)),
        )
    )


def home_unit_id(session: Session, title: TitleCode, subject_id: int) -> int | None:
    """The unit a subject belongs to today (None when the subject does not exist)."""
    return session.scalar(_home_unit_statement(title), {"subject_id": subject_id})


def sees_subjects(principal: Principal) -> bool:
    """Whether the caller's role and units let it see any subject at all."""
    return principal.role in (*READERS, Role.PORTAL_CLIENT) and (principal.is_admin or bool(principal.unit_ids))


@cache
def home_unit_ancestors_statement(title: TitleCode) -> Select:
    """The units above the subject's home unit, the home unit included (`:subject_id`), as
    `ancestor_id`: none when the subject does not exist. With `sees_subject` it is `within`'s
    jurisdiction test done on the rows, for a statement whose SQL never changes."""
    home = _home_unit_statement(title).scalar_subquery()
    return select(UnitAncestor.ancestor_id).where(UnitAncestor.unit_id == home)


def sees_subject(principal: Principal, ancestors: Iterable[int]) -> bool:
    """`within` on the rows of home_unit_ancestors_statement: the subject exists and lies under
    one of the caller's units."""
    ancestors = set(ancestors)
    return bool(ancestors) and (principal.is_admin or not ancestors.isdisjoint(principal.unit_ids))


def visible_home_unit_query(principal: Principal, title: TitleCode, subject_id: int) -> tuple[Select, dict] | None:
    """(statement, parameters) selecting the subject's home unit only when the caller may see
    the subject; None when the caller's role or units see no subject. The jurisdiction test is
    `within`'s, with the units bound as parameters so the statement is built once."""
    if not sees_subjects(principal):
        return None
    params: dict = {"subject_id": subject_id}
    if not principal.is_admin:
        params["unit_ids"] = sorted(principal.unit_ids)
    return _visible_home_unit_statement(title, principal.is_admin), params


def _visible_subject(session: Session, principal: Principal, title: TitleCode, model, subject_id: int):
    """A subject the caller may see; 404 otherwise (existence is not revealed)."""
    visible_subject_unit(session, principal, title, subject_id)
    subject = session.get(model, subject_id)
    if subject is None:
        raise NotFound("Không tìm thấy đối tượng.")
    return subject


def subject_unit(session: Session, title: TitleCode, subject_id: int) -> int:
    """The home unit of a subject named in a request body; 422 on that field if there is none."""
    unit_id = home_unit_id(session, title, subject_id)
    if unit_id is None:
        raise invalid_field(
            "body.subject_id", "unknown_subject", "Không có đối tượng với mã này cho danh hiệu đã chọn."
        )
    return unit_id


def visible_subject_unit_or_none(
    session: Session, principal: Principal, title: TitleCode, subject_id: int
) -> int | None:
    """The subject's home unit if the caller may see the subject, else None."""
    query = visible_home_unit_query(principal, title, subject_id)
    return session.scalar(*query) if query is not None else None


def visible_subject_unit(session: Session, principal: Principal, title: TitleCode, subject_id: int) -> int:
    """The subject's home unit if the caller may see it; 404 otherwise (existence is not revealed)."""
    unit_id = visible_subject_unit_or_none(session, principal, title, subject_id)
    if unit_id is None:
        raise NotFound("Không tìm thấy đối tượng.")
    return unit_id


def _writable_unit(
    session: Session, principal: Principal, code: str, on: date, field: str = "body.unit_code"
) -> AdministrativeUnit:
    """The commune or village a body's code names on `on`, where the caller may write."""
    unit = unit_named(session, code, on, field)
    if unit.level not in (UnitLevel.COMMUNE, UnitLevel.VILLAGE):
        raise invalid_field(field, "wrong_unit_level", f"{unit.name} không phải cấp xã hoặc thôn.")
    require_current_or_writable(session, principal, unit, field, on)
    require_writer(session, principal, unit.id)
    return unit


def _brief(session: Session, unit_ids: list[int]) -> dict[int, UnitBrief]:
    if not unit_ids:
        return {}
    rows = session.execute(
        select(AdministrativeUnit.id, AdministrativeUnit.code, AdministrativeUnit.name, AdministrativeUnit.level).where(
            AdministrativeUnit.id.in_(unit_ids)
        )
    )
    return {uid: UnitBrief(code=code, name=name, level=level) for uid, code, name, level in rows}


def _require_visible(session: Session, principal: Principal, kind: str, ids: list[int], field: str) -> None:
    """Every person (or household) named in a body exists and lives inside the caller's units;
    otherwise one field error each."""
    if not ids:
        return
    column = getattr(Residence, f"{kind}_id")
    visible = set(
        session.scalars(
            select(column).where(column.in_(ids), Residence.valid_to.is_(None), within(principal, Residence.unit_id))
        )
    )
    noun = {"person": "người", "household": "hộ"}[kind]
    errors = [
        FieldError(
            field=f"{field}.{index}",
            code=f"unknown_{kind}",
            message=f"Không có {noun} mã {value} trong phạm vi quản lý.",
        )
        for index, value in enumerate(ids)
        if value not in visible
    ]
    if errors:
        raise Problem(422, "validation_failed", "Dữ liệu không hợp lệ", f"Một số {noun} không hợp lệ.", errors=errors)


# --- people ------------------------------------------------------------------------------------


class DuplicateGuard(Protocol):
    """What happens around the look-up of a national ID already in the registry (see
    app.registry.dependencies): a limit per account, and an access-log entry that survives
    the refused request."""

    def before_lookup(self) -> None: ...

    def found(self, person_id: int) -> None: ...


def national_id_taken(session: Session, principal: Principal, person_id: int) -> Conflict:
    """Duplicates stay impossible; the answer says how to bring the person over instead."""
    if visible_subject_unit_or_none(session, principal, TitleCode.CITIZEN, person_id) is not None:
        detail = (
            f"Số CCCD này đã có trong sổ: người mã {person_id}, thuộc phạm vi quản lý của bạn. Nếu người này chuyển "
            f"đến nơi khác trong phạm vi, hãy ghi việc chuyển nơi cư trú (POST /api/v1/people/{person_id}/residence) "
            "thay vì ghi một hồ sơ mới."
        )
    else:
        detail = (
            "Số CCCD này đã có trong sổ đăng ký ở một đơn vị khác. Nếu người này đã chuyển đến, đề nghị cán bộ "
            "xã/phường nơi người đó đang cư trú, hoặc cán bộ có thẩm quyền ở cả hai nơi, ghi việc chuyển nơi cư trú; "
            "không ghi hồ sơ mới (xem docs/registry.md, mục chuyển nơi cư trú)."
        )
    return Conflict(detail, code="national_id_taken")


def create_person(
    session: Session, principal: Principal, ids: NationalIds, data: PersonCreate, duplicates: DuplicateGuard
) -> Person:
    since = data.resident_since or clock.today()
    if data.birth_date is not None and since < data.birth_date:
        field = "body.resident_since" if data.resident_since else "body.birth_date"
        raise invalid_field(field, "before_birth", f"Ngày cư trú trước ngày sinh ({data.birth_date:%d/%m/%Y}).")
    unit = _writable_unit(session, principal, data.unit_code, since)
    person = Person(
        full_name=data.full_name, birth_date=data.birth_date, sex=data.sex, occupational_group=data.occupational_group
    )
    if data.national_id is not None:
        number = data.national_id.get_secret_value()
        duplicates.before_lookup()
        existing = session.scalar(select(Person.id).where(Person.national_id_hmac.in_(ids.digests(number))))
        if existing is not None:
            duplicates.found(existing)
            raise national_id_taken(session, principal, existing)
        person.national_id_hmac = ids.digest(number)
        person.national_id_key_version = ids.key_version
        person.national_id_masked = ids.mask(number)
    try:
        with session.begin_nested():
            session.add(person)
            session.flush()
    except IntegrityError:  # the same number registered at the same moment elsewhere
        raise Conflict("Số CCCD này đã có trong sổ đăng ký.", code="national_id_taken") from None
    session.add_all(PersonSector(person_id=person.id, sector=sector) for sector in dict.fromkeys(data.sectors))
    session.add(Residence(person_id=person.id, unit_id=unit.id, valid_from=since, reason="registered"))
    audit(session, principal, "create", "person", person.id, None, snapshot(person))
    session.flush()
    return person


def people_out(session: Session, people: list[Person]) -> list[PersonOut]:
    ids = [p.id for p in people]
    sectors: dict[int, list[str]] = defaultdict(list)
    units: dict[int, int] = {}
    if ids:
        for pid, sector in session.execute(
            select(PersonSector.person_id, PersonSector.sector)
            .where(PersonSector.person_id.in_(ids))
            .order_by(PersonSector.sector)
        ):
            sectors[pid].append(sector)
        units = dict(
            session.execute(
                select(Residence.person_id, Residence.unit_id).where(
                    Residence.person_id.in_(ids), Residence.valid_to.is_(None)
                )
            ).all()
        )
    briefs = _brief(session, list(units.values()))
    return [
        PersonOut(
            id=p.id,
            full_name=p.full_name,
            birth_date=p.birth_date,
            sex=p.sex,
            occupational_group=p.occupational_group,
            sectors=sectors[p.id],
            national_id_masked=p.national_id_masked,
            unit=briefs.get(units.get(p.id, 0)),
        )
        for p in people
    ]


def get_person(session: Session, principal: Principal, person_id: int) -> Person:
    return _visible_subject(session, principal, TitleCode.CITIZEN, Person, person_id)


def list_people(
    session: Session, principal: Principal, *, unit_code: str | None, q: str | None, limit: int, offset: int
) -> tuple[list[PersonOut], int]:
    query = (
        select(Person)
        .join(Residence, (Residence.person_id == Person.id) & Residence.valid_to.is_(None))
        .where(within(principal, Residence.unit_id))
    )
    if unit_code:
        unit = unit_named(session, unit_code, clock.today(), "query.unit")
        query = query.where(
            exists().where(UnitAncestor.unit_id == Residence.unit_id, UnitAncestor.ancestor_id == unit.id)
        )
    if q:
        query = query.where(func.lower(Person.full_name).contains(q.strip().lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    people = list(session.scalars(query.order_by(Person.id).limit(limit).offset(offset)))
    return people_out(session, people), total


def find_by_national_id(session: Session, principal: Principal, ids: NationalIds, number: str) -> list[PersonOut]:
    from app.privacy.service import rekey_if_old

    people = list(
        session.scalars(
            select(Person)
            .join(Residence, (Residence.person_id == Person.id) & Residence.valid_to.is_(None))
            .where(Person.national_id_hmac.in_(ids.digests(number)), within(principal, Residence.unit_id))
        )
    )
    for person in people:
        rekey_if_old(session, ids, person.id, person.national_id_key_version, number)
    return people_out(session, people)


def move(
    session: Session, principal: Principal, title: TitleCode, subject_id: int, unit_code: str, since: date | None
) -> None:
    """Record a move: close the current residence and open one in the new unit (both kept)."""
    visible_subject_unit(session, principal, title, subject_id)
    day = since or clock.today()
    unit = _writable_unit(session, principal, unit_code, day)
    column = getattr(Residence, f"{TITLE_SUBJECT[title]}_id")
    current = session.scalar(select(Residence).where(column == subject_id, Residence.valid_to.is_(None)))
    if current is not None:
        if current.unit_id == unit.id:
            raise Conflict("Đối tượng đang cư trú tại đơn vị này.", code="same_unit")
        if day < current.valid_from:
            raise Problem(
                422,
                "validation_failed",
                "Dữ liệu không hợp lệ",
                "Ngày chuyển trước ngày đến nơi cũ.",
                errors=[
                    FieldError(
                        field="body.since",
                        code="before_current",
                        message=f"Phải từ {current.valid_from:%d/%m/%Y} trở đi.",
                    )
                ],
            )
        before = snapshot(current)
        current.valid_to = day
        audit(session, principal, "move_out", "residence", current.id, before, snapshot(current))
    residence = Residence(unit_id=unit.id, valid_from=day, reason="moved", **{column.key: subject_id})
    session.add(residence)
    session.flush()
    audit(session, principal, "move_in", "residence", residence.id, None, snapshot(residence))
    session.flush()


# --- households, clans, organisations -------------------------------------------------------------


def _members(session: Session, model, owner_column, owner_id: int) -> list[MemberOut]:
    rows = session.execute(
        select(model, Person.full_name)
        .join(Person, Person.id == model.person_id)
        .where(owner_column == owner_id)
        .order_by(model.joined_on, model.id)
    )
    return [
        MemberOut(
            person_id=m.person_id,
            full_name=name,
            relation=getattr(m, "relation", None),
            joined_on=m.joined_on,
            left_on=m.left_on,
        )
        for m, name in rows
    ]


def current_unit_id(session: Session, column, subject_id: int) -> int | None:
    return session.scalar(select(Residence.unit_id).where(column == subject_id, Residence.valid_to.is_(None)))


def household_out(session: Session, household: Household) -> HouseholdOut:
    unit_id = current_unit_id(session, Residence.household_id, household.id)
    return HouseholdOut(
        id=household.id,
        name=household.name,
        head_person_id=household.head_person_id,
        unit=_brief(session, [unit_id] if unit_id else []).get(unit_id or 0),
        members=_members(session, HouseholdMember, HouseholdMember.household_id, household.id),
    )


def _already_in_household(session: Session, joining: dict[int, date]) -> list[int]:
    """People (id -> day they would join, for good) who would then be in two households at
    once: a membership of theirs that has not ended by that day, whenever it began."""
    return sorted(
        {
            person_id
            for person_id, left_on in session.execute(
                select(HouseholdMember.person_id, HouseholdMember.left_on).where(
                    HouseholdMember.person_id.in_(list(joining))
                )
            )
            if left_on is None or left_on > joining[person_id]
        }
    )


def _born_by(session: Session, days: dict[int, date], fields: dict[int, str]) -> None:
    """Nobody lives somewhere or belongs to anything before being born: 422 on the field of
    each day that comes before the person's birth date."""
    births = dict(
        session.execute(
            select(Person.id, Person.birth_date).where(Person.id.in_(list(days)), Person.birth_date.is_not(None))
        ).all()
    )
    errors = [
        FieldError(
            field=fields[person_id],
            code="before_birth",
            message=f"Trước ngày sinh ({births[person_id]:%d/%m/%Y}) của người này.",
        )
        for person_id, day in days.items()
        if person_id in births and day < births[person_id]
    ]
    if errors:
        raise Problem(422, "validation_failed", "Dữ liệu không hợp lệ", "Một số ngày trước ngày sinh.", errors=errors)


def create_household(session: Session, principal: Principal, data: HouseholdCreate) -> Household:
    since = data.since or clock.today()
    unit = _writable_unit(session, principal, data.unit_code, since)
    person_ids = [m.person_id for m in data.members]
    if len(set(person_ids)) != len(person_ids):
        raise Problem(
            422,
            "validation_failed",
            "Dữ liệu không hợp lệ",
            "Một người được ghi hai lần.",
            errors=[FieldError(field="body.members", code="duplicate_person", message="Một người chỉ ghi một lần.")],
        )
    _require_visible(session, principal, "person", person_ids, "body.members")
    if data.head_person_id is not None and data.head_person_id not in person_ids:
        raise Problem(
            422,
            "validation_failed",
            "Dữ liệu không hợp lệ",
            "Chủ hộ phải là thành viên của hộ.",
            errors=[
                FieldError(
                    field="body.head_person_id",
                    code="head_not_member",
                    message="Chủ hộ phải có trong danh sách thành viên.",
                )
            ],
        )
    joining = {m.person_id: m.joined_on or since for m in data.members}
    _born_by(
        session,
        joining,
        {
            m.person_id: f"body.members.{index}.joined_on" if m.joined_on else "body.since"
            for index, m in enumerate(data.members)
        },
    )
    taken = _already_in_household(session, joining)
    if taken:
        raise Conflict(f"Người mã {', '.join(map(str, taken))} đang là thành viên của hộ khác.", code="already_member")
    household = Household(name=data.name, head_person_id=data.head_person_id)
    session.add(household)
    session.flush()
    session.add_all(
        HouseholdMember(
            household_id=household.id, person_id=m.person_id, relation=m.relation, joined_on=m.joined_on or since
        )
        for m in data.members
    )
    session.add(Residence(household_id=household.id, unit_id=unit.id, valid_from=since, reason="registered"))
    audit(session, principal, "create", "household", household.id, None, snapshot(household))
    session.flush()
    return household


def get_household(session: Session, principal: Principal, household_id: int) -> Household:
    return _visible_subject(session, principal, TitleCode.FAMILY, Household, household_id)


def add_household_member(session: Session, principal: Principal, household: Household, data: MemberIn) -> None:
    unit_id = current_unit_id(session, Residence.household_id, household.id)
    require_writer(session, principal, unit_id or 0)
    _require_visible(session, principal, "person", [data.person_id], "body.person_id")
    joined = data.joined_on or clock.today()
    _born_by(session, {data.person_id: joined}, {data.person_id: "body.joined_on"})
    if _already_in_household(session, {data.person_id: joined}):
        raise Conflict("Người này đang là thành viên của một hộ.", code="already_member")
    member = HouseholdMember(
        household_id=household.id, person_id=data.person_id, relation=data.relation, joined_on=joined
    )
    session.add(member)
    session.flush()
    audit(session, principal, "add_member", "household", household.id, None, snapshot(member))
    session.flush()


def end_membership(
    session: Session,
    principal: Principal,
    model,
    owner_column,
    owner_id: int,
    person_column,
    person_id: int,
    unit_id: int | None,
    left_on: date | None,
    entity: str,
) -> None:
    """Close an open membership (household member, clan household, organisation staff)."""
    require_writer(session, principal, unit_id or 0)
    member = session.scalar(
        select(model).where(owner_column == owner_id, person_column == person_id, model.left_on.is_(None))
    )
    if member is None:
        raise Conflict("Người (hoặc hộ) này hiện không là thành viên.", code="not_a_member")
    end = left_on or clock.today()
    if end < member.joined_on:
        raise Problem(
            422,
            "validation_failed",
            "Dữ liệu không hợp lệ",
            "Ngày rời không được trước ngày vào.",
            errors=[FieldError(field="body.left_on", code="before_join", message="Ngày rời trước ngày vào.")],
        )
    before = snapshot(member)
    member.left_on = end
    audit(session, principal, "end_member", entity, owner_id, before, snapshot(member))
    session.flush()


def clan_out(session: Session, clan: Clan) -> ClanOut:
    rows = session.execute(
        select(ClanHousehold, Household.name)
        .join(Household, Household.id == ClanHousehold.household_id)
        .where(ClanHousehold.clan_id == clan.id)
        .order_by(ClanHousehold.joined_on, ClanHousehold.id)
    )
    return ClanOut(
        id=clan.id,
        name=clan.name,
        home_unit=_brief(session, [clan.home_unit_id])[clan.home_unit_id],
        households=[
            ClanHouseholdOut(household_id=m.household_id, name=name, joined_on=m.joined_on, left_on=m.left_on)
            for m, name in rows
        ],
    )


def create_clan(session: Session, principal: Principal, data: ClanCreate) -> Clan:
    since = data.since or clock.today()
    commune = unit_named(session, data.home_commune_code, since, "body.home_commune_code")
    if commune.level != UnitLevel.COMMUNE:
        raise invalid_field("body.home_commune_code", "wrong_unit_level", f"{commune.name} không phải cấp xã.")
    require_current_or_writable(session, principal, commune, "body.home_commune_code", since)
    require_writer(session, principal, commune.id)
    ids = list(dict.fromkeys(data.household_ids))
    _require_visible(session, principal, "household", ids, "body.household_ids")
    clan = Clan(name=data.name, home_unit_id=commune.id)
    session.add(clan)
    session.flush()
    session.add_all(ClanHousehold(clan_id=clan.id, household_id=hid, joined_on=since) for hid in ids)
    audit(session, principal, "create", "clan", clan.id, None, snapshot(clan))
    session.flush()
    return clan


def get_clan(session: Session, principal: Principal, clan_id: int) -> Clan:
    return _visible_subject(session, principal, TitleCode.CLAN, Clan, clan_id)


def add_clan_household(
    session: Session, principal: Principal, clan: Clan, household_id: int, joined: date | None
) -> None:
    require_writer(session, principal, clan.home_unit_id)
    _require_visible(session, principal, "household", [household_id], "body.household_id")
    if session.scalar(
        select(ClanHousehold.id).where(
            ClanHousehold.clan_id == clan.id,
            ClanHousehold.household_id == household_id,
            ClanHousehold.left_on.is_(None),
        )
    ):
        raise Conflict("Hộ này đã thuộc dòng họ.", code="already_member")
    member = ClanHousehold(clan_id=clan.id, household_id=household_id, joined_on=joined or clock.today())
    session.add(member)
    session.flush()
    audit(session, principal, "add_member", "clan", clan.id, None, snapshot(member))
    session.flush()


def organisation_out(session: Session, organisation: Organisation) -> OrganisationOut:
    unit_id = current_unit_id(session, Residence.organisation_id, organisation.id)
    return OrganisationOut(
        id=organisation.id,
        name=organisation.name,
        kind=organisation.kind,
        sector=organisation.sector,
        managing_level=organisation.managing_level,
        unit=_brief(session, [unit_id] if unit_id else []).get(unit_id or 0),
        staff=_members(session, OrganisationStaff, OrganisationStaff.organisation_id, organisation.id),
    )


def create_organisation(session: Session, principal: Principal, data: OrganisationCreate) -> Organisation:
    since = data.since or clock.today()
    unit = _writable_unit(session, principal, data.unit_code, since)
    person_ids = [m.person_id for m in data.staff]
    if len(set(person_ids)) != len(person_ids):
        raise Problem(
            422,
            "validation_failed",
            "Dữ liệu không hợp lệ",
            "Một người được ghi hai lần.",
            errors=[FieldError(field="body.staff", code="duplicate_person", message="Một người chỉ ghi một lần.")],
        )
    _require_visible(session, principal, "person", person_ids, "body.staff")
    _born_by(
        session,
        {m.person_id: m.joined_on or since for m in data.staff},
        {
            m.person_id: f"body.staff.{index}.joined_on" if m.joined_on else "body.since"
            for index, m in enumerate(data.staff)
        },
    )
    organisation = Organisation(name=data.name, kind=data.kind, sector=data.sector, managing_level=data.managing_level)
    session.add(organisation)
    session.flush()
    session.add_all(
        OrganisationStaff(organisation_id=organisation.id, person_id=m.person_id, joined_on=m.joined_on or since)
        for m in data.staff
    )
    session.add(Residence(organisation_id=organisation.id, unit_id=unit.id, valid_from=since, reason="registered"))
    audit(session, principal, "create", "organisation", organisation.id, None, snapshot(organisation))
    session.flush()
    return organisation


def get_organisation(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    return _visible_subject(session, principal, TitleCode.UNIT, Organisation, organisation_id)


def add_staff(session: Session, principal: Principal, organisation: Organisation, data: MemberIn) -> None:
    unit_id = current_unit_id(session, Residence.organisation_id, organisation.id)
    require_writer(session, principal, unit_id or 0)
    _require_visible(session, principal, "person", [data.person_id], "body.person_id")
    if session.scalar(
        select(OrganisationStaff.id).where(
            OrganisationStaff.organisation_id == organisation.id,
            OrganisationStaff.person_id == data.person_id,
            OrganisationStaff.left_on.is_(None),
        )
    ):
        raise Conflict("Người này đang là cán bộ, người lao động của đơn vị.", code="already_member")
    joined = data.joined_on or clock.today()
    _born_by(session, {data.person_id: joined}, {data.person_id: "body.joined_on"})
    member = OrganisationStaff(organisation_id=organisation.id, person_id=data.person_id, joined_on=joined)
    session.add(member)
    session.flush()
    audit(session, principal, "add_member", "organisation", organisation.id, None, snapshot(member))
    session.flush()


# --- registrations ------------------------------------------------------------------------------


def register(session: Session, principal: Principal, data: RegistrationCreate) -> Registration:
    unit_id = subject_unit(session, data.title, data.subject_id)
    require_writer(session, principal, unit_id)
    if session.scalar(
        select(Registration.id).where(
            Registration.title == data.title, Registration.subject_id == data.subject_id, Registration.year == data.year
        )
    ):
        raise Conflict(f"Đối tượng đã đăng ký danh hiệu này cho năm {data.year}.", code="already_registered")
    registration = Registration(
        title=data.title,
        subject_id=data.subject_id,
        year=data.year,
        unit_id=unit_id,
        registered_on=data.registered_on or clock.today(),
        created_by_id=principal.id or None,
    )
    session.add(registration)
    session.flush()
    audit(session, principal, "create", "registration", registration.id, None, snapshot(registration))
    session.flush()
    return registration


def registration_out(session: Session, registration: Registration) -> RegistrationOut:
    return RegistrationOut(
        id=registration.id,
        title=registration.title,
        subject_id=registration.subject_id,
        year=registration.year,
        registered_on=registration.registered_on,
        unit=_brief(session, [registration.unit_id])[registration.unit_id],
    )
