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

from app.assessments.models import Recognition
from app.registry.models import (
    Clan,
    HouseholdMember,
    Organisation,
    OrganisationStaff,
    Person,
    PersonSector,
    Registration,
    Residence,
)
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
        "Người từ 18 tuổi trở lên thuộc các hộ đạt Gia đình học tập",
    ),
    "staff_of_learning_units": (
        "staff_of_learning_units",
        "Cán bộ, người lao động của các cơ quan, đơn vị đạt Đơn vị học tập",
    ),
}


def definition(title: TitleCode, segment: str | None) -> tuple[str, str]:
    """The named denominator definition (and its Vietnamese label) for a title and segment."""
    if segment in SEGMENT_DEFINITIONS:
        return SEGMENT_DEFINITIONS[segment]
    name, label = DEFINITIONS[title]
    if segment == EDUCATION:
        return f"{name}:education", f"{label} — thuộc ngành giáo dục"
    if segment:
        return f"{name}:group:{segment}", f"{label} — thuộc nhóm đơn vị {segment}"
    return name, label


@dataclass(frozen=True)
class Scope:
    """Whose subjects are counted: a unit's territory on a day, optionally a segment."""

    unit: AdministrativeUnit
    year: int
    reference_day: date
    segment: str | None = None  # "education" or a unit group name

    @property
    def ended(self) -> bool:
        return self.unit.valid_to is not None and self.unit.valid_to <= self.reference_day

    @property
    def last_day(self) -> date:
        return self.unit.valid_to - timedelta(days=1) if self.unit.valid_to else self.reference_day


def reference_day(year: int, today: date | None = None) -> date:
    today = today or date.today()
    return min(date(year, 12, 31), today)


def _under(ancestor_id: int):
    return select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == ancestor_id)


def _on(model, day: date):
    return and_(model.valid_from <= day, or_(model.valid_to.is_(None), model.valid_to > day))


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
        return current.where(Residence.unit_id.in_(_under(scope.unit.id)))
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
            AdministrativeUnit.id.in_(_under(scope.unit.id)),
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
        fifteen = date(day.year - 15, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)
        query = (
            select(people.c.id, people.c.unit_id)
            .join(Person, Person.id == people.c.id)
            .where(Person.birth_date <= fifteen)
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
                    HouseholdMember.joined_on <= day,
                    or_(HouseholdMember.left_on.is_(None), HouseholdMember.left_on > day),
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
        query = select(Clan.id.label("id"), Clan.home_unit_id.label("unit_id"))
        if homes is None:
            query = query.where(Clan.home_unit_id.in_(_under(scope.unit.id)))
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


def _holding(title: TitleCode, year: int, day: date):
    return and_(
        Recognition.title == title,
        Recognition.revoked_at.is_(None),
        or_(Recognition.period == year, and_(Recognition.valid_from <= day, Recognition.valid_until > day)),
    )


def holders(title: TitleCode, year: int, day: date) -> Select:
    """Subjects holding the title for `year`: recognised for that period, or in force on `day`."""
    return select(Recognition.subject_id).where(_holding(title, year, day))


def holds(subject_id, title: TitleCode, year: int, day: date):
    """Correlated form of `holders`: one index probe per subject on (title, subject_id)."""
    return exists().where(Recognition.subject_id == subject_id, _holding(title, year, day))


def count(session: Session, title: TitleCode, scope: Scope, registered_only: bool = False) -> tuple[int, int]:
    """(numerator, denominator) for one title and scope, in one query."""
    base = population(title, scope)
    if registered_only:
        inner = base.subquery()
        base = select(inner.c.id, inner.c.unit_id).where(
            inner.c.id.in_(
                select(Registration.subject_id).where(Registration.title == title, Registration.year == scope.year)
            )
        )
    subjects = base.subquery()
    numerator, denominator = session.execute(
        select(
            func.count(func.distinct(subjects.c.id)).filter(
                holds(subjects.c.id, title, scope.year, scope.reference_day)
            ),
            func.count(func.distinct(subjects.c.id)),
        )
    ).one()
    return int(numerator or 0), int(denominator or 0)


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


def count_learning_members(session: Session, scope: Scope, segment: str, registered_only: bool) -> tuple[int, int]:
    """Công dân học tập among (a) adults (18+) living in the territory who belong to a household
    holding Gia đình học tập, or (b) staff of organisations in the territory holding Đơn vị
    học tập (QĐ 677's two populations)."""
    day = scope.reference_day
    if segment == "adults_in_learning_families":
        people = _resident_ids("person", Scope(scope.unit, scope.year, day)).subquery()
        adult = date(day.year - 18, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)
        families = holders(TitleCode.FAMILY, scope.year, day)
        base = (
            select(people.c.id)
            .join(Person, Person.id == people.c.id)
            .where(
                Person.birth_date <= adult,
                exists().where(
                    HouseholdMember.person_id == people.c.id,
                    HouseholdMember.household_id.in_(families),
                    HouseholdMember.joined_on <= day,
                    or_(HouseholdMember.left_on.is_(None), HouseholdMember.left_on > day),
                ),
            )
        )
    else:
        organisations = _resident_ids("organisation", Scope(scope.unit, scope.year, day)).subquery()
        units = holders(TitleCode.UNIT, scope.year, day)
        base = select(OrganisationStaff.person_id.label("id")).where(
            OrganisationStaff.organisation_id.in_(select(organisations.c.id)),
            OrganisationStaff.organisation_id.in_(units),
            OrganisationStaff.joined_on <= day,
            or_(OrganisationStaff.left_on.is_(None), OrganisationStaff.left_on > day),
        )
    if registered_only:
        inner = base.subquery()
        base = select(inner.c.id).where(
            inner.c.id.in_(
                select(Registration.subject_id).where(
                    Registration.title == TitleCode.CITIZEN, Registration.year == scope.year
                )
            )
        )
    subjects = base.subquery()
    numerator, denominator = session.execute(
        select(
            func.count(func.distinct(subjects.c.id)).filter(holds(subjects.c.id, TitleCode.CITIZEN, scope.year, day)),
            func.count(func.distinct(subjects.c.id)),
        )
    ).one()
    return int(numerator or 0), int(denominator or 0)
