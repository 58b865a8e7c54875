"""The logs hold no national ID, password or token. This test makes the traffic that would leak
them if anything logged bodies, headers or query strings, and reads the records the run has
logged so far (conftest sends them all to one file); the whole run's file is checked again when
the session ends (conftest.py `pytest_sessionfinish`), whatever order the tests ran in."""

from __future__ import annotations

import logging
import uuid

from app.auth.models import Role
from tests.helpers import DEFAULT_PASSWORD, bearer, login
from tests.log_leaks import leaks

NATIONAL_ID = "001188123456"


def test_no_personal_data_or_secret_in_the_logs(client, make_user, request):
    make_user("canbo.logs", Role.COMMUNE_OFFICER, ["00367"])
    tokens = login(client, "canbo.logs")
    headers = bearer(tokens["access_token"])
    client.post(
        "/api/v1/people",
        headers=headers,
        json={"full_name": "Lò Văn Nhật", "birth_date": "1988-01-01", "national_id": NATIONAL_ID, "unit_code": "00367"},
    )
    client.post("/api/v1/people-searches", headers=headers, json={"national_id": NATIONAL_ID})
    client.post("/api/v1/title-checks", json={"national_id": NATIONAL_ID, "birth_date": "1988-01-02"})
    client.post("/api/v1/title-checks", json={"national_id": NATIONAL_ID + "9", "birth_date": "1988-01-02"})
    client.post("/api/v1/auth/token", data={"username": "canbo.logs", "password": "sai-" + DEFAULT_PASSWORD})
    client.post("/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    client.get(
        "/api/v1/people", headers={"Authorization": "Bearer " + tokens["access_token"] + "x"}, params={"q": NATIONAL_ID}
    )
    client.get(f"/api/v1/assessments/{uuid.uuid4()}", headers=headers)
    # A national ID typed where a code belongs, in a path, and as a request id.
    client.get(f"/api/v1/units/{NATIONAL_ID}")
    client.get(f"/api/v1/tra-cuu/{NATIONAL_ID}/1988-01-01")
    client.get("/healthz", headers={"X-Request-ID": NATIONAL_ID})
    for handler in logging.getLogger().handlers:
        handler.flush()

    text = request.config.hoctap_log.read_text(encoding="utf-8")
    assert '"name": "hoctap.access"' in text and "/api/v1/people-searches" in text  # the service's logs are there
    assert leaks(text, NATIONAL_ID, tokens["access_token"], tokens["refresh_token"]) == []


def test_the_leak_check_finds_what_it_looks_for():
    assert leaks('{"message": "person 001188123456"}') == ["a 12-digit national ID"]
    assert leaks('"Authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.sig"') == ["a token (JWT)"]
    assert leaks(f"login {DEFAULT_PASSWORD}") == ["a test password"]
    assert leaks("refresh abcdef", "abcdef") == ["a given secret (abcd…)"]
    assert leaks('{"request_id": "0f6bd4a92f0444a0b467b25289dfbc36", "duration_ms": 4.01}') == []
