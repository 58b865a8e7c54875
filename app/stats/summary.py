"""Pre-built counts (số liệu dựng sẵn) behind the progress endpoint, as DHIS2 serves analytics.

Counting one ward of a million-person city takes thousands of index probes per title; summing
pre-built rows takes a few milliseconds. The rows hold, per unit where subjects live (a
village, a commune, or a district / province for what is registered there directly), title and
segment, the numerator and denominator of one year and basis, counted by the same queries as
the live path (counting.py). They are kept per *partition* — a commune with its villages, or a
district or province unit on its own — and each partition's build records:

- the reference day it was counted on (today for the current year, so it is rebuilt daily);
- the partition's version, which every write that can change one of its counts moves on in the
  writing transaction (invalidation.py);
- the global version, moved on by writes that cannot be placed (unit tree, bulk loads).

A read finds the partitions whose build is missing or older than any of these, rebuilds only
those (one grouped query per title and segment for all of them), then sums. Numbers are never
stale; a write costs one rebuild of the partitions it touched, on the next read.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.database import utcnow
from app.rules import TitleCode
from app.stats import counting
from app.stats.models import CountBuild, CountPartitionVersion, DataVersion, UnitCount, UnitGroupMember
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel

GLOBAL_VERSION = "stats_rebuild"
PARTITION_LEVELS = (UnitLevel.COMMUNE, UnitLevel.DISTRICT, UnitLevel.PROVINCE)
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


def leaf_partitions(leaves):
    """(unit_id, partition_id) for the given leaf units (a select of ids, or None for all)."""
    partition = AdministrativeUnit
    query = (
        select(UnitAncestor.unit_id, UnitAncestor.ancestor_id)
        .join(partition, partition.id == UnitAncestor.ancestor_id)
        .where(
            partition.level.in_(PARTITION_LEVELS),
            or_(UnitAncestor.depth == 0, partition.level == UnitLevel.COMMUNE),
        )
    )
    return query if leaves is None else query.where(UnitAncestor.unit_id.in_(leaves))


def _leaves_of(partitions: list[int]):
    partition = AdministrativeUnit
    return (
        select(UnitAncestor.unit_id)
        .join(partition, partition.id == UnitAncestor.ancestor_id)
        .where(
            UnitAncestor.ancestor_id.in_(partitions),
            or_(UnitAncestor.depth == 0, partition.level == UnitLevel.COMMUNE),
        )
    )


def partitions_of(session: Session, unit: AdministrativeUnit) -> list[int]:
    """The partitions whose units make up `unit`'s territory (every one ever under it: a
    residence recorded at a unit before or after its time is still counted)."""
    if unit.level == UnitLevel.COMMUNE:
        return [unit.id]
    if unit.level == UnitLevel.VILLAGE:
        return [partition for _, partition in session.execute(leaf_partitions([unit.id]))]
    return list(
        session.scalars(
            select(AdministrativeUnit.id)
            .join(UnitAncestor, UnitAncestor.unit_id == AdministrativeUnit.id)
            .where(UnitAncestor.ancestor_id == unit.id, AdministrativeUnit.level.in_(PARTITION_LEVELS))
        )
    )


def _stale(session: Session, partitions: list[int], year: int, day: date, basis: str) -> tuple[list[int], dict, int]:
    """Partitions without a build counted on `day` from their current versions."""
    versions, built = {}, {}
    for chunk in _chunks(partitions):
        versions.update(
            session.execute(
                select(CountPartitionVersion.unit_id, CountPartitionVersion.version).where(
                    CountPartitionVersion.unit_id.in_(chunk)
                )
            ).all()
        )
        built.update(
            (partition, (reference_day, partition_version, global_version))
            for partition, reference_day, partition_version, global_version in session.execute(
                select(
                    CountBuild.partition_id,
                    CountBuild.reference_day,
                    CountBuild.partition_version,
                    CountBuild.global_version,
                ).where(CountBuild.partition_id.in_(chunk), CountBuild.year == year, CountBuild.basis == basis)
            )
        )
    global_version = session.scalar(select(DataVersion.version).where(DataVersion.name == GLOBAL_VERSION)) or 0
    stale = [p for p in partitions if built.get(p) != (day, versions.get(p, 0), global_version)]
    return stale, versions, global_version


def build(session: Session, partitions: list[int], year: int, day: date, basis: str) -> int:
    """Rebuild the partitions whose counts are missing or stale; returns how many were rebuilt.

    Versions are read before counting: a write committed meanwhile leaves the build marked
    older than the data, so it is rebuilt on the next read rather than trusted."""
    stale, versions, global_version = _stale(session, partitions, year, day, basis)
    if not stale:
        return 0
    anchor = session.get(AdministrativeUnit, stale[0])
    leaves = _leaves_of(stale)
    partition_of = dict(session.execute(leaf_partitions(leaves).where(UnitAncestor.ancestor_id.in_(stale))).all())
    rows = []
    for title, segments in BUILT.items():
        for segment in segments:
            scope = counting.Scope(anchor, year, day, segment=segment or None, leaves=leaves)
            for unit_id, numerator, denominator in counting.count_by_unit(
                session, title, scope, registered_only=basis == "registered"
            ):
                if numerator or denominator:
                    rows.append(
                        {
                            "partition_id": partition_of[unit_id],
                            "year": year,
                            "basis": basis,
                            "unit_id": unit_id,
                            "title": title.value,
                            "segment": segment,
                            "numerator": numerator,
                            "denominator": denominator,
                        }
                    )
    built_at = utcnow()
    for chunk in _chunks(stale):
        session.execute(
            delete(UnitCount).where(UnitCount.partition_id.in_(chunk), UnitCount.year == year, UnitCount.basis == basis)
        )
        session.execute(
            delete(CountBuild).where(
                CountBuild.partition_id.in_(chunk), CountBuild.year == year, CountBuild.basis == basis
            )
        )
    if rows:
        session.execute(insert(UnitCount), rows)
    session.execute(
        insert(CountBuild),
        [
            {
                "partition_id": partition,
                "year": year,
                "basis": basis,
                "reference_day": day,
                "partition_version": versions.get(partition, 0),
                "global_version": global_version,
                "built_at": built_at,
            }
            for partition in stale
        ],
    )
    try:
        session.commit()
    except IntegrityError:
        # Another request built the same partitions at the same time; its rows serve.
        session.rollback()
    return len(stale)


def _chunks(ids: list[int], size: int = 5000):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def counts(
    session: Session, unit: AdministrativeUnit, year: int, day: date, basis: str, groups: set[str] = frozenset()
) -> Counts:
    """{(title, segment): (numerator, denominator)} for `unit`'s current territory, from the
    pre-built rows (rebuilt first where stale); unit groups from the whole-population rows of
    the units in the group."""
    partitions = partitions_of(session, unit)
    build(session, partitions, year, day, basis)
    where = [UnitCount.year == year, UnitCount.basis == basis, UnitCount.partition_id.in_(partitions)]
    if unit.level == UnitLevel.VILLAGE:
        where.append(UnitCount.unit_id == unit.id)
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


def bump(session: Session, partitions: set[int]) -> None:
    """Move the given partitions' versions on (in the caller's transaction)."""
    if not partitions:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(CountPartitionVersion)
    statement = statement.on_conflict_do_update(
        index_elements=[CountPartitionVersion.unit_id], set_={"version": CountPartitionVersion.version + 1}
    )
    # Sorted, so two writers touching the same partitions lock them in the same order.
    session.execute(statement, [{"unit_id": partition, "version": 1} for partition in sorted(partitions)])


def bump_all(session: Session) -> None:
    """Every pre-built count is stale (unit tree changed, bulk load)."""
    session.execute(
        update(DataVersion).where(DataVersion.name == GLOBAL_VERSION).values(version=DataVersion.version + 1)
    )
