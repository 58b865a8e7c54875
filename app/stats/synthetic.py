"""A realistic synthetic population over real communes, for demos, tests and benchmarks.

`hoctap seed synthetic --province 01 --people N` adds villages, people with birth dates and
education-sector tags, households with members, clans, organisations with staff,
registrations, assessments, decisions and recognitions (a few revoked) for one year. Rows are
inserted in bulk (COPY on PostgreSQL) with ids assigned here, so a million people take about a
minute. Nothing here is personal data: names are drawn from common Vietnamese name parts.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import date

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from app import clock
from app.assessments.models import Assessment, Decision, Recognition
from app.assessments.service import valid_until as recognition_valid_until
from app.criteria.models import CriteriaVersionRecord
from app.criteria.service import model_of, resolve
from app.database import analyze
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
from app.rules import EvaluationContext, TitleCode, evaluate
from app.rules.model import IndicatorKind
from app.stats import summary
from app.stats.models import DataVersion
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel
from app.units.service import get_unit, in_force_on

FAMILY_NAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", "Ngọc", "Quang", "Thanh", "Hồng"]
GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dung",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hoa",
    "Hùng",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Minh",
    "Nam",
    "Nga",
    "Phúc",
    "Phương",
    "Quân",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Tú",
    "Việt",
]
RATES = {
    TitleCode.CITIZEN: 0.45,
    TitleCode.FAMILY: 0.65,
    TitleCode.CLAN: 0.55,
    TitleCode.COMMUNITY: 0.6,
    TitleCode.UNIT: 0.7,
    TitleCode.COMMUNE: 0.4,
}
REVOKED_SHARE = 0.01
BATCH = 20_000


class Ids:
    """Next free id per table (ids are assigned here so rows can reference each other)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.next: dict[str, int] = {}

    def take(self, table: Table, count: int) -> range:
        if table.name not in self.next:
            self.next[table.name] = (self.session.scalar(select(func.max(table.c.id))) or 0) + 1
        start = self.next[table.name]
        self.next[table.name] += count
        return range(start, start + count)


def _bulk(session: Session, table: Table, rows: list[dict]) -> None:
    if not rows:
        return
    if session.bind.dialect.name != "postgresql":
        for start in range(0, len(rows), BATCH):
            session.execute(table.insert(), rows[start : start + BATCH])
        return
    columns = list(rows[0])
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def _fix_sequences(session: Session, tables: list[Table]) -> None:
    if session.bind.dialect.name != "postgresql":
        return
    for table in tables:
        if "id" in table.c:
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608 - our table names
                    f"COALESCE((SELECT max(id) FROM {table.name}), 1))"
                )
            )


def _name(rng: random.Random, family: str | None = None) -> str:
    return f"{family or rng.choice(FAMILY_NAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def _template_result(session: Session, title: TitleCode, unit: AdministrativeUnit, on: date):
    """A passing evaluation under the version in force: what each synthetic assessment stores."""
    province = session.scalar(
        select(AdministrativeUnit.code)
        .join(UnitAncestor, UnitAncestor.ancestor_id == AdministrativeUnit.id)
        .where(UnitAncestor.unit_id == unit.id, AdministrativeUnit.level == UnitLevel.PROVINCE)
    )
    record = resolve(session, title, province, on)
    version = model_of(record)
    answers, derived = {}, {}
    for indicator in version.indicators():
        if indicator.kind == IndicatorKind.DERIVED:
            derived[indicator.id] = "1"
        elif indicator.kind == IndicatorKind.YES_NO:
            answers[indicator.id] = True
        elif indicator.kind == IndicatorKind.SCORE:
            answers[indicator.id] = int(indicator.max_points)
        else:
            answers[indicator.id] = str(indicator.threshold.value) if indicator.threshold else "0"
    group = version.subject_groups[0].id if version.subject_groups else None
    result = evaluate(version, answers, derived, EvaluationContext(subject_group=group))
    return record, json.dumps(answers), json.dumps({k: {"value": v} for k, v in derived.items()}), result, group


def generate(session: Session, province_code: str, people: int, year: int, seed: int = 2025) -> str:
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    today = clock.today()
    province = get_unit(session, province_code, today)
    communes = list(
        session.scalars(
            select(AdministrativeUnit)
            .where(
                AdministrativeUnit.level == UnitLevel.COMMUNE,
                *in_force_on(today),
                AdministrativeUnit.id.in_(select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == province.id)),
            )
            .order_by(AdministrativeUnit.code)
        )
    )
    if not communes:
        raise ValueError(f"no communes in force under {province_code}")
    ids = Ids(session)
    since = max(c.valid_from or date(2020, 1, 1) for c in communes)
    reference = min(date(year, 12, 31), today)

    # Villages: eight per commune that has none.
    unit_table = AdministrativeUnit.__table__
    villages: dict[int, list[int]] = defaultdict(list)
    for village_id, parent_id in session.execute(
        select(AdministrativeUnit.id, AdministrativeUnit.parent_id).where(
            AdministrativeUnit.level == UnitLevel.VILLAGE,
            AdministrativeUnit.valid_to.is_(None),
            AdministrativeUnit.parent_id.in_([c.id for c in communes]),
        )
    ):
        villages[parent_id].append(village_id)
    new_villages, ancestor_rows = [], []
    now = clock.now()
    for commune in communes:
        if villages[commune.id]:
            continue
        for number, village_id in enumerate(ids.take(unit_table, 8), start=1):
            name = f"Tổ dân phố số {number}" if commune.unit_type == "phuong" else f"Thôn {number}"
            new_villages.append(
                {
                    "id": village_id,
                    "code": f"{commune.code}-{number:03d}",
                    "name": name,
                    "search_name": name.lower(),
                    "unit_type": "to_dan_pho",
                    "level": "village",
                    "parent_id": commune.id,
                    "valid_from": since,
                    "valid_to": None,
                    "source": "village",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            villages[commune.id].append(village_id)
            ancestor_rows += [
                {"unit_id": village_id, "ancestor_id": village_id, "depth": 0},
                {"unit_id": village_id, "ancestor_id": commune.id, "depth": 1},
                {"unit_id": village_id, "ancestor_id": province.id, "depth": 2},
            ]
    _bulk(session, unit_table, new_villages)
    _bulk(session, UnitAncestor.__table__, ancestor_rows)
    village_commune = {v: c for c, vs in villages.items() for v in vs}
    all_villages = [v for c in communes for v in villages[c.id]]

    # People in households.
    person_rows, sector_rows, household_rows, member_rows, residence_rows = [], [], [], [], []
    households_by_commune: dict[int, list[int]] = defaultdict(list)
    adults_by_commune: dict[int, list[int]] = defaultdict(list)
    person_birth: dict[int, date] = {}
    household_members: dict[int, list[int]] = {}
    person_ids = iter(ids.take(Person.__table__, people))
    made = 0
    while made < people:
        size = min(people - made, rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 6)))
        household_id = ids.take(Household.__table__, 1)[0]
        village = rng.choice(all_villages)
        family = rng.choice(FAMILY_NAMES)
        members = []
        for index in range(size):
            person_id = next(person_ids)
            age = rng.randint(25, 75) if index < 2 else rng.randint(0, 24)
            birth = date(reference.year - age, rng.randint(1, 12), rng.randint(1, 28))
            person_birth[person_id] = birth
            person_rows.append(
                {
                    "id": person_id,
                    "full_name": _name(rng, family),
                    "birth_date": birth,
                    "sex": rng.choice(("male", "female")),
                    "occupational_group": None,
                    "national_id_hmac": None,
                    "national_id_key_version": None,
                    "national_id_masked": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if age >= 22 and rng.random() < 0.05:
                sector_rows.append({"person_id": person_id, "sector": "education"})
            member_rows.append(
                {
                    "household_id": household_id,
                    "person_id": person_id,
                    "relation": "chủ hộ" if index == 0 else None,
                    "joined_on": since,
                    "left_on": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            residence_rows.append(
                {
                    "person_id": person_id,
                    "household_id": None,
                    "organisation_id": None,
                    "unit_id": village,
                    "valid_from": since,
                    "valid_to": None,
                    "reason": "registered",
                    "note": "",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if age >= 18:
                adults_by_commune[village_commune[village]].append(person_id)
            members.append(person_id)
        household_rows.append(
            {
                "id": household_id,
                "name": f"Hộ {person_rows[-size]['full_name']}",
                "head_person_id": members[0],
                "created_at": now,
                "updated_at": now,
            }
        )
        residence_rows.append(
            {
                "person_id": None,
                "household_id": household_id,
                "organisation_id": None,
                "unit_id": village,
                "valid_from": since,
                "valid_to": None,
                "reason": "registered",
                "note": "",
                "created_at": now,
                "updated_at": now,
            }
        )
        households_by_commune[village_commune[village]].append(household_id)
        household_members[household_id] = members
        made += size
    for table, rows in ((Person.__table__, person_rows), (Household.__table__, household_rows)):
        _bulk(session, table, rows)
    for table, rows in ((PersonSector.__table__, sector_rows), (HouseholdMember.__table__, member_rows)):
        _bulk(session, table, rows)

    # Clans (about one per twenty households) and organisations (about one per 150 people).
    clan_rows, clan_member_rows, org_rows, staff_rows = [], [], [], []
    clans_by_commune: dict[int, list[int]] = defaultdict(list)
    orgs_by_commune: dict[int, list[int]] = defaultdict(list)
    for commune in communes:
        households = households_by_commune[commune.id]
        for _ in range(max(1, len(households) // 20) if households else 0):
            clan_id = ids.take(Clan.__table__, 1)[0]
            clan_rows.append(
                {
                    "id": clan_id,
                    "name": f"Dòng họ {rng.choice(FAMILY_NAMES)} {rng.choice(MIDDLE)}",
                    "home_unit_id": commune.id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            clans_by_commune[commune.id].append(clan_id)
            for household_id in rng.sample(households, min(len(households), rng.randint(3, 25))):
                clan_member_rows.append(
                    {
                        "clan_id": clan_id,
                        "household_id": household_id,
                        "joined_on": since,
                        "left_on": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        adults = adults_by_commune[commune.id]
        for _ in range(max(1, len(adults) // 100) if adults else 0):
            org_id = ids.take(Organisation.__table__, 1)[0]
            education = rng.random() < 0.2
            org_rows.append(
                {
                    "id": org_id,
                    "name": ("Trường " if education else "Công ty ") + _name(rng),
                    "kind": "school" if education else "enterprise",
                    "sector": "education" if education else None,
                    "managing_level": "commune",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            residence_rows.append(
                {
                    "person_id": None,
                    "household_id": None,
                    "organisation_id": org_id,
                    "unit_id": commune.id,
                    "valid_from": since,
                    "valid_to": None,
                    "reason": "registered",
                    "note": "",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            orgs_by_commune[commune.id].append(org_id)
            for person_id in rng.sample(adults, min(len(adults), rng.randint(5, 40))):
                staff_rows.append(
                    {
                        "organisation_id": org_id,
                        "person_id": person_id,
                        "joined_on": since,
                        "left_on": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
    _bulk(session, Clan.__table__, clan_rows)
    _bulk(session, Organisation.__table__, org_rows)
    for table, rows in (
        (ClanHousehold.__table__, clan_member_rows),
        (OrganisationStaff.__table__, staff_rows),
        (Residence.__table__, residence_rows),
    ):
        _bulk(session, table, rows)

    # Registrations, assessments, decisions and recognitions for the year.
    subjects_by_commune = {
        TitleCode.CITIZEN: {
            c.id: [
                p
                for h in households_by_commune[c.id]
                for p in household_members[h]
                if (reference - person_birth[p]).days >= 15 * 366
            ]
            for c in communes
        },
        TitleCode.FAMILY: households_by_commune,
        TitleCode.CLAN: clans_by_commune,
        TitleCode.COMMUNITY: {c.id: villages[c.id] for c in communes},
        TitleCode.UNIT: orgs_by_commune,
        TitleCode.COMMUNE: {c.id: [c.id] for c in communes},
    }
    decided_on = min(date(year, 12, 15), today)
    registration_rows, assessment_rows, decision_rows, recognition_rows = [], [], [], []
    recognised = 0
    for title, by_commune in subjects_by_commune.items():
        record, answers, derived, result, group = _template_result(session, title, communes[0], reference)
        valid_until = recognition_valid_until(
            model_of(session.get(CriteriaVersionRecord, record.id)).recognition_period, decided_on
        )
        result_json = result.model_dump_json()
        for commune in communes:
            chosen = [s for s in by_commune.get(commune.id, []) if rng.random() < RATES[title]]
            if title == TitleCode.FAMILY:
                registration_rows += [
                    {
                        "title": title,
                        "subject_id": s,
                        "year": year,
                        "unit_id": commune.id,
                        "registered_on": date(year, 1, 15),
                        "created_by_id": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for s in by_commune.get(commune.id, [])
                    if rng.random() < 0.85 or s in chosen
                ]
            if not chosen:
                continue
            decision_id = ids.take(Decision.__table__, 1)[0]
            decision_rows.append(
                {
                    "id": decision_id,
                    "unit_id": commune.id,
                    "number": f"{decision_id}/QĐ-UBND-{title}",
                    "decided_on": decided_on,
                    "signer": "Chủ tịch UBND",
                    "title": title,
                    "period": year,
                    "created_by_id": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for subject_id, assessment_id in zip(chosen, ids.take(Assessment.__table__, len(chosen)), strict=True):
                public_id = f"00000000-0000-4000-8000-{assessment_id:012d}"
                assessment_rows.append(
                    {
                        "id": assessment_id,
                        "public_id": public_id,
                        "request_hash": "synthetic",
                        "chain_id": public_id,
                        "revision": 1,
                        "supersedes_id": None,
                        "title": title,
                        "subject_id": subject_id,
                        "period": year,
                        "unit_id": commune.id,
                        "reference_date": reference,
                        "criteria_version_id": record.id,
                        "criteria_content_hash": record.content_hash,
                        "subject_group": group,
                        "unit_groups": "[]",
                        "answers": answers,
                        "evidence": "[]",
                        "derived": derived,
                        "result": result_json,
                        "status": result.status,
                        "total": result.total,
                        "level": result.level,
                        "state": "decided",
                        "return_reason": None,
                        "assessor_id": None,
                        "reviewed_by_id": None,
                        "row_version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                revoked = rng.random() < REVOKED_SHARE
                recognition_rows.append(
                    {
                        "title": title,
                        "subject_id": subject_id,
                        "period": year,
                        "unit_id": commune.id,
                        "decision_id": decision_id,
                        "assessment_id": assessment_id,
                        "criteria_version_id": record.id,
                        "level": result.level,
                        "valid_from": decided_on,
                        "valid_until": valid_until,
                        "revoked_at": now if revoked else None,
                        "revoked_on": clock.local_date(now) if revoked else None,
                        "revoked_reason": "Thu hồi (dữ liệu mẫu)" if revoked else None,
                        "revoked_by_id": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                recognised += 1
    _bulk(session, Decision.__table__, decision_rows)
    _bulk(session, Assessment.__table__, assessment_rows)
    _bulk(session, Recognition.__table__, recognition_rows)
    _bulk(session, Registration.__table__, registration_rows)
    _fix_sequences(
        session,
        [
            unit_table,
            Person.__table__,
            Household.__table__,
            HouseholdMember.__table__,
            Clan.__table__,
            ClanHousehold.__table__,
            Organisation.__table__,
            OrganisationStaff.__table__,
            Residence.__table__,
            Decision.__table__,
            Assessment.__table__,
            Recognition.__table__,
            Registration.__table__,
        ],
    )
    session.execute(
        DataVersion.__table__.update().where(DataVersion.name == "stats").values(version=DataVersion.version + 1)
    )
    summary.bump_all(session)  # bulk inserts bypass the ORM's change tracking
    session.commit()
    # The planner needs statistics of what was just loaded: without them one progress query
    # over a million people was seen to run for minutes.
    analyze(session)
    return (
        f"Synthetic {province.name}: {people} people, {len(household_rows)} households, {len(clan_rows)} clans, "
        f"{len(org_rows)} organisations, {len(new_villages)} villages, {recognised} recognitions for {year}."
    )
