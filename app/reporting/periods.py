"""Reporting periods (kỳ báo cáo: năm, 6 tháng) and their deadlines per level and scope, seeded
from the plans (seed/reporting/deadlines.yaml) and editable by province officers."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record as audit
from app.auth.models import Role
from app.auth.principal import Principal
from app.exceptions import Forbidden, NotFound, invalid_field
from app.reporting.models import PeriodKind, ReportingDeadline, ReportingPeriod, ReportLevel
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel
from app.units.service import current_successors, get_unit, in_force_on, in_jurisdiction

SEED = Path(__file__).resolve().parents[2] / "seed" / "reporting" / "deadlines.yaml"
PLANS = Path(__file__).resolve().parents[2] / "seed" / "targets" / "plan_targets.yaml"
PERIOD_KEY = re.compile(r"^(?P<year>20[0-9]{2})(?P<half>-h1)?$")
KIND_NAMES = {PeriodKind.YEAR: "Báo cáo năm", PeriodKind.HALF_YEAR: "Báo cáo sơ kết 6 tháng đầu năm"}


def period_key(period: ReportingPeriod) -> str:
    """How a period is named in URLs: `2025` (the year), `2025-h1` (its first half)."""
    return f"{period.year}-h1" if period.kind == PeriodKind.HALF_YEAR else str(period.year)


def period_label(period: ReportingPeriod) -> str:
    return f"{KIND_NAMES[PeriodKind(period.kind)]} {period.year}"


def get_period(session: Session, key: str) -> ReportingPeriod:
    matched = PERIOD_KEY.match(key)
    kind = PeriodKind.HALF_YEAR if matched and matched["half"] else PeriodKind.YEAR
    period = (
        session.scalar(
            select(ReportingPeriod).where(ReportingPeriod.year == int(matched["year"]), ReportingPeriod.kind == kind)
        )
        if matched
        else None
    )
    if period is None:
        raise NotFound(f"Không có kỳ báo cáo “{key}” (viết 2025 cho năm, 2025-h1 cho 6 tháng đầu năm).")
    return period


def list_periods(session: Session, year: int | None, limit: int, offset: int) -> tuple[list[ReportingPeriod], int]:
    query = select(ReportingPeriod)
    if year is not None:
        query = query.where(ReportingPeriod.year == year)
    rows = list(session.scalars(query.order_by(ReportingPeriod.year.desc(), ReportingPeriod.kind)))
    return rows[offset : offset + limit], len(rows)


def level_of(unit: AdministrativeUnit) -> ReportLevel:
    if unit.level == UnitLevel.COMMUNE:
        return ReportLevel.COMMUNE
    if unit.level == UnitLevel.PROVINCE:
        return ReportLevel.PROVINCE
    raise invalid_field("unit_code", "wrong_unit_level", f"{unit.name} không lập báo cáo: chỉ xã, phường và tỉnh.")


def deadline_for(session: Session, period: ReportingPeriod, unit: AdministrativeUnit) -> ReportingDeadline | None:
    """The deadline binding the unit's report: its own (a commune's plan), else its province's,
    else the national one — the most specific scope wins."""
    level = level_of(unit)
    depth = {unit.id: 0}
    for ancestor_id in session.scalars(select(UnitAncestor.ancestor_id).where(UnitAncestor.unit_id == unit.id)):
        depth.setdefault(ancestor_id, 1)
    candidates = session.scalars(
        select(ReportingDeadline).where(ReportingDeadline.period_id == period.id, ReportingDeadline.level == level)
    )
    best: tuple[int, ReportingDeadline] | None = None
    for deadline in candidates:
        rank = 2 if deadline.scope_unit_id is None else depth.get(deadline.scope_unit_id)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, deadline)
    return best[1] if best else None


def list_deadlines(session: Session, period: ReportingPeriod) -> list[ReportingDeadline]:
    return list(
        session.scalars(
            select(ReportingDeadline)
            .where(ReportingDeadline.period_id == period.id)
            .order_by(ReportingDeadline.level, ReportingDeadline.due_on, ReportingDeadline.id)
        )
    )


def set_deadline(
    session: Session,
    principal: Principal,
    period: ReportingPeriod,
    level: ReportLevel,
    scope: AdministrativeUnit | None,
    due_on: date,
    source: str,
) -> ReportingDeadline:
    """A province officer sets the deadline of their province (or of one commune in it); the
    national deadlines and other provinces' are the administrators'."""
    if principal.role == Role.PROVINCE_OFFICER:
        if scope is None or not in_jurisdiction(session, principal, scope.id):
            raise Forbidden("Cán bộ cấp tỉnh chỉ đặt hạn báo cáo trong tỉnh của mình.")
        if level != ReportLevel.COMMUNE:
            raise Forbidden("Hạn báo cáo của tỉnh lên cấp trung ương do quản trị viên đặt.")
    elif not principal.is_admin:
        raise Forbidden("Chỉ cán bộ cấp tỉnh hoặc quản trị viên đặt hạn báo cáo.")
    if not period.starts_on <= due_on <= date(period.year + 1, 12, 31):
        raise invalid_field("due_on", "outside_period", "Hạn báo cáo phải trong kỳ báo cáo hoặc năm sau đó.")
    deadline = session.scalar(
        select(ReportingDeadline).where(
            ReportingDeadline.period_id == period.id,
            ReportingDeadline.level == level,
            ReportingDeadline.scope_unit_id == scope.id if scope else ReportingDeadline.scope_unit_id.is_(None),
        )
    )
    before = {"due_on": deadline.due_on.isoformat(), "source": deadline.source} if deadline else None
    if deadline is None:
        deadline = ReportingDeadline(period_id=period.id, level=level, scope_unit_id=scope.id if scope else None)
        session.add(deadline)
    deadline.due_on, deadline.source, deadline.updated_by_id = due_on, source.strip(), principal.id or None
    session.flush()
    after = {"due_on": due_on.isoformat(), "source": deadline.source}
    audit(session, principal, "set_deadline", "reporting_deadline", deadline.id, before, after)
    return deadline


# --- seed ----------------------------------------------------------------------------------------


def _due(text: str, year: int) -> date:
    parts = [int(part) for part in text.split("/")]
    return date(parts[2] if len(parts) == 3 else year, parts[1], parts[0])


def _scope_units(session: Session, scope: dict) -> list[AdministrativeUnit | None]:
    today = clock.today()
    if not scope:
        return [None]
    if "province" in scope:
        return [get_unit(session, scope["province"], today)]
    as_of = date.fromisoformat(scope["as_of"])
    if "successors_of_commune" in scope:
        former = [get_unit(session, scope["successors_of_commune"], as_of)]
    else:
        district = get_unit(session, scope["successors_of_district"], as_of)
        former = list(
            session.scalars(
                select(AdministrativeUnit).where(AdministrativeUnit.parent_id == district.id, *in_force_on(as_of))
            )
        )
    found: dict[int, AdministrativeUnit] = {}
    for unit in former:
        for successor in current_successors(session, unit.id, today):
            if successor.level == UnitLevel.COMMUNE:
                found[successor.id] = successor
    return list(found.values())


def load_reporting(session: Session) -> str:
    """Periods for every year of the plans, and the seeded deadlines; a deadline an officer has
    changed (updated_by_id set) is left as they set it."""
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    plans = yaml.safe_load(PLANS.read_text(encoding="utf-8"))
    documents = {doc["key"]: doc for doc in plans["documents"]}
    words = {(d["document"], d.get("line")): d["what"] for d in plans.get("reporting_deadlines", [])}
    existing = {(p.year, p.kind): p for p in session.scalars(select(ReportingPeriod))}
    span = data["periods"]
    for year in range(span["first_year"], span["last_year"] + 1):
        for kind in span["kinds"]:
            if (year, kind) not in existing:
                ends = date(year, 6, 30) if kind == PeriodKind.HALF_YEAR else date(year, 12, 31)
                period = ReportingPeriod(year=year, kind=kind, starts_on=date(year, 1, 1), ends_on=ends)
                session.add(period)
                existing[(year, kind)] = period
    session.flush()
    current = {(d.period_id, d.level, d.scope_unit_id): d for d in session.scalars(select(ReportingDeadline))}
    added = 0
    for entry in data["deadlines"]:
        document = documents.get(entry["document"]) if entry["document"] else None
        source = entry["how"]
        if document is not None:
            quoted = words.get((entry["document"], entry.get("line")))
            number = document.get("number") or "(không số)"
            source = f"{number} — {document['issuer']}" + (f": “{quoted}” (nguyên văn)" if quoted else "")
            source += f". {entry['how']}"
        years = (
            [entry["year"]]
            if "year" in entry
            else range(max(span["first_year"], entry.get("first_year", span["first_year"])), span["last_year"] + 1)
        )
        scopes = _scope_units(session, entry["scope"])
        for year in years:
            period = existing[(year, entry["kind"])]
            due = _due(entry["due"], year)
            for scope in scopes:
                key = (period.id, entry["level"], scope.id if scope else None)
                deadline = current.get(key)
                if deadline is None:
                    deadline = ReportingDeadline(
                        period_id=period.id, level=entry["level"], scope_unit_id=key[2], due_on=due, source=source
                    )
                    session.add(deadline)
                    current[key] = deadline
                    added += 1
                elif deadline.updated_by_id is None:
                    deadline.due_on, deadline.source = due, source
    session.flush()
    return f"Reporting: {len(existing)} periods, {added} deadlines added."
