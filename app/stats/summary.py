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

A write only moves versions on; builds are made by background jobs (app/stats/jobs.py): right
after the write commits for the units it touched, and by a sweep every minute for anything
else out of date (a new day, a lost job). A read never writes: it sums the rows of the units
whose build is current and counts the others live, by the same queries, so every answer is
exact; it says how many units it had to count live and asks for them to be built.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
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
    """Rebuild the units whose counts are missing or stale (in the caller's transaction);
    returns how many were rebuilt, or None when a concurrent build of the same units got in
    the way (nothing is changed then; the next sweep tries again).

    Versions are read before counting: a write committed meanwhile leaves the build marked
    older than the data, so it is counted live and rebuilt rather than trusted. `territory`, a
    select of the same unit ids, spares a long IN list when every unit is rebuilt."""
    stale, versions, global_version = _stale(session, units, year, day, basis)
    if not stale:
        return 0
    leaves = territory if territory is not None and len(stale) == len(units) else None
    try:
        with session.begin_nested():
            _write(session, stale, versions, global_version, year, day, basis, leaves)
    except (IntegrityError, OperationalError):
        return None  # another job built the same units meanwhile
    return len(stale)


def catch_up(session: Session, units: set[int]) -> int | None:
    """After a write: rebuild the touched units' counts that readers use (every year and basis
    already built for them), in the caller's transaction. Returns how many builds were made, or
    None when a concurrent build got in the way."""
    touched = sorted(units)
    if not touched:
        return 0
    made = 0
    pairs = session.execute(
        select(CountBuild.year, CountBuild.basis).where(CountBuild.unit_id.in_(touched)).distinct()
    ).all()
    for year, basis in pairs:
        done = build(session, touched, year, counting.reference_day(year), basis)
        if done is None:
            return None
        made += done
    return made


def out_of_date(session: Session, limit: int) -> list[tuple[int, str, list[int]]]:
    """Builds that no longer match the data: [(year, basis, units)], at most `limit` units in
    all. Out of date are builds whose unit moved on since, any build older than a bulk change,
    and builds counted on another day than their year's reference day (each day of a year
    still running; 31 December once it has ended)."""
    global_version = session.scalar(select(DataVersion.version).where(DataVersion.name == GLOBAL_VERSION)) or 0
    current = func.coalesce(CountVersion.version, 0)
    found: list[tuple[int, str, list[int]]] = []
    for year in session.scalars(select(CountBuild.year).distinct().order_by(CountBuild.year.desc())).all():
        rows = session.execute(
            select(CountBuild.basis, CountBuild.unit_id)
            .outerjoin(CountVersion, CountVersion.unit_id == CountBuild.unit_id)
            .where(
                CountBuild.year == year,
                (CountBuild.unit_version != current)
                | (CountBuild.global_version != global_version)
                | (CountBuild.reference_day != counting.reference_day(year)),
            )
            .order_by(CountBuild.basis, CountBuild.unit_id)
            .limit(limit)
        ).all()
        grouped: dict[str, list[int]] = defaultdict(list)
        for basis, unit in rows:
            grouped[basis].append(unit)
        found += [(year, basis, units) for basis, units in grouped.items()]
        limit -= len(rows)
        if limit <= 0:
            break
    return found


def territory_version(session: Session, unit: AdministrativeUnit) -> tuple[int, int]:
    """(sum of the versions of every unit under `unit`, global version): any write that can
    change a count of the territory moves the first on; a bulk change the second."""
    under = session.scalar(
        select(func.coalesce(func.sum(CountVersion.version), 0)).where(CountVersion.unit_id.in_(_territory(unit)))
    )
    global_version = session.scalar(select(DataVersion.version).where(DataVersion.name == GLOBAL_VERSION)) or 0
    return int(under or 0), int(global_version)


def _write(session, stale, versions, global_version, year: int, day: date, basis: str, leaves) -> None:
    """Count the stale units and replace their rows and build records (no commit)."""
    rows = _count_rows(session, stale, year, day, basis, leaves)
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


def _count_rows(session, units: list[int], year: int, day: date, basis: str, leaves=None) -> list[dict]:
    """The rows a build of `units` holds: per unit, title and segment, counted live."""
    anchor = session.get(AdministrativeUnit, units[0])
    if leaves is None:
        leaves = select(AdministrativeUnit.id).where(AdministrativeUnit.id.in_(units))
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
    return rows


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


@dataclass
class Tally:
    """A territory's numbers, exact when read: `counts` {(title, segment): (numerator,
    denominator)}; `live_units` the units counted live because their build was missing or out
    of date (a job is asked to build them)."""

    counts: Counts
    live_units: list[int]


def counts(
    session: Session, unit: AdministrativeUnit, year: int, day: date, basis: str, groups: set[str] = frozenset()
) -> Tally:
    """Numbers for `unit`'s current territory: the pre-built rows of the units whose build is
    current, plus a live count of the others (by the same queries); unit groups from the
    whole-population rows of the units in the group. Writes nothing."""
    territory = _territory(unit)
    units = list(session.scalars(territory))
    stale, _, _ = _stale(session, units, year, day, basis)
    found: Counts = defaultdict(lambda: (0, 0))

    def add(key, numerator, denominator) -> None:
        before = found[key]
        found[key] = (before[0] + int(numerator or 0), before[1] + int(denominator or 0))

    # Mostly out of date (the first read of a day before the sweep): count it all live.
    everything_live = len(stale) * 2 > len(units)
    if not everything_live:
        where = [UnitCount.year == year, UnitCount.basis == basis, UnitCount.unit_id.in_(territory)]
        if stale:
            where.append(UnitCount.unit_id.not_in(stale))
        for title, segment, numerator, denominator in session.execute(
            select(UnitCount.title, UnitCount.segment, func.sum(UnitCount.numerator), func.sum(UnitCount.denominator))
            .where(*where)
            .group_by(UnitCount.title, UnitCount.segment)
        ):
            add((title, segment or None), numerator, denominator)
        for group in groups:
            for title, numerator, denominator in session.execute(
                select(UnitCount.title, func.sum(UnitCount.numerator), func.sum(UnitCount.denominator))
                .where(*where, UnitCount.segment == "", UnitCount.unit_id.in_(_in_group(group)))
                .group_by(UnitCount.title)
            ):
                add((title, group), numerator, denominator)
    if stale:
        live_ids = units if everything_live else stale
        live = territory if everything_live else select(AdministrativeUnit.id).where(AdministrativeUnit.id.in_(stale))
        registered_only = basis == "registered"
        for title, segments in BUILT.items():
            for segment in segments:
                scope = counting.Scope(unit, year, day, segment=segment or None, leaves=live)
                add((title.value, segment or None), *counting.count(session, title, scope, registered_only))
            for group in groups:
                in_group = select(AdministrativeUnit.id).where(
                    AdministrativeUnit.id.in_(_in_group(group)),
                    AdministrativeUnit.id.in_(territory if everything_live else live_ids),
                )
                scope = counting.Scope(unit, year, day, leaves=in_group)
                add((title.value, group), *counting.count(session, title, scope, registered_only))
    return Tally(found, units if everything_live else stale)


def _in_group(group: str):
    """Every unit under a unit of the group."""
    return (
        select(UnitAncestor.unit_id)
        .join(UnitGroupMember, UnitGroupMember.unit_id == UnitAncestor.ancestor_id)
        .where(UnitGroupMember.group == group)
    )


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
