"""The public title check and the service's hardening: limits, headers, CORS, throttling."""

from __future__ import annotations

import statistics
import time
import uuid

import httpx
import pytest

from app import clock
from app.assessments.service import add_months
from app.auth.models import Role
from app.main import create_app
from tests.conftest import make_settings, serve
from tests.helpers import DEFAULT_PASSWORD, assert_problem, bearer, login, today

API = "/api/v1"
CCCD = "001090011223"
BIRTH = "1990-04-15"
CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}


@pytest.fixture
def recognised_citizen(client, make_user):
    """A person with CCCD and a recognised Công dân học tập title, through the API."""
    make_user("thamdinh.a", Role.ASSESSOR, ["00367"])
    make_user("thamdinh.b", Role.ASSESSOR, ["00367"])
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    a, b, officer = (bearer(login(client, name)["access_token"]) for name in ("thamdinh.a", "thamdinh.b", "canbo.tx"))
    person = client.post(
        f"{API}/people",
        headers=a,
        json={
            "full_name": "Trương Văn Lực",
            "birth_date": BIRTH,
            "national_id": CCCD,
            "unit_code": "00367",
            "resident_since": "2025-07-01",
        },
    ).json()
    filed = client.post(
        f"{API}/assessments",
        headers=a,
        json={
            "id": str(uuid.uuid4()),
            "title": "citizen",
            "subject_id": person["id"],
            "period": 2025,
            "subject_group": "commune_resident",
            "answers": CITIZEN_ALL_8,
            "submit": True,
        },
    )
    reviewed = client.post(
        f"{API}/assessments/{filed.json()['id']}/transitions",
        json={"action": "review"},
        headers={**b, "If-Match": filed.headers["etag"]},
    )
    decision = client.post(
        f"{API}/decisions",
        headers=officer,
        json={
            "commune_code": "00367",
            "number": "20/QĐ-UBND",
            "decided_on": today(),
            "signer": "Chủ tịch",
            "title": "citizen",
            "period": 2025,
            "assessment_ids": [reviewed.json()["id"]],
        },
    )
    assert decision.status_code == 201, decision.text
    return person


def check(client, national_id=CCCD, birth=BIRTH, **headers):
    return client.post(f"{API}/title-checks", json={"national_id": national_id, "birth_date": birth}, headers=headers)


def test_title_check_shows_only_titles_years_and_states(client, recognised_citizen):
    response = check(client)
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {"title": "citizen", "year": 2025, "state": "active", "valid_until": str(add_months(clock.today(), 12))}
        ],
        "total": 1,
    }
    assert "Trương" not in response.text and "00367" not in response.text


def test_unknown_id_and_wrong_birth_date_are_indistinguishable(client, recognised_citizen):
    unknown = check(client, national_id="001099999999")
    wrong = check(client, birth="1990-04-16")
    assert unknown.status_code == wrong.status_code == 200
    assert unknown.json() == wrong.json() == {"items": [], "total": 0}
    assert unknown.headers["content-length"] == wrong.headers["content-length"]
    assert set(unknown.headers) == set(wrong.headers)


def test_title_check_timing_does_not_separate_the_two_cases(database_url):
    """Both failure paths run the same queries; their medians stay close."""
    app = create_app(
        make_settings(
            database_url,
            title_check_per_address_per_minute=10_000,
            title_check_per_address_per_day=10_000,
            title_check_per_id_per_network_per_day=10_000,
        )
    )
    with serve(app) as base, httpx.Client(base_url=base) as client:
        unknown, wrong = [], []
        for index in range(30):
            for bucket, body in (
                (unknown, {"national_id": f"0010999{index:05d}", "birth_date": BIRTH}),
                (wrong, {"national_id": CCCD, "birth_date": "1991-01-01"}),
            ):
                started = time.perf_counter()
                client.post(f"{API}/title-checks", json=body)
                bucket.append(time.perf_counter() - started)
    fast, slow = sorted((statistics.median(unknown), statistics.median(wrong)))
    assert slow < fast * 3  # a real oracle (a query skipped on one path) shows as a large, steady gap


def test_the_11th_request_in_a_minute_from_one_address_is_429(client):
    for index in range(10):
        assert check(client, national_id=f"00109000{index:04d}").status_code == 200
    limited = check(client, national_id="001090009999")
    problem = assert_problem(limited, 429, "too_many_requests")
    assert int(limited.headers["retry-after"]) >= 1
    assert "001090009999" not in problem["detail"]


def test_title_check_refuses_malformed_input_without_echoing_it(client):
    response = check(client, national_id="12345")
    problem = assert_problem(response, 422, "validation_failed")
    assert "12345" not in response.text
    assert problem["errors"][0]["field"] == "body.national_id"


def test_logins_are_throttled_per_account_and_address(client, make_user):
    make_user("quantri")
    for _ in range(10):
        response = client.post(f"{API}/auth/token", data={"username": "quantri", "password": "sai-mat-khau-1"})
        assert response.status_code == 401
    blocked = client.post(f"{API}/auth/token", data={"username": "quantri", "password": DEFAULT_PASSWORD})
    assert_problem(blocked, 429, "too_many_requests")
    assert blocked.headers["retry-after"]
    # Another account from the same address is not blocked by this one's failures.
    make_user("canbo", Role.COMMUNE_OFFICER, ["00367"])
    assert login(client, "canbo")["access_token"]


def test_security_headers_on_every_response(client):
    for response in (client.get("/healthz"), client.get(f"{API}/units/00367"), client.get(f"{API}/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in client.get("/docs").headers["content-security-policy"]


def test_bodies_over_the_limit_are_refused(database_url):
    app = create_app(make_settings(database_url, max_body_bytes=2_000))
    with serve(app) as base, httpx.Client(base_url=base) as client:
        big = client.post(
            f"{API}/title-checks", content=b"{" + b" " * 5_000 + b"}", headers={"content-type": "application/json"}
        )
        assert_problem(big, 413, "payload_too_large")

        def chunks():
            for _ in range(10):
                yield b" " * 1_000

        streamed = client.post(f"{API}/title-checks", content=chunks(), headers={"content-type": "application/json"})
        assert_problem(streamed, 413, "payload_too_large")


def test_cors_allows_only_configured_origins(database_url):
    app = create_app(make_settings(database_url, cors_origins=["https://phuongthanhxuan.hanoi.gov.vn"]))
    with serve(app) as base, httpx.Client(base_url=base) as client:
        allowed = client.options(
            f"{API}/units/00367/progress",
            headers={"Origin": "https://phuongthanhxuan.hanoi.gov.vn", "Access-Control-Request-Method": "GET"},
        )
        assert allowed.headers["access-control-allow-origin"] == "https://phuongthanhxuan.hanoi.gov.vn"
        other = client.get(f"{API}/units/00367", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_page_sizes_are_capped(client, make_user):
    make_user("quantri")
    headers = bearer(login(client, "quantri")["access_token"])
    for path in ("/units", "/people", "/assessments", "/recognitions", "/audit", "/users", "/criteria/versions"):
        assert_problem(client.get(f"{API}{path}", params={"limit": 201}, headers=headers), 422, "validation_failed")


def test_production_hides_docs_and_sends_hsts(database_url):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    settings = make_settings(
        database_url,
        environment="production",
        secret_key="s" * 40,
        national_id_key="n" * 40,
        jwt_algorithm="ES256",
        jwt_private_key=pem,
        jwt_kid="k1",
        public_base_url="https://hoctap.example.vn",
    )
    with serve(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/healthz").headers["strict-transport-security"].startswith("max-age=")
