"""Regression tests for what an attack from outside over loopback found: each of them reproduced
the defect before its fix (no personal data in logs, no 500, nothing changed by bad input)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import secrets
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from app import clock
from app.auth.models import Role
from app.main import create_app
from app.registry.models import Household
from tests.conftest import make_settings, serve
from tests.helpers import DEFAULT_PASSWORD, assert_problem, bearer, login

API = "/api/v1"
ROOT = Path(__file__).parent.parent
CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}


def _log_text(request) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return request.config.hoctap_log.read_text(encoding="utf-8")


@pytest.fixture
def officer(client, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    return bearer(login(client, "canbo.tx")["access_token"])


# 1 ---------------------------------------------------------------------------------------------


def test_an_internal_error_logs_no_bound_parameter_or_request_value(client, app, officer, monkeypatch, request):
    national_id, name, birth = "079186004321", "Đặng Thị Rò Rỉ", "1986-04-21"
    marker = uuid.uuid4().hex

    def failing(session, principal, ids, data, duplicates):
        # A database error carrying the body's values as bound parameters, and an exception
        # whose very message holds them: neither may reach a log line.
        try:
            session.execute(
                text("INSERT INTO no_such_table (a, b, c, d) VALUES (:number, :name, :birth, :digest)"),
                {"number": national_id, "name": name, "birth": birth, "digest": ids.digest(national_id)},
            )
        except Exception:
            raise RuntimeError(f"{marker} {national_id} {name} {birth} {ids.mask(national_id)}") from None

    monkeypatch.setattr("app.registry.service.create_person", failing)
    response = client.post(
        f"{API}/people",
        headers=officer,
        json={"full_name": name, "birth_date": birth, "national_id": national_id, "unit_code": "00367"},
    )
    assert_problem(response, 500, "internal_error")
    log = _log_text(request)
    errors = [json.loads(line) for line in log.splitlines() if '"unhandled error"' in line]
    assert errors and errors[-1]["error_type"] == "RuntimeError" and "error_stack" in errors[-1]
    digest = app.state.national_ids.digest(national_id)
    for secret in (national_id, name, birth, "4321", marker, national_id[:6], digest[:16]):
        assert secret not in log, secret


# 2 ---------------------------------------------------------------------------------------------

STRANGE_IDS = [
    "００１０９００１１２２３",
    "٠٠١٠٩٠٠١١٢٢٣",
    "00109001122²",
    "001090011223\n",
    "00109001122३",
    " 001090011223",
]


@pytest.mark.parametrize("national_id", STRANGE_IDS)
def test_national_ids_take_ascii_digits_only(client, officer, national_id):
    for path, body in (
        ("/title-checks", {"national_id": national_id, "birth_date": "1990-01-01"}),
        ("/people", {"full_name": "Số Lạ", "unit_code": "00367", "national_id": national_id}),
        ("/people-searches", {"national_id": national_id}),
    ):
        response = client.post(API + path, json=body, headers=officer)
        problem = assert_problem(response, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == ["body.national_id"], path


# 3 ---------------------------------------------------------------------------------------------


def check(client, national_id, birth="1990-01-01", **headers):
    return client.post(f"{API}/title-checks", json={"national_id": national_id, "birth_date": birth}, headers=headers)


def test_forwarded_addresses_are_not_believed_from_an_untrusted_peer(client):
    for index in range(10):
        assert check(client, f"00109100{index:04d}", **{"X-Forwarded-For": f"198.51.100.{index}"}).status_code == 200
    rotated = check(client, "001091009999", **{"X-Forwarded-For": "203.0.113.250"})
    assert_problem(rotated, 429, "too_many_requests")
    assert check(client, "001091009998", **{"X-Forwarded-For": "1" * 120}).status_code == 429


def test_a_long_or_strange_forwarded_header_is_no_error(client):
    for value in ("1" * 120, ", ".join(["::1"] * 40), "x" * 500, "203.0.113.5, not-an-ip, 10.0.0.1"):
        assert check(client, "001091007777", **{"X-Forwarded-For": value}).status_code in (200, 429)


@pytest.fixture
def behind_proxy(database_url):
    """The service behind a reverse proxy on loopback, which it is told to trust."""
    app = create_app(make_settings(database_url, trusted_proxies=["127.0.0.1"], title_check_per_address_per_minute=100))
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def test_a_trusted_proxy_passes_the_client_address(behind_proxy):
    for _ in range(5):
        assert check(behind_proxy, "001092000001", **{"X-Forwarded-For": "203.0.113.7"}).status_code == 200
    # The same number from the same network a sixth time today: refused ...
    assert_problem(check(behind_proxy, "001092000001", **{"X-Forwarded-For": "203.0.113.7"}), 429, "too_many_requests")
    # ... from another network, answered.
    assert check(behind_proxy, "001092000001", **{"X-Forwarded-For": "198.51.100.20"}).status_code == 200


# 4 ---------------------------------------------------------------------------------------------


def test_spreadsheet_cells_never_become_formulas(client, make_user):
    make_user("quantri")
    admin = bearer(login(client, "quantri")["access_token"])
    year = clock.today().year
    hostile = {
        "document_number": '=HYPERLINK("http://attacker.example","Xem")',
        "issuer": "+cmd|' /C calc'!A0",
        "sentence": "@SUM(1+1)",
    }
    created = client.post(
        f"{API}/targets",
        headers=admin,
        json={"unit_code": "00367", "title": "family", "year": year, "percent": 70, **hostile},
    )
    assert created.status_code == 201, created.text
    workbook = client.get(f"{API}/units/00367/report", headers=admin, params={"year": year, "format": "xlsx"})
    assert workbook.status_code == 200, workbook.text
    book = load_workbook(io.BytesIO(workbook.content))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    shown = [c for c in cells if isinstance(c.value, str) and c.value.startswith('=HYPERLINK("http://attacker')]
    assert shown and all(c.data_type == "s" and c.quotePrefix for c in shown)
    csv_text = client.get(f"{API}/units/00367/report", headers=admin, params={"year": year, "format": "csv"}).text
    assert "'=HYPERLINK(" in csv_text
    for line in csv_text.splitlines():
        for cell in line.split(","):
            assert not cell.strip('"').startswith(("=", "+", "@", "\t", "\r")), cell


# 5 ---------------------------------------------------------------------------------------------


@pytest.fixture
def synthetic_city(session):
    from app.stats.synthetic import generate

    generate(session, "01", 1500, 2025, seed=11)


def test_the_honour_roll_is_paged_and_names_no_person_unless_allowed(client, synthetic_city, session, database_url):
    first = client.get(f"{API}/units/01/honour-roll", params={"year": 2025, "limit": 5}).json()
    assert len(first["items"]) == 5 and first["total"] > 5
    second = client.get(f"{API}/units/01/honour-roll", params={"year": 2025, "limit": 5, "offset": 5}).json()
    assert second["total"] == first["total"] and second["items"] != first["items"]
    everything = client.get(
        f"{API}/units/01/honour-roll", params={"year": 2025, "title": "family", "limit": 200}
    ).json()
    assert everything["total"] > 0
    assert all(item["name"] is None and item["village"] for item in everything["items"])
    household_names = set(session.scalars(select(Household.name)))
    assert household_names and not any(name in json.dumps(everything, ensure_ascii=False) for name in household_names)
    assert_problem(
        client.get(f"{API}/units/01/honour-roll", params={"year": 2025, "limit": 500}), 422, "validation_failed"
    )
    # A province that chose to publish people's names shows them.
    app = create_app(make_settings(database_url, publish_person_names=True))
    with serve(app) as base, httpx.Client(base_url=base) as public:
        named = public.get(f"{API}/units/01/honour-roll", params={"year": 2025, "title": "family", "limit": 200}).json()
    assert named["items"] and all(item["name"] in household_names for item in named["items"])


# 6 ---------------------------------------------------------------------------------------------


def test_a_revision_replay_never_returns_another_assessments_revision(client, make_user):
    make_user("canbo.a", Role.COMMUNE_OFFICER, ["00367"])
    make_user("canbo.b", Role.COMMUNE_OFFICER, ["00364"])
    desks = {name: bearer(login(client, name)["access_token"]) for name in ("canbo.a", "canbo.b")}

    def file(desk, commune):
        person = client.post(
            f"{API}/people", headers=desk, json={"full_name": "Ai Đó", "birth_date": "1980-01-01", "unit_code": commune}
        ).json()
        return client.post(
            f"{API}/assessments",
            headers=desk,
            json={
                "id": str(uuid.uuid4()),
                "title": "citizen",
                "subject_id": person["id"],
                "period": 2026,
                "subject_group": "commune_resident",
                "answers": CITIZEN_ALL_8,
            },
        )

    theirs, mine = file(desks["canbo.b"], "00364"), file(desks["canbo.a"], "00367")
    body = {"id": str(uuid.uuid4()), "answers": {**CITIZEN_ALL_8, "c1_1": 9}, "subject_group": "commune_resident"}
    revised = client.post(
        f"{API}/assessments/{theirs.json()['id']}/revisions",
        headers={**desks["canbo.b"], "If-Match": theirs.headers["etag"]},
        json=body,
    )
    assert revised.status_code == 201, revised.text
    replayed = client.post(
        f"{API}/assessments/{mine.json()['id']}/revisions",
        headers={**desks["canbo.a"], "If-Match": mine.headers["etag"]},
        json=body,
    )
    assert_problem(replayed, 409, "idempotency_conflict")
    assert revised.json()["answers"]["c1_1"] == 9 and "00364" not in replayed.text


# 7 ---------------------------------------------------------------------------------------------


def test_a_token_from_the_same_second_as_a_password_change_stops_working(client, make_user):
    make_user("canbo.doimk", Role.COMMUNE_OFFICER, ["00367"])
    with clock.frozen(datetime(2026, 11, 20, 3, 0, 0, tzinfo=UTC)):  # the whole exchange in one second
        old = login(client, "canbo.doimk")["access_token"]
        other_session = login(client, "canbo.doimk")["access_token"]
        changed = client.post(
            f"{API}/auth/password",
            headers=bearer(old),
            json={"current_password": DEFAULT_PASSWORD, "new_password": "mat-khau-moi-dai-2"},
        )
        assert changed.status_code == 204, changed.text
        assert_problem(client.get(f"{API}/auth/me", headers=bearer(other_session)), 401, "invalid_token")
        fresh = login(client, "canbo.doimk", "mat-khau-moi-dai-2")["access_token"]
        assert client.get(f"{API}/auth/me", headers=bearer(fresh)).status_code == 200


# 8 ---------------------------------------------------------------------------------------------


def test_a_national_id_held_elsewhere_is_logged_limited_and_points_to_the_move(database_url, make_user):
    app = create_app(make_settings(database_url, duplicate_id_answers_per_hour=2))
    make_user("quantri")
    make_user("canbo.kd", Role.COMMUNE_OFFICER, ["00364"])
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        kd, tx, admin = (bearer(login(client, name)["access_token"]) for name in ("canbo.kd", "canbo.tx", "quantri"))
        held = client.post(
            f"{API}/people",
            headers=kd,
            json={"full_name": "Người Khương Đình", "national_id": "001077000111", "unit_code": "00364"},
        ).json()
        again = {"full_name": "Người Mới", "national_id": "001077000111", "unit_code": "00367"}
        taken = assert_problem(client.post(f"{API}/people", headers=tx, json=again), 409, "national_id_taken")
        assert "chuyển nơi cư trú" in taken["detail"] and str(held["id"]) not in taken["detail"]
        log = client.get(f"{API}/people/{held['id']}/access-log", headers=admin).json()["items"]
        assert [(e["action"], e["purpose"]) for e in log] == [
            ("duplicate_check", "kiểm tra trùng số CCCD khi ghi người mới")
        ]
        assert_problem(client.post(f"{API}/people", headers=tx, json=again), 409, "national_id_taken")
        # The limit reached, no answer tells whether a number is known: a new one waits as well.
        fresh = {"full_name": "Người Khác", "national_id": "001077000999", "unit_code": "00367"}
        assert_problem(client.post(f"{API}/people", headers=tx, json=fresh), 429, "too_many_requests")
        # The other commune's officer sees a person of her own jurisdiction by id.
        own = client.post(f"{API}/people", headers=kd, json={**again, "unit_code": "00364"})
        assert str(held["id"]) in assert_problem(own, 409, "national_id_taken")["detail"]


# 9 ---------------------------------------------------------------------------------------------


def _old_derived_id(public_id: str, content_hash: str) -> str:
    digest = hashlib.sha256(f"{public_id}:{content_hash}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"


def test_rescoring_makes_its_own_ids(client, app, officer, session):
    from app.criteria.models import CriteriaVersionRecord

    person = client.post(
        f"{API}/people",
        headers=officer,
        json={"full_name": "Chấm Lại", "birth_date": "1980-01-01", "unit_code": "00367"},
    ).json()
    first_id = str(uuid.uuid4())
    filed = client.post(
        f"{API}/assessments",
        headers=officer,
        json={
            "id": first_id,
            "title": "citizen",
            "subject_id": person["id"],
            "period": 2023,
            "subject_group": "worker",
            "answers": CITIZEN_ALL_8,
        },
    )
    assert filed.status_code == 201 and filed.json()["criteria_version"] == "qd244-2022"
    target_hash = session.scalar(
        select(CriteriaVersionRecord.content_hash).where(CriteriaVersionRecord.version_id == "qd324-2023")
    )
    # A client takes, in advance, the id the re-scoring used to derive.
    squatter = client.post(
        f"{API}/assessments",
        headers=officer,
        json={
            "id": _old_derived_id(first_id, target_hash),
            "title": "citizen",
            "subject_id": person["id"],
            "period": 2026,
            "subject_group": "commune_resident",
            "answers": CITIZEN_ALL_8,
        },
    )
    assert squatter.status_code == 201, squatter.text

    def rescore() -> list[dict]:
        run = client.post(
            f"{API}/assessment-rescorings",
            headers=officer,
            json={"title": "citizen", "to_version": "qd324-2023", "dry_run": False},
        )
        assert run.status_code == 202, run.text
        assert app.state.jobs.wait_idle(60)
        items = client.get(f"{API}/assessment-rescorings/{run.json()['id']}/items", headers=officer)
        return items.json()["items"]

    [item] = [i for i in rescore() if i["assessment_id"] == first_id]
    assert item["problems"] == [] and item["new_assessment_id"] not in (None, squatter.json()["id"])
    revision = client.get(f"{API}/assessments/{item['new_assessment_id']}", headers=officer).json()
    assert (revision["supersedes"], revision["criteria_version"]) == (first_id, "qd324-2023")
    assert [i for i in rescore() if i["assessment_id"] == first_id] == []


# 10 --------------------------------------------------------------------------------------------


def test_control_characters_and_far_dates_are_422_not_500(client, make_user):
    make_user("quantri")
    admin = bearer(login(client, "quantri")["access_token"])
    audited = client.get(f"{API}/audit", headers=admin).json()["total"]
    for path, params in (
        ("/units", {"q": "\x00"}),
        ("/people", {"q": "a\x00b"}),
        ("/audit", {"entity": "\x00"}),
        ("/people", {"purpose": "tra cứu\x00"}),
        ("/units", {"q": "\x1b[31m"}),
    ):
        response = client.get(API + path, params=params, headers=admin)
        problem = assert_problem(response, 422, "validation_failed")
        assert problem["errors"][0]["field"] == f"query.{next(iter(params))}"
    for path, body, field in (
        ("/households", {"name": "Hộ\x00", "unit_code": "00367"}, "body.name"),
        ("/units/00367/villages", {"name": "Tổ\x07", "unit_type": "to_dan_pho"}, "body.name"),
        (
            "/targets",
            {
                "unit_code": "00367",
                "title": "family",
                "year": 2026,
                "percent": 70,
                "document_number": "1",
                "issuer": "x",
                "sentence": "a\x00",
            },
            "body.sentence",
        ),
        ("/people", {"full_name": "Lẻ \ud800", "unit_code": "00367"}, "body.full_name"),
    ):
        raw = json.dumps(body).encode()
        response = client.post(API + path, content=raw, headers={**admin, "content-type": "application/json"})
        assert [e["field"] for e in assert_problem(response, 422, "validation_failed")["errors"]] == [field]
    deep = b"[" * 100 + b"]" * 100
    response = client.post(f"{API}/people", content=deep, headers={**admin, "content-type": "application/json"})
    assert assert_problem(response, 422, "validation_failed")["errors"][0]["code"] == "too_deep"
    decision = {
        "commune_code": "00367",
        "number": "1/QĐ",
        "decided_on": "9999-12-31",
        "signer": "x",
        "title": "citizen",
        "period": 2026,
        "assessment_ids": [str(uuid.uuid4())],
    }
    far = assert_problem(client.post(f"{API}/decisions", json=decision, headers=admin), 422, "validation_failed")
    assert [e["field"] for e in far["errors"]] == ["body.decided_on"]
    nested = "[" * 50_000
    yaml_upload = client.post(
        f"{API}/criteria/versions", content=nested.encode(), headers={**admin, "content-type": "application/yaml"}
    )
    assert_problem(yaml_upload, 422, "invalid_criteria")
    for csv_body in (b"name,unit_type\n" + b"A" * 140_000 + b",to_dan_pho\n", b"name,unit_type\nT\x00,to_dan_pho\n"):
        response = client.post(
            f"{API}/units/00367/villages/import", headers=admin, files={"file": ("t.csv", csv_body, "text/csv")}
        )
        assert_problem(response, 422, response.json()["code"])
        assert response.json()["code"] in ("invalid_file", "validation_failed")
    written = client.get(f"{API}/audit", headers=admin).json()
    assert written["total"] == audited, written  # nothing was written


# 11 --------------------------------------------------------------------------------------------


def test_a_stranger_guessing_birth_dates_cannot_lock_the_owner_out(database_url, make_user):
    app = create_app(make_settings(database_url, trusted_proxies=["127.0.0.1"], title_check_per_address_per_minute=100))
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        officer = bearer(login(client, "canbo.tx")["access_token"])
        client.post(
            f"{API}/people",
            headers=officer,
            json={
                "full_name": "Chủ Số",
                "national_id": "001088000222",
                "birth_date": "1988-03-03",
                "unit_code": "00367",
            },
        )
        stranger = {"X-Forwarded-For": "203.0.113.66"}
        answers = [check(client, "001088000222", f"1988-01-{day:02d}", **stranger).status_code for day in range(1, 21)]
        assert answers[:5] == [200] * 5 and set(answers[5:]) == {429}  # five guesses a day from one network
        # Another address of the stranger's IPv6 /64 is the same network.
        v6 = [
            check(client, "001088000223", **{"X-Forwarded-For": f"2001:db8:1:2::{n}"}).status_code for n in range(1, 8)
        ]
        assert v6 == [200] * 5 + [429] * 2
        owner = check(client, "001088000222", "1988-03-03", **{"X-Forwarded-For": "198.51.100.33"})
        assert owner.status_code == 200 and owner.json() == {"items": [], "total": 0}


# 13 --------------------------------------------------------------------------------------------


def test_a_refused_production_start_shows_no_part_of_a_secret(tmp_path):
    secrets_given = {
        "HOCTAP_NATIONAL_ID_KEY": secrets.token_hex(10),
        "HOCTAP_SECRET_KEY": secrets.token_hex(10),
    }
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HOCTAP_ENVIRONMENT": "production",
        "HOCTAP_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        **secrets_given,
    }
    for command in (["migrate"], ["serve", "--port", "1"]):
        result = subprocess.run(
            [sys.executable, "-c", "from app.cli import main; main()", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = result.stdout + result.stderr
        assert result.returncode != 0 and "HOCTAP_NATIONAL_ID_KEY" in output, output
        for value in secrets_given.values():
            pieces = {value[i : i + 4] for i in range(len(value) - 3)}
            assert not [piece for piece in pieces if piece in output], output
    factory = subprocess.run(
        [sys.executable, "-c", "from app.main import create_app; create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert factory.returncode != 0 and "ConfigurationError" in factory.stderr
    for value in secrets_given.values():
        assert not [value[i : i + 4] for i in range(len(value) - 3) if value[i : i + 4] in factory.stderr]
