"""Writes from many clients in several communes at once keep every progress number exact: right
after the writes (what is not rebuilt yet is counted live) and, once the rebuild jobs have run,
from the pre-built rows alone. Each number is compared with a brute-force recount in Python.
A write touches only its own villages' versions, never one row shared by every writer."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from app import clock
from app.auth.models import Role
from app.stats import counting, summary
from app.stats.models import CountVersion, DataVersion
from app.stats.synthetic import generate
from app.units.models import AdministrativeUnit
from app.units.service import get_unit
from tests.helpers import bearer, login
from tests.test_progress import brute_force

API = "/api/v1"
YEAR = clock.today().year  # the year still running: its reference day is today
WRITERS_PER_COMMUNE = 3
PEOPLE_PER_WRITER = 4


@pytest.fixture
def world(session, client, make_user):
    generate(session, "01", 800, YEAR, seed=5)
    province = get_unit(session, "01", clock.today())
    villages = session.execute(
        select(AdministrativeUnit.parent_id, func.min(AdministrativeUnit.code))
        .where(AdministrativeUnit.level == "village", AdministrativeUnit.valid_to.is_(None))
        .group_by(AdministrativeUnit.parent_id)
        .order_by(AdministrativeUnit.parent_id)
        .limit(4)
    ).all()
    communes = [session.get(AdministrativeUnit, parent) for parent, _ in villages]
    make_user("quantri.dongthoi", Role.ADMIN)
    token = login(client, "quantri.dongthoi")["access_token"]
    return {"province": province, "communes": communes, "villages": [code for _, code in villages], "token": token}


def _write(base_url: str, token: str, village: str, other_village: str, writer: int) -> list[int]:
    """One officer's burst: new residents (adults and children), a household, and a move of one
    of them to another commune. Returns the status codes."""
    statuses = []
    with httpx.Client(base_url=base_url, headers=bearer(token), timeout=60) as client:
        people = []
        for n in range(PEOPLE_PER_WRITER):
            born = f"{1950 + writer % 40 + n}-0{1 + n}-1{n}" if n != 3 else f"{YEAR - 10}-01-01"
            response = client.post(
                f"{API}/people",
                json={"full_name": f"Người Thứ {writer}-{n}", "birth_date": born, "unit_code": village},
            )
            statuses.append(response.status_code)
            if response.status_code == 201:
                people.append(response.json()["id"])
        response = client.post(
            f"{API}/households",
            json={
                "name": f"Hộ số {writer}",
                "unit_code": village,
                "head_person_id": people[0],
                "members": [{"person_id": p} for p in people[:2]],
            },
        )
        statuses.append(response.status_code)
        response = client.post(
            f"{API}/people/{people[2]}/residence", json={"unit_code": other_village, "since": clock.today().isoformat()}
        )
        statuses.append(response.status_code)
    return statuses


def _progress(client, code: str) -> dict[str, tuple[int, int]]:
    response = client.get(f"{API}/units/{code}/progress", params={"year": YEAR})
    assert response.status_code == 200, response.text
    body = response.json()
    assert all(item["exact"] for item in body["items"])
    numbers = {i["title"]: (i["numerator"], i["denominator"]) for i in body["items"] if i["segment"] is None}
    return {**numbers, "live_units": body["live_units"]}


def test_concurrent_writes_in_several_communes_keep_every_number_exact(client, session, base_url, world, app):
    communes, villages = world["communes"], world["villages"]
    for commune in [world["province"], *communes]:  # read once: builds are queued and made
        _progress(client, commune.code)
    assert app.state.jobs.wait_idle(60)
    session.rollback()
    settings_before = session.scalar(select(DataVersion.version).where(DataVersion.name == "stats"))

    jobs = []
    for index in range(len(communes)):
        for writer in range(WRITERS_PER_COMMUNE):
            other = villages[(index + 1) % len(villages)]
            jobs.append((villages[index], other, index * 10 + writer))
    reading = threading.Event()
    reads: list[int] = []

    def keep_reading():  # progress is read while the writes go on
        with httpx.Client(base_url=base_url, timeout=60) as reader:
            while not reading.is_set():
                reads.append(reader.get(f"{API}/units/01/progress", params={"year": YEAR}).status_code)

    # The rebuild jobs wait until the writes are checked, so the answers right after the writes
    # really come from out-of-date builds counted live.
    app.state.jobs.stop()
    try:
        reader = threading.Thread(target=keep_reading)
        reader.start()
        try:
            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                results = list(pool.map(lambda job: _write(base_url, world["token"], *job), jobs))
        finally:
            reading.set()
            reader.join()
        assert all(status in (200, 201) for statuses in results for status in statuses), results
        assert reads and set(reads) == {200}

        # Right away, before any rebuild job may have run: every number is exact.
        session.rollback()
        got_live = {}
        for unit in [world["province"], *communes]:
            expected = brute_force(session, unit.id, YEAR)
            got = _progress(client, unit.code)
            assert {title: got[title] for title in expected} == expected, unit.code
            got_live[unit.code] = got["live_units"]
            assert got_live[unit.code] > 0, "nothing was out of date: the live path was not tested"
        # The writes moved no row every writer shares.
        assert session.scalar(select(DataVersion.version).where(DataVersion.name == "stats")) == settings_before
    finally:
        app.state.jobs.start()

    # Once the jobs have run, the pre-built rows alone give the same numbers.
    assert app.state.jobs.wait_idle(60)
    session.rollback()
    day = counting.reference_day(YEAR)
    for unit in [world["province"], *communes]:
        tally = summary.counts(session, unit, YEAR, day, "all")
        assert tally.live_units == [], unit.code
        expected = brute_force(session, unit.id, YEAR)
        assert {title: tally.counts[(title, None)] for title in expected} == expected, unit.code


def test_a_write_moves_on_only_its_own_territorys_etag(client, session, world, app):
    first, second = world["communes"][:2]
    tags = {
        c.code: client.get(f"{API}/units/{c.code}/progress", params={"year": YEAR}).headers["etag"]
        for c in (first, second)
    }
    session.rollback()
    versions_before = dict(session.execute(select(CountVersion.unit_id, CountVersion.version)).all())
    created = client.post(
        f"{API}/people",
        headers=bearer(world["token"]),
        json={"full_name": "Đào Văn Mới", "birth_date": "1990-05-05", "unit_code": world["villages"][0]},
    )
    assert created.status_code == 201, created.text
    session.rollback()
    versions_after = dict(session.execute(select(CountVersion.unit_id, CountVersion.version)).all())
    changed = {unit for unit in versions_after if versions_after[unit] != versions_before.get(unit)}
    village = session.scalar(select(AdministrativeUnit.id).where(AdministrativeUnit.code == world["villages"][0]))
    assert changed == {village}
    first_now = client.get(f"{API}/units/{first.code}/progress", params={"year": YEAR})
    second_now = client.get(
        f"{API}/units/{second.code}/progress", params={"year": YEAR}, headers={"If-None-Match": tags[second.code]}
    )
    assert first_now.headers["etag"] != tags[first.code]
    assert second_now.status_code == 304
