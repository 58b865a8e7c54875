"""Every write leaves an audit row; moves keep residence history."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.registry.models import Residence
from tests.helpers import assert_problem, bearer, login

API = "/api/v1"


def test_writes_across_the_service_are_audited(client, make_user, session):
    make_user("quantri")
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    admin = bearer(login(client, "quantri")["access_token"])
    officer = bearer(login(client, "canbo.tx")["access_token"])
    user = client.post(
        f"{API}/users",
        headers=admin,
        json={
            "username": "thamdinh",
            "full_name": "Thẩm định viên",
            "password": "mat-khau-du-dai-1",
            "role": "assessor",
            "unit_codes": ["00367"],
        },
    ).json()
    client.patch(f"{API}/users/{user['id']}", headers=admin, json={"full_name": "Thẩm định viên A"})
    village = client.post(
        f"{API}/units/00367/villages",
        headers=officer,
        json={"name": "Tổ 9", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"},
    ).json()
    text = (Path(__file__).parent.parent / "criteria/citizen/qd244-2022.yaml").read_text(encoding="utf-8")
    client.post(
        f"{API}/criteria/versions",
        headers={**admin, "content-type": "application/yaml"},
        content=text.replace("version: qd244-2022", "version: qd244-audit").encode(),
    )
    events = {(e.entity, e.action) for e in session.scalars(select(AuditEvent))}
    assert {("user", "create"), ("user", "update"), ("unit", "create"), ("criteria_version", "save_draft")} <= events
    log = client.get(f"{API}/audit", headers=admin, params={"entity": "unit", "entity_id": village["id"]}).json()
    assert log["total"] == 1 and log["items"][0]["actor_id"] is not None
    assert "mat-khau" not in str(client.get(f"{API}/audit", headers=admin, params={"limit": 200}).json())


def test_a_move_closes_one_residence_and_opens_another(client, make_user, session):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    officer = bearer(login(client, "canbo.tx")["access_token"])
    first, second = (
        client.post(
            f"{API}/units/00367/villages",
            headers=officer,
            json={"name": name, "unit_type": "to_dan_pho", "valid_from": "2025-07-01"},
        ).json()
        for name in ("Tổ 1", "Tổ 2")
    )
    person = client.post(
        f"{API}/people",
        headers=officer,
        json={"full_name": "Vũ Văn Nam", "unit_code": first["code"], "resident_since": "2025-07-01"},
    ).json()
    moved = client.post(
        f"{API}/people/{person['id']}/residence",
        headers=officer,
        json={"unit_code": second["code"], "since": "2026-03-01"},
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["unit"]["code"] == second["code"]
    history = session.execute(
        select(Residence.valid_from, Residence.valid_to, Residence.reason)
        .where(Residence.person_id == person["id"])
        .order_by(Residence.id)
    ).all()
    assert [tuple(h) for h in history] == [
        (date(2025, 7, 1), date(2026, 3, 1), "registered"),
        (date(2026, 3, 1), None, "moved"),
    ]
    again = client.post(f"{API}/people/{person['id']}/residence", headers=officer, json={"unit_code": second["code"]})
    assert_problem(again, 409, "same_unit")
    early = client.post(
        f"{API}/people/{person['id']}/residence",
        headers=officer,
        json={"unit_code": first["code"], "since": "2026-01-01"},
    )
    assert_problem(early, 422, "validation_failed")
    outside = client.post(f"{API}/people/{person['id']}/residence", headers=officer, json={"unit_code": "00364"})
    assert_problem(outside, 403, "forbidden")
