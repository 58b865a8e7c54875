"""Administrative units with history: the seeded reform data, search, villages."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app import clock
from app.auth.models import Role
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel, UnitSuccession
from tests.helpers import assert_problem, bearer, login

UNITS = "/api/v1/units"


def total(client, **params) -> int:
    response = client.get(UNITS, params=params)
    assert response.status_code == 200, response.text
    return response.json()["total"]


class TestSeededReform:
    def test_34_provinces_and_3321_communes_from_2025_07_01(self, client):
        assert total(client, level="province", as_of="2025-07-01") == 34
        assert total(client, level="commune", as_of="2025-07-01") == 3321
        assert total(client, level="district", as_of="2025-07-01") == 0
        assert total(client, parent="01", as_of="2025-07-01") == 126
        hanoi = client.get(UNITS, params={"parent": "01", "as_of": "2025-07-01", "limit": 200}).json()["items"]
        assert sum(unit["unit_type"] == "phuong" for unit in hanoi) == 51

    def test_before_the_reform_there_were_63_provinces_and_three_tiers(self, client):
        assert total(client, level="province", as_of="2025-06-30") == 63
        assert total(client, parent="01", as_of="2025-06-30", level="district") == 30

    def test_code_00367_changes_meaning_on_2025_07_01(self, client):
        before = client.get(f"{UNITS}/00367", params={"as_of": "2025-06-30"}).json()
        assert before["name"] == "Phường Thanh Xuân Bắc"
        assert [p["name"] for p in before["parents"]] == ["Thành phố Hà Nội", "Quận Thanh Xuân"]
        after = client.get(f"{UNITS}/00367", params={"as_of": "2025-07-01"}).json()
        assert after["name"] == "Phường Thanh Xuân"
        assert [p["name"] for p in after["parents"]] == ["Thành phố Hà Nội"]
        successors = {link["unit"]["name"]: link for link in before["successors"]}
        assert successors["Phường Thanh Xuân"]["kind"] == "split"
        assert successors["Phường Thanh Xuân"]["is_default"] is True
        assert successors["Phường Thanh Xuân"]["effective_date"] == "2025-07-01"
        assert "Phường Thanh Xuân Bắc" in [link["unit"]["name"] for link in after["predecessors"]]

    def test_khuong_dinh_kept_its_code(self, client):
        assert client.get(f"{UNITS}/00364", params={"as_of": "2025-06-30"}).json()["name"] == "Phường Khương Đình"
        assert client.get(f"{UNITS}/00364", params={"as_of": "2025-07-01"}).json()["name"] == "Phường Khương Đình"

    def test_quan_thanh_xuan_had_11_wards_in_2022_and_9_in_2025(self, client):
        in_2022 = client.get(f"{UNITS}/009", params={"as_of": "2022-03-23"}).json()
        assert in_2022["name"] == "Quận Thanh Xuân"
        assert len(in_2022["children"]) == 11
        assert "Phường Kim Giang" in [c["name"] for c in in_2022["children"]]
        in_2025 = client.get(f"{UNITS}/009", params={"as_of": "2025-06-30"}).json()
        assert len(in_2025["children"]) == 9
        assert_problem(client.get(f"{UNITS}/009", params={"as_of": "2025-07-01"}), 404, "not_found")

    def test_hong_duc_leads_to_tan_an_hai_phong(self, client):
        found = client.get(UNITS, params={"q": "hong duc", "as_of": "2022-03-08", "level": "commune"}).json()
        hong_duc = [u for u in found["items"] if u["name"] == "Xã Hồng Đức" and u["code"] == "11167"]
        assert len(hong_duc) == 1
        detail = client.get(f"{UNITS}/11167", params={"as_of": "2022-03-08"}).json()
        assert detail["name"] == "Xã Hồng Đức"
        assert [p["name"] for p in detail["parents"]] == ["Tỉnh Hải Dương", "Huyện Ninh Giang"]
        assert [link["unit"]["name"] for link in detail["successors"]] == ["Xã Đức Phúc"]
        assert detail["successors"][0]["effective_date"] == "2024-12-01"
        assert "in force 2024-12-01" in detail["successors"][0]["source"]
        duc_phuc = client.get(f"{UNITS}/11167", params={"as_of": "2025-01-01"}).json()
        assert duc_phuc["name"] == "Xã Đức Phúc"
        assert sorted(link["unit"]["name"] for link in duc_phuc["predecessors"]) == ["Xã Hồng Đức", "Xã Vạn Phúc"]
        assert [u["name"] for u in detail["current_successors"]] == ["Xã Tân An"]
        tan_an = client.get(f"{UNITS}/{detail['current_successors'][0]['code']}").json()
        assert tan_an["code"] == "11167"
        assert [p["name"] for p in tan_an["parents"]] == ["Thành phố Hải Phòng"]

    def test_hai_duong_merged_into_hai_phong(self, client):
        hai_duong = client.get(f"{UNITS}/30", params={"as_of": "2025-06-30"}).json()
        assert hai_duong["name"] == "Tỉnh Hải Dương"
        assert [(s["unit"]["name"], s["kind"]) for s in hai_duong["successors"]] == [("Thành phố Hải Phòng", "merge")]

    def test_search_with_or_without_diacritics(self, client):
        plain = client.get(UNITS, params={"q": "thanh xuan", "level": "commune"}).json()
        assert "Phường Thanh Xuân" in [u["name"] for u in plain["items"]]
        accented = client.get(UNITS, params={"q": "Thanh Xuân", "level": "commune"}).json()
        assert accented["items"] == plain["items"]
        assert total(client, q="%") == 0  # LIKE wildcards are literal

    def test_unknown_and_malformed_codes(self, client):
        assert_problem(client.get(f"{UNITS}/99998"), 404, "not_found")
        assert_problem(client.get(f"{UNITS}/abc"), 422, "validation_failed")
        unknown_parent = assert_problem(client.get(UNITS, params={"parent": "99998"}), 422, "validation_failed")
        assert unknown_parent["errors"][0]["field"] == "query.parent"
        assert_problem(client.get(UNITS, params={"as_of": "2025-13-01"}), 422, "validation_failed")
        assert_problem(client.get(UNITS, params={"level": "planet"}), 422, "validation_failed")


class TestSeedIntegrity:
    def test_children_lie_within_their_parents_lifetime(self, session):
        child, parent = AdministrativeUnit, AdministrativeUnit.__table__.alias("parent")
        bad = session.scalar(
            select(func.count())
            .select_from(child)
            .join(parent, parent.c.id == child.parent_id)
            .where(
                (
                    (parent.c.valid_from.is_not(None))
                    & ((child.valid_from.is_(None)) | (child.valid_from < parent.c.valid_from))
                )
                | (
                    (parent.c.valid_to.is_not(None))
                    & ((child.valid_to.is_(None)) | (child.valid_to > parent.c.valid_to))
                )
            )
        )
        assert bad == 0

    def test_ancestor_rows_match_the_parent_chain(self, session):
        units = session.execute(select(AdministrativeUnit.id, AdministrativeUnit.parent_id)).all()
        parent_of = dict(units)

        def depth(unit_id):
            return 0 if parent_of[unit_id] is None else 1 + depth(parent_of[unit_id])

        expected = sum(depth(unit_id) + 1 for unit_id, _ in units)
        assert session.scalar(select(func.count()).select_from(UnitAncestor)) == expected

    def test_no_code_means_two_units_on_the_same_day(self, session):
        for day in (date(2022, 3, 8), date(2025, 6, 30), date(2025, 7, 1)):
            from app.units.service import in_force_on

            clashes = session.execute(
                select(AdministrativeUnit.code, AdministrativeUnit.level)
                .where(*in_force_on(day))
                .group_by(AdministrativeUnit.code, AdministrativeUnit.level)
                .having(func.count() > 1)
            ).all()
            assert clashes == [], day

    def test_every_ended_commune_of_hanoi_has_a_successor(self, session):
        from app.units.service import get_unit

        hanoi = get_unit(session, "01", date(2025, 6, 30))
        ended = (
            select(AdministrativeUnit.id)
            .join(UnitAncestor, UnitAncestor.unit_id == AdministrativeUnit.id)
            .where(
                UnitAncestor.ancestor_id == hanoi.id,
                AdministrativeUnit.level == UnitLevel.COMMUNE,
                AdministrativeUnit.valid_to.is_not(None),
            )
        )
        ended = ended.subquery()
        orphans = session.scalar(
            select(func.count()).select_from(ended).where(~ended.c.id.in_(select(UnitSuccession.predecessor_id)))
        )
        assert session.scalar(select(func.count()).select_from(ended)) > 500
        assert orphans == 0


@pytest.fixture
def officer(client, make_user):
    """Commune officer of today's Phường Thanh Xuân."""
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    return bearer(login(client, "canbo.tx")["access_token"])


class TestVillages:
    def test_officer_creates_villages_in_own_commune(self, client, officer):
        response = client.post(
            f"{UNITS}/00367/villages", headers=officer, json={"name": "Tổ dân phố  số 5", "unit_type": "to_dan_pho"}
        )
        assert response.status_code == 201, response.text
        village = response.json()
        assert village["code"] == "00367-001"
        assert village["name"] == "Tổ dân phố số 5"
        assert village["level"] == "village"
        assert [p["name"] for p in village["parents"]] == ["Thành phố Hà Nội", "Phường Thanh Xuân"]
        commune = client.get(f"{UNITS}/00367").json()
        assert [c["code"] for c in commune["children"]] == ["00367-001"]
        assert client.get(f"{UNITS}/00367-001").json()["name"] == "Tổ dân phố số 5"
        second = client.post(
            f"{UNITS}/00367/villages", headers=officer, json={"name": "Tổ dân phố số 6", "unit_type": "to_dan_pho"}
        )
        assert second.json()["code"] == "00367-002"

    def test_duplicate_names_and_bad_input_are_refused(self, client, officer):
        client.post(f"{UNITS}/00367/villages", headers=officer, json={"name": "Tổ 1", "unit_type": "to_dan_pho"})
        dup = client.post(f"{UNITS}/00367/villages", headers=officer, json={"name": "tổ  1", "unit_type": "thon"})
        assert assert_problem(dup, 422, "validation_failed")["errors"][0]["code"] == "duplicate_name"
        bad = client.post(f"{UNITS}/00367/villages", headers=officer, json={"name": " ", "unit_type": "castle"})
        fields = {e["field"] for e in assert_problem(bad, 422, "validation_failed")["errors"]}
        assert fields == {"body.name", "body.unit_type"}

    def test_writes_need_an_officer_of_that_commune(self, client, officer, make_user):
        body = {"name": "Thôn Đông", "unit_type": "thon"}
        assert_problem(client.post(f"{UNITS}/00364/villages", headers=officer, json=body), 403, "forbidden")
        assert_problem(client.post(f"{UNITS}/00367/villages", json=body), 401, "not_authenticated")
        make_user("thamdinh", Role.ASSESSOR, ["00367"])
        assessor = bearer(login(client, "thamdinh")["access_token"])
        assert_problem(client.post(f"{UNITS}/00367/villages", headers=assessor, json=body), 403, "forbidden")
        make_user("tinh", Role.PROVINCE_OFFICER, ["01"])
        province = bearer(login(client, "tinh")["access_token"])
        assert_problem(client.post(f"{UNITS}/00367/villages", headers=province, json=body), 403, "forbidden")
        make_user("quantri")
        admin = bearer(login(client, "quantri")["access_token"])
        assert client.post(f"{UNITS}/00364/villages", headers=admin, json=body).status_code == 201

    def test_villages_only_under_a_commune_in_force(self, client, make_user):
        make_user("quantri")
        admin = bearer(login(client, "quantri")["access_token"])
        body = {"name": "Thôn Đông", "unit_type": "thon"}
        assert_problem(client.post(f"{UNITS}/01/villages", headers=admin, json=body), 422, "not_a_commune")
        ended = client.post(f"{UNITS}/00370/villages", params={"as_of": "2024-06-01"}, headers=admin, json=body)
        assert_problem(ended, 409, "unit_ended")

    def test_csv_import_is_all_or_nothing(self, client, officer):
        bad = "name,unit_type\nTổ dân phố 1,to_dan_pho\n,to_dan_pho\nTổ dân phố 3,lau_dai\nTổ dân phố 1,to_dan_pho\n"
        response = client.post(
            f"{UNITS}/00367/villages/import",
            headers=officer,
            files={"file": ("to.csv", bad.encode("utf-8-sig"), "text/csv")},
        )
        errors = assert_problem(response, 422, "validation_failed")["errors"]
        assert {e["field"] for e in errors} >= {"line 3.name", "line 4.unit_type"}
        assert client.get(f"{UNITS}/00367").json()["children"] == []
        good = "name,unit_type\nTổ dân phố 1,to_dan_pho\nTổ dân phố 2,to_dan_pho\n\nThôn Hạ,thon\n"
        response = client.post(
            f"{UNITS}/00367/villages/import",
            headers=officer,
            files={"file": ("to.csv", good.encode("utf-8-sig"), "text/csv")},
        )
        assert response.status_code == 201, response.text
        assert response.json()["total"] == 3
        assert [c["name"] for c in client.get(f"{UNITS}/00367").json()["children"]] == [
            "Tổ dân phố 1",
            "Tổ dân phố 2",
            "Thôn Hạ",
        ]
        again = client.post(
            f"{UNITS}/00367/villages/import", headers=officer, files={"file": ("to.csv", good.encode(), "text/csv")}
        )
        assert assert_problem(again, 422, "validation_failed")["errors"][0]["code"] == "duplicate_name"

    @pytest.mark.parametrize(
        ("content", "code"),
        [
            (b"ten,loai\nA,thon\n", "invalid_file"),
            (b"name,unit_type\n", "empty_file"),
            ("name,unit_type\nA,thon\n".encode("utf-16"), "invalid_file"),
        ],
    )
    def test_csv_files_that_are_not_the_template(self, client, officer, content, code):
        response = client.post(
            f"{UNITS}/00367/villages/import", headers=officer, files={"file": ("x.csv", content, "text/csv")}
        )
        assert_problem(response, 422, code)

    def test_rename_and_dissolve_a_village_but_not_an_official_unit(self, client, officer):
        client.post(f"{UNITS}/00367/villages", headers=officer, json={"name": "Tổ 7", "unit_type": "to_dan_pho"})
        renamed = client.patch(f"{UNITS}/00367-001", headers=officer, json={"name": "Tổ dân phố 7"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Tổ dân phố 7"
        tomorrow = date.fromordinal(clock.today().toordinal() + 1).isoformat()
        closed = client.patch(f"{UNITS}/00367-001", headers=officer, json={"valid_to": tomorrow})
        assert closed.json()["valid_to"] == tomorrow
        assert_problem(client.patch(f"{UNITS}/00367", headers=officer, json={"name": "X"}), 403, "forbidden")
