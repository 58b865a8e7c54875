"""Runs last (by name): the logs of the whole test run hold no national ID, password or token.

It first makes the traffic that would leak them if anything logged bodies, headers or query
strings, then reads every record the run logged (conftest sends them all to one file)."""

from __future__ import annotations

import logging
import re
import uuid

from app.auth.models import Role
from tests.helpers import DEFAULT_PASSWORD, bearer, login

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
    leaks = {
        "the national ID": NATIONAL_ID in text,
        "a test password": DEFAULT_PASSWORD in text or "mat-khau-" in text,
        "an access token": tokens["access_token"] in text or re.search(r"eyJ[A-Za-z0-9_-]{10,}\.", text) is not None,
        "a refresh token": tokens["refresh_token"] in text,
        "a 12-digit number": re.search(r"(?<![0-9a-fA-F-])0[0-9]{11}(?![0-9])", text) is not None,
    }
    assert [name for name, leaked in leaks.items() if leaked] == []
