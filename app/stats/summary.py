"""Pre-built counts (số liệu dựng sẵn) behind the progress endpoint, as DHIS2 serves analytics.

Counting one ward of a million-person city takes thousands of index probes per title; summing
pre-built rows takes a few milliseconds. The rows hold, per unit where subjects live (a
village, or a commune, district or province for what is registered there directly), title and
segment, the numerator and denominator of one year and basis, counted by the same queries as
the live path (counting.py). Each unit's build records:

- the reference day it was counted on (today for the current year, so it is rebuilt daily);
- the unit's version, which every write that can change one of its counts moves on in the
  writing transaction (invalidation.py);
- the global version, moved on by writes that cannot be placed (unit tree, bulk loads).

The writing transaction itself rebuilds what it touched (a village, or the villages on both
sides of a move: tens of milliseconds), for every year and basis already built there. A read
finds the units under the asked one whose build is still missing or older than any of these
(first read of a day, after a bulk change), rebuilds only those (one grouped query per title
and segment for all of them), then sums. Numbers are never stale.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from app import clock
from app.rules import TitleCode
from app.stats import counting
from app.stats.models import CountBuild, CountVersion, DataVersion, UnitCount, UnitGroupMember
from app.units.models import AdministrativeUnit, UnitAncestor

GLOBAL_VERSION = "stats_rebuild"
# A write touching more units than this (a bulk change) leaves them to be rebuilt by readers.
REFRESH_LIMIT = 200
# What is pre-built: every title's whole population, and the segments the registry can count.
BUILT: dict[TitleCode, tuple[str, ...]] = {
    TitleCode.CITIZEN: ("", counting.EDUCATION, *counting.LEARNING_MEMBERS),
    TitleCode.FAMILY: ("", counting.EDUCATION),
    TitleCode.CLAN: ("",),
    TitleCode.COMMUNITY: ("",),
    TitleCode.UNIT: ("", counting.EDUCATION),
    TitleCode.COMMUNE: ("",),
}

Counts = dict[tuple[str, str | None], tuple[int, int]]


def _stale(session: Session, units: list[int], year: int, day: date, basis: str) -> tuple[list[int], dict, int]:
    """Units without a build counted on `day` from their current versions."""
    versions, built = {}, {}
    for chunk in _chunks(units):
        versions.update(
            session.execute(
                select(CountVersion.unit_id, CountVersion.version).where(CountVersion.unit_id.in_(chunk))
            ).all()
        )
        built.update(
            (unit, (reference_day, unit_version, global_version))
            for unit, reference_day, unit_version, global_version in session.execute(
                select(
                    CountBuild.unit_id, CountBuild.reference_day, CountBuild.unit_version, CountBuild.global_version
                ).where(CountBuild.unit_id.in_(chunk), CountBuild.year == year, CountBuild.basis == basis)
            )
        )
    global_version = session.scalar(select(DataVersion.version).where(DataVersion.name == GLOBAL_VERSION)) or 0
    stale = [unit for unit in units if built.get(unit) != (day, versions.get(unit, 0), global_version)]
    return stale, versions, global_version


def build(session: Session, units: list[int], year: int, day: date, basis: str, territory=None) -> int | None:
    """Rebuild the units whose counts are missing or stale and commit; returns how many were
    rebuilt, or None when a concurrent write or build got in the way (nothing is changed then).

    Versions are read before counting: a write committed meanwhile leaves the build marked
    older than the data, so it is rebuilt on the next read rather than trusted. `territory`, a
    select of the same unit ids, spares a long IN list when every unit is rebuilt."""
    stale, versions, global_version = _stale(session, units, year, day, basis)
    if not stale:
        return 0
    leaves = territory if territory is not None and len(stale) == len(units) else None
    try:
        _write(session, stale, versions, global_version, year, day, basis, leaves)
        session.commit()
    except (IntegrityError, OperationalError):
        # Another request built the same units, or a write moved them on, meanwhile.
        session.rollback()
        return None
    return len(stale)


def refresh(session: Session, units: set[int]) -> None:
    """Inside a writing transaction: rebuild the touched units' counts that readers use (every
    year and basis already built for them), so the first read after a write is a sum too. It
    gives way to a reader building the same units at that moment; the bumped versions then
    make the next read rebuild them."""
    touched = sorted(units)
    if not touched or len(touched) > REFRESH_LIMIT:
        return  # a bulk change: readers rebuild lazily
    built = session.execute(
        select(CountBuild.year, CountBuild.basis).where(CountBuild.unit_id.in_(touched)).distinct()
    ).all()
    for year, basis in built:
        day = counting.reference_day(year)
        stale, versions, global_version = _stale(session, touched, year, day, basis)
        if not stale:
            continue
        try:
            with session.begin_nested():
                _write(session, stale, versions, global_version, year, day, basis, None)
        except (IntegrityError, OperationalError):
            pass


def _write(session, stale, versions, global_version, year: int, day: date, basis: str, leaves) -> None:
    """Count the stale units and replace their rows and build records (no commit)."""
    anchor = session.get(AdministrativeUnit, stale[0])
    if leaves is None:
        leaves = select(AdministrativeUnit.id).where(AdministrativeUnit.id.in_(stale))
    rows = []
    for title, segments in BUILT.items():
        for segment in segments:
            scope = counting.Scope(anchor, year, day, segment=segment or None, leaves=leaves)
            rows += [
                {
                    "unit_id": unit_id,
                    "year": year,
                    "basis": basis,
                    "title": title.value,
                    "segment": segment,
                    "numerator": numerator,
                    "denominator": denominator,
                }
                for unit_id, numerator, denominator in counting.count_by_unit(
                    session, title, scope, registered_only=basis == "registered"
                )
                if numerator or denominator
            ]
    for chunk in _chunks(stale):
        for model in (UnitCount, CountBuild):
            session.execute(delete(model).where(model.unit_id.in_(chunk), model.year == year, model.basis == basis))
    if rows:
        session.execute(insert(UnitCount), rows)
    built_at = clock.now()
    session.execute(
        insert(CountBuild),
        [
            {
                "unit_id": unit,
                "year": year,
                "basis": basis,
                "reference_day": day,
                "unit_version": versions.get(unit, 0),
                "global_version": global_version,
                "built_at": built_at,
            }
            for unit in stale
        ],
    )


def _chunks(ids: list[int], size: int = 5000):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _territory(unit: AdministrativeUnit):
    """Every unit ever under `unit`, itself included: a residence recorded at a unit before or
    after its time is still counted, as in the live count."""
    return select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == unit.id)


def build_under(session: Session, unit: AdministrativeUnit, year: int, day: date, basis: str) -> int | None:
    """Bring every unit under `unit` up to date (e.g. a whole province, nightly)."""
    territory = _territory(unit)
    return build(session, list(session.scalars(territory)), year, day, basis, territory)


def counts(
    session: Session, unit: AdministrativeUnit, year: int, day: date, basis: str, groups: set[str] = frozenset()
) -> Counts | None:
    """{(title, segment): (numerator, denominator)} for `unit`'s current territory, from the
    pre-built rows (rebuilt first where stale); unit groups from the whole-population rows of
    the units in the group. None when writes kept the rows from being brought up to date
    twice running: the caller then counts live."""
    attempts = 2
    while build_under(session, unit, year, day, basis) is None:
        attempts -= 1
        if not attempts:
            return None
    where = [UnitCount.year == year, UnitCount.basis == basis, UnitCount.unit_id.in_(_territory(unit))]
    found: Counts = defaultdict(lambda: (0, 0))
    for title, segment, numerator, denominator in session.execute(
        select(UnitCount.title, UnitCount.segment, func.sum(UnitCount.numerator), func.sum(UnitCount.denominator))
        .where(*where)
        .group_by(UnitCount.title, UnitCount.segment)
    ):
        found[(title, segment or None)] = (int(numerator), int(denominator))
    for group in groups:
        in_group = (
            select(UnitAncestor.unit_id)
            .join(UnitGroupMember, UnitGroupMember.unit_id == UnitAncestor.ancestor_id)
            .where(UnitGroupMember.group == group)
        )
        for title, numerator, denominator in session.execute(
            select(UnitCount.title, func.sum(UnitCount.numerator), func.sum(UnitCount.denominator))
            .where(*where, UnitCount.segment == "", UnitCount.unit_id.in_(in_group))
            .group_by(UnitCount.title)
        ):
            found[(title, group)] = (int(numerator), int(denominator))
    return found


def bump(session: Session, units: set[int]) -> None:
    """Move the given units' versions on (in the caller's transaction)."""
    if not units:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(CountVersion)
    statement = statement.on_conflict_do_update(
        index_elements=[CountVersion.unit_id], set_={"version": CountVersion.version + 1}
    )
    # Sorted, so two writers touching the same units lock them in the same order.
    session.execute(statement, [{"unit_id": unit, "version": 1} for unit in sorted(units)])


def bump_all(session: Session) -> None:
    """Every pre-built count is stale (unit tree changed, bulk load)."""
    session.execute(
        update(DataVersion).where(DataVersion.name == GLOBAL_VERSION).values(version=DataVersion.version + 1)
    )
