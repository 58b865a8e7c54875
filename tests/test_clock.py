"""One clock: "today" is the date in Vietnam, whatever zone the server runs in.

At 23:30 UTC on 31 December it is already 06:30 on 1 January in Hà Nội: every default date,
reference day, nightly build and revocation must say 1 January (of the next year)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app import clock
from app.assessments.models import Recognition
from app.auth.models import Role
from app.cli import cli
from app.config import get_settings
from app.registry.models import Residence
from app.stats.models import CountBuild
from tests.helpers import assert_problem, bearer, login

API = "/api/v1"
ROOT = Path(__file__).parent.parent
NEW_YEARS_EVE_UTC = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 1 January 2027, 06:30 in Hà Nội
CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}


def test_nothing_but_the_clock_module_asks_the_system_for_the_time():
    """`date.today()`, `datetime.now()` and friends use the server's zone (or none): only
    app/clock.py may call them."""
    forbidden = re.compile(r"\b(date\.today|datetime\.now|datetime\.utcnow|datetime\.today|time\.localtime)\s*\(")
    offenders = []
    for folder in ("app", "bench", "seed", "migrations"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "app" / "clock.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if forbidden.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_guard_above_would_catch_a_bare_call(tmp_path):
    """The pattern of the guard matches the calls it is meant to forbid (so it can fail)."""
    pattern = re.compile(r"\b(date\.today|datetime\.now|datetime\.utcnow|datetime\.today|time\.localtime)\s*\(")
    assert pattern.search("since = data.since or date.today()")
    assert pattern.search("now = datetime.now(UTC)")
    assert not pattern.search("since = data.since or clock.today()")


def test_today_is_the_date_in_vietnam():
    with clock.frozen(NEW_YEARS_EVE_UTC):
        assert clock.now() == NEW_YEARS_EVE_UTC
        assert clock.today() == date(2027, 1, 1)
        assert clock.start_of(date(2027, 1, 1)) == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    with clock.frozen(datetime(2026, 12, 31, 16, 59, tzinfo=UTC)):
        assert clock.today() == date(2026, 12, 31)


def on(day: str, hour: int = 10) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hour), tzinfo=clock.zone())


@pytest.fixture
def ward(client, make_user):
    make_user("quantri")
    make_user("thamdinh.b", Role.ASSESSOR, ["00367"])


def test_defaults_reference_days_build_and_revocation_at_new_year(
    app, client, ward, session, database_url, monkeypatch
):
    # Earlier in December: a citizen is assessed, reviewed and recognised.
    with clock.frozen(on("2026-12-20")):
        admin = bearer(login(client, "quantri")["access_token"])
        reviewer = bearer(login(client, "thamdinh.b")["access_token"])
        village = client.post(
            f"{API}/units/00367/villages",
            headers=admin,
            json={"name": "Tổ 9", "unit_type": "to_dan_pho", "valid_from": "2026-01-01"},
        ).json()
        person = client.post(
            f"{API}/people",
            headers=admin,
            json={"full_name": "Phan Văn Tết", "birth_date": "1980-02-02", "unit_code": village["code"]},
        ).json()
        filed = client.post(
            f"{API}/assessments",
            headers=admin,
            json={
                "id": str(uuid.uuid4()),
                "title": "citizen",
                "subject_id": person["id"],
                "period": 2026,
                "subject_group": "commune_resident",
                "answers": CITIZEN_ALL_8,
                "submit": True,
            },
        )
        assert filed.json()["reference_date"] == "2026-12-20"  # today, the period's end not yet reached
        reviewed = client.post(
            f"{API}/assessments/{filed.json()['id']}/transitions",
            headers={**reviewer, "If-Match": filed.headers["etag"]},
            json={"action": "review"},
        ).json()
        decision = client.post(
            f"{API}/decisions",
            headers=admin,
            json={
                "commune_code": "00367",
                "number": "99/QĐ-UBND",
                "decided_on": "2026-12-20",
                "signer": "Chủ tịch",
                "title": "citizen",
                "period": 2026,
                "assessment_ids": [reviewed["id"]],
            },
        ).json()
        recognition_id = decision["recognitions"][0]["id"]

    with clock.frozen(NEW_YEARS_EVE_UTC):
        admin = bearer(login(client, "quantri")["access_token"])
        # Defaults: today is 1 January 2027.
        second_village = client.post(
            f"{API}/units/00367/villages", headers=admin, json={"name": "Tổ 10", "unit_type": "to_dan_pho"}
        ).json()
        assert second_village["valid_from"] == "2027-01-01"
        newcomer = client.post(
            f"{API}/people", headers=admin, json={"full_name": "Lê Thị Xuân", "unit_code": second_village["code"]}
        ).json()
        since = session.scalar(select(Residence.valid_from).where(Residence.person_id == newcomer["id"]))
        assert since == date(2027, 1, 1)
        registration = client.post(
            f"{API}/registrations", headers=admin, json={"title": "citizen", "subject_id": newcomer["id"], "year": 2027}
        ).json()
        assert registration["registered_on"] == "2027-01-01"
        # 2027 has begun: its reference day is today; 2026's is its last day.
        progress = client.get(f"{API}/units/00367/progress", params={"year": 2027}).json()
        assert progress["reference_date"] == "2027-01-01"
        assert client.get(f"{API}/units/00367/progress", params={"year": 2026}).json()["reference_date"] == "2026-12-31"
        new_year = client.post(
            f"{API}/assessments",
            headers=admin,
            json={
                "id": str(uuid.uuid4()),
                "title": "citizen",
                "subject_id": newcomer["id"],
                "period": 2027,
                "subject_group": "commune_resident",
                "answers": CITIZEN_ALL_8,
            },
        )
        assert new_year.status_code == 201, new_year.text
        assert new_year.json()["reference_date"] == "2027-01-01"
        # A day after today is still refused: 2 January has not come, even in UTC terms.
        late = client.post(
            f"{API}/people",
            headers=admin,
            json={"full_name": "Ngày Mai", "unit_code": second_village["code"], "resident_since": "2027-01-02"},
        )
        assert assert_problem(late, 422, "validation_failed")["errors"][0]["field"] == "body.resident_since"

        # The nightly build, run just after midnight in Hà Nội, builds the new year on its day
        # (once the app's own rebuild of the writes above is done: two builds of the same units
        # at once make the later one give way, and the CLI then says to run it again).
        assert app.state.jobs.wait_idle(30)
        monkeypatch.setenv("HOCTAP_DATABASE_URL", database_url)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli, ["stats", "build", "--province", "01"])
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        assert "for 2027" in result.output and "counted on 2027-01-01" in result.output
        session.rollback()
        built = session.scalars(select(CountBuild.reference_day).where(CountBuild.year == 2027)).all()
        assert built and set(built) == {date(2027, 1, 1)}

        # A revocation made now happened on 1 January: on 31 December the title was held.
        revoked = client.post(
            f"{API}/recognitions/{recognition_id}/revoke", headers=admin, json={"reason": "Kiểm tra lại hồ sơ"}
        ).json()
        assert revoked["revoked_on"] == "2027-01-01"
        assert revoked["revoked_at"].startswith("2026-12-31T23:30")  # the instant stays UTC
        states = {
            as_of: client.get(
                f"{API}/subjects/person/{person['id']}/titles", headers=admin, params={"as_of": as_of}
            ).json()["items"][0]["state"]
            for as_of in ("2026-12-31", "2027-01-01")
        }
        assert states == {"2026-12-31": "active", "2027-01-01": "revoked"}
        session.rollback()
        assert session.get(Recognition, recognition_id).revoked_on == date(2027, 1, 1)
