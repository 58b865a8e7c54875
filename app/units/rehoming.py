"""Re-homing (chuyển địa bàn) of the records of a unit that ended in a merger or split.

For an ended commune: its villages are re-created under the successor commune, and every
current residence in the commune or its villages is closed on the succession's effective date
and reopened in the successor. Nothing is guessed silently: records of a split unit are only
moved to the default successor when the caller asks for it (and are still listed), and
records with no successor, or whose successor lies outside the caller's jurisdiction, are
listed for a manual choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import record as audit
from app.audit.service import snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.exceptions import Conflict, FieldError, Forbidden, Problem
from app.registry.models import Residence
from app.text import plain
from app.units.models import AdministrativeUnit, SuccessionKind, UnitLevel, UnitSuccession
from app.units.schemas import (
    Candidate,
    MovedVillage,
    PendingRecord,
    RehomedRecord,
    RehomingReport,
    RehomingRequest,
)
from app.units.service import _next_village_numbers, add_ancestors, in_jurisdiction, summary


@dataclass
class _Link:
    unit: AdministrativeUnit
    link: UnitSuccession


def _successors(session: Session, unit: AdministrativeUnit) -> list[_Link]:
    rows = session.execute(
        select(UnitSuccession, AdministrativeUnit)
        .join(AdministrativeUnit, AdministrativeUnit.id == UnitSuccession.successor_id)
        .where(UnitSuccession.predecessor_id == unit.id)
        .order_by(AdministrativeUnit.code)
    )
    return [_Link(unit=successor, link=link) for link, successor in rows]


def _candidates(links: list[_Link]) -> list[Candidate]:
    return [Candidate(code=item.unit.code, name=item.unit.name, is_default=item.link.is_default) for item in links]


class _Planner:
    """Decides the target of each record; collects what needs a person's choice."""

    def __init__(self, session: Session, principal: Principal, request: RehomingRequest, links: list[_Link]):
        self.session = session
        self.principal = principal
        self.request = request
        self.links = links
        self.by_code = {item.unit.code: item for item in links}
        self.pending: list[PendingRecord] = []

    def target(self, chosen_code: str | None, describe: dict) -> tuple[_Link, str] | None:
        """(successor, via) for one record, or None after listing it as pending."""
        if chosen_code is not None:
            return self.by_code[chosen_code], "choice"
        if not self.links:
            return self._pend(describe, "Đơn vị không có đơn vị kế thừa trong dữ liệu; cần chọn thủ công.")
        splits = [item for item in self.links if item.link.kind == SuccessionKind.SPLIT]
        if not splits and len(self.links) == 1:
            return self._allowed(self.links[0], "succession", describe)
        defaults = [item for item in splits if item.link.is_default]
        if self.request.split_policy == "default" and len(defaults) == 1:
            return self._allowed(defaults[0], "default", describe)
        return self._pend(describe, "Đơn vị bị chia tách; cần chọn đơn vị kế thừa cho bản ghi này.")

    def _allowed(self, item: _Link, via: str, describe: dict) -> tuple[_Link, str] | None:
        if in_jurisdiction(self.session, self.principal, item.unit.id):
            return item, via
        return self._pend(
            describe, f"Đơn vị kế thừa {item.unit.name} ngoài phạm vi quản lý của tài khoản; để cán bộ đơn vị đó xử lý."
        )

    def _pend(self, describe: dict, reason: str) -> None:
        self.pending.append(PendingRecord(**describe, reason=reason, candidates=_candidates(self.links)))
        return None


def _validate_choices(session: Session, principal: Principal, request: RehomingRequest, links: list[_Link]) -> None:
    codes = {item.unit.code for item in links}
    errors = []
    for index, choice in enumerate(request.choices):
        if choice.unit_code not in codes:
            errors.append(
                FieldError(
                    field=f"body.choices.{index}.unit_code",
                    code="not_a_successor",
                    message=f"{choice.unit_code} không phải đơn vị kế thừa của đơn vị này.",
                )
            )
    for index, choice in enumerate(request.village_choices):
        if choice.commune_code not in codes:
            errors.append(
                FieldError(
                    field=f"body.village_choices.{index}.commune_code",
                    code="not_a_successor",
                    message=f"{choice.commune_code} không phải đơn vị kế thừa của đơn vị này.",
                )
            )
    for item in links:
        chosen = {c.unit_code for c in request.choices} | {c.commune_code for c in request.village_choices}
        if item.unit.code in chosen and not in_jurisdiction(session, principal, item.unit.id):
            raise Forbidden(f"{item.unit.name} ngoài phạm vi quản lý của tài khoản.")
    if errors:
        raise Problem(422, "validation_failed", "Dữ liệu không hợp lệ", "Một số lựa chọn không hợp lệ.", errors=errors)


def rehome(
    session: Session, principal: Principal, unit: AdministrativeUnit, request: RehomingRequest
) -> RehomingReport:
    if unit.level not in (UnitLevel.COMMUNE, UnitLevel.VILLAGE):
        raise Problem(
            422,
            "not_a_commune",
            "Dữ liệu không hợp lệ",
            "Chỉ chuyển địa bàn cho bản ghi của xã/phường hoặc thôn/tổ dân phố.",
        )
    if unit.valid_to is None:
        raise Conflict(f"{unit.name} vẫn đang có hiệu lực; không có gì để chuyển.", code="unit_in_force")
    links = _successors(session, unit)
    if principal.role not in (Role.ADMIN, Role.COMMUNE_OFFICER) or not (
        principal.is_admin or any(in_jurisdiction(session, principal, item.unit.id) for item in links)
    ):
        raise Forbidden("Chỉ cán bộ của đơn vị kế thừa (hoặc quản trị viên) được chuyển địa bàn.")
    _validate_choices(session, principal, request, links)
    planner = _Planner(session, principal, request, links)
    moved: list[RehomedRecord] = []
    villages_moved: list[MovedVillage] = []
    village_choice = {c.village_code: c.commune_code for c in request.village_choices}
    residence_choice = {c.residence_id: c.unit_code for c in request.choices}

    # Villages of the ended commune follow it to a successor commune.
    village_targets: dict[int, AdministrativeUnit] = {}
    villages = list(
        session.scalars(
            select(AdministrativeUnit)
            .where(
                AdministrativeUnit.parent_id == unit.id,
                AdministrativeUnit.level == UnitLevel.VILLAGE,
                (AdministrativeUnit.valid_to.is_(None)) | (AdministrativeUnit.valid_to >= unit.valid_to),
                # a village already carried over by an earlier run is not carried twice
                ~select(UnitSuccession.id).where(UnitSuccession.predecessor_id == AdministrativeUnit.id).exists(),
            )
            .order_by(AdministrativeUnit.code)
        )
    )
    for village in villages:
        decided = planner.target(village_choice.get(village.code), {"village_code": village.code})
        if decided is None:
            continue
        item, via = decided
        new_village = _recreate_village(session, village, item)
        audit(session, principal, "rehome", "unit", village.id, None, snapshot(village), to_code=new_village.code)
        village_targets[village.id] = new_village
        villages_moved.append(
            MovedVillage(
                from_code=village.code,
                to_code=new_village.code,
                name=village.name,
                to_commune_code=item.unit.code,
                via=via,
            )
        )

    # Current residences in the unit itself or in its villages.
    residences = list(
        session.scalars(
            select(Residence)
            .where(Residence.unit_id.in_([unit.id, *[v.id for v in villages]]), Residence.valid_to.is_(None))
            .order_by(Residence.id)
        )
    )
    for residence in residences:
        subject_type, subject_id = residence.subject
        describe = {"residence_id": residence.id, "subject_type": subject_type, "subject_id": subject_id}
        if residence.unit_id in village_targets:
            new_unit, effective, via = village_targets[residence.unit_id], unit.valid_to, "succession"
        elif residence.unit_id != unit.id:
            continue  # its village is itself waiting for a choice (listed above)
        else:
            decided = planner.target(residence_choice.get(residence.id), describe)
            if decided is None:
                continue
            item, via = decided
            new_unit, effective = item.unit, item.link.effective_date
        from_code = (
            unit.code if residence.unit_id == unit.id else next(v.code for v in villages if v.id == residence.unit_id)
        )
        before = snapshot(residence)
        _move(session, residence, new_unit, effective)
        audit(
            session, principal, "rehome", "residence", residence.id, before, snapshot(residence), to_code=new_unit.code
        )
        moved.append(
            RehomedRecord(
                residence_id=residence.id,
                subject_type=subject_type,
                subject_id=subject_id,
                from_code=from_code,
                to_code=new_unit.code,
                via=via,
            )
        )

    report = RehomingReport(
        unit=summary(unit),
        dry_run=request.dry_run,
        moved=moved,
        villages_moved=villages_moved,
        needs_choice=planner.pending,
    )
    if request.dry_run:
        session.rollback()  # a dry run leaves nothing behind: the request's transaction ends here
    else:
        session.flush()
    return report


def _recreate_village(session: Session, village: AdministrativeUnit, target: _Link) -> AdministrativeUnit:
    commune = target.unit
    effective = (
        max(target.link.effective_date, village.valid_from) if village.valid_from else target.link.effective_date
    )
    existing = session.scalar(
        select(AdministrativeUnit).where(
            AdministrativeUnit.parent_id == commune.id,
            AdministrativeUnit.search_name == plain(village.name),
            AdministrativeUnit.valid_to.is_(None),
        )
    )
    if existing is None:
        existing = AdministrativeUnit(
            code=_next_village_numbers(session, commune, 1)[0],
            name=village.name,
            search_name=village.search_name,
            unit_type=village.unit_type,
            level=UnitLevel.VILLAGE,
            parent_id=commune.id,
            valid_from=effective,
            valid_to=None,
            source="village",
        )
        session.add(existing)
        session.flush()
        add_ancestors(session, existing)
    if village.valid_to is None or village.valid_to > effective:
        village.valid_to = effective
    session.add(
        UnitSuccession(
            predecessor_id=village.id,
            successor_id=existing.id,
            effective_date=effective,
            kind=SuccessionKind.RE_PARENT,
            is_default=True,
            source="re-homing of the commune's records",
            note="",
        )
    )
    session.flush()
    return existing


def _move(session: Session, residence: Residence, unit: AdministrativeUnit, effective) -> None:
    """Close the residence and open the same subject's residence in the successor."""
    start = max(effective, residence.valid_from)
    residence.valid_to = start
    session.add(
        Residence(
            person_id=residence.person_id,
            household_id=residence.household_id,
            organisation_id=residence.organisation_id,
            unit_id=unit.id,
            valid_from=start,
            valid_to=None,
            reason="rehomed",
            note=f"chuyển từ đơn vị id {residence.unit_id} do sắp xếp đơn vị hành chính",
        )
    )
