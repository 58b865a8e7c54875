"""Progress against targets: indicators per unit, applicable targets, honour roll, annual
report, and the seeded targets of the plans."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from threading import Lock

import yaml
from sqlalchemy import func, literal, null, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from app import clock
from app.assessments.models import Decision, Recognition
from app.audit.service import record as audit
from app.audit.service import snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.exceptions import Forbidden, invalid_field
from app.migrate import PROJECT_ROOT
from app.registry.models import Clan, Household, Organisation, Person
from app.rules import TitleCode
from app.stats import counting, summary
from app.stats.models import DataVersion, OfficialDenominator, Target, UnitGroupMember
from app.stats.schemas import (
    AppliedTarget,
    HonourEntry,
    OfficialDenominatorIn,
    Progress,
    ProgressItem,
    TargetCreate,
    TargetOut,
    TargetSource,
    UnitRef,
)
from app.units.models import AdministrativeUnit, UnitAncestor, UnitSuccession
from app.units.service import get_unit, in_jurisdiction, unit_named

TARGETS_DIR = PROJECT_ROOT / "seed" / "targets"
# How a document without a number (the Thanh Trì sector plan) is cited.
UNNUMBERED = "(văn bản không ghi số)"
# Session info key of the callback (installed by the app factory) that queues the build of
# units a read had to count live.
STALE_COUNTS = "stats_stale_counts"
TITLE_ORDER = [
    TitleCode.CITIZEN,
    TitleCode.FAMILY,
    TitleCode.CLAN,
    TitleCode.COMMUNITY,
    TitleCode.UNIT,
    TitleCode.COMMUNE,
]
# Segments the registry can count, per title (unit groups are counted for every title).
SEGMENTS: dict[TitleCode, set[str]] = {
    TitleCode.CITIZEN: {counting.EDUCATION, "adults_in_learning_families", "staff_of_learning_units"},
    TitleCode.FAMILY: {counting.EDUCATION},
    TitleCode.UNIT: {counting.EDUCATION},
}
POPULATION_SEGMENTS = {counting.EDUCATION, *counting.LEARNING_MEMBERS}


def data_versions(session: Session, unit: AdministrativeUnit | None = None) -> tuple[int, int, int]:
    """Counters that grow with every change a public answer about `unit` could show: targets,
    groups and official denominators anywhere (rare officers' writes); the unit tree and bulk
    loads; and, with a unit, every write counted in its territory (the sum of its units'
    versions). The ETags of public answers are made of them."""
    settings = session.scalar(select(DataVersion.version).where(DataVersion.name == "stats")) or 0
    if unit is None:
        rebuild = session.scalar(select(DataVersion.version).where(DataVersion.name == summary.GLOBAL_VERSION)) or 0
        return settings, rebuild, 0
    territory, rebuild = summary.territory_version(session, unit)
    return settings, rebuild, territory


def unit_ref(unit: AdministrativeUnit) -> UnitRef:
    return UnitRef(code=unit.code, name=unit.name, level=unit.level, valid_from=unit.valid_from, valid_to=unit.valid_to)


class ResultCache:
    """A small LRU of computed responses, keyed with the data version: any write moves the
    version on, so nothing stale is ever served."""

    def __init__(self, size: int = 4096) -> None:
        self._items: OrderedDict = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def public_etag(*parts) -> str:
    return '"' + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32] + '"'


# --- targets -----------------------------------------------------------------------------------


# A predecessor whose territory went wholly, or for the most part, into its successor (a merger,
# rename, re-parenting, or the default part of a split): the successor takes over its plans. A
# ward that took a small piece of another ward does not.
MAIN_PART = or_(UnitSuccession.kind != "split", UnitSuccession.is_default.is_(True))


def taken_over(session: Session, unit: AdministrativeUnit) -> set[int]:
    """Ids of `unit` and of every unit it succeeded for the main part (MAIN_PART), through any
    chain of successions (đơn vị tiền thân: Xã Tân An ← Xã Đức Phúc ← Xã Hồng Đức)."""
    # Successions are at most a few steps deep; walking them with indexed look-ups beats a
    # recursive CTE the planner cannot estimate.
    units, frontier = {unit.id}, {unit.id}
    while frontier:
        frontier = (
            set(
                session.scalars(
                    select(UnitSuccession.predecessor_id).where(UnitSuccession.successor_id.in_(frontier), MAIN_PART)
                )
            )
            - units
        )
        units |= frontier
    return units


FORMER = 100  # distances at or above this are reached through a unit the unit succeeded


def binding_units(session: Session, unit: AdministrativeUnit) -> dict[int, int]:
    """{unit_id: distance} of the units whose documents (targets, reporting deadlines) bind
    `unit`: itself (0) and its ancestors (their depth), then every unit it took over
    (`taken_over`) and their ancestors (FORMER + depth). So since 01/7/2025 a commune is bound by
    its province and by the plans of the former communes and district (quận, huyện) whose
    territory it took over; never by a unit outside that chain (Hà Nội is not bound by a Hải
    Dương commune's plan, nor the reverse)."""
    units = taken_over(session, unit)
    rows = session.execute(
        select(UnitAncestor.ancestor_id, func.min(UnitAncestor.depth))
        .where(UnitAncestor.unit_id.in_(units))
        .group_by(UnitAncestor.ancestor_id)
    ).all()
    own = dict(
        session.execute(
            select(UnitAncestor.ancestor_id, UnitAncestor.depth).where(UnitAncestor.unit_id == unit.id)
        ).all()
    )
    return {ancestor: own.get(ancestor, depth + FORMER) for ancestor, depth in rows}


LEVEL_RANK = {"village": 0, "commune": 1, "district": 2, "province": 3}


def applicable_targets(session: Session, unit: AdministrativeUnit, year: int | None = None) -> list[tuple[Target, int]]:
    """(target, distance) for every target that applies to `unit`, most local first: targets of
    the unit itself, then of the lowest-level unit above it or above a unit it succeeded (a
    former district's plan is more local than the city's), then unit groups, national last."""
    distances = binding_units(session, unit)
    levels = dict(
        session.execute(
            select(AdministrativeUnit.id, AdministrativeUnit.level).where(AdministrativeUnit.id.in_(distances))
        ).all()
    )
    groups = set(session.scalars(select(UnitGroupMember.group).where(UnitGroupMember.unit_id.in_(distances))))
    query = select(Target).where(
        or_(
            Target.unit_id.in_(distances),
            Target.unit_id.is_(None) & Target.unit_group.is_(None),
            Target.unit_id.is_(None) & Target.unit_group.in_(groups),
        )
    )
    if year is not None:
        query = query.where(or_(Target.year == year, Target.every_year.is_(True)))
    ranked = []
    for target in session.scalars(query):
        if target.unit_id is not None:
            rank, distance = LEVEL_RANK[levels[target.unit_id]], distances[target.unit_id]
        else:
            rank, distance = (5, 1000) if target.unit_group is None else (4, 900)
        ranked.append(((rank, distance, target.title, target.year or 0, target.id), target, distance))
    return [(target, distance) for _, target, distance in sorted(ranked, key=lambda item: item[0])]


def target_scope(target: Target, units: dict[int, AdministrativeUnit]) -> str:
    """Who set the target, in words: the unit (code, name), a unit group, or the whole country."""
    unit = units.get(target.unit_id) if target.unit_id else None
    if unit:
        return f"{unit.code} {unit.name}"
    return counting.group_label(target.unit_group) if target.unit_group else "toàn quốc"


def target_units(session: Session, targets: list[Target]) -> dict[int, AdministrativeUnit]:
    """The units the targets were set for, in one query."""
    ids = {t.unit_id for t in targets if t.unit_id}
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(AdministrativeUnit).where(AdministrativeUnit.id.in_(ids)))}


def target_out(session: Session, target: Target, distance: int, units: dict[int, AdministrativeUnit]) -> TargetOut:
    unit = units.get(target.unit_id) if target.unit_id else None
    return TargetOut(
        id=target.id,
        scope=target_scope(target, units),
        unit=unit_ref(unit) if unit else None,
        unit_group=target.unit_group,
        title=target.title,
        year=target.year,
        every_year=target.every_year,
        percent=float(target.percent),
        comparison=target.comparison,
        segment=target.segment,
        level=target.level,
        denominator_hint=target.denominator_hint,
        source=target_source(target),
        note=target.note,
        inherited=distance > 0,
    )


def target_source(target: Target) -> TargetSource:
    """A target's document and sentence, saying whether the sentence is the document's words."""
    return TargetSource(
        document_number=target.document_number,
        document_date=target.document_date,
        issuer=target.issuer,
        sentence=target.sentence,
        sentence_kind=target.sentence_kind,
        quoted_from=target.quoted_from,
    )


def targets_for(session: Session, unit: AdministrativeUnit, year: int | None) -> list[TargetOut]:
    found = applicable_targets(session, unit, year)
    units = target_units(session, [target for target, _ in found])
    return [target_out(session, target, distance, units) for target, distance in found]


def create_target(session: Session, principal: Principal, body: TargetCreate) -> Target:
    # A target is for one unit, or one unit group, or (admins only) the whole country.
    if body.unit_code is not None and body.unit_group is not None:
        raise invalid_field("body.unit_group", "unit_and_group", "Ghi mã đơn vị hoặc nhóm đơn vị, không cả hai.")
    if body.unit_code is None and body.unit_group is None and not principal.is_admin:
        raise invalid_field("body.unit_code", "missing", "Cần mã đơn vị.")
    if (body.year is None) != body.every_year:
        raise invalid_field("body.year", "year_or_every_year", "Ghi năm, hoặc every_year = true (không cả hai).")
    if body.sentence_kind != "verbatim" and not body.quoted_from:
        raise invalid_field(
            "body.quoted_from", "missing", "Câu không phải nguyên văn văn bản: ghi nguồn của câu (quoted_from)."
        )
    on = body.document_date or clock.today()
    unit = unit_named(session, body.unit_code, on, "body.unit_code") if body.unit_code else None
    allowed = (Role.ADMIN, Role.PROVINCE_OFFICER, Role.COMMUNE_OFFICER)
    if (
        principal.role not in allowed
        or (unit is None and not principal.is_admin)
        or (unit is not None and not in_jurisdiction(session, principal, unit.id))
    ):
        raise Forbidden("Chỉ cán bộ của đơn vị (hoặc quản trị viên) được đặt chỉ tiêu cho đơn vị đó.")
    target = Target(
        unit_id=unit.id if unit else None,
        unit_group=body.unit_group,
        title=body.title,
        year=body.year,
        every_year=body.every_year,
        percent=Decimal(str(body.percent)),
        comparison=body.comparison,
        segment=body.segment,
        level=body.level,
        denominator_hint=body.denominator_hint,
        document_number=body.document_number,
        document_date=body.document_date,
        issuer=body.issuer,
        sentence=body.sentence,
        sentence_kind=body.sentence_kind,
        quoted_from=body.quoted_from,
        note=body.note,
        source_key="",
        created_by_id=principal.id or None,
    )
    session.add(target)
    session.flush()
    audit(session, principal, "create", "target", target.id, None, snapshot(target))
    session.flush()
    return target


# --- progress ----------------------------------------------------------------------------------


def _percent(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def judged(target: Target, percent: Decimal | None) -> tuple[float | None, bool | None]:
    """(gap, met) of a percent against a target: the points still short of it, 0 once it is met
    (never negative; a surplus is percent − target), and whether the target's comparison holds
    (a "trên N%" target is not met at exactly N%). (None, None) while there is no percent."""
    if percent is None:
        return None, None
    met = percent > target.percent if target.comparison == ">" else percent >= target.percent
    return float(max(target.percent - percent, Decimal(0))), met


def applied_target(
    target: Target, distance: int, units: dict[int, AdministrativeUnit], percent: Decimal | None, in_force: bool
) -> AppliedTarget:
    gap, met = judged(target, percent)
    unit = units.get(target.unit_id) if target.unit_id else None
    return AppliedTarget(
        id=target.id,
        scope=target_scope(target, units),
        unit=unit_ref(unit) if unit else None,
        unit_group=target.unit_group,
        year=target.year,
        every_year=target.every_year,
        percent=float(target.percent),
        comparison=target.comparison,
        source=target_source(target),
        inherited=distance > 0,
        in_force=in_force,
        gap=gap,
        met=met,
    )


def _segment_scope(scope: counting.Scope, segment: str | None) -> counting.Scope:
    return counting.Scope(unit=scope.unit, year=scope.year, reference_day=scope.reference_day, segment=segment)


def progress(
    session: Session,
    unit: AdministrativeUnit,
    year: int,
    *,
    basis: str = "all",
    only_segment: str | None = None,
    today: date | None = None,
) -> Progress:
    """Every title, plus each segment a target names; with `segment`, only that segment. Each
    item lists every target that applies to it (`targets`, nearest first); the nearest is the
    one in force, shown in the item's own target fields."""
    day = counting.reference_day(year, today)
    scope = counting.Scope(unit=unit, year=year, reference_day=day)
    found = applicable_targets(session, unit, year)
    applicable: dict[tuple[str, str | None], list[tuple[Target, int]]] = {}
    for target, distance in found:  # sorted nearest first
        applicable.setdefault((target.title, target.segment), []).append((target, distance))
    units = target_units(session, [target for target, _ in found])
    officials = {
        (o.title, o.segment or None): o
        for o in session.scalars(
            select(OfficialDenominator).where(OfficialDenominator.unit_id == unit.id, OfficialDenominator.year == year)
        )
    }
    wanted: list[tuple[TitleCode, str | None]] = [(title, only_segment) for title in TITLE_ORDER]
    for title, named in applicable:
        if only_segment is None and named is not None and title in TITLE_ORDER and (title, named) not in wanted:
            wanted.append((TitleCode(title), named))
    groups = {segment for _, segment in wanted if segment and segment not in POPULATION_SEGMENTS}
    if groups:
        groups = set(session.scalars(select(UnitGroupMember.group).where(UnitGroupMember.group.in_(groups))))
    # A unit in force is counted from the pre-built counts; a former unit live, over its
    # former territory (rare; its territory is not a set of units).
    tally = None if scope.ended else summary.counts(session, unit, year, day, basis, groups)
    if tally is not None and tally.live_units:
        # Units counted live are built by a job (never by this read); see summary.py.
        on_stale = session.info.get(STALE_COUNTS)
        if on_stale is not None:
            on_stale(tally.live_units, year, basis)
    counted_at = clock.now()
    items = []
    for title, segment in wanted:
        if not (segment is None or segment in groups or segment in SEGMENTS.get(title, ())):
            continue  # a segment the registry cannot count for this title
        if tally is not None:
            numerator, denominator = tally.counts[(title, segment)]
        else:
            numerator, denominator = counting.count(
                session, title, _segment_scope(scope, segment), registered_only=basis == "registered"
            )
        definition, label = counting.definition(title, segment)
        if basis == "registered":
            definition, label = counting.REGISTERED_PREFIX + definition, f"{label} (đã đăng ký)"
        percent = _percent(numerator, denominator)
        listed = [
            applied_target(target, distance, units, percent, in_force=index == 0)
            for index, (target, distance) in enumerate(applicable.get((title, segment), []))
        ]
        in_force = listed[0] if listed else None
        official = officials.get((title, segment))
        item = ProgressItem(
            title=title,
            segment=segment,
            segment_label=counting.segment_label(segment),
            numerator=numerator,
            denominator=denominator,
            denominator_definition=definition,
            denominator_label=label,
            percent=float(percent) if percent is not None else None,
            target_percent=in_force.percent if in_force else None,
            target_comparison=in_force.comparison if in_force else None,
            target_source=in_force.source if in_force else None,
            gap=in_force.gap if in_force else None,
            met=in_force.met if in_force else None,
            targets=listed,
            counted_at=counted_at,
            exact=True,
        )
        if official is not None:
            item.official_denominator = official.value
            official_percent = _percent(numerator, official.value)
            item.official_percent = float(official_percent) if official_percent is not None else None
            item.official_source = official.source
        items.append(item)
    return Progress(
        unit=unit_ref(unit),
        year=year,
        reference_date=day,
        basis=basis,
        territory="former" if scope.ended else "current",
        data_version=sum(data_versions(session, unit)),
        counted_at=counted_at,
        live_units=len(tally.live_units) if tally is not None else 0,
        items=items,
        total=len(items),
    )


def honour_roll(
    session: Session,
    unit: AdministrativeUnit,
    year: int,
    title: TitleCode | None,
    publish_people: bool,
    *,
    limit: int,
    offset: int,
) -> tuple[list[HonourEntry], int]:
    """A page of the recognised households, clans, villages and organisations (people only when
    `publish_people`), with their decisions; no ids, addresses or dates of birth. With people's
    names off, no person's name appears in any form: a household is named after a person
    ("Hộ ông Nguyễn Văn An"), so households are listed by village only."""
    if title == TitleCode.CITIZEN and not publish_people:
        return [], 0
    scope = counting.Scope(unit=unit, year=year, reference_day=counting.reference_day(year))
    titles = [title] if title else [t for t in TITLE_ORDER if publish_people or t != TitleCode.CITIZEN]
    names = {
        TitleCode.CITIZEN: (Person.full_name, Person.id),
        TitleCode.FAMILY: (Household.name if publish_people else null(), Household.id),
        TitleCode.CLAN: (Clan.name, Clan.id),
        TitleCode.UNIT: (Organisation.name, Organisation.id),
        TitleCode.COMMUNITY: (AdministrativeUnit.name, AdministrativeUnit.id),
        TitleCode.COMMUNE: (AdministrativeUnit.name, AdministrativeUnit.id),
    }
    village = aliased(AdministrativeUnit)
    parts = []
    for rank, one in enumerate(titles):
        subjects = counting.population(one, scope).subquery()
        name, key = names[one]
        shows_village = one in (TitleCode.CITIZEN, TitleCode.FAMILY)
        parts.append(
            select(
                literal(rank).label("rank"),
                literal(one.value).label("title"),
                name.label("name"),
                (village.name if shows_village else null()).label("village"),
                Decision.number.label("number"),
                Decision.decided_on.label("decided_on"),
                Recognition.level.label("level"),
                Recognition.id.label("recognition_id"),
            )
            .select_from(Recognition)
            .join(Decision, Decision.id == Recognition.decision_id)
            .join(subjects, subjects.c.id == Recognition.subject_id)
            .join(key.class_, key == Recognition.subject_id)
            .outerjoin(village, (village.id == subjects.c.unit_id) & (village.level == "village"))
            .where(Recognition.title == one, Recognition.period == year, Recognition.revoked_on.is_(None))
        )
    rows = union_all(*parts).subquery()
    total = session.scalar(select(func.count()).select_from(rows)) or 0
    page = session.execute(
        select(rows.c.title, rows.c.name, rows.c.village, rows.c.number, rows.c.decided_on, rows.c.level)
        .order_by(rows.c.rank, rows.c.name, rows.c.village, rows.c.recognition_id)
        .limit(limit)
        .offset(offset)
    ).all()
    entries = [
        HonourEntry(title=t, name=n, village=v, decision_number=number, decided_on=decided_on, level=level)
        for t, n, v, number, decided_on, level in page
    ]
    return entries, total


def set_official_denominator(
    session: Session, principal: Principal, unit: AdministrativeUnit, body: OfficialDenominatorIn
) -> OfficialDenominator:
    if principal.role not in (Role.ADMIN, Role.PROVINCE_OFFICER, Role.COMMUNE_OFFICER) or not in_jurisdiction(
        session, principal, unit.id
    ):
        raise Forbidden("Chỉ cán bộ của đơn vị (hoặc quản trị viên) được nhập mẫu số chính thức.")
    row = session.scalar(
        select(OfficialDenominator).where(
            OfficialDenominator.unit_id == unit.id,
            OfficialDenominator.title == body.title,
            OfficialDenominator.year == body.year,
            OfficialDenominator.segment == (body.segment or ""),
        )
    )
    before = snapshot(row) if row else None
    if row is None:
        row = OfficialDenominator(unit_id=unit.id, title=body.title, year=body.year, segment=body.segment or "")
        session.add(row)
    row.value, row.definition, row.source = body.value, body.definition, body.source
    row.entered_by_id = principal.id or None
    session.flush()
    audit(session, principal, "set", "official_denominator", row.id, before, snapshot(row))
    session.flush()
    return row


# --- seed --------------------------------------------------------------------------------------


def load_targets(session: Session, directory: Path = TARGETS_DIR) -> str:
    """Seed loader: every percentage target of the five plans and the programme documents.

    The seed owns the rows it made (`source_key`): a new seed adds what is missing, brings the
    wording and source of the others up to date and drops those it no longer holds; targets
    entered by officers are never touched."""
    scopes = yaml.safe_load((directory / "scopes.yaml").read_text(encoding="utf-8"))
    segment_names = scopes.pop("segments", {})
    existing = {t.source_key: t for t in session.scalars(select(Target).where(Target.source_key != ""))}
    seen, added, updated = set(), 0, 0
    for name in ("plan_targets.yaml", "programme_targets.yaml"):
        data = yaml.safe_load((directory / name).read_text(encoding="utf-8"))
        documents = {doc["key"]: doc for doc in data["documents"]}
        for item in data["targets"]:
            doc = documents[item["document"]]
            place = scopes.get(item["document"])
            unit = get_unit(session, place["unit_code"], place["as_of"]) if place else None
            segment = segment_names.get(item.get("segment"), item.get("segment"))
            key = (
                f"{name}#{item['document']}:{item['title']}:{item.get('year')}:{segment or ''}"
                f":{item['percent']}:{item.get('line', '')}"
            )
            if key in seen:
                raise ValueError(f"two seeded targets share the key {key}")
            seen.add(key)
            values = {
                "unit_id": unit.id if unit else None,
                "unit_group": segment if not unit and segment == "disadvantaged" else None,
                "title": item["title"],
                "year": item.get("year"),
                "every_year": bool(item.get("every_year")),
                "percent": Decimal(str(item["percent"])),
                "comparison": ">" if item["comparison"] == ">" else ">=",
                "segment": None if (not unit and segment == "disadvantaged") else segment,
                "level": item.get("level"),
                "denominator_hint": item.get("denominator_hint"),
                "document_number": doc.get("number") or UNNUMBERED,
                "document_date": doc.get("date"),
                "issuer": doc["issuer"],
                "sentence": item["sentence"],
                # The five plans' sentences are their own words (read in the plan itself).
                "sentence_kind": item.get("wording", "verbatim"),
                "quoted_from": item.get("quoted_from"),
                "note": item.get("note") or doc.get("note"),
            }
            target = existing.get(key)
            if target is None:
                session.add(Target(**values, source_key=key))
                added += 1
            elif any(getattr(target, field) != value for field, value in values.items()):
                for field, value in values.items():
                    setattr(target, field, value)
                updated += 1
    dropped = [target for key, target in existing.items() if key not in seen]
    for target in dropped:
        session.delete(target)
    session.flush()
    return (
        f"Targets: {added} added, {updated} updated, {len(dropped)} dropped, {len(seen) - added - updated} unchanged."
    )


# --- reporting deadlines ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanDeadline:
    """A reporting deadline (hạn báo cáo) named in a plan, with the plan's scope: the unit the
    plan was for on its date (scopes.yaml), or None for a national document."""

    document_key: str
    document_number: str | None
    document_date: date | None
    issuer: str
    scope: AdministrativeUnit | None
    what: str  # the plan's sentence naming the deadline
    due: str  # as the plan writes it: "25/11", "2025", "12/2025", "05/11/2021", "cuối năm"
    every_year: bool
    line: int | None = None
    note: str | None = None
    # How it binds the unit it was listed for (deadlines_binding): own, ancestor, former, national.
    binds_as: str | None = None

    @property
    def day_and_month(self) -> tuple[int, int] | None:
        """(day, month) of a yearly deadline written "dd/mm"; None for any other wording."""
        parts = self.due.split("/")
        if self.every_year and len(parts) == 2 and all(part.isdigit() for part in parts):
            return int(parts[0]), int(parts[1])
        return None


@lru_cache(maxsize=16)
def _parsed(path: Path, modified_ns: int) -> dict:
    # Every report reads the seed files: parsed once per version of the file (read-only).
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _seed_file(path: Path) -> dict:
    return _parsed(path, path.stat().st_mtime_ns)


def plan_deadlines(session: Session, directory: Path = TARGETS_DIR) -> list[PlanDeadline]:
    """Every reporting deadline of the seeded documents, each with its document's scope."""
    scopes = _seed_file(directory / "scopes.yaml")
    found = []
    for name in ("plan_targets.yaml", "programme_targets.yaml"):
        data = _seed_file(directory / name)
        documents = {doc["key"]: doc for doc in data["documents"]}
        resolved: dict[str, AdministrativeUnit | None] = {}
        for item in data.get("reporting_deadlines") or []:
            key = item["document"]
            if key not in resolved:
                place = scopes.get(key)
                resolved[key] = get_unit(session, place["unit_code"], place["as_of"]) if place else None
            doc = documents[key]
            found.append(
                PlanDeadline(
                    document_key=key,
                    document_number=doc.get("number"),
                    document_date=doc.get("date"),
                    issuer=doc["issuer"],
                    scope=resolved[key],
                    what=item["what"],
                    due=str(item["date"]),
                    every_year=bool(item.get("every_year")),
                    line=item.get("line"),
                    note=item.get("note"),
                )
            )
    return found


def _binds_by_scope(deadline: PlanDeadline, units: dict[int, int]) -> str | None:
    """Rule 1, the scope: a national document binds every unit; a plan binds the units its
    scope unit is among the `binding_units` of: "own", "ancestor" (a unit above), or "former"
    (a unit it took over, or one above that: a former district's plan binds the communes that
    succeeded its communes). None: the plan is for somewhere else."""
    if deadline.scope is None:
        return "national"
    distance = units.get(deadline.scope.id)
    if distance is None:
        return None
    return "own" if distance == 0 else ("ancestor" if distance < FORMER else "former")


def _issued_by(deadline: PlanDeadline, as_of: date) -> bool:
    """Rule 2, the time: a document binds from its date on (an undated one always)."""
    return deadline.document_date is None or deadline.document_date <= as_of


def deadlines_binding(session: Session, unit: AdministrativeUnit, as_of: date | None = None) -> list[PlanDeadline]:
    """The reporting deadlines that bind `unit` on `as_of` (default today): those of documents
    issued by then (`_issued_by`) whose scope is the unit, one of its ancestors, a unit it took
    over in a reorganisation or one above that, or the whole country (`_binds_by_scope`, over
    `binding_units`). Each comes with `binds_as` saying which. The annual report lists them;
    public so that the reporting chain (app/reporting) can derive its deadlines by the same rule."""
    as_of = as_of or clock.today()
    units = binding_units(session, unit)
    found = []
    for deadline in plan_deadlines(session):
        binds_as = _binds_by_scope(deadline, units)
        if binds_as is not None and _issued_by(deadline, as_of):
            found.append(replace(deadline, binds_as=binds_as))
    return found


def set_unit_group(session: Session, principal: Principal, unit: AdministrativeUnit, group: str, member: bool) -> None:
    """Put a unit in a named group (e.g. `disadvantaged`) or take it out; targets and segments
    of that group then apply to it and to everything under it."""
    if principal.role not in (Role.ADMIN, Role.PROVINCE_OFFICER) or not in_jurisdiction(session, principal, unit.id):
        raise Forbidden("Chỉ cán bộ cấp tỉnh của đơn vị (hoặc quản trị viên) được xếp nhóm đơn vị.")
    row = session.get(UnitGroupMember, (unit.id, group))
    if member and row is None:
        session.add(UnitGroupMember(unit_id=unit.id, group=group))
        session.flush()
        audit(session, principal, "add_group", "unit", unit.id, None, None, group=group)
    elif not member and row is not None:
        session.delete(row)
        audit(session, principal, "remove_group", "unit", unit.id, None, None, group=group)
    session.flush()
