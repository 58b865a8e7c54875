"""Personal data: reads are logged with a purpose, a person's data can be exported and
de-identified without changing any statistic, and national-ID keys can rotate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from app import clock
from app.auth.models import Role
from app.exceptions import NotAuthenticated
from app.main import create_app
from app.privacy.service import purge
from app.registry.models import Person
from tests.conftest import make_settings, serve
from tests.helpers import DEFAULT_PASSWORD, assert_problem, bearer, login

API = "/api/v1"
CCCD = "001092044556"


@pytest.fixture
def desks(client, make_user):
    make_user("quantri")
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    make_user("thamdinh", Role.ASSESSOR, ["00367"])
    return {name: bearer(login(client, name)["access_token"]) for name in ("quantri", "canbo.tx", "thamdinh")}


@pytest.fixture
def person(client, desks):
    household_head = client.post(
        f"{API}/people",
        headers=desks["canbo.tx"],
        json={
            "full_name": "Đinh Văn Quý",
            "birth_date": "1980-06-15",
            "sex": "male",
            "national_id": CCCD,
            "unit_code": "00367",
            "resident_since": "2025-07-01",
            "sectors": ["education"],
        },
    ).json()
    client.post(
        f"{API}/households",
        headers=desks["canbo.tx"],
        json={
            "name": "Hộ ông Đinh Văn Quý",
            "unit_code": "00367",
            "since": "2025-07-01",
            "head_person_id": household_head["id"],
            "members": [{"person_id": household_head["id"]}],
        },
    )
    return household_head


def test_staff_reads_are_logged_with_their_purpose(client, desks, person):
    client.get(f"{API}/people/{person['id']}", headers=desks["thamdinh"], params={"purpose": "Thẩm định hồ sơ CDHT"})
    client.post(f"{API}/people-searches", headers=desks["canbo.tx"], json={"national_id": CCCD})
    client.get(f"{API}/people", headers=desks["canbo.tx"])
    client.get(f"{API}/subjects/person/{person['id']}/titles", headers=desks["thamdinh"])
    log = client.get(f"{API}/people/{person['id']}/access-log", headers=desks["quantri"]).json()
    actions = [(e["action"], e["purpose"]) for e in log["items"]]
    assert ("read", "Thẩm định hồ sơ CDHT") in actions
    assert {"read", "search", "list", "titles"} <= {action for action, _ in actions}
    assert all(e["user_id"] for e in log["items"])
    assert_problem(client.get(f"{API}/people/{person['id']}/access-log", headers=desks["canbo.tx"]), 403, "forbidden")


def test_export_gives_everything_about_the_person_and_is_logged(client, desks, person):
    export = client.get(f"{API}/people/{person['id']}/export", headers=desks["canbo.tx"])
    assert export.status_code == 200, export.text
    data = export.json()
    assert data["person"]["full_name"] == "Đinh Văn Quý"
    assert data["person"]["national_id_masked"] == "********4556"
    assert "national_id_hmac" not in data["person"]
    assert CCCD not in export.text
    assert data["sectors"] == ["education"] and len(data["residences"]) == 1
    assert len(data["household_memberships"]) == 1
    assert any(e["action"] == "export" for e in data["access_log"])
    assert_problem(client.get(f"{API}/people/{person['id']}/export", headers=desks["thamdinh"]), 403, "forbidden")


def test_deidentification_keeps_every_statistic(client, desks, person):
    before = client.get(f"{API}/units/00367/progress", params={"year": date.today().year}).json()["items"]
    done = client.post(
        f"{API}/people/{person['id']}/deidentify",
        headers=desks["canbo.tx"],
        json={"reason": "Đơn đề nghị xóa dữ liệu ngày 10/11/2026"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["full_name"] == "(đã ẩn danh)" and done.json()["national_id_masked"] is None
    after = client.get(f"{API}/units/00367/progress", params={"year": date.today().year}).json()["items"]
    assert [(i["title"], i["segment"], i["numerator"], i["denominator"]) for i in after] == [
        (i["title"], i["segment"], i["numerator"], i["denominator"]) for i in before
    ]
    assert (
        client.post(f"{API}/people-searches", headers=desks["canbo.tx"], json={"national_id": CCCD}).json()["total"]
        == 0
    )
    export = client.get(f"{API}/people/{person['id']}/export", headers=desks["quantri"]).json()
    assert "Đinh" not in str(export["person"]) and export["person"]["birth_date"] == "1980-01-01"
    audit = client.get(f"{API}/audit", headers=desks["quantri"], params={"entity": "person", "entity_id": person["id"]})
    assert audit.json()["items"][0]["detail"]["reason"].startswith("Đơn đề nghị")
    again = client.post(f"{API}/people/{person['id']}/deidentify", headers=desks["canbo.tx"], json={"reason": "lại"})
    assert_problem(again, 409, "already_deidentified")


def test_national_id_keys_rotate_lazily(database_url, session, client, desks, person):
    old_key = "hoctap-development-national-id-key-not-for-real-data"
    rotated = make_settings(
        database_url, national_id_key="k" * 40, national_id_key_version=2, national_id_previous_keys={1: old_key}
    )
    with serve(create_app(rotated)) as base, httpx.Client(base_url=base) as rotated_client:
        headers = bearer(login(rotated_client, "canbo.tx")["access_token"])
        found = rotated_client.post(f"{API}/people-searches", headers=headers, json={"national_id": CCCD}).json()
        assert [p["id"] for p in found["items"]] == [person["id"]]
    session.expire_all()
    assert session.scalar(select(Person.national_id_key_version).where(Person.id == person["id"])) == 2
    only_new = make_settings(database_url, national_id_key="k" * 40, national_id_key_version=2)
    with serve(create_app(only_new)) as base, httpx.Client(base_url=base) as new_client:
        headers = bearer(login(new_client, "canbo.tx")["access_token"])
        again = new_client.post(f"{API}/people-searches", headers=headers, json={"national_id": CCCD}).json()
        assert again["total"] == 1


def test_a_title_check_under_an_old_key_is_rekeyed_by_a_job(database_url, session, person):
    old_key = "hoctap-development-national-id-key-not-for-real-data"
    rotated = make_settings(
        database_url, national_id_key="k" * 40, national_id_key_version=2, national_id_previous_keys={1: old_key}
    )
    rotated_app = create_app(rotated)
    with serve(rotated_app) as base, httpx.Client(base_url=base) as public:
        right = public.post(f"{API}/title-checks", json={"national_id": CCCD, "birth_date": "1980-06-15"})
        assert right.status_code == 200 and right.json()["total"] >= 0
        assert rotated_app.state.jobs.wait_idle(30)
    session.expire_all()
    assert session.scalar(select(Person.national_id_key_version).where(Person.id == person["id"])) == 2
    # Only the right date of birth re-keys: a wrong one tells nothing and changes nothing.
    session.execute(Person.__table__.update().where(Person.id == person["id"]).values(national_id_key_version=1))
    session.commit()
    rotated_app = create_app(rotated)
    with serve(rotated_app) as base, httpx.Client(base_url=base) as public:
        wrong = public.post(f"{API}/title-checks", json={"national_id": CCCD, "birth_date": "1980-06-16"})
        assert wrong.json() == {"items": [], "total": 0}
        assert rotated_app.state.jobs.wait_idle(30)
    session.expire_all()
    assert session.scalar(select(Person.national_id_key_version).where(Person.id == person["id"])) == 1


def test_a_changed_password_ends_old_tokens_on_the_lookup_path_at_once(client, desks, person, make_user):
    make_user("cong.tx", Role.PORTAL_CLIENT, ["00367"])
    old = login(client, "cong.tx")["access_token"]
    path = f"{API}/subjects/person/{person['id']}/titles"
    assert client.get(path, headers=bearer(old)).status_code == 200  # now cached
    changed = client.post(
        f"{API}/auth/password",
        headers=bearer(old),
        json={"current_password": DEFAULT_PASSWORD, "new_password": "mat-khau-moi-rat-dai-2026"},
    )
    assert changed.status_code in (200, 204), changed.text
    assert_problem(client.get(path, headers=bearer(old)), 401, "invalid_token")
    fresh = login(client, "cong.tx", "mat-khau-moi-rat-dai-2026")["access_token"]
    assert client.get(path, headers=bearer(fresh)).status_code == 200


def test_an_account_locked_by_another_process_is_refused_within_the_cache_time(
    database_url, session, person, make_user
):
    import time

    from app.auth.models import User

    make_user("cong.khoa", Role.PORTAL_CLIENT, ["00367"])
    quick = create_app(make_settings(database_url, lookup_account_cache_seconds=0.5))
    with serve(quick) as base, httpx.Client(base_url=base) as portal:
        token = login(portal, "cong.khoa")["access_token"]
        path = f"{API}/subjects/person/{person['id']}/titles"
        assert portal.get(path, headers=bearer(token)).status_code == 200
        session.execute(User.__table__.update().where(User.username == "cong.khoa").values(is_active=False))
        session.commit()  # as another process or machine would
        time.sleep(0.6)
        assert_problem(portal.get(path, headers=bearer(token)), 401, "invalid_token")


def test_retention_purges_old_access_events(client, desks, person, session, app):
    client.get(f"{API}/people/{person['id']}", headers=desks["thamdinh"])
    app.state.access_log.flush()
    assert purge(session, access_log_days=30)["access_events"] == 0
    from sqlalchemy import update

    from app.privacy.models import PersonAccessEvent

    session.execute(update(PersonAccessEvent).values(at=datetime.now(UTC) - timedelta(days=60)))
    session.commit()
    assert purge(session, access_log_days=30)["access_events"] >= 1


def test_a_remembered_token_is_still_refused_once_it_expires():
    """The lookup paths remember verified tokens (app/auth/dependencies.py); expiry is checked
    on every request all the same, and a token is forgotten with its account's changes."""
    from app.auth.dependencies import PrincipalCache
    from app.auth.principal import Principal
    from app.auth.tokens import AccessClaims

    start = clock.now()
    claims = AccessClaims(
        user_id=7,
        role="portal_client",
        token_id="t",
        issued_at=int(start.timestamp()),
        credential_version=1,
        expires_at=start + timedelta(minutes=15),
    )
    principal = Principal(7, "cong-thong-tin", Role.PORTAL_CLIENT, frozenset({1}))
    cache = PrincipalCache(ttl=60)
    cache.put("token-a", claims, principal)
    with clock.frozen(start):
        assert cache.get("token-a") == (claims, principal)
        assert cache.get("token-b") is None  # another token is verified and loaded afresh
    with clock.frozen(start + timedelta(minutes=15)), pytest.raises(NotAuthenticated) as refused:
        cache.get("token-a")
    assert refused.value.code == "token_expired"
    cache.forget(7)
    with clock.frozen(start):
        assert cache.get("token-a") is None
    short = PrincipalCache(ttl=0)
    short.put("token-a", claims, principal)
    assert short.get("token-a") is None  # nothing is kept beyond the cache time
