"""Signed credentials of recognitions: issued with the decision, verified through the API and
the public page, revoked and suspended through W3C Bitstring Status Lists changed in the same
transaction, keys rotated, documents printed, and nothing personal inside any of them."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import delete, func, select

from app.assessments.models import Recognition
from app.assessments.service import revoke
from app.auth.principal import SYSTEM
from app.auth.tokens import CredentialKeys, rotate_credential_key
from app.credentials import service, statuslist
from app.credentials.models import Credential, StatusList
from app.main import create_app
from app.wiring import session_factory
from tests import test_registry_e2e
from tests.conftest import CREDENTIAL_KEY_DIR, make_settings, serve
from tests.helpers import assert_problem
from tests.test_registry_e2e import CCCD, CITIZEN_ALL_8, assess, decide, on_day, person, review

API = "/api/v1"
desks = test_registry_e2e.desks  # the same five accounts as the end-to-end test


@pytest.fixture
def recognised(client, desks):
    """Two people of a residential group of Phường Thanh Xuân recognised as Công dân học tập
    2025 by decision 01/QĐ-UBND; one chose to have their name in the credential later."""
    a, b, officer = desks["a"], desks["b"], desks["officer"]
    with on_day("2025-12-10", desks):
        village = officer.post(
            "/units/00367/villages", {"name": "Tổ dân phố số 7", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
        ).json()["code"]
        people = [
            person(a, "Nguyễn Văn An", village, CCCD[0], birth="1985-03-02"),
            person(a, "Trần Thị Bình", village, CCCD[1], birth="1987-07-09"),
        ]
        reviewed = []
        for one in people:
            assessment, _, _ = assess(a, "citizen", one["id"], 2025, CITIZEN_ALL_8, group="commune_resident")
            reviewed.append(review(b, assessment))
    with on_day("2026-01-15", desks):
        decision = decide(officer, "01/QĐ-UBND", "citizen", 2025, reviewed, decided_on="2026-01-15")
    return {"decision": decision, "people": people, "village": village}


def payload_of(token: str) -> dict:
    """The signed JSON of a compact JWS, read without checking it."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def header_of(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def verify(client, token: str) -> dict:
    response = client.post(API + "/credentials/verify", json={"credential": token})
    assert response.status_code == 200, response.text
    return response.json()


def first_code(recognised) -> str:
    return recognised["decision"]["recognitions"][0]["credentials"][0]


def status_bit(client, number: int, purpose: str, index: int) -> bool:
    response = client.get(f"{API}/status-lists/{number}/{purpose}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/vc+jwt")
    subject = payload_of(response.text)["credentialSubject"]
    assert subject["statusPurpose"] == purpose
    bits = statuslist.decode(subject["encodedList"])
    assert len(bits) * 8 == statuslist.SIZE
    return statuslist.get_bit(bits, index)


def test_each_recognition_gets_a_signed_credential_that_verifies(client, desks, recognised):
    officer = desks["officer"]
    recognitions = recognised["decision"]["recognitions"]
    assert [len(r["credentials"]) for r in recognitions] == [1, 1]
    one = officer.get(f"/credentials/{first_code(recognised)}").json()
    assert one["status"] == "valid" and one["recognition_id"] == recognitions[0]["id"]
    header, document = header_of(one["credential"]), payload_of(one["credential"])
    assert header["alg"] == "ES256" and header["typ"] == "vc+jwt" and header["kid"] == one["kid"]
    assert document == one["document"]
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert document["issuer"]["name"] == "UBND Phường Thanh Xuân"
    assert document["credentialSubject"]["id"].startswith("urn:uuid:")
    assert "name" not in document["credentialSubject"]  # a person's name only when they ask
    assert document["credentialSubject"]["achievement"]["name"] == "Công dân học tập"
    assert document["recognition"] == {
        "title": "citizen",
        "period": 2025,
        "level": None,
        "decision": {"number": "01/QĐ-UBND", "date": "2026-01-15"},
        "criteriaVersion": {"id": "qd324-2023", "provisional": True},
    }
    assert (document["validFrom"], document["validUntil"]) == ("2026-01-15T00:00:00+07:00", "2027-01-15T00:00:00+07:00")
    assert {entry["statusPurpose"] for entry in document["credentialStatus"]} == {"revocation", "suspension"}
    # The published key verifies it, and the API says so.
    kids = {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
    assert one["kid"] in kids
    result = verify(client, one["credential"])
    assert result["status"] == "valid" and result["credential"]["decision_number"] == "01/QĐ-UBND"
    assert result["credential"]["provisional"] is True


def test_changing_any_character_makes_it_invalid(client, desks, recognised, app, session):
    token = desks["officer"].get(f"/credentials/{first_code(recognised)}").json()["credential"]
    signing = app.state.credential_signing
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    survivors = []
    for position, char in enumerate(token):
        if char == ".":
            continue
        for other in (alphabet[(alphabet.index(char) + 1) % 64], alphabet[(alphabet.index(char) + 17) % 64]):
            changed = token[:position] + other + token[position + 1 :]
            if service.verify(session, signing.keys, signing.base_url, changed).status != "invalid":
                survivors.append(position)
    assert survivors == []
    # And through the API, a few of them: the header, the body and the signature.
    for position in (5, len(token) // 2, len(token) - 3):
        changed = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
        assert verify(client, changed)["status"] == "invalid"
    assert verify(client, "not-a-credential")["reason"] == "malformed"


def test_revocation_flips_the_status_bit(client, desks, recognised):
    officer = desks["officer"]
    recognition = recognised["decision"]["recognitions"][0]
    one = officer.get(f"/credentials/{first_code(recognised)}").json()
    entry = payload_of(one["credential"])["credentialStatus"][0]
    number = int(entry["statusListCredential"].rsplit("/", 2)[-2])
    index = int(entry["statusListIndex"])
    before = client.get(f"{API}/status-lists/{number}/revocation")
    assert before.headers["cache-control"] == "public, max-age=300"
    assert (
        client.get(
            f"{API}/status-lists/{number}/revocation", headers={"If-None-Match": before.headers["etag"]}
        ).status_code
        == 304
    )
    assert not status_bit(client, number, "revocation", index)
    officer.post(f"/recognitions/{recognition['id']}/revoke", {"reason": "Khai báo không trung thực"})
    assert status_bit(client, number, "revocation", index)
    after = client.get(f"{API}/status-lists/{number}/revocation", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    assert verify(client, one["credential"])["status"] == "revoked"
    assert officer.get(f"/credentials/{one['id']}").json()["status"] == "revoked"
    # The other holder's credential is untouched.
    other = recognised["decision"]["recognitions"][1]["credentials"][0]
    assert verify(client, officer.get(f"/credentials/{other}").json()["credential"])["status"] == "valid"


def test_revocation_and_its_status_bit_are_one_transaction(engine, desks, recognised):
    recognition_id = recognised["decision"]["recognitions"][0]["id"]

    def bit(connection_or_session) -> bool:
        credential = connection_or_session.execute(
            select(Credential.status_list, Credential.status_index).where(Credential.recognition_id == recognition_id)
        ).one()
        bits = connection_or_session.execute(
            select(StatusList.bits).where(StatusList.number == credential[0], StatusList.purpose == "revocation")
        ).scalar_one()
        return statuslist.get_bit(bits, credential[1])

    for outcome in ("rollback", "commit"):
        with session_factory(engine)() as session:
            revoke(session, SYSTEM, session.get(Recognition, recognition_id), "Thu hồi để thử")
            assert bit(session)  # inside the transaction, the list already says revoked ...
            with engine.connect() as other:
                assert not bit(other)  # ... and nobody else sees either change yet
                assert (
                    other.execute(select(Recognition.revoked_at).where(Recognition.id == recognition_id)).scalar()
                    is None
                )
            getattr(session, outcome)()
        with engine.connect() as other:
            revoked = other.execute(select(Recognition.revoked_at).where(Recognition.id == recognition_id)).scalar()
            assert bit(other) is (outcome == "commit") and (revoked is not None) is (outcome == "commit")


def test_suspension_and_reinstatement(client, desks, recognised):
    officer, assessor = desks["officer"], desks["a"]
    code = first_code(recognised)
    token = officer.get(f"/credentials/{code}").json()["credential"]
    assert_problem(
        assessor.post(f"/credentials/{code}/suspension", {"reason": "Đang xác minh"}, expect=(403,)), 403, "forbidden"
    )
    suspended = officer.post(f"/credentials/{code}/suspension", {"reason": "Đang xác minh khiếu nại"}).json()
    assert suspended["status"] == "suspended" and suspended["suspended_reason"] == "Đang xác minh khiếu nại"
    assert verify(client, token)["status"] == "suspended"
    assert_problem(
        officer.post(f"/credentials/{code}/suspension", {"reason": "Lần nữa"}, expect=(409,)), 409, "already_suspended"
    )
    response = officer.client.delete(f"{API}/credentials/{code}/suspension", headers=officer.headers)
    assert response.status_code == 200 and response.json()["status"] == "valid"
    assert verify(client, token)["status"] == "valid"


def test_expired_after_valid_until(client, desks, recognised):
    token = desks["officer"].get(f"/credentials/{first_code(recognised)}").json()["credential"]
    with on_day("2027-01-14", desks):
        assert verify(client, token)["status"] == "valid"
    with on_day("2027-01-15", desks):
        assert verify(client, token)["status"] == "expired"
    with on_day("2026-01-14", desks):  # before the decision
        assert verify(client, token) | {"credential": None} == {
            "status": "invalid",
            "reason": "not_yet_valid",
            "message": "Giấy công nhận chưa đến ngày có hiệu lực.",
            "credential": None,
        }


def test_retired_keys_keep_verifying_and_unknown_keys_fail(tmp_path, database_url, session, desks, recognised):
    keys_dir = tmp_path / "keys"
    first = CredentialKeys(keys_dir, create=True)
    facts = service.recognition_facts(session, Recognition.id == recognised["decision"]["recognitions"][0]["id"])
    old = service.issue(session, first, "http://127.0.0.1:8000", SYSTEM, facts)[0]
    session.commit()
    old_kid, new_kid = rotate_credential_key(keys_dir)
    assert (old_kid, old_kid != new_kid) == (first.kid, True)
    rotated = create_app(make_settings(database_url, credential_key_dir=keys_dir))
    with serve(rotated) as base, httpx.Client(base_url=base) as client:
        published = {key["kid"]: key for key in client.get("/.well-known/jwks.json").json()["keys"]}
        assert {old_kid, new_kid} <= published.keys()
        assert all("d" not in key and key["kty"] == "EC" and key["crv"] == "P-256" for key in published.values())
        assert verify(client, old.token)["status"] == "valid"  # signed by the retired key
        # A key nobody published: the same document, signed elsewhere, is refused.
        stranger = CredentialKeys(tmp_path / "stranger", create=True)
        forged = stranger.sign(payload_of(old.token))
        assert verify(client, forged) | {"credential": None} == {
            "status": "invalid",
            "reason": "unknown_key",
            "message": "Giấy công nhận được ký bằng một khóa không được công bố.",
            "credential": None,
        }
    # New credentials are signed with the new key.
    again = service.issue(session, rotated.state.credential_signing.keys, "http://127.0.0.1:8000", SYSTEM, facts)[0]
    assert header_of(again.token)["kid"] == new_kid and again.subject_ref == old.subject_ref
    session.rollback()


def test_reissue_with_the_holders_name(client, desks, recognised):
    officer = desks["officer"]
    recognition = recognised["decision"]["recognitions"][0]
    named = officer.post(f"/recognitions/{recognition['id']}/credentials", {"include_name": True}).json()
    assert named["includes_name"] is True and named["document"]["credentialSubject"]["name"] == "Nguyễn Văn An"
    listed = officer.get(f"/recognitions/{recognition['id']}/credentials").json()
    assert listed["total"] == 2
    first, second = (item["document"]["credentialSubject"]["id"] for item in listed["items"])
    assert first == second  # the same opaque subject
    assert verify(client, named["credential"])["credential"]["holder_name"] == "Nguyễn Văn An"
    # Revoking the recognition revokes every credential of it.
    officer.post(f"/recognitions/{recognition['id']}/revoke", {"reason": "Khai báo không trung thực"})
    assert {
        item["status"] for item in officer.get(f"/recognitions/{recognition['id']}/credentials").json()["items"]
    } == {"revoked"}
    # Another commune's assessor sees none of it.
    desks["other"].get(f"/credentials/{named['id']}", expect=(404,))


def test_verify_page(client, desks, recognised):
    code = first_code(recognised)
    page = client.get(f"/verify/{code}")
    assert page.status_code == 200 and "Hợp lệ" in page.text and "01/QĐ-UBND" in page.text
    assert "Tạm thời" in page.text and "15/01/2026" in page.text and "14/01/2027" in page.text
    assert "'self'" in page.headers["content-security-policy"]
    token = desks["officer"].get(f"/credentials/{code}").json()["credential"]
    pasted = client.post("/verify", data={"credential": token})
    assert pasted.status_code == 200 and "Hợp lệ" in pasted.text
    assert "Hợp lệ" in client.get(f"/verify/{token}").text
    unknown = client.get("/verify/AAAAAAAAAAAAAAAA")
    assert unknown.status_code == 404 and "Không hợp lệ" in unknown.text
    desks["officer"].post(
        f"/recognitions/{recognised['decision']['recognitions'][0]['id']}/revoke", {"reason": "Sai sót hồ sơ"}
    )
    assert "Đã thu hồi" in client.get(f"/verify/{code}").text


def test_issue_missing_gives_older_recognitions_their_credentials(database_url, session, desks, recognised, tmp_path):
    """Recognitions recorded before credentials existed get theirs from `hoctap credentials
    issue-missing`; running it again issues nothing."""
    session.execute(delete(Credential))
    session.commit()
    env = {
        **os.environ,
        "HOCTAP_DATABASE_URL": database_url,
        "HOCTAP_CREDENTIAL_KEY_DIR": str(CREDENTIAL_KEY_DIR),
    }
    command = [sys.executable, "-c", "from app.cli import main; main()", "credentials", "issue-missing"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0 and "2 giấy" in first.stdout, first.stderr
    assert session.scalar(select(func.count()).select_from(Credential)) == 2
    second = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert second.returncode == 0 and "0 giấy" in second.stdout
    code = session.scalars(select(Credential.code)).first()
    assert desks["officer"].get(f"/credentials/{code}").json()["status"] == "valid"
