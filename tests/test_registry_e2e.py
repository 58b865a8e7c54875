"""End to end through the HTTP API: from people and households in a residential group of
Phường Thanh Xuân to recognised titles, shares that feed clan and unit assessments, revocation,
idempotent submissions, concurrency and jurisdiction."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date, datetime, time

import pytest
from sqlalchemy import select, text

from app import clock
from app.auth.models import Role
from app.database import Base
from tests.helpers import assert_problem, bearer, login, today

API = "/api/v1"
CCCD = ("001085012345", "001087054321")


class Desk:
    """One user's view of the API."""

    def __init__(self, client, username: str):
        self.client = client
        self.username = username
        self.login()

    def login(self) -> None:
        """A fresh access token: tokens are checked against the service's clock, which a test
        may move to another day."""
        self.headers = bearer(login(self.client, self.username)["access_token"])

    def post(self, path, json=None, expect=(200, 201), **kw):
        response = self.client.post(API + path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw)
        assert response.status_code in expect, response.text
        return response

    def get(self, path, expect=(200,), **kw):
        response = self.client.get(API + path, headers=self.headers, **kw)
        assert response.status_code in expect, response.text
        return response


@pytest.fixture
def desks(client, make_user):
    make_user("thamdinh.a", Role.ASSESSOR, ["00367"])
    make_user("thamdinh.b", Role.ASSESSOR, ["00367"])
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    make_user("thamdinh.kd", Role.ASSESSOR, ["00364"])  # Phường Khương Đình: another commune
    make_user("quantri")
    return {
        name: Desk(client, user)
        for name, user in [
            ("a", "thamdinh.a"),
            ("b", "thamdinh.b"),
            ("officer", "canbo.tx"),
            ("other", "thamdinh.kd"),
            ("admin", "quantri"),
        ]
    }


@contextmanager
def on_day(day: str, desks: dict):
    """Play a part of the year on `day` (10:00 in Hà Nội): the service's clock stands there and
    every desk logs in again."""
    moment = datetime.combine(date.fromisoformat(day), time(10, 0), tzinfo=clock.zone())
    with clock.frozen(moment):
        for desk in desks.values():
            desk.login()
        yield
    for desk in desks.values():
        desk.login()


def person(desk, name, village, national_id=None, birth="1985-03-02", sectors=()):
    body = {
        "full_name": name,
        "birth_date": birth,
        "sex": "male",
        "unit_code": village,
        "resident_since": "2025-07-01",
        "sectors": list(sectors),
    }
    if national_id:
        body["national_id"] = national_id
    return desk.post("/people", body).json()


def household(desk, name, village, members, head=None):
    return desk.post(
        "/households",
        {
            "name": name,
            "unit_code": village,
            "since": "2025-07-01",
            "head_person_id": head,
            "members": [{"person_id": pid, "joined_on": "2025-07-01"} for pid in members],
        },
    ).json()


def assess(desk, title, subject_id, period, answers, *, reference_date=None, group=None, submit=True, expect=(201,)):
    body = {
        "id": str(uuid.uuid4()),
        "title": title,
        "subject_id": subject_id,
        "period": period,
        "answers": answers,
        "subject_group": group,
        "submit": submit,
    }
    if reference_date:
        body["reference_date"] = reference_date
    response = desk.post("/assessments", body, expect=expect)
    return response.json(), body, response


def review(desk, assessment):
    etag = desk.get(f"/assessments/{assessment['id']}").headers["etag"]
    return desk.post(
        f"/assessments/{assessment['id']}/transitions", {"action": "review"}, headers={"If-Match": etag}
    ).json()


def decide(desk, number, title, period, assessments, decided_on=None):
    return desk.post(
        "/decisions",
        {
            "commune_code": "00367",
            "number": number,
            "decided_on": decided_on or today(),
            "signer": "Chủ tịch UBND phường Thanh Xuân",
            "title": title,
            "period": period,
            "assessment_ids": [a["id"] for a in assessments],
        },
    ).json()


CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}
FAMILY_GOOD = {"c1_1": 10, "c1_2": 9, "c1_3": 10, "c2_1": 10, "c2_2": 8, "c2_3": 8, "c3_1": 15, "c4_1": 15}


def test_from_household_to_titles(client, desks, session):
    """A year in a residential group of Phường Thanh Xuân, played on the days it happens: filing
    and review in December 2025, decisions in January 2026, clan and unit assessments in July."""
    a, b, officer, other, admin = (desks[k] for k in ("a", "b", "officer", "other", "admin"))
    with on_day("2025-12-10", desks):
        village = officer.post(
            "/units/00367/villages", {"name": "Tổ dân phố số 1", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
        ).json()
        village_code = village["code"]

        # A household of four: two adults, two children.
        father = person(a, "Nguyễn Văn An", village_code, CCCD[0])
        mother = person(a, "Trần Thị Bình", village_code, CCCD[1], birth="1987-07-09", sectors=["education"])
        child1 = person(a, "Nguyễn Văn Cường", village_code, birth="2012-05-01")
        child2 = person(a, "Nguyễn Thị Dung", village_code, birth="2015-09-20")
        assert father["national_id_masked"] == "********2345"
        assert CCCD[0] not in str(father)
        home = household(
            a,
            "Hộ ông Nguyễn Văn An",
            village_code,
            [father["id"], mother["id"], child1["id"], child2["id"]],
            head=father["id"],
        )
        assert len(home["members"]) == 4 and home["unit"]["code"] == village_code
        a.post("/registrations", {"title": "citizen", "subject_id": father["id"], "year": 2025})

        # Both adults assessed for Công dân học tập, reviewed by a second assessor.
        citizens = []
        for adult in (father, mother):
            assessment, _, response = assess(a, "citizen", adult["id"], 2025, CITIZEN_ALL_8, group="commune_resident")
            assert (assessment["status"], assessment["total"], assessment["criteria_version"]) == (
                "dat",
                80,
                "qd324-2023",
            )
            assert assessment["reference_date"] == "2025-12-10"  # 31/12 of the period, or today if earlier
            # Four eyes: the assessor who filed it may not review it.
            etag = response.headers["etag"]
            assert_problem(
                a.post(
                    f"/assessments/{assessment['id']}/transitions",
                    {"action": "review"},
                    headers={"If-Match": etag},
                    expect=(403,),
                ),
                403,
                "forbidden",
            )
            citizens.append(review(b, assessment))
        # The household assessed for Gia đình học tập.
        family, _, _ = assess(a, "family", home["id"], 2025, FAMILY_GOOD)
        family = review(b, family)

    with on_day("2026-01-15", desks):
        citizen_decision = decide(officer, "15/QĐ-UBND", "citizen", 2025, citizens)
        assert {r["subject_id"] for r in citizen_decision["recognitions"]} == {father["id"], mother["id"]}
        assert citizen_decision["recognitions"][0]["valid_until"] == "2027-01-15"
        decide(officer, "16/QĐ-UBND", "family", 2025, [family])

    with on_day("2026-07-01", desks):
        # A clan of three households: its share of households holding Gia đình học tập follows them.
        others = [
            household(a, f"Hộ ông Nguyễn Văn {n}", village_code, [person(a, f"Nguyễn Văn {n}", village_code)["id"]])
            for n in ("Em", "Giang")
        ]
        clan = a.post(
            "/clans",
            {
                "name": "Dòng họ Nguyễn Văn",
                "home_commune_code": "00367",
                "since": "2025-07-01",
                "household_ids": [home["id"], *[h["id"] for h in others]],
            },
        ).json()
        assert len(clan["households"]) == 3
        clan_assessment, _, response = assess(a, "clan", clan["id"], 2026, {"c3_1": True})
        share = clan_assessment["derived"]["c1_1"]
        assert (share["numerator"], share["denominator"], share["value"]) == (1, 3, "0.3333")
        # Adult members only ("thành viên trưởng thành", 18 or over that day): the two children
        # of the first household are not counted.
        members = clan_assessment["derived"]["c2_1"]
        assert (members["numerator"], members["denominator"]) == (2, 4)
        assert "18 tuổi" in members["population"]
        assert clan_assessment["status"] == "khong_dat"
        assert "c1_1" in clan_assessment["result"]["failed_indicators"]

        # A second household is recognised; a corrected revision of the clan assessment sees it.
        second, _, _ = assess(a, "family", others[0]["id"], 2025, FAMILY_GOOD)
        decide(officer, "17/QĐ-UBND", "family", 2025, [review(b, second)])
        revision = a.post(
            f"/assessments/{clan_assessment['id']}/revisions",
            {"id": str(uuid.uuid4()), "answers": {"c3_1": True}, "submit": True},
            headers={"If-Match": response.headers["etag"]},
        ).json()
        assert revision["revision"] == 2 and revision["supersedes"] == clan_assessment["id"]
        assert revision["derived"]["c1_1"]["value"] == "0.6667"
        assert revision["status"] == "dat"
        old = a.get(f"/assessments/{clan_assessment['id']}").json()
        assert (old["state"], old["superseded_by"], old["derived"]["c1_1"]["value"]) == (
            "superseded",
            revision["id"],
            "0.3333",
        )

        # An organisation whose staff's share of Công dân học tập feeds its unit assessment.
        teacher = person(a, "Lê Văn Hùng", village_code)
        school = a.post(
            "/organisations",
            {
                "name": "Trường Tiểu học Thanh Xuân",
                "kind": "school",
                "sector": "education",
                "unit_code": "00367",
                "since": "2025-07-01",
                "staff": [
                    {"person_id": pid, "joined_on": "2025-07-01"} for pid in (father["id"], mother["id"], teacher["id"])
                ],
            },
        ).json()
        unit_assessment, _, _ = assess(a, "unit", school["id"], 2026, {"c2_1": 25, "c3_1": 25})
        staff_share = unit_assessment["derived"]["c1_1"]
        assert (staff_share["numerator"], staff_share["denominator"], staff_share["value"]) == (2, 3, "0.6667")
        assert unit_assessment["status"] == "dat"

        # Status: the titles with their decision numbers.
        titles = officer.get(f"/subjects/person/{father['id']}/titles").json()
        [held] = titles["items"]
        assert (held["state"], held["period"], held["decision_number"], held["criteria_version"]) == (
            "active",
            2025,
            "15/QĐ-UBND",
            "qd324-2023",
        )
        family_titles = officer.get(f"/subjects/household/{home['id']}/titles").json()["items"]
        assert [(t["state"], t["decision_number"]) for t in family_titles] == [("active", "16/QĐ-UBND")]
        assert officer.get(f"/subjects/household/{others[1]['id']}/titles").json()["items"] == [
            {
                "title": "family",
                "period": None,
                "state": "none",
                "valid_from": None,
                "valid_until": None,
                "decision_number": None,
                "decided_on": None,
                "criteria_version": None,
                "level": None,
                "revoked_reason": None,
            }
        ]
        assert officer.get(f"/subjects/clan/{clan['id']}/titles").json()["items"][0]["state"] == "pending"
        assert (
            officer.get(f"/subjects/person/{father['id']}/titles", params={"as_of": "2027-02-01"}).json()["items"][0][
                "state"
            ]
            == "expired"
        )

    with on_day("2026-08-03", desks):
        # Revocation keeps the record, shows as revoked, and its reason is in the audit log.
        recognition_id = next(r["id"] for r in citizen_decision["recognitions"] if r["subject_id"] == father["id"])
        officer.post(f"/recognitions/{recognition_id}/revoke", {"reason": "Hồ sơ minh chứng không trung thực"})
        revoked = officer.get(f"/subjects/person/{father['id']}/titles").json()["items"][0]
        assert (revoked["state"], revoked["revoked_reason"]) == ("revoked", "Hồ sơ minh chứng không trung thực")
        # The history keeps the day: the day before, the title was still held.
        before = officer.get(f"/subjects/person/{father['id']}/titles", params={"as_of": "2026-08-02"})
        assert before.json()["items"][0]["state"] == "active"
        log = admin.get("/audit", params={"entity": "recognition", "entity_id": recognition_id}).json()["items"]
        assert log[0]["action"] == "revoke"
        assert log[0]["detail"]["reason"] == "Hồ sơ minh chứng không trung thực"
        assert log[0]["before_digest"] != log[0]["after_digest"]
        assert_problem(
            officer.post(f"/recognitions/{recognition_id}/revoke", {"reason": "lần nữa"}, expect=(409,)),
            409,
            "already_revoked",
        )
        assert_problem(a.get("/audit", expect=(403,)), 403, "forbidden")

    # Another commune's assessor: objects are 404, writes there are 403.
    for path in (
        f"/assessments/{family['id']}",
        f"/people/{father['id']}",
        f"/households/{home['id']}",
        f"/clans/{clan['id']}",
        f"/organisations/{school['id']}",
        f"/subjects/person/{father['id']}/titles",
        f"/decisions/{citizen_decision['id']}",
    ):
        assert_problem(other.get(path, expect=(404,)), 404, "not_found")
    assert other.get("/assessments").json()["total"] == 0
    assert other.get("/recognitions").json()["total"] == 0
    assert other.post("/people-searches", {"national_id": CCCD[1]}).json()["total"] == 0
    assert officer.post("/people-searches", {"national_id": CCCD[1]}).json()["items"][0]["id"] == mother["id"]
    _, _, denied = assess(other, "family", others[1]["id"], 2025, FAMILY_GOOD, expect=(403,))
    assert_problem(denied, 403, "forbidden")
    assert_problem(
        other.post("/people", {"full_name": "X", "unit_code": village_code}, expect=(403,)), 403, "forbidden"
    )
    assert_problem(
        other.post(f"/households/{home['id']}/members", {"person_id": teacher["id"]}, expect=(404,)), 404, "not_found"
    )

    # The national ID never reaches the database in clear: read every table raw.
    with session.connection() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)).all():
                text_of_row = " ".join(str(value) for value in row)
                assert CCCD[0] not in text_of_row and CCCD[1] not in text_of_row, table.name


def test_submissions_are_idempotent_and_edits_need_the_current_etag(client, desks):
    a, b = desks["a"], desks["b"]
    village = (
        desks["officer"]
        .post("/units/00367/villages", {"name": "Tổ 2", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"})
        .json()
    )
    someone = person(a, "Phạm Văn Khoa", village["code"])
    first, body, response = assess(a, "citizen", someone["id"], 2025, CITIZEN_ALL_8, group="worker", submit=False)
    count = a.get("/assessments").json()["total"]

    again = a.post("/assessments", body, expect=(200,))
    assert again.json()["id"] == first["id"] and again.json()["created_at"] == first["created_at"]
    assert a.get("/assessments").json()["total"] == count
    changed = {**body, "answers": {**CITIZEN_ALL_8, "c1_1": 9}}
    assert_problem(a.post("/assessments", changed, expect=(409,)), 409, "idempotency_conflict")

    etag = response.headers["etag"]
    submitted = a.post(f"/assessments/{first['id']}/transitions", {"action": "submit"}, headers={"If-Match": etag})
    assert submitted.json()["state"] == "submitted"
    assert submitted.headers["etag"] != etag
    # The old ETag is stale now: a concurrent edit is refused, nothing changes.
    stale = b.post(
        f"/assessments/{first['id']}/transitions",
        {"action": "return", "reason": "Thiếu minh chứng"},
        headers={"If-Match": etag},
        expect=(412,),
    )
    assert_problem(stale, 412, "precondition_failed")
    assert_problem(
        b.post(f"/assessments/{first['id']}/transitions", {"action": "review"}, expect=(428,)),
        428,
        "precondition_required",
    )
    assert a.get(f"/assessments/{first['id']}").json()["state"] == "submitted"
    no_reason = b.post(
        f"/assessments/{first['id']}/transitions",
        {"action": "return"},
        headers={"If-Match": submitted.headers["etag"]},
        expect=(422,),
    )
    assert assert_problem(no_reason, 422, "validation_failed")["errors"][0]["field"] == "body.reason"
    returned = b.post(
        f"/assessments/{first['id']}/transitions",
        {"action": "return", "reason": "Thiếu minh chứng"},
        headers={"If-Match": submitted.headers["etag"]},
    )
    assert (returned.json()["state"], returned.json()["return_reason"]) == ("returned", "Thiếu minh chứng")
    assert_problem(
        b.post(
            f"/assessments/{first['id']}/transitions",
            {"action": "review"},
            headers={"If-Match": returned.headers["etag"]},
            expect=(409,),
        ),
        409,
        "invalid_transition",
    )

    # Answers that do not fit the version are refused, naming each field; nothing is stored.
    bad = {
        "id": str(uuid.uuid4()),
        "title": "citizen",
        "subject_id": someone["id"],
        "period": 2025,
        "subject_group": "worker",
        "answers": {**CITIZEN_ALL_8, "c1_1": 11, "c9_9": 1},
    }
    errors = assert_problem(a.post("/assessments", bad, expect=(422,)), 422, "invalid_answers")["errors"]
    assert {e["field"] for e in errors} == {"body.answers.c1_1", "body.answers.c9_9"}
    assert a.get("/assessments").json()["total"] == count
    unknown = {**bad, "answers": CITIZEN_ALL_8, "subject_id": 999999}
    assert_problem(a.post("/assessments", unknown, expect=(422,)), 422, "validation_failed")
    server_fields = {**bad, "answers": CITIZEN_ALL_8, "status": "dat"}
    assert_problem(a.post("/assessments", server_fields, expect=(422,)), 422, "validation_failed")


def test_decided_assessments_keep_their_version_and_rescoring_reports(client, app, desks, session):
    a, b, officer = desks["a"], desks["b"], desks["officer"]
    village = officer.post(
        "/units/00367/villages", {"name": "Tổ 3", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
    ).json()
    one = person(a, "Đỗ Văn Lâm", village["code"])
    two = person(a, "Đỗ Thị Mai", village["code"])
    # Filed under QĐ 244 (the version in force in 2023) and decided.
    decided, _, _ = assess(a, "citizen", one["id"], 2023, CITIZEN_ALL_8, group="farmer")
    assert decided["criteria_version"] == "qd244-2022"
    decide(officer, "01/QĐ-UBND", "citizen", 2023, [review(b, decided)])
    # Another 2023 assessment still open, with a score of 79.
    open_one, _, _ = assess(a, "citizen", two["id"], 2023, {**CITIZEN_ALL_8, "c3_2": 7}, group="farmer")
    assert (open_one["status"], open_one["criteria_version"]) == ("khong_dat", "qd244-2022")

    shown = a.get(f"/assessments/{decided['id']}").json()
    assert (shown["state"], shown["criteria_version"]) == ("decided", "qd244-2022")
    titles = a.get(f"/subjects/person/{one['id']}/titles").json()["items"]
    assert (titles[0]["state"], titles[0]["criteria_version"]) == ("active", "qd244-2022")
    # Re-evaluating the stored answers under the pinned version gives the stored result.
    replay = client.post(
        f"{API}/criteria/versions/citizen/qd244-2022/evaluate",
        json={"answers": shown["answers"], "context": {"subject_group": "farmer"}},
    ).json()
    assert replay == shown["result"]

    # Rescoring under QĐ 324 is explicit; QĐ 244's subject group does not exist there.
    assert_problem(
        a.post("/assessment-rescorings", {"title": "citizen", "to_version": "qd324-2023"}, expect=(403,)),
        403,
        "forbidden",
    )
    run = officer.post("/assessment-rescorings", {"title": "citizen", "to_version": "qd324-2023"}, expect=(202,))
    assert run.json()["dry_run"] is True
    assert app.state.jobs.wait_idle(60)  # the run is a background job
    assert officer.get(run.headers["location"].removeprefix(API)).json()["state"] == "done"
    report = officer.get(f"/assessment-rescorings/{run.json()['id']}/items").json()
    assert [item["assessment_id"] for item in report["items"]] == [open_one["id"]]
    assert "subject_group" in report["items"][0]["problems"][0]
    assert a.get(f"/assessments/{open_one['id']}").json()["state"] == "submitted"
    assert session.execute(text("SELECT count(*) FROM assessments")).scalar() == 2
