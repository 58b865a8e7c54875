"""Numerators and denominators in SQL (docs/statistics.md states the rules in words).

For a unit U, a title and a year Y, on the reference day R = min(31 Dec Y, today):
- the population is the title's subjects in U's territory on R (e.g. households residing under
  U), optionally narrowed to a segment (education sector, a unit group);
- the numerator is the part of it holding a recognition of the title that is not revoked and
  was either given for period Y or is in force on R.
Roll-ups are sums over the territory (one COUNT over every subject under U), never averages of
percentages. A unit that has ended (e.g. a former district) is tracked over its former
territory: the subjects that lived under it on its last day and have not moved away since,
wherever re-homing put them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from app import clock
from app.assessments.models import Recognition
from app.assessments.predicates import holding
from app.registry.models import (
    Clan,
    ClanHousehold,
    HouseholdMember,
    Organisation,
    OrganisationStaff,
    Person,
    PersonSector,
    Registration,
    Residence,
)
from app.registry.predicates import aged_on, member_on, resident_on
from app.rules import TitleCode
from app.stats.models import UnitGroupMember
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel, UnitSuccession

EDUCATION = "education"

DEFINITIONS: dict[TitleCode, tuple[str, str]] = {
    TitleCode.CITIZEN: ("residents_15_plus", "Người từ 15 tuổi trở lên cư trú trên địa bàn"),
    TitleCode.FAMILY: ("households", "Tổng số hộ gia đình cư trú trên địa bàn"),
    TitleCode.CLAN: ("clans", "Số dòng họ có quê gốc trên địa bàn"),
    TitleCode.COMMUNITY: ("villages", "Số thôn, tổ dân phố"),
    TitleCode.UNIT: ("organisations", "Số cơ quan, đơn vị, trường học trên địa bàn"),
    TitleCode.COMMUNE: ("communes", "Số xã, phường"),
}
REGISTERED_PREFIX = "registered_"
SEGMENT_DEFINITIONS: dict[str, tuple[str, str]] = {
    "adults_in_learning_families": (
        "adults_in_learning_families",
        "Người từ 18 tuổi trở lên trong gia đình, dòng họ, cộng đồng học tập",
    ),
    "staff_of_learning_units": (
        "staff_of_learning_units",
        "Cán bộ, người lao động của các cơ quan, đơn vị đạt Đơn vị học tập",
    ),
}


# The Vietnamese names of the segments (nhóm đối tượng): the one mapping every answer, page and
# report shows instead of the keys.
SEGMENT_LABELS: dict[str, str] = {
    EDUCATION: "Ngành Giáo dục và Đào tạo",
    "adults_in_learning_families": "Người lớn trong gia đình, dòng họ, cộng đồng học tập",
    "staff_of_learning_units": "Cán bộ, người lao động trong đơn vị học tập",
}
# Unit groups with a Vietnamese name; a group an officer made up keeps its name (in quotes).
GROUP_LABELS: dict[str, str] = {
    "disadvantaged": "vùng miền núi, vùng sâu, vùng xa, vùng đặc biệt khó khăn",
}


def group_label(group: str) -> str:
    """A unit group's name in words ("vùng miền núi, …"), for the groups the registry knows."""
    return GROUP_LABELS.get(group, f"nhóm đơn vị “{group}”")


def segment_label(segment: str | None) -> str | None:
    """A segment's Vietnamese name; None for the whole population."""
    if segment is None:
        return None
    if segment in SEGMENT_LABELS:
        return SEGMENT_LABELS[segment]
    return f"Thuộc {group_label(segment)}"


def definition(title: TitleCode, segment: str | None) -> tuple[str, str]:
    """The named denominator definition (and its Vietnamese label) for a title and segment."""
    if segment in SEGMENT_DEFINITIONS:
        return SEGMENT_DEFINITIONS[segment]
    name, label = DEFINITIONS[title]
    if segment == EDUCATION:
        return f"{name}:education", f"{label} — thuộc ngành giáo dục"
    if segment:
        return f"{name}:group:{segment}", f"{label} — thuộc {group_label(segment)}"
    return name, label


@dataclass(frozen=True)
class Scope:
    """Whose subjects are counted: a unit's territory on a day, optionally a segment."""

    unit: AdministrativeUnit
    year: int
    reference_day: date
    segment: str | None = None  # "education", a unit group name or a QĐ 677 population
    # The leaf units (where subjects live) making up the territory; by default every unit
    # under `unit`. The pre-built counts (summary.py) pass the units they rebuild here.
    leaves: Select | None = None

    @property
    def ended(self) -> bool:
        # Pre-built counts name their leaf units: those are counted as they are on the day.
        return self.leaves is None and self.unit.valid_to is not None and self.unit.valid_to <= self.reference_day

    @property
    def last_day(self) -> date:
        return self.unit.valid_to - timedelta(days=1) if self.unit.valid_to else self.reference_day


def reference_day(year: int, today: date | None = None) -> date:
    today = today or clock.today()
    return min(date(year, 12, 31), today)


def _under(ancestor_id: int):
    return select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == ancestor_id)


def _territory(scope: Scope):
    return scope.leaves if scope.leaves is not None else _under(scope.unit.id)


def _on(model, day: date):
    """A dated row (residence, unit) covering `day`."""
    return resident_on(model, day)


_active = member_on  # a membership (household, clan, staff) current on the day


def _in_group(unit_column, group: str):
    members = aliased(UnitAncestor)
    return exists().where(
        members.unit_id == unit_column, members.ancestor_id == UnitGroupMember.unit_id, UnitGroupMember.group == group
    )


def _resident_ids(kind: str, scope: Scope) -> Select:
    """Ids of people / households / organisations in the territory on the reference day."""
    column = getattr(Residence, f"{kind}_id")
    current = select(column.label("id"), Residence.unit_id.label("unit_id")).where(
        column.is_not(None), _on(Residence, scope.reference_day)
    )
    if not scope.ended:
        return current.where(Residence.unit_id.in_(_territory(scope)))
    # Former territory: lived under the unit on its last day, and no real move since.
    earlier = aliased(Residence)
    moved = aliased(Residence)
    earlier_column, moved_column = getattr(earlier, f"{kind}_id"), getattr(moved, f"{kind}_id")
    return current.where(
        exists().where(
            earlier_column == column,
            earlier.unit_id.in_(_under(scope.unit.id)),
            earlier.valid_from <= scope.last_day,
            or_(earlier.valid_to.is_(None), earlier.valid_to > scope.last_day),
        ),
        ~exists().where(moved_column == column, moved.reason == "moved", moved.valid_from > scope.last_day),
    )


def _units_of_territory(level: str, scope: Scope) -> Select:
    """Villages or communes in the territory on the reference day (via successions if ended)."""
    if not scope.ended:
        return select(AdministrativeUnit.id.label("id"), AdministrativeUnit.id.label("unit_id")).where(
            AdministrativeUnit.level == level,
            _on(AdministrativeUnit, scope.reference_day),
            AdministrativeUnit.id.in_(_territory(scope)),
        )
    before = select(AdministrativeUnit.id).where(
        AdministrativeUnit.level == level,
        AdministrativeUnit.id.in_(_under(scope.unit.id)),
        _on(AdministrativeUnit, scope.last_day),
    )
    successors = select(UnitSuccession.successor_id).where(UnitSuccession.predecessor_id.in_(before))
    return select(AdministrativeUnit.id.label("id"), AdministrativeUnit.id.label("unit_id")).where(
        AdministrativeUnit.level == level,
        _on(AdministrativeUnit, scope.reference_day),
        or_(AdministrativeUnit.id.in_(before), AdministrativeUnit.id.in_(successors)),
    )


def population(title: TitleCode, scope: Scope) -> Select:
    """(id, unit_id) of the title's subjects in scope."""
    day = scope.reference_day
    if title == TitleCode.CITIZEN:
        people = _resident_ids("person", scope).subquery()
        query = (
            select(people.c.id, people.c.unit_id)
            .join(Person, Person.id == people.c.id)
            .where(aged_on(Person.birth_date, day, minimum=15))
        )
        if scope.segment == EDUCATION:
            query = query.where(exists().where(PersonSector.person_id == people.c.id, PersonSector.sector == EDUCATION))
    elif title == TitleCode.FAMILY:
        households = _resident_ids("household", scope).subquery()
        query = select(households.c.id, households.c.unit_id)
        if scope.segment == EDUCATION:
            query = query.where(
                exists().where(
                    HouseholdMember.household_id == households.c.id,
                    _active(HouseholdMember, day),
                    PersonSector.person_id == HouseholdMember.person_id,
                    PersonSector.sector == EDUCATION,
                )
            )
    elif title == TitleCode.UNIT:
        organisations = _resident_ids("organisation", scope).subquery()
        query = select(organisations.c.id, organisations.c.unit_id)
        if scope.segment == EDUCATION:
            query = query.join(Organisation, Organisation.id == organisations.c.id).where(
                Organisation.sector == EDUCATION
            )
    elif title == TitleCode.CLAN:
        homes = _units_of_territory(UnitLevel.COMMUNE, scope).subquery() if scope.ended else None
        # A clan is counted from the day its first household joined while any is still in it:
        # a clan whose households joined in 2026 is not in 2025's denominator.
        query = select(Clan.id.label("id"), Clan.home_unit_id.label("unit_id")).where(
            exists().where(ClanHousehold.clan_id == Clan.id, _active(ClanHousehold, day))
        )
        if homes is None:
            query = query.where(Clan.home_unit_id.in_(_territory(scope)))
        else:
            query = query.where(
                or_(Clan.home_unit_id.in_(_under(scope.unit.id)), Clan.home_unit_id.in_(select(homes.c.id)))
            )
    elif title == TitleCode.COMMUNITY:
        query = _units_of_territory(UnitLevel.VILLAGE, scope)
    else:
        query = _units_of_territory(UnitLevel.COMMUNE, scope)
    if scope.segment and scope.segment != EDUCATION:
        inner = query.subquery()
        query = select(inner.c.id, inner.c.unit_id).where(_in_group(inner.c.unit_id, scope.segment))
    return query


def holds(subject_id, title: TitleCode, year: int, day: date):
    """Whether the subject holds the title for `year` (app.assessments.predicates.holding); one
    index probe per subject on (title, subject_id)."""
    return exists().where(Recognition.subject_id == subject_id, holding(title, year, day))


LEARNING_MEMBERS = ("adults_in_learning_families", "staff_of_learning_units")


def counted(title: TitleCode, scope: Scope, registered_only: bool = False) -> tuple[Select, TitleCode]:
    """The counted subjects as (id, unit_id, holder) and the title the holder must hold.

    For the QĐ 677 populations the subjects are people (adults of learning families) or staff
    posts (a person on the staff of an organisation: someone on two organisations' staff is
    counted in each, as each organisation reports its own staff), and the holder must hold
    Công dân học tập. Otherwise the subject holds `title` itself."""
    if scope.segment in LEARNING_MEMBERS:
        base, held, registration_title = _learning_members(scope), TitleCode.CITIZEN, TitleCode.CITIZEN
    else:
        inner = population(title, scope).subquery()
        base, held, registration_title = (
            select(inner.c.id, inner.c.unit_id, inner.c.id.label("holder")),
            title,
            title,
        )
    if registered_only:
        inner = base.subquery()
        base = select(inner.c.id, inner.c.unit_id, inner.c.holder).where(
            inner.c.holder.in_(
                select(Registration.subject_id).where(
                    Registration.title == registration_title, Registration.year == scope.year
                )
            )
        )
    return base, held


def _learning_members(scope: Scope) -> Select:
    """Công dân học tập's QĐ 677 populations: (a) adults (18+) living in the territory in a
    learning family, clan or community: a member of a household holding Gia đình học tập, or of
    a household belonging to a clan holding Dòng họ học tập, or living in a village holding
    Cộng đồng học tập; (b) staff of organisations in the territory holding Đơn vị học tập."""
    day, year = scope.reference_day, scope.year
    place = Scope(scope.unit, year, day, leaves=scope.leaves)
    if scope.segment == "adults_in_learning_families":
        people = _resident_ids("person", place).subquery()
        member = and_(HouseholdMember.person_id == people.c.id, _active(HouseholdMember, day))
        return (
            select(people.c.id, people.c.unit_id, people.c.id.label("holder"))
            .join(Person, Person.id == people.c.id)
            .where(
                aged_on(Person.birth_date, day, minimum=18),
                or_(
                    holds(people.c.unit_id, TitleCode.COMMUNITY, year, day),
                    exists().where(member, holds(HouseholdMember.household_id, TitleCode.FAMILY, year, day)),
                    # OFFSET 0 keeps this a probe per person: PostgreSQL otherwise may hash every
                    # adult of every learning clan in the city first (measured: 0.3 s per ward).
                    select(HouseholdMember.person_id)
                    .join(ClanHousehold, ClanHousehold.household_id == HouseholdMember.household_id)
                    .where(member, _active(ClanHousehold, day), holds(ClanHousehold.clan_id, TitleCode.CLAN, year, day))
                    .offset(0)
                    .exists(),
                ),
            )
        )
    organisations = _resident_ids("organisation", place).subquery()
    return (
        select(OrganisationStaff.id, organisations.c.unit_id, OrganisationStaff.person_id.label("holder"))
        .join(organisations, organisations.c.id == OrganisationStaff.organisation_id)
        .where(
            holds(OrganisationStaff.organisation_id, TitleCode.UNIT, year, day),
            _active(OrganisationStaff, day),
        )
    )


def count(session: Session, title: TitleCode, scope: Scope, registered_only: bool = False) -> tuple[int, int]:
    """(numerator, denominator) for one title and scope (segment included)."""
    rows = _tally(session, title, scope, registered_only, by_unit=False)
    return rows[0][1], rows[0][2]


def count_by_unit(
    session: Session, title: TitleCode, scope: Scope, registered_only: bool = False
) -> list[tuple[int, int, int]]:
    """[(unit_id, numerator, denominator)] per unit where the subjects live: summing them over
    any set of units gives that set's numbers (each subject lives in one unit on a day)."""
    return _tally(session, title, scope, registered_only, by_unit=True)


def _tally(session: Session, title: TitleCode, scope: Scope, registered_only: bool, by_unit: bool):
    # One pass: a ward's few thousand subjects each cost an index probe for the numerator.
    # (Splitting off the numerator as a semi-join measured slower, for a village and a city.)
    base, held = counted(title, scope, registered_only)
    subjects = base.subquery()
    number = func.count(func.distinct(subjects.c.id))
    columns = (number.filter(holds(subjects.c.holder, held, scope.year, scope.reference_day)), number)
    if not by_unit:
        numerator, denominator = session.execute(select(*columns)).one()
        return [(None, int(numerator or 0), int(denominator or 0))]
    key = subjects.c.unit_id
    return [(unit, int(n), int(d)) for unit, n, d in session.execute(select(key, *columns).group_by(key))]


def assessed_count(session: Session, title: TitleCode, scope: Scope) -> int:
    """Subjects in scope with a current (not superseded) assessment for the year."""
    from app.assessments.models import Assessment, AssessmentState

    subjects = population(title, scope).subquery()
    return int(
        session.scalar(
            select(func.count(func.distinct(Assessment.subject_id))).where(
                Assessment.title == title,
                Assessment.period == scope.year,
                Assessment.state != AssessmentState.SUPERSEDED,
                Assessment.subject_id.in_(select(subjects.c.id)),
            )
        )
        or 0
    )


def registered_count(session: Session, title: TitleCode, scope: Scope) -> int:
    subjects = population(title, scope).subquery()
    return int(
        session.scalar(
            select(func.count(func.distinct(Registration.subject_id))).where(
                Registration.title == title,
                Registration.year == scope.year,
                Registration.subject_id.in_(select(subjects.c.id)),
            )
        )
        or 0
    )
