"""Re-scoring runs: every open assessment of a title (in the caller's units) scored under another
published version, in batches of short transactions by a background job, with progress, paged
items, and a run interrupted by a crash resumed where it stopped without a second revision."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update

from app import clock
from app.assessments import rescoring, rescoring_jobs, service
from app.assessments.derived import compute, compute_many
from app.assessments.models import (
    Assessment,
    Decision,
    Recognition,
    RescoringItem,
    RescoringOutcome,
    RescoringRun,
)
from app.assessments.schemas import AnswersIn
from app.audit.models import AuditEvent
from app.auth.models import Role
from app.criteria.models import CriteriaVersionRecord
from app.criteria.service import model_of
from app.registry.models import Clan, ClanHousehold, Household, HouseholdMember, Person
from app.units.models import AdministrativeUnit
from tests.helpers import assert_problem, bearer, login

API = "/api/v1"
ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}
# Revisions' ids: version 7 UUIDs (the millisecond they were made, then 74 random bits).
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_subjects = itertools.count(900_000)


# --- setting up -----------------------------------------------------------------------------------


def _version(session, title: str, version_id: str) -> CriteriaVersionRecord:
    return session.scalar(
        select(CriteriaVersionRecord).where(
            CriteriaVersionRecord.title == title, CriteriaVersionRecord.version_id == version_id
        )
    )


def _commune(session, code: str) -> int:
    return session.scalar(
        select(AdministrativeUnit.id).where(AdministrativeUnit.code == code, AdministrativeUnit.valid_to.is_(None))
    )


def _open(
    session,
    version: CriteriaVersionRecord,
    unit_id: int,
    answers: dict,
    *,
    group: str | None = "worker",
    state: str = "submitted",
    stored: tuple[str, int] | None = None,
    subject_id: int | None = None,
    reference_date: date = date(2023, 12, 31),
    scored: bool = True,
) -> Assessment:
    """An assessment filed under `version` (as the registry stores one), `stored` replacing the
    status and total it was scored with (`scored=False`: a placeholder result)."""
    if scored:
        result = service.score_inputs(model_of(version), answers, group, [], {})
        result_text, status, total, level = result.model_dump_json(), result.status, result.total, result.level
    else:
        result_text, status, total, level = "{}", "khong_dat", 0, None
    public_id = str(uuid.uuid4())
    row = Assessment(
        public_id=public_id,
        request_hash="0" * 64,
        chain_id=public_id,
        revision=1,
        title=version.title,
        subject_id=subject_id or next(_subjects),
        period=reference_date.year,
        unit_id=unit_id,
        reference_date=reference_date,
        criteria_version_id=version.id,
        criteria_content_hash=version.content_hash,
        subject_group=group,
        unit_groups="[]",
        answers=json.dumps(answers, sort_keys=True),
        evidence=json.dumps([{"indicator_id": "c1_1", "document_id": "MC-1", "note": None}]),
        derived="{}",
        result=result_text,
        status=stored[0] if stored else status,
        total=Decimal(stored[1]) if stored else Decimal(str(total)),
        level=level,
        state=state,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def people(client, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])  # Phường Thanh Xuân
    make_user("canbo.kd", Role.COMMUNE_OFFICER, ["00364"])  # Phường Khương Đình: another commune
    make_user("tinh.hn", Role.PROVINCE_OFFICER, ["01"])  # Hà Nội
    make_user("thamdinh.tx", Role.ASSESSOR, ["00367"])
    make_user("cong.hn", Role.PORTAL_CLIENT, ["01"])
    make_user("quantri")
    return {
        name: bearer(login(client, name)["access_token"])
        for name in ("canbo.tx", "canbo.kd", "tinh.hn", "thamdinh.tx", "cong.hn", "quantri")
    }


@pytest.fixture
def world(session, people):
    """Open citizen assessments of Thanh Xuân under QĐ 244, in every open state; one decided,
    one superseded, one already under QĐ 324, and one of Khương Đình."""
    old, new = _version(session, "citizen", "qd244-2022"), _version(session, "citizen", "qd324-2023")
    tx, kd = _commune(session, "00367"), _commune(session, "00364")
    rows = [
        _open(session, old, tx, ALL_8, state="draft"),
        _open(session, old, tx, ALL_8, state="submitted", stored=("khong_dat", 70)),  # scored otherwise
        _open(session, old, tx, {**ALL_8, "c3_2": 7}, state="reviewed"),
        _open(session, old, tx, ALL_8, state="returned"),
        _open(session, old, tx, {**ALL_8, "c3_2": 7}, state="submitted", stored=("dat", 80)),
        _open(session, old, tx, ALL_8, group="farmer"),  # QĐ 324 has no such group: a problem
        _open(session, old, tx, ALL_8, state="submitted"),
    ]
    untouched = [
        _open(session, old, tx, ALL_8, state="decided"),
        _open(session, old, tx, ALL_8, state="superseded"),
        _open(session, new, tx, ALL_8, group="commune_resident"),  # already under the target
        _open(session, old, kd, ALL_8),  # outside the officer's commune
    ]
    session.commit()
    return {"old": old, "new": new, "open": rows, "untouched": untouched, "tx": tx, "kd": kd}


def _snapshot(session, rows):
    session.expire_all()
    return [
        (row.id, row.state, row.row_version, row.criteria_version_id)
        for row in session.scalars(select(Assessment).where(Assessment.id.in_([r.id for r in rows])))
    ]


def _start(client, headers, dry_run=False, title="citizen", version="qd324-2023"):
    response = client.post(
        f"{API}/assessment-rescorings",
        headers=headers,
        json={"title": title, "to_version": version, "dry_run": dry_run},
    )
    assert response.status_code == 202, response.text
    return response


def _all_items(client, headers, run_id, page=3):
    items, offset = [], 0
    while True:
        response = client.get(
            f"{API}/assessment-rescorings/{run_id}/items", headers=headers, params={"limit": page, "offset": offset}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= page
        items += body["items"]
        offset += page
        if offset >= body["total"]:
            assert len(items) == body["total"]
            return items


@pytest.fixture
def no_job(app, monkeypatch):
    """Runs are made but no job is queued for them: the test plays the worker (and its crash)."""
    monkeypatch.setitem(app.state.session_factory.kw["info"], rescoring.START, lambda run_id: None)
    return app.state.session_factory


def _expected(session, row: Assessment, target: CriteriaVersionRecord):
    """The per-assessment path: the service's own scoring of one assessment."""
    body = AnswersIn(
        subject_group=row.subject_group, unit_groups=json.loads(row.unit_groups), answers=json.loads(row.answers)
    )
    return service._score(session, target, row.subject_id, row.reference_date, body)


# --- a run ----------------------------------------------------------------------------------------


def test_a_run_rescores_open_assessments_in_batches(client, app, session, people, world, monkeypatch):
    monkeypatch.setattr(rescoring, "BATCH_SIZE", 3)
    officer = people["canbo.tx"]
    before = _snapshot(session, world["untouched"])
    states = {row.public_id: row.state for row in world["open"]}
    audit_before = session.scalar(select(func.count()).select_from(AuditEvent))
    response = _start(client, officer)
    run = response.json()
    assert response.headers["location"] == f"{API}/assessment-rescorings/{run['id']}"
    assert run["state"] in ("queued", "running", "done")
    assert (run["title"], run["to_version"], run["dry_run"], run["total"]) == ("citizen", "qd324-2023", False, 7)
    assert run["created_at"].endswith(("Z", "+00:00"))
    assert app.state.jobs.wait_idle(60)

    run = client.get(f"{API}/assessment-rescorings/{run['id']}", headers=officer).json()
    assert run["state"] == "done", run
    assert run["batches"] == 3  # 7 assessments, 3 a batch
    assert (run["processed"], run["problems"], run["skipped"]) == (7, 1, 0)
    assert run["changed"] == 2 and run["unchanged"] == 4
    assert run["started_at"] and run["finished_at"] and run["error"] is None

    items = _all_items(client, officer, run["id"])
    assert [item["assessment_id"] for item in items] == [row.public_id for row in world["open"]]
    session.expire_all()
    by_id = {row.public_id: row for row in world["open"]}
    new_states = []
    for item in items:
        old = session.scalar(select(Assessment).where(Assessment.public_id == item["assessment_id"]))
        assert item["from_version"] == "qd244-2022"
        assert (item["old_status"], item["old_total"]) == (old.status, float(old.total))
        if item["problems"]:
            assert by_id[item["assessment_id"]].subject_group == "farmer"
            assert item["problems"][0].startswith("subject_group:")
            assert (item["new_assessment_id"], item["new_status"], item["changed"]) == (None, None, False)
            assert old.state == "submitted" and old.row_version == 1  # left as it was
            continue
        result, derived = _expected(session, old, world["new"])
        assert (item["new_status"], item["new_total"]) == (result.status, float(result.total))
        assert item["changed"] == ((result.status, result.total) != (old.status, old.total))
        assert UUID7.match(item["new_assessment_id"])
        made = int(item["new_assessment_id"].replace("-", "")[:12], 16) / 1000
        assert abs(made - clock.now().timestamp()) < 600
        new = session.scalar(select(Assessment).where(Assessment.public_id == item["new_assessment_id"]))
        assert (old.state, old.row_version) == ("superseded", 2)
        assert (new.supersedes_id, new.chain_id, new.revision) == (old.id, old.chain_id, old.revision + 1)
        assert (new.criteria_version_id, new.criteria_content_hash) == (world["new"].id, world["new"].content_hash)
        assert (new.answers, new.evidence, new.subject_group, new.unit_groups) == (
            old.answers,
            old.evidence,
            old.subject_group,
            old.unit_groups,
        )
        assert json.loads(new.result) == json.loads(result.model_dump_json())
        assert json.loads(new.derived) == derived == {}
        assert (new.row_version, new.reviewed_at, new.return_reason) == (1, None, None)
        new_states.append((states[item["assessment_id"]], new.state))
        shown = client.get(f"{API}/assessments/{new.public_id}", headers=officer).json()
        assert (shown["supersedes"], shown["criteria_version"]) == (old.public_id, "qd324-2023")
    # A reviewed assessment whose score may have changed goes back to be reviewed again.
    assert sorted(new_states) == sorted(
        [("draft", "draft"), ("submitted", "submitted"), ("reviewed", "submitted"), ("returned", "returned")]
        + [("submitted", "submitted")] * 2
    )
    assert _snapshot(session, world["untouched"]) == before  # decided, superseded, outside: untouched
    # The run is audited once at its start and once at its end, not per assessment.
    events = session.execute(
        select(AuditEvent.action, AuditEvent.entity, AuditEvent.detail).where(AuditEvent.id > 0).order_by(AuditEvent.id)
    ).all()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == audit_before + 2
    start, finish = events[-2:]
    assert (start.action, start.entity, finish.action, finish.entity) == (
        "start",
        "rescoring_run",
        "finish",
        "rescoring_run",
    )
    assert json.loads(finish.detail)["processed"] == 7 and json.loads(start.detail)["total"] == 7
    # The result text is not kept twice: the revisions hold it.
    assert session.scalar(select(func.count()).where(RescoringOutcome.result.is_not(None))) == 0

    # Left to re-score: only the assessment whose answers did not fit; it still does not.
    assessments = session.scalar(select(func.count()).select_from(Assessment))
    again = _start(client, officer).json()
    assert again["total"] == 1
    assert app.state.jobs.wait_idle(60)
    again = client.get(f"{API}/assessment-rescorings/{again['id']}", headers=officer).json()
    assert (again["state"], again["processed"], again["problems"], again["batches"]) == ("done", 1, 1, 1)
    assert session.scalar(select(func.count()).select_from(Assessment)) == assessments


def test_progress_is_shown_and_a_crashed_run_resumes_without_a_second_revision(
    client, app, session, people, world, no_job, monkeypatch
):
    monkeypatch.setattr(rescoring, "BATCH_SIZE", 2)
    officer = people["canbo.tx"]
    run_id = _start(client, officer).json()["id"]
    shown = client.get(f"{API}/assessment-rescorings/{run_id}", headers=officer).json()
    assert (shown["state"], shown["processed"], shown["started_at"]) == ("queued", 0, None)
    # The run is worked in two parts, over the first four and the last three assessments.
    with no_job() as s:
        first, second = rescoring.parts(s, run_id)
        first_cursor = s.get(RescoringRun, first).cursor
    assert_problem(client.get(f"{API}/assessment-rescorings/{first}", headers=officer), 404, "not_found")

    def new_revisions() -> int:
        return session.scalar(select(func.count()).where(Assessment.criteria_version_id == world["new"].id)) - 1

    # A worker does one batch of the first part, then its process dies holding the part.
    assert rescoring_jobs.work(no_job, first, worker="dead-worker", max_batches=1) == rescoring_jobs.MORE
    with no_job() as s:
        s.execute(update(RescoringRun).where(RescoringRun.id == first).values(worker="dead-worker"))
        s.commit()
    shown = client.get(f"{API}/assessment-rescorings/{run_id}", headers=officer).json()
    assert (shown["state"], shown["processed"], shown["batches"], shown["total"]) == ("running", 2, 1, 7)
    assert new_revisions() == 2

    # resume() takes up the part nobody holds (its job was lost), not the one whose worker
    # showed itself a moment ago.
    assert rescoring_jobs.resume(no_job) == []
    session.expire_all()
    assert (session.get(RescoringRun, second).state, session.get(RescoringRun, first).batches) == ("done", 1)
    assert rescoring_jobs.work(no_job, first) == rescoring_jobs.ELSEWHERE
    shown = client.get(f"{API}/assessment-rescorings/{run_id}", headers=officer).json()
    assert (shown["state"], shown["processed"], shown["batches"]) == ("running", 5, 3)
    assert new_revisions() == 4  # the second part's three but the one whose answers do not fit

    # A batch that fails half-way leaves nothing behind (its transaction rolls back).
    def crash(*args, **kwargs):
        original(*args, **kwargs)  # revisions inserted, old rows superseded …
        raise RuntimeError("the process died")  # … and then no commit

    original = rescoring_jobs._write_revisions
    monkeypatch.setattr(rescoring_jobs, "_write_revisions", crash)
    with no_job() as s:
        s.execute(update(RescoringRun).where(RescoringRun.id == first).values(worker=None))
        s.commit()
    with pytest.raises(RuntimeError):
        rescoring_jobs.work(no_job, first)
    monkeypatch.setattr(rescoring_jobs, "_write_revisions", original)
    session.expire_all()
    part = session.get(RescoringRun, first)
    assert (part.batches, part.processed, part.failures, part.worker, part.error) == (1, 2, 1, None, "RuntimeError")
    assert new_revisions() == 4
    assert session.scalar(select(func.count()).where(RescoringItem.run_id == first)) == 2

    # The worker is gone (no heartbeat for longer than the lease): resume() takes the part up.
    with no_job() as s:
        s.execute(
            update(RescoringRun)
            .where(RescoringRun.id == first)
            .values(
                worker="dead-worker", heartbeat_at=clock.now() - timedelta(seconds=rescoring_jobs.LEASE_SECONDS + 1)
            )
        )
        s.commit()
    assert rescoring_jobs.resume(no_job) == []  # nothing left over: the part was worked to its end
    shown = client.get(f"{API}/assessment-rescorings/{run_id}", headers=officer).json()
    assert shown["state"] == "done", shown
    assert (shown["processed"], shown["changed"], shown["unchanged"], shown["problems"]) == (7, 2, 4, 1)
    assert (shown["batches"], shown["skipped"]) == (4, 0)  # 2 + 2 and 2 + 1

    def revisions() -> list[int]:
        return sorted(
            count
            for _, count in session.execute(
                select(Assessment.supersedes_id, func.count())
                .where(Assessment.criteria_version_id == world["new"].id, Assessment.supersedes_id.is_not(None))
                .group_by(Assessment.supersedes_id)
            )
        )

    assert revisions() == [1] * 6  # each open one (but the problem) once
    # The same batches done again (a cursor put back, as if their commit had not been seen)
    # find their assessments superseded: no second revision, counts unchanged.
    with no_job() as s:
        s.execute(
            update(RescoringRun)
            .where(RescoringRun.id == first)
            .values(state="running", cursor=first_cursor, worker=None, finished_at=None)
        )
        s.commit()
    assert rescoring_jobs.resume(no_job) == []
    session.expire_all()
    assert revisions() == [1] * 6
    assert session.get(RescoringRun, first).state == "done"
    shown = client.get(f"{API}/assessment-rescorings/{run_id}", headers=officer).json()
    assert (shown["state"], shown["processed"], shown["skipped"]) == ("done", 7, 0)
    items = select(func.count()).where(RescoringItem.run_id.in_([first, second]))
    assert session.scalar(items) == 7
    # The only thing that may still be re-scored: the assessment whose answers did not fit.
    problem = next(row for row in world["open"] if row.subject_group == "farmer")
    assert session.get(Assessment, problem.id).state == "submitted"
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity == "rescoring_run", AuditEvent.entity_id == run_id)
    ).all()
    assert sorted(actions) == ["finish", "start"]


def test_a_dry_run_reports_and_changes_nothing(client, app, session, people, world, monkeypatch):
    monkeypatch.setattr(rescoring, "BATCH_SIZE", 4)
    officer = people["canbo.tx"]
    everything = _snapshot(session, world["open"] + world["untouched"])
    count = session.scalar(select(func.count()).select_from(Assessment))
    run = client.post(
        f"{API}/assessment-rescorings", headers=officer, json={"title": "citizen", "to_version": "qd324-2023"}
    )
    assert run.status_code == 202 and run.json()["dry_run"] is True  # the default
    assert app.state.jobs.wait_idle(60)
    run = client.get(f"{API}/assessment-rescorings/{run.json()['id']}", headers=officer).json()
    assert (run["state"], run["processed"], run["changed"], run["problems"], run["batches"]) == ("done", 7, 2, 1, 2)
    items = _all_items(client, officer, run["id"], page=5)
    assert len(items) == 7 and all(item["new_assessment_id"] is None for item in items)
    assert sum(item["new_status"] is not None for item in items) == 6
    assert session.scalar(select(func.count()).select_from(Assessment)) == count
    assert _snapshot(session, world["open"] + world["untouched"]) == everything


def test_items_are_paged(client, app, people, world):
    officer = people["canbo.tx"]
    run_id = _start(client, officer, dry_run=True).json()["id"]
    assert app.state.jobs.wait_idle(60)
    url = f"{API}/assessment-rescorings/{run_id}/items"
    first = client.get(url, headers=officer, params={"limit": 2}).json()
    rest = client.get(url, headers=officer, params={"limit": 200, "offset": 2}).json()
    beyond = client.get(url, headers=officer, params={"offset": 50}).json()
    assert (first["total"], rest["total"], beyond["total"]) == (7, 7, 7)
    assert [len(first["items"]), len(rest["items"]), len(beyond["items"])] == [2, 5, 0]
    ids = [item["assessment_id"] for item in first["items"] + rest["items"]]
    assert ids == [row.public_id for row in world["open"]]
    for params, field in (
        ({"limit": 201}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"offset": -1}, "query.offset"),
    ):
        body = assert_problem(client.get(url, headers=officer, params=params), 422, "validation_failed")
        assert body["errors"][0]["field"] == field


def test_a_run_is_seen_only_within_its_creators_jurisdiction(client, app, session, people, world):
    run_id = _start(client, people["canbo.tx"], dry_run=True).json()["id"]
    admin_run = _start(client, people["quantri"], dry_run=True).json()
    assert admin_run["total"] == 8  # an admin's run covers every commune
    assert app.state.jobs.wait_idle(60)
    for who, status in (
        ("canbo.tx", 200),
        ("tinh.hn", 200),  # the province above the commune
        ("thamdinh.tx", 200),
        ("quantri", 200),
        ("canbo.kd", 404),  # another commune: as if it did not exist
    ):
        for path in (f"/assessment-rescorings/{run_id}", f"/assessment-rescorings/{run_id}/items"):
            response = client.get(API + path, headers=people[who])
            assert response.status_code == status, (who, path, response.text)
            if status == 404:
                assert_problem(response, 404, "not_found")
    assert_problem(client.get(f"{API}/assessment-rescorings/{run_id}", headers=people["cong.hn"]), 403, "forbidden")
    assert client.get(f"{API}/assessment-rescorings/{run_id}").status_code == 401
    # An admin's run (over every unit) is seen by admins only.
    for who, status in (("quantri", 200), ("tinh.hn", 404), ("canbo.tx", 404)):
        response = client.get(f"{API}/assessment-rescorings/{admin_run['id']}/items", headers=people[who])
        assert response.status_code == status, (who, response.text)
    assert_problem(client.get(f"{API}/assessment-rescorings/999999", headers=people["quantri"]), 404, "not_found")
    # The other commune's officer re-scores only the other commune's assessment.
    other = _start(client, people["canbo.kd"], dry_run=True).json()
    assert other["total"] == 1


def test_refusals_name_the_field_and_write_nothing(client, session, people, world):
    officer = people["canbo.tx"]
    url = f"{API}/assessment-rescorings"
    runs = session.scalar(select(func.count()).select_from(RescoringRun))
    # Only published versions: the first TT 25/2023 commune version was retired (replaced).
    body = assert_problem(
        client.post(url, headers=officer, json={"title": "commune", "to_version": "tt25-2023", "dry_run": False}),
        409,
        "invalid_state",
    )
    assert "to_version" in body["detail"]
    body = assert_problem(
        client.post(url, headers=officer, json={"title": "citizen", "to_version": "qd999-2030"}),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["field"] == "body.to_version" and "qd999-2030" in body["errors"][0]["message"]
    # A version of another title is not one of this title's.
    body = assert_problem(
        client.post(url, headers=officer, json={"title": "family", "to_version": "qd324-2023"}),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["field"] == "body.to_version"
    for bad, field in (
        ({"title": "citizen", "to_version": "qd324-2023", "dry_run": "yes"}, "body.dry_run"),
        ({"title": "citizen", "to_version": "QD 324"}, "body.to_version"),
        ({"title": "citizens", "to_version": "qd324-2023"}, "body.title"),
        ({"title": "citizen", "to_version": "qd324-2023", "batch": 5}, "body.batch"),
        ({"title": "citizen"}, "body.to_version"),
    ):
        body = assert_problem(client.post(url, headers=officer, json=bad), 422, "validation_failed")
        assert body["errors"][0]["field"] == field, body
    assert_problem(
        client.post(url, headers=people["thamdinh.tx"], json={"title": "citizen", "to_version": "qd324-2023"}),
        403,
        "forbidden",
    )
    assert_problem(
        client.post(url, headers=people["tinh.hn"], json={"title": "citizen", "to_version": "qd324-2023"}),
        403,
        "forbidden",
    )
    assert session.scalar(select(func.count()).select_from(RescoringRun)) == runs == 0
    for path in ("/assessment-rescorings/0", "/assessment-rescorings/abc/items"):
        assert_problem(client.get(API + path, headers=officer), 422, "validation_failed")


def test_a_run_whose_part_keeps_failing_is_marked_failed(client, app, session, people, world, no_job, monkeypatch):
    monkeypatch.setattr(rescoring, "BATCH_SIZE", 4)
    run_id = _start(client, people["canbo.tx"]).json()["id"]
    with no_job() as s:
        first, second = rescoring.parts(s, run_id)
    original = rescoring_jobs._insert_items

    def broken(session, run, *args):
        if run.id == first:
            raise RuntimeError("bug")
        return original(session, run, *args)

    monkeypatch.setattr(rescoring_jobs, "_insert_items", broken)
    for _ in range(rescoring_jobs.MAX_FAILURES):
        with pytest.raises(RuntimeError):
            rescoring_jobs.work(no_job, first)
    shown = client.get(f"{API}/assessment-rescorings/{run_id}", headers=people["canbo.tx"]).json()
    assert shown["state"] == "running"  # the other part is still to do
    assert rescoring_jobs.work(no_job, second) == rescoring_jobs.DONE
    run = client.get(f"{API}/assessment-rescorings/{run_id}", headers=people["canbo.tx"]).json()
    assert (run["state"], run["processed"], run["skipped"]) == ("failed", 3, 4)
    assert "RuntimeError" in run["error"] and run["finished_at"]
    assert rescoring_jobs.resume(no_job) == [] and rescoring_jobs.work(no_job, run_id) == rescoring_jobs.DONE
    assert session.scalar(select(func.count()).where(Assessment.criteria_version_id == world["new"].id)) == 1 + 2
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity == "rescoring_run", AuditEvent.entity_id == run_id)
    ).all()
    assert sorted(actions) == ["fail", "start"]


# --- titles with derived indicators -----------------------------------------------------------------


def _recognise(session, title: str, subject_id: int, unit_id: int, valid_from: date, valid_until: date) -> None:
    """A recognition of `subject_id` (with the decision and decided assessment it needs)."""
    public_id = str(uuid.uuid4())
    version = session.scalar(select(CriteriaVersionRecord).where(CriteriaVersionRecord.title == title))
    assessment = Assessment(
        public_id=public_id,
        request_hash="0" * 64,
        chain_id=public_id,
        revision=1,
        title=title,
        subject_id=subject_id,
        period=valid_from.year,
        unit_id=unit_id,
        reference_date=valid_from,
        criteria_version_id=version.id,
        criteria_content_hash=version.content_hash,
        answers="{}",
        result="{}",
        status="dat",
        total=Decimal(90),
        state="decided",
    )
    decision = Decision(
        unit_id=unit_id,
        number=f"{uuid.uuid4().hex[:8]}/QĐ",
        decided_on=valid_from,
        signer="Chủ tịch",
        title=title,
        period=valid_from.year,
    )
    session.add_all([assessment, decision])
    session.flush()
    session.add(
        Recognition(
            title=title,
            subject_id=subject_id,
            period=valid_from.year,
            unit_id=unit_id,
            decision_id=decision.id,
            assessment_id=assessment.id,
            criteria_version_id=version.id,
            valid_from=valid_from,
            valid_until=valid_until,
        )
    )
    session.flush()


def _clan(session, unit_id: int, households: int, families: int, adults: int, citizens: int) -> int:
    """A clan of `households` households (since 2019), `families` of them Gia đình học tập over
    2021, with `adults` adult members (and a child each) of whom `citizens` hold Công dân học tập."""
    clan = Clan(name="Họ Nguyễn", home_unit_id=unit_id)
    session.add(clan)
    session.flush()
    made_adults = 0
    for n in range(households):
        home = Household(name=f"Hộ {n}")
        session.add(home)
        session.flush()
        session.add(ClanHousehold(clan_id=clan.id, household_id=home.id, joined_on=date(2019, 1, 1)))
        if n < families:
            _recognise(session, "family", home.id, unit_id, date(2021, 1, 15), date(2022, 1, 15))
        for born in (date(1970, 5, 5), date(2015, 5, 5)):
            if born.year < 2000 and made_adults >= adults:
                continue
            person = Person(full_name="Thành viên", birth_date=born)
            session.add(person)
            session.flush()
            session.add(HouseholdMember(household_id=home.id, person_id=person.id, joined_on=date(2019, 1, 1)))
            if born.year < 2000:
                if made_adults < citizens:
                    _recognise(session, "citizen", person.id, unit_id, date(2021, 2, 1), date(2022, 2, 1))
                made_adults += 1
    session.flush()
    return clan.id


def test_a_title_with_derived_indicators_gets_the_values_of_the_per_assessment_path(
    client, app, session, people, monkeypatch
):
    """Clans under QĐ 448 re-scored under the Hội Khuyến học 2022 set, whose two shares (member
    households holding Gia đình học tập, adult members holding Công dân học tập) are counted for
    a whole batch of clans by grouped SQL, on each assessment's own reference date."""
    monkeypatch.setattr(rescoring, "BATCH_SIZE", 3)
    old, new = _version(session, "clan", "qd448-2016"), _version(session, "clan", "hkhvn-2022")
    assert (old.state, new.state) == ("published", "published")
    tx = _commune(session, "00367")
    clans = [
        _clan(session, tx, households=4, families=3, adults=4, citizens=1),
        _clan(session, tx, households=2, families=0, adults=2, citizens=2),
        _clan(session, tx, households=5, families=5, adults=5, citizens=3),
        _clan(session, tx, households=1, families=1, adults=0, citizens=0),
    ]
    rows = []
    for clan_id in clans:
        for day in (date(2021, 6, 30), date(2021, 1, 10)):  # the second: before the recognitions
            row = _open(
                session, old, tx, {"c3_1": True}, group=None, subject_id=clan_id, reference_date=day, scored=False
            )
            rows.append(row)
    session.commit()

    run = _start(client, people["canbo.tx"], title="clan", version="hkhvn-2022").json()
    assert app.state.jobs.wait_idle(60)
    run = client.get(f"{API}/assessment-rescorings/{run['id']}", headers=people["canbo.tx"]).json()
    assert (run["state"], run["processed"], run["problems"], run["batches"]) == ("done", 8, 0, 4)  # 2 parts: 3 + 1
    session.expire_all()
    statuses = set()
    for row in rows:
        revision = session.scalar(select(Assessment).where(Assessment.supersedes_id == row.id))
        result, derived = _expected(session, row, new)
        assert json.loads(revision.derived) == json.loads(json.dumps(derived))
        assert json.loads(revision.result) == json.loads(result.model_dump_json())
        assert (revision.status, revision.total) == (result.status, result.total)
        statuses.add((row.reference_date, derived["c1_1"]["value"], derived["c2_1"]["value"]))
    assert (date(2021, 6, 30), "0.7500", "0.2500") in statuses  # 3 of 4 families, 1 of 4 adults
    assert (date(2021, 1, 10), "0.0000", "0.0000") in statuses  # before the recognitions


def test_derived_values_for_many_subjects_are_those_of_each_one(session):
    """compute_many (one grouped query per indicator) agrees with compute for each subject, for
    every membership a shipped version declares."""
    from app.criteria.service import shipped_files
    from app.rules import load_file
    from tests.test_derived_populations import BUILDERS, R

    versions = {}
    for path in shipped_files():
        version = load_file(path)
        for indicator in version.indicators():
            if indicator.derived is not None:
                versions.setdefault(indicator.derived.population.membership, version)
    for membership, version in versions.items():
        builder = BUILDERS[membership]
        day = getattr(builder, "day", R)
        subjects = [builder(session)[0]]
        if membership in ("clan_households", "clan_members", "organisation_staff"):
            subjects.append(builder(session)[0])
        pairs = [(subject, day) for subject in subjects] + [(subjects[0], day - timedelta(days=400))]
        many = compute_many(session, version, pairs)
        for subject, on in pairs:
            assert many[(subject, on)] == compute(session, version, subject, on), (membership, subject, on)
        session.rollback()


def test_the_unique_index_keeps_an_assessment_superseded_once(session, world):
    from sqlalchemy.exc import IntegrityError

    row = world["open"][0]
    for n in range(2):
        twin = Assessment(
            **{
                column.key: getattr(row, column.key)
                for column in Assessment.__table__.columns
                if column.key not in ("id", "public_id", "supersedes_id")
            },
        )
        twin.public_id, twin.supersedes_id = str(uuid.uuid4()), row.id
        session.add(twin)
        if n == 0:
            session.flush()
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert session.execute(text("SELECT 1")).scalar() == 1
