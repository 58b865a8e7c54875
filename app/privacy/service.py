"""Personal data duties: access log, export of one person's data, de-identification on request,
national-ID key rotation and retention (Law 91/2025/QH15, Decree 356/2025/NĐ-CP; docs/privacy.md)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app import clock
from app.assessments.models import Assessment, Recognition
from app.audit.service import record as audit
from app.audit.service import snapshot
from app.auth.models import Role, WebSession
from app.auth.principal import Principal
from app.exceptions import Conflict, Forbidden
from app.privacy.models import PersonAccessEvent
from app.registry.models import (
    Household,
    HouseholdMember,
    OrganisationStaff,
    Person,
    PersonSector,
    Registration,
    Residence,
)
from app.registry.national_id import NationalIds
from app.rules import TitleCode
from app.text import plain

DEFAULT_PURPOSE = "tra cứu hồ sơ"
DUPLICATE_CHECK_PURPOSE = "kiểm tra trùng số CCCD khi ghi người mới"
DEIDENTIFIED_NAME = "(đã ẩn danh)"
# Who may export or de-identify a person's record (besides reading it, which READERS may).
CONTROLLERS = (Role.ADMIN, Role.COMMUNE_OFFICER)


def clean_purpose(raw: str | None) -> str:
    text = " ".join((raw or "").split())[:200]
    return text or DEFAULT_PURPOSE


def access_events(session: Session, person_id: int, limit: int, offset: int) -> tuple[list[PersonAccessEvent], int]:
    query = select(PersonAccessEvent).where(PersonAccessEvent.person_id == person_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.order_by(PersonAccessEvent.id.desc()).limit(limit).offset(offset))), total


def _rows(session: Session, model, condition) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in snapshot(row).items() if k not in ("national_id_hmac",)}
        for row in session.scalars(select(model).where(condition))
    ]


def export_person(session: Session, person: Person) -> dict[str, Any]:
    """Everything the registry holds about one person (the digest of the national ID is not
    returned: it is useless to the person and only lets one test guesses)."""
    assessments = [
        {**row, "answers": json.loads(row["answers"]), "result": json.loads(row["result"])}
        for row in _rows(
            session, Assessment, (Assessment.title == TitleCode.CITIZEN) & (Assessment.subject_id == person.id)
        )
    ]
    for row in assessments:
        for key in ("request_hash", "derived", "unit_groups", "evidence"):
            row.pop(key, None)
    return {
        "exported_at": clock.now().isoformat(),
        "person": {k: v for k, v in snapshot(person).items() if k != "national_id_hmac"},
        "sectors": [row["sector"] for row in _rows(session, PersonSector, PersonSector.person_id == person.id)],
        "residences": _rows(session, Residence, Residence.person_id == person.id),
        "household_memberships": _rows(session, HouseholdMember, HouseholdMember.person_id == person.id),
        "staff_memberships": _rows(session, OrganisationStaff, OrganisationStaff.person_id == person.id),
        "registrations": _rows(
            session, Registration, (Registration.title == TitleCode.CITIZEN) & (Registration.subject_id == person.id)
        ),
        "assessments": assessments,
        "recognitions": _rows(
            session, Recognition, (Recognition.title == TitleCode.CITIZEN) & (Recognition.subject_id == person.id)
        ),
        "access_log": [
            {k: v for k, v in snapshot(e).items()}
            for e in session.scalars(
                select(PersonAccessEvent).where(PersonAccessEvent.person_id == person.id).order_by(PersonAccessEvent.id)
            )
        ],
    }


def require_controller(principal: Principal) -> None:
    if principal.role not in CONTROLLERS:
        raise Forbidden("Chỉ cán bộ xã/phường quản lý hoặc quản trị viên được thực hiện yêu cầu về dữ liệu cá nhân.")


def deidentify(session: Session, principal: Principal, person: Person, reason: str) -> Person:
    """Remove what identifies the person; keep what statistics count (residence, birth year,
    memberships, sectors, titles), so every percentage stays the same."""
    if person.full_name == DEIDENTIFIED_NAME:
        raise Conflict("Hồ sơ này đã được ẩn danh.", code="already_deidentified")
    before = snapshot(person)
    person.full_name = DEIDENTIFIED_NAME
    if person.birth_date is not None:
        # Past years' ages are counted on 31 December: the birth year alone gives the same counts
        # (the current year, counted on today, may see a birthday early: docs/privacy.md).
        person.birth_date = date(person.birth_date.year, 1, 1)
    person.sex = None
    person.occupational_group = None
    person.national_id_hmac = None
    person.national_id_key_version = None
    person.national_id_masked = None
    person.updated_at = clock.now()
    # A household named after the person (its head, or a member whose name is in it: "Hộ bà
    # Vũ Thị Lan") no longer names him or her.
    name = plain(before["full_name"])
    member_of = select(HouseholdMember.household_id).where(HouseholdMember.person_id == person.id)
    for household in session.scalars(
        select(Household).where((Household.head_person_id == person.id) | Household.id.in_(member_of))
    ):
        if household.head_person_id != person.id and (not name or name not in plain(household.name)):
            continue
        household_before = snapshot(household)
        household.name = f"Hộ số {household.id}"
        audit(session, principal, "deidentify", "household", household.id, household_before, snapshot(household))
    audit(session, principal, "deidentify", "person", person.id, before, snapshot(person), reason=reason)
    session.flush()
    return person


def rekey_if_old(session: Session, ids: NationalIds, person_id: int, key_version: int | None, number: str) -> None:
    """A person found under a previous key gets the current key's digest (lazy rotation: the
    clear number exists only when someone presents it)."""
    if key_version is not None and key_version != ids.key_version:
        rekey(session, person_id, key_version, ids.digest(number), ids.key_version)


def rekey(session: Session, person_id: int, from_version: int, digest: str, to_version: int) -> None:
    """Store the digest under the current key, unless the record was re-keyed meanwhile."""
    session.execute(
        update(Person)
        .where(Person.id == person_id, Person.national_id_key_version == from_version)
        .values(national_id_hmac=digest, national_id_key_version=to_version)
    )


def key_status(session: Session) -> dict[int | None, int]:
    return dict(
        Counter(
            dict(
                session.execute(
                    select(Person.national_id_key_version, func.count())
                    .where(Person.national_id_hmac.is_not(None))
                    .group_by(Person.national_id_key_version)
                ).all()
            )
        )
    )


def purge(session: Session, access_log_days: int) -> dict[str, int]:
    """Delete what the retention settings say is no longer needed."""
    cutoff = clock.now() - timedelta(days=access_log_days)
    removed = session.execute(delete(PersonAccessEvent).where(PersonAccessEvent.at < cutoff)).rowcount or 0
    # Browser sessions that ended (expired or signed out) a day ago or more.
    ended = clock.now() - timedelta(days=1)
    sessions = (
        session.execute(
            delete(WebSession).where((WebSession.expires_at < ended) | (WebSession.revoked_at < ended))
        ).rowcount
        or 0
    )
    return {"access_events": removed, "web_sessions": sessions}
