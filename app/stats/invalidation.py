"""Which pre-built counts a write makes stale, decided in the writing transaction.

After every flush the changed rows are noted on the session; just before commit they are
traced to the units where the affected subjects live (every residence they ever had, so both
sides of a move) and those units get a new version (summary.bump): one small row per village,
so writers in different villages never wait for each other. Once the write has committed, the
callback the app factory installed asks a background job to rebuild those units' counts; until
then readers count them live. A change the registry cannot place (the unit tree itself) makes
every build stale. Writes done with bulk SQL instead of the ORM (seed loads, the synthetic
generator) call `summary.bump_all` themselves. Changes to what the statistics are compared
with (targets, unit groups, official denominators) move the `stats` data version on, which the
public answers' ETags include; they are rare, officers' writes.

What each change can move, and so what it touches:
- a residence: the counts of its unit (before and after the change);
- a person (birth date, sector, recognition, registration): where the person lives, where the
  households the person belongs to live (education segment) and where the organisations the
  person works for are (staff of learning units);
- a household (membership, recognition, registration): where it and its members live (adults
  in learning families);
- an organisation (sector, staff, recognition, registration): where it is based;
- a clan (title, households): its home commune (before and after) and where the adults of its
  households live (adults in learning clans);
- a village's or commune's own title: that unit (its residents are adults in a learning
  community while it holds the title).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain

from sqlalchemy import event, inspect, select, union, update
from sqlalchemy.orm import Session, sessionmaker

from app.assessments.models import Recognition
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
from app.rules import TitleCode
from app.stats import summary
from app.stats.models import DataVersion, OfficialDenominator, Target, UnitGroupMember
from app.units.models import AdministrativeUnit, UnitAncestor, UnitSuccession

KEY = "stats_touched"
CHANGED = "stats_units_changed"
ON_CHANGE = "stats_on_change"
logger = logging.getLogger("hoctap.stats")


@dataclass
class Touched:
    units: set[int] = field(default_factory=set)
    people: set[int] = field(default_factory=set)
    households: set[int] = field(default_factory=set)
    organisations: set[int] = field(default_factory=set)
    clans: set[int] = field(default_factory=set)
    everything: bool = False
    settings: bool = False  # targets, unit groups, official denominators

    def __bool__(self) -> bool:
        return bool(
            self.everything
            or self.settings
            or self.units
            or self.people
            or self.households
            or self.organisations
            or self.clans
        )


def _values(entity, attribute: str) -> set[int]:
    """The attribute's value now and, for a changed row, before the change."""
    history = inspect(entity).attrs[attribute].history
    return {value for value in chain(history.added, history.unchanged, history.deleted) if value is not None}


def _note_subject(touched: Touched, title: str, subject_id: int) -> None:
    match title:
        case TitleCode.CITIZEN:
            touched.people.add(subject_id)
        case TitleCode.FAMILY:
            touched.households.add(subject_id)
        case TitleCode.UNIT:
            touched.organisations.add(subject_id)
        case TitleCode.CLAN:
            touched.clans.add(subject_id)
        case _:  # a village's or commune's own title
            touched.units.add(subject_id)


def note(touched: Touched, entity) -> None:
    match entity:
        case Residence():
            touched.units |= _values(entity, "unit_id")
        case Person():
            touched.people.add(entity.id)
        case PersonSector():
            touched.people |= _values(entity, "person_id")
        case HouseholdMember():
            touched.households |= _values(entity, "household_id")
            touched.people |= _values(entity, "person_id")
        case Household():
            touched.households.add(entity.id)
        case Organisation():
            touched.organisations.add(entity.id)
        case OrganisationStaff():
            touched.organisations |= _values(entity, "organisation_id")
        case Clan():
            touched.clans.add(entity.id)
            touched.units |= _values(entity, "home_unit_id")
        case ClanHousehold():
            touched.clans |= _values(entity, "clan_id")
            touched.households |= _values(entity, "household_id")
        case Recognition() | Registration():
            for title in _values(entity, "title"):
                for subject in _values(entity, "subject_id"):
                    _note_subject(touched, title, subject)
        case AdministrativeUnit() | UnitAncestor() | UnitSuccession():
            touched.everything = True
        case Target() | UnitGroupMember() | OfficialDenominator():
            touched.settings = True


def _after_flush(session: Session, _context) -> None:
    # Here ids are assigned and attribute history still shows what the flush changed.
    touched = session.info.setdefault(KEY, Touched())
    for entity in chain(session.new, session.dirty, session.deleted):
        note(touched, entity)


def units_touched(session: Session, touched: Touched) -> set[int]:
    """The units where the touched subjects live or lived. One UNION of indexed look-ups (an OR
    of the same conditions made PostgreSQL scan every residence)."""
    people = sorted(touched.people)
    households = sorted(touched.households)
    lived_by = [
        *([Residence.person_id.in_(people)] if people else []),
        *(
            [
                Residence.household_id.in_(
                    select(HouseholdMember.household_id).where(HouseholdMember.person_id.in_(people))
                ),
                Residence.organisation_id.in_(
                    select(OrganisationStaff.organisation_id).where(OrganisationStaff.person_id.in_(people))
                ),
            ]
            if people
            else []
        ),
        *(
            [
                Residence.household_id.in_(households),
                Residence.person_id.in_(
                    select(HouseholdMember.person_id).where(HouseholdMember.household_id.in_(households))
                ),
            ]
            if households
            else []
        ),
        *([Residence.organisation_id.in_(sorted(touched.organisations))] if touched.organisations else []),
    ]
    units = set(touched.units)
    if lived_by:
        units |= set(session.scalars(union(*(select(Residence.unit_id).where(where) for where in lived_by))))
    if touched.clans:
        clans = sorted(touched.clans)
        units |= set(session.scalars(select(Clan.home_unit_id).where(Clan.id.in_(clans))))
        # Adults of the clan's households belong to a learning clan while it holds the title.
        clan_members = select(HouseholdMember.person_id).where(
            HouseholdMember.household_id.in_(select(ClanHousehold.household_id).where(ClanHousehold.clan_id.in_(clans)))
        )
        units |= set(session.scalars(select(Residence.unit_id).where(Residence.person_id.in_(clan_members)).distinct()))
    return units


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's release: the outer commit sees everything once
    session.flush()  # the last changes pass through _after_flush first
    touched: Touched | None = session.info.pop(KEY, None)
    if not touched:
        return
    if touched.settings or touched.everything:
        session.execute(update(DataVersion).where(DataVersion.name == "stats").values(version=DataVersion.version + 1))
    if touched.everything:
        summary.bump_all(session)
        session.info[CHANGED] = None  # everything: the sweep rebuilds
        return
    units = units_touched(session, touched)
    summary.bump(session, units)
    if units:
        session.info[CHANGED] = units


def _after_commit(session: Session) -> None:
    units = session.info.pop(CHANGED, None)
    callback = session.info.get(ON_CHANGE)
    if units and callback is not None:
        try:
            callback(units)
        except Exception as error:  # the write has committed; the sweep catches up
            logger.warning("could not queue the rebuild of counts: %s", type(error).__name__)


def _after_rollback(session: Session) -> None:
    session.info.pop(CHANGED, None)
    session.info.pop(KEY, None)


def install(factory: sessionmaker[Session], on_change: Callable[[set[int]], None] | None = None) -> None:
    """Listen on the sessions of one factory (idempotent); `on_change(units)` is called after
    a commit that changed the counts of those units."""
    if on_change is not None:
        factory.kw.setdefault("info", {})[ON_CHANGE] = on_change
    if not event.contains(factory, "after_flush", _after_flush):
        event.listen(factory, "after_flush", _after_flush)
        event.listen(factory, "before_commit", _before_commit)
        event.listen(factory, "after_commit", _after_commit)
        event.listen(factory, "after_rollback", _after_rollback)


def note_units(session: Session, unit_ids: set[int]) -> None:
    """Rows written with bulk SQL in this transaction live in these units: their counts go stale
    at commit, as if the ORM had flushed them (the import of spreadsheets uses this)."""
    session.info.setdefault(KEY, Touched()).units.update(unit_ids)
