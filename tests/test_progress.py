"""Progress against targets: every percentage equals a brute-force recount from the raw
tables; targets are inherited from former units; writes show at once; reports match the API."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date

import openpyxl
import pytest
from sqlalchemy import select

from app import clock
from app.assessments.models import Recognition
from app.auth.models import Role
from app.registry.models import (
    Clan,
    ClanHousehold,
    HouseholdMember,
    Organisation,
    OrganisationStaff,
    Person,
    PersonSector,
    Residence,
)
from app.stats.synthetic import generate
from app.units.models import AdministrativeUnit, UnitAncestor
from app.units.service import get_unit
from tests.helpers import assert_problem, bearer, login

API = "/api/v1"
YEAR = 2025


def brute_force(session, unit_id: int, year: int) -> dict[str, tuple[int, int]]:
    """The whole populations' numbers, counted by `brute_force_all`."""
    return {
        title: counts for (title, segment), counts in brute_force_all(session, unit_id, year).items() if not segment
    }


def brute_force_all(session, unit_id: int, year: int) -> dict[tuple[str, str | None], tuple[int, int]]:
    """The documented rules, counted the slow, obvious way in Python over every raw row: every
    title, and the segments (education; QĐ 677's adults in learning families, clans and
    communities, and staff of learning units)."""
    day = min(date(year, 12, 31), clock.today())
    under = defaultdict(set)
    for unit, ancestor in session.execute(select(UnitAncestor.unit_id, UnitAncestor.ancestor_id)):
        under[ancestor].add(unit)
    territory = under[unit_id]
    holders = defaultdict(set)
    for title, subject, period, start, until, revoked in session.execute(
        select(
            Recognition.title,
            Recognition.subject_id,
            Recognition.period,
            Recognition.valid_from,
            Recognition.valid_until,
            Recognition.revoked_on,
        )
    ):
        if revoked is None and (period == year or start <= day < until):
            holders[title].add(subject)
    living = defaultdict(set)
    home = {}
    for person, household, organisation, unit, start, end in session.execute(
        select(
            Residence.person_id,
            Residence.household_id,
            Residence.organisation_id,
            Residence.unit_id,
            Residence.valid_from,
            Residence.valid_to,
        )
    ):
        if start <= day and (end is None or end > day) and unit in territory:
            for kind, subject in (("person", person), ("household", household), ("organisation", organisation)):
                if subject is not None:
                    living[kind].add(subject)
                    home[(kind, subject)] = unit
    births = dict(session.execute(select(Person.id, Person.birth_date)).all())

    def born_by(years: int) -> date:  # the latest birth date of someone `years` old on the day
        leap_day = (day.month, day.day) == (2, 29)
        return date(day.year - years, day.month, 28 if leap_day else day.day)

    fifteen, eighteen = born_by(15), born_by(18)
    units = session.execute(
        select(
            AdministrativeUnit.id, AdministrativeUnit.level, AdministrativeUnit.valid_from, AdministrativeUnit.valid_to
        )
    ).all()

    def in_force(start, end):
        return (start is None or start <= day) and (end is None or end > day)

    educated = set(session.scalars(select(PersonSector.person_id).where(PersonSector.sector == "education")))
    members = defaultdict(set)  # household -> people, on the day
    for household, person, joined, left in session.execute(
        select(
            HouseholdMember.household_id, HouseholdMember.person_id, HouseholdMember.joined_on, HouseholdMember.left_on
        )
    ):
        if joined <= day and (left is None or left > day):
            members[household].add(person)
    clan_households = set()
    clans_with_households = set()  # a clan counts while it has a household that day
    for clan, household, joined, left in session.execute(
        select(ClanHousehold.clan_id, ClanHousehold.household_id, ClanHousehold.joined_on, ClanHousehold.left_on)
    ):
        if joined <= day and (left is None or left > day):
            clans_with_households.add(clan)
            if clan in holders["clan"]:
                clan_households.add(household)
    learning_people = {
        person
        for household, people in members.items()
        if household in holders["family"] or household in clan_households
        for person in people
    }
    citizens = {p for p in living["person"] if births[p] is not None and births[p] <= fifteen}
    adults = {
        p
        for p in living["person"]
        if births[p] is not None
        and births[p] <= eighteen
        and (p in learning_people or home[("person", p)] in holders["community"])
    }
    staff_posts = {
        (post, person)
        for post, organisation, person, joined, left in session.execute(
            select(
                OrganisationStaff.id,
                OrganisationStaff.organisation_id,
                OrganisationStaff.person_id,
                OrganisationStaff.joined_on,
                OrganisationStaff.left_on,
            )
        )
        if organisation in living["organisation"]
        and organisation in holders["unit"]
        and joined <= day
        and (left is None or left > day)
    }
    education_organisations = set(session.scalars(select(Organisation.id).where(Organisation.sector == "education")))
    populations = {
        ("citizen", None): citizens,
        ("family", None): living["household"],
        ("unit", None): living["organisation"],
        ("clan", None): {
            c
            for c, home in session.execute(select(Clan.id, Clan.home_unit_id))
            if home in territory and c in clans_with_households
        },
        ("community", None): {
            u for u, level, start, end in units if level == "village" and u in territory and in_force(start, end)
        },
        ("commune", None): {
            u for u, level, start, end in units if level == "commune" and u in territory and in_force(start, end)
        },
        ("citizen", "education"): citizens & educated,
        ("family", "education"): {h for h in living["household"] if members[h] & educated},
        ("unit", "education"): living["organisation"] & education_organisations,
        ("citizen", "adults_in_learning_families"): adults,
    }
    result = {
        (title, segment): (len(population & holders[title]), len(population))
        for (title, segment), population in populations.items()
    }
    result[("citizen", "staff_of_learning_units")] = (
        sum(1 for _, person in staff_posts if person in holders["citizen"]),
        len(staff_posts),
    )
    return result


@pytest.fixture
def synthetic(session):
    generate(session, "01", 1500, YEAR, seed=7)
    return get_unit(session, "01", clock.today())


def api_counts(client, code: str, year: int = YEAR, **params) -> dict[str, tuple[int, int, float | None]]:
    response = client.get(f"{API}/units/{code}/progress", params={"year": year, **params})
    assert response.status_code == 200, response.text
    return {
        i["title"]: (i["numerator"], i["denominator"], i["percent"])
        for i in response.json()["items"]
        if i["segment"] is None
    }


def test_every_percentage_equals_a_brute_force_recount(client, session, synthetic):
    communes = session.execute(
        select(AdministrativeUnit.id, AdministrativeUnit.code).where(
            AdministrativeUnit.parent_id == synthetic.id, AdministrativeUnit.valid_to.is_(None)
        )
    ).all()
    assert len(communes) == 126
    checked = 0
    for unit_id, code in [(synthetic.id, "01"), *communes[::9]]:
        expected = brute_force(session, unit_id, YEAR)
        got = api_counts(client, code)
        for title, (numerator, denominator) in expected.items():
            assert got[title][:2] == (numerator, denominator), (code, title)
            if denominator:
                assert got[title][2] == round(100 * numerator / denominator, 2)
        checked += 1
    province = api_counts(client, "01")
    assert province["citizen"][1] > 500 and province["family"][0] > 100  # the synthetic data is really there
    # Roll-up: the province is the sum of its communes, never an average of percentages.
    totals = [0, 0]
    for _, code in communes:
        numerator, denominator, _ = api_counts(client, code)["family"]
        totals[0] += numerator
        totals[1] += denominator
    assert tuple(totals) == province["family"][:2]
    assert checked == 15


def test_every_segment_equals_a_brute_force_recount(client, session, synthetic):
    communes = session.scalars(
        select(AdministrativeUnit.code).where(
            AdministrativeUnit.parent_id == synthetic.id, AdministrativeUnit.valid_to.is_(None)
        )
    ).all()
    for code in ["01", *communes[::25]]:
        expected = brute_force_all(session, get_unit(session, code, clock.today()).id, YEAR)
        for segment in ("education", "adults_in_learning_families", "staff_of_learning_units"):
            items = client.get(f"{API}/units/{code}/progress", params={"year": YEAR, "segment": segment}).json()
            got = {(i["title"], i["segment"]): (i["numerator"], i["denominator"]) for i in items["items"]}
            wanted = {key: value for key, value in expected.items() if key[1] == segment}
            assert got == wanted, (code, segment)
    province = brute_force_all(session, synthetic.id, YEAR)
    # The synthetic data really has every population, so the comparison means something.
    assert all(denominator > 0 for _, denominator in province.values())
    assert province[("citizen", "adults_in_learning_families")][0] > 0


def test_targets_of_a_commune_of_former_quan_thanh_xuan(client):
    items = client.get(f"{API}/targets", params={"unit": "00367"}).json()["items"]
    found = {(t["source"]["document_number"], t["title"], t["year"], t["segment"]): t for t in items}
    district_2025 = found[("121/KH-UBND", "citizen", 2025, None)]
    assert district_2025["percent"] == 60 and district_2025["unit"]["name"] == "Quận Thanh Xuân"
    assert district_2025["source"]["sentence"].startswith("60% công dân")
    assert ("121/KH-UBND", "citizen", 2030, None) in found
    assert ("121/KH-UBND", "unit", 2030, None) in found
    assert ("290/KH-UBND", "citizen", 2025, None) in found  # the city plan
    assert ("387/QĐ-TTg", "family", 2025, None) in found  # national
    assert found[("387/QĐ-TTg", "family", 2025, None)]["scope"] == "toàn quốc"
    assert ("677/QĐ-TTg", "citizen", 2030, "staff_of_learning_units") in found
    # The district's own plan is the most local one: it sets the commune's target.
    progress = client.get(f"{API}/units/00367/progress", params={"year": 2025}).json()
    citizen = next(i for i in progress["items"] if i["title"] == "citizen" and i["segment"] is None)
    assert (citizen["target_percent"], citizen["target_source"]["document_number"]) == (60, "121/KH-UBND")
    # Another district's plan does not apply.
    assert not any(t["source"]["document_number"] == "158/KH-BCĐ" for t in items)
    hong_duc = client.get(f"{API}/targets", params={"unit": "11167"}).json()["items"]  # xã Tân An, Hải Phòng
    assert any(t["source"]["document_number"] == "17/KH-UBND" for t in hong_duc)
    assert not any(t["source"]["document_number"] == "290/KH-UBND" for t in hong_duc)


def test_writes_change_the_numbers_at_once(client, session, synthetic, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    officer = bearer(login(client, "canbo.tx")["access_token"])
    first = client.get(f"{API}/units/00367/progress", params={"year": YEAR})
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public")
    same = client.get(f"{API}/units/00367/progress", params={"year": YEAR}, headers={"If-None-Match": etag})
    assert same.status_code == 304
    family = next(i for i in first.json()["items"] if i["title"] == "family" and i["segment"] is None)
    ward = get_unit(session, "00367", clock.today())
    recognition = session.scalar(
        select(Recognition).where(
            Recognition.title == "family", Recognition.unit_id == ward.id, Recognition.revoked_at.is_(None)
        )
    )
    revoked = client.post(
        f"{API}/recognitions/{recognition.id}/revoke", headers=officer, json={"reason": "Kiểm tra lại hồ sơ"}
    )
    assert revoked.status_code == 200, revoked.text
    after = client.get(f"{API}/units/00367/progress", params={"year": YEAR}, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    family_after = next(i for i in after.json()["items"] if i["title"] == "family" and i["segment"] is None)
    assert family_after["numerator"] == family["numerator"] - 1
    province_after = api_counts(client, "01")["family"]
    assert province_after[0] == brute_force(session, synthetic.id, YEAR)["family"][0]


def test_the_annual_report_opens_and_matches_the_api(client, synthetic, make_user):
    make_user("tinh", Role.PROVINCE_OFFICER, ["01"])
    headers = bearer(login(client, "tinh")["access_token"])
    api = {
        (i["title"], i["segment_label"]): i
        for i in client.get(f"{API}/units/00367/progress", params={"year": YEAR}).json()["items"]
    }
    response = client.get(f"{API}/units/00367/report", params={"year": YEAR}, headers=headers)
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    assert len(rows) == sum(max(1, len(item["targets"])) for item in api.values())  # a row per target
    names = {
        "Công dân học tập": "citizen",
        "Gia đình học tập": "family",
        "Dòng họ học tập": "clan",
        "Cộng đồng học tập (thôn, tổ dân phố)": "community",
        "Đơn vị học tập": "unit",
        "Cộng đồng học tập cấp xã": "commune",
    }
    for row in rows:
        item = api[(names[row[0]], row[1] or None)]
        assert (row[4], row[5], row[7]) == (item["numerator"], item["denominator"], item["percent"])
        assert (row[8], row[9]) in ([(t["percent"], t["gap"]) for t in item["targets"]] or [(None, None)])
    family = next(r for r in rows if r[0] == "Gia đình học tập" and not r[1])
    assert family[2] >= family[4]  # registered households include the recognised ones here
    assert "Hạn báo cáo" in book.sheetnames
    assert any("25/11" in str(cell) for row in book["Hạn báo cáo"].iter_rows(values_only=True) for cell in row)
    text = client.get(
        f"{API}/units/00367/report", params={"year": YEAR, "format": "csv"}, headers=headers
    ).content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    family_csv = next(line for line in lines if line and line[0] == "Gia đình học tập" and not line[1])
    assert int(family_csv[4]) == api[("family", None)]["numerator"]
    assert_problem(client.get(f"{API}/units/00367/report", params={"year": YEAR}), 401, "not_authenticated")
    make_user("haiphong", Role.PROVINCE_OFFICER, ["31"])
    other = bearer(login(client, "haiphong")["access_token"])
    assert_problem(client.get(f"{API}/units/00367/report", params={"year": YEAR}, headers=other), 403, "forbidden")


def test_honour_roll_shows_no_personal_data(client, synthetic):
    roll = client.get(f"{API}/units/00367/honour-roll", params={"year": YEAR}).json()
    assert roll["total"] > 0
    assert {entry["title"] for entry in roll["items"]} <= {"family", "clan", "community", "unit", "commune"}
    assert all(
        set(entry) == {"title", "name", "village", "decision_number", "decided_on", "level"} for entry in roll["items"]
    )
    people = client.get(f"{API}/units/00367/honour-roll", params={"year": YEAR, "title": "citizen"}).json()
    assert people["items"] == []


def test_official_denominators_are_reported_beside_the_count(client, synthetic, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    officer = bearer(login(client, "canbo.tx")["access_token"])
    body = {
        "title": "family",
        "year": YEAR,
        "value": 5000,
        "definition": "households",
        "source": "Thống kê dân số phường Thanh Xuân năm 2025",
    }
    assert client.put(f"{API}/units/00367/official-denominators", json=body, headers=officer).status_code == 200
    family = next(
        i
        for i in client.get(f"{API}/units/00367/progress", params={"year": YEAR}).json()["items"]
        if i["title"] == "family" and i["segment"] is None
    )
    assert family["official_denominator"] == 5000
    assert family["official_percent"] == round(100 * family["numerator"] / 5000, 2)
    assert family["official_source"].startswith("Thống kê")
    assert_problem(client.put(f"{API}/units/00364/official-denominators", json=body, headers=officer), 403, "forbidden")


def test_targets_can_be_added_by_officers_with_rights(client, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    officer = bearer(login(client, "canbo.tx")["access_token"])
    body = {
        "unit_code": "00367",
        "title": "family",
        "year": 2027,
        "percent": 75,
        "document_number": "05/KH-UBND",
        "document_date": "2026-01-10",
        "issuer": "UBND phường Thanh Xuân",
        "sentence": "Phấn đấu 75% hộ gia đình đạt danh hiệu Gia đình học tập năm 2027.",
    }
    created = client.post(f"{API}/targets", json=body, headers=officer)
    assert created.status_code == 201, created.text
    listed = client.get(f"{API}/targets", params={"unit": "00367", "year": 2027}).json()["items"]
    assert listed[0]["source"]["document_number"] == "05/KH-UBND" and listed[0]["inherited"] is False
    assert_problem(
        client.post(f"{API}/targets", json={**body, "unit_code": "00364"}, headers=officer), 403, "forbidden"
    )
    assert_problem(client.post(f"{API}/targets", json=body), 401, "not_authenticated")
    both = assert_problem(
        client.post(f"{API}/targets", json={**body, "unit_group": "disadvantaged"}, headers=officer),
        422,
        "validation_failed",
    )
    assert both["errors"][0]["field"] == "body.unit_group"


def test_a_former_district_is_tracked_over_its_former_territory(client, session, make_user):
    """Quận Thanh Xuân ended on 2025-07-01; its 2025 target is followed over the households that
    lived in its wards then, wherever re-homing put them, and not over those who moved away."""
    from app.registry.models import Household

    make_user("quantri")
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    admin = bearer(login(client, "quantri")["access_token"])
    old_ward = get_unit(session, "00367", date(2025, 6, 30))  # Phường Thanh Xuân Bắc
    other_district_ward = get_unit(session, "00175", date(2025, 6, 30))  # Phường Trung Hoà, Cầu Giấy
    households = {}
    for name, unit in (("stays", old_ward), ("moves", old_ward), ("elsewhere", other_district_ward)):
        household = Household(name=f"Hộ {name}")
        session.add(household)
        session.flush()
        session.add(Residence(household_id=household.id, unit_id=unit.id, valid_from=date(2020, 1, 1)))
        households[name] = household.id
    session.commit()
    for code in ("00367", "00175"):
        response = client.post(
            f"{API}/units/{code}/rehoming",
            params={"as_of": "2025-06-30"},
            headers=admin,
            json={"split_policy": "default"},
        )
        assert response.status_code == 200, response.text
    moved = client.post(
        f"{API}/households/{households['moves']}/residence",
        headers=admin,
        json={"unit_code": "00364", "since": "2025-09-01"},
    )
    assert moved.status_code == 201, moved.text

    district = client.get(f"{API}/units/009/progress", params={"year": 2025, "as_of": "2025-06-30"}).json()
    assert district["territory"] == "former"
    family = next(i for i in district["items"] if i["title"] == "family" and i["segment"] is None)
    assert family["denominator"] == 1  # "stays" only
    assert (family["target_percent"], family["target_source"]["document_number"]) == (70, "291/KH-UBND")
    citizen = next(i for i in district["items"] if i["title"] == "citizen" and i["segment"] is None)
    assert citizen["target_source"]["document_number"] == "121/KH-UBND"
    # The same household is counted in today's ward too.
    ward = next(
        i
        for i in client.get(f"{API}/units/00367/progress", params={"year": 2025}).json()["items"]
        if i["title"] == "family" and i["segment"] is None
    )
    assert ward["denominator"] >= 1


def test_unit_groups_give_segments_and_their_targets(client, synthetic, make_user):
    make_user("tinh", Role.PROVINCE_OFFICER, ["01"])
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    province = bearer(login(client, "tinh")["access_token"])
    officer = bearer(login(client, "canbo.tx")["access_token"])
    assert_problem(client.put(f"{API}/units/00367/groups/disadvantaged", headers=officer), 403, "forbidden")
    assert client.put(f"{API}/units/00367/groups/disadvantaged", headers=province).status_code == 204
    only = client.get(f"{API}/units/00367/progress", params={"year": YEAR, "segment": "disadvantaged"}).json()
    everything = {i["title"]: i for i in only["items"]}
    plain = {
        i["title"]: i
        for i in client.get(f"{API}/units/00367/progress", params={"year": YEAR}).json()["items"]
        if i["segment"] is None
    }
    assert {i["segment"] for i in only["items"]} == {"disadvantaged"}
    # The whole ward is in the group, so the group's counts are the ward's.
    assert (everything["family"]["numerator"], everything["family"]["denominator"]) == (
        plain["family"]["numerator"],
        plain["family"]["denominator"],
    )
    assert everything["family"]["denominator_definition"] == "households:group:disadvantaged"
    # QĐ 281's targets for disadvantaged areas now apply to the ward.
    targets = client.get(f"{API}/targets", params={"unit": "00367", "year": 2020}).json()["items"]
    assert any(t["unit_group"] == "disadvantaged" and t["title"] == "family" and t["percent"] == 60 for t in targets)
    assert client.request("DELETE", f"{API}/units/00367/groups/disadvantaged", headers=province).status_code == 204
    targets = client.get(f"{API}/targets", params={"unit": "00367", "year": 2020}).json()["items"]
    assert not any(t["unit_group"] == "disadvantaged" for t in targets)
