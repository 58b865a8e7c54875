"""Lists of subjects of every kind under the caller's units, for the staff pages."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from app import clock
from app.auth.principal import Principal
from app.registry.models import Clan, Household, Organisation, Residence
from app.registry.service import within
from app.units.models import AdministrativeUnit, UnitLevel


def list_subjects(
    session: Session, principal: Principal, kind: str, *, q: str | None, limit: int, offset: int
) -> tuple[list[tuple[int, str, str]], int]:
    """(id, name, unit name) of the households, clans, organisations or villages under the
    caller's units whose name contains `q`, with the total."""
    unit = aliased(AdministrativeUnit)
    if kind in ("household", "organisation"):
        model = Household if kind == "household" else Organisation
        column = getattr(Residence, f"{kind}_id")
        query = (
            select(model.id, model.name, unit.name)
            .join(Residence, (column == model.id) & Residence.valid_to.is_(None))
            .join(unit, unit.id == Residence.unit_id)
            .where(within(principal, Residence.unit_id))
        )
    elif kind == "clan":
        model = Clan
        query = (
            select(Clan.id, Clan.name, unit.name)
            .join(unit, unit.id == Clan.home_unit_id)
            .where(within(principal, Clan.home_unit_id))
        )
    else:  # villages (thôn, tổ dân phố), the subjects of Cộng đồng học tập
        model = AdministrativeUnit
        parent = aliased(AdministrativeUnit)
        today = clock.today()
        query = (
            select(AdministrativeUnit.id, AdministrativeUnit.name, parent.name)
            .join(parent, parent.id == AdministrativeUnit.parent_id)
            .where(
                AdministrativeUnit.level == UnitLevel.VILLAGE,
                within(principal, AdministrativeUnit.id),
                or_(AdministrativeUnit.valid_to.is_(None), AdministrativeUnit.valid_to > today),
            )
        )
    if q and q.strip():
        query = query.where(func.lower(model.name).contains(q.strip().lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(model.name, model.id).limit(limit).offset(offset)).all()
    return [(row[0], row[1], row[2]) for row in rows], total


def places(session: Session, principal: Principal) -> list[tuple[str, str]]:
    """(code, name) of the communes and villages in force under the caller's units, villages
    named with their commune: what a person may be registered in, for a choice list."""
    parent = aliased(AdministrativeUnit)
    today = clock.today()
    rows = session.execute(
        select(AdministrativeUnit.code, AdministrativeUnit.name, AdministrativeUnit.level, parent.name)
        .outerjoin(parent, parent.id == AdministrativeUnit.parent_id)
        .where(
            AdministrativeUnit.level.in_((UnitLevel.COMMUNE, UnitLevel.VILLAGE)),
            within(principal, AdministrativeUnit.id),
            or_(AdministrativeUnit.valid_from.is_(None), AdministrativeUnit.valid_from <= today),
            or_(AdministrativeUnit.valid_to.is_(None), AdministrativeUnit.valid_to > today),
        )
        .order_by(AdministrativeUnit.code)
        .limit(2000)
    ).all()
    return [
        (code, f"{name} ({parent_name})" if level == UnitLevel.VILLAGE else name)
        for code, name, level, parent_name in rows
    ]
