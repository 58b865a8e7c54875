"""Login and access-token verification: every forged, stale or malformed token is a 401."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt

from app.auth.models import Role
from app.auth.tokens import TokenService
from tests.conftest import make_settings, serve
from tests.helpers import DEFAULT_PASSWORD, assert_problem, bearer, login

ME = "/api/v1/auth/me"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user_id: int, settings, **overrides) -> dict:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "role": "admin",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": "x" * 32,
        "typ": "access",
    }
    claims.update(overrides)
    return claims


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_login_returns_working_access_and_refresh_tokens(client, make_user):
    make_user("admin1")
    tokens = login(client, "Admin1")  # usernames are case-insensitive
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    me = client.get(ME, headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == "admin1"
    assert "password" not in me.text


def test_wrong_password_and_unknown_user_get_the_same_401(client, make_user):
    make_user("admin1")
    wrong = client.post("/api/v1/auth/token", data={"username": "admin1", "password": "sai-mat-khau-123"})
    unknown = client.post("/api/v1/auth/token", data={"username": "nobody", "password": "sai-mat-khau-123"})
    first = assert_problem(wrong, 401, "invalid_credentials")
    second = assert_problem(unknown, 401, "invalid_credentials")
    assert {k: v for k, v in first.items() if k != "request_id"} == {
        k: v for k, v in second.items() if k != "request_id"
    }
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_missing_login_fields_are_named(client):
    body = assert_problem(client.post("/api/v1/auth/token", data={"username": "a"}), 422, "validation_failed")
    assert [error["field"] for error in body["errors"]] == ["body.password"]


def test_protected_endpoint_without_token_is_401(client):
    assert_problem(client.get(ME), 401, "not_authenticated")
    assert_problem(client.get("/api/v1/users"), 401, "not_authenticated")


def test_expired_token_is_401(client, make_user, app, settings):
    user = make_user("admin1")
    service: TokenService = app.state.tokens
    token, _ = service.issue_access_token(
        user.id, user.role, user.credential_version, now=datetime.now(UTC) - timedelta(hours=1)
    )
    assert_problem(client.get(ME, headers=bearer(token)), 401, "token_expired")


def test_token_signed_with_another_key_is_401(client, make_user, settings):
    user = make_user("admin1")
    forged = jwt.encode(
        _claims(user.id, settings),
        "another-secret-of-at-least-32-bytes!!",
        algorithm="HS256",
        headers={"kid": "dev-hs256"},
    )
    assert_problem(client.get(ME, headers=bearer(forged)), 401, "invalid_token")


def test_unsigned_alg_none_token_is_401(client, make_user, settings):
    user = make_user("admin1")
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'dev-hs256'})}.{_b64(_claims(user.id, settings))}."
    assert_problem(client.get(ME, headers=bearer(unsigned)), 401, "invalid_token")


def test_token_with_algorithm_outside_the_allowed_list_is_401(client, make_user, settings):
    user = make_user("admin1")
    # Right secret, wrong algorithm: HS512 is not in the allowed list.
    token = jwt.encode(
        _claims(user.id, settings),
        settings.secret_key.get_secret_value(),
        algorithm="HS512",
        headers={"kid": "dev-hs256"},
    )
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize(
    "claims_change",
    [
        {"aud": "some-other-api"},
        {"iss": "someone-else"},
        {"typ": "refresh"},
        {"sub": "not-a-number"},
    ],
    ids=["audience", "issuer", "type", "subject"],
)
def test_token_for_another_audience_issuer_or_purpose_is_401(client, make_user, settings, claims_change):
    user = make_user("admin1")
    token = jwt.encode(
        _claims(user.id, settings, **claims_change),
        settings.secret_key.get_secret_value(),
        algorithm="HS256",
        headers={"kid": "dev-hs256"},
    )
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize(
    "header", ["Bearer garbage", "Bearer a.b.c", "Bearer", "Basic YWRtaW46eA==", "Bearer " + "x" * 5000]
)
def test_malformed_tokens_are_401(client, header):
    response = client.get(ME, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_deactivated_user_token_stops_working(client, make_user):
    make_user("admin1")
    other = make_user("admin2")
    admin_token = login(client, "admin1")["access_token"]
    victim = login(client, "admin2")
    response = client.patch(f"/api/v1/users/{other.id}", json={"is_active": False}, headers=bearer(admin_token))
    assert response.status_code == 200, response.text
    assert_problem(client.get(ME, headers=bearer(victim["access_token"])), 401, "invalid_token")
    refreshed = client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": victim["refresh_token"]}
    )
    assert_problem(refreshed, 401, "invalid_refresh_token")
    assert_problem(
        client.post("/api/v1/auth/token", data={"username": "admin2", "password": DEFAULT_PASSWORD}),
        401,
        "invalid_credentials",
    )


def test_refresh_rotates_and_a_reused_token_revokes_the_family(client, make_user):
    make_user("admin1")
    first = login(client, "admin1")

    def refresh(token: str) -> httpx.Response:
        return client.post("/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": token})

    second = refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    second_tokens = second.json()
    assert second_tokens["refresh_token"] != first["refresh_token"]
    assert client.get(ME, headers=bearer(second_tokens["access_token"])).status_code == 200
    # Replaying the used token is a theft signal: it fails and kills the newer one too.
    assert_problem(refresh(first["refresh_token"]), 401, "invalid_refresh_token")
    assert_problem(refresh(second_tokens["refresh_token"]), 401, "invalid_refresh_token")


def test_revoke_logs_out(client, make_user):
    make_user("admin1")
    tokens = login(client, "admin1")
    assert client.post("/api/v1/auth/revoke", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    again = client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert_problem(again, 401, "invalid_refresh_token")
    # Unknown tokens are accepted silently (RFC 7009), so the endpoint is no token oracle.
    assert client.post("/api/v1/auth/revoke", json={"refresh_token": "nope"}).status_code == 204


def test_password_change_invalidates_existing_sessions(client, make_user):
    make_user("admin1")
    old = login(client, "admin1")
    wrong = client.post(
        "/api/v1/auth/password",
        headers=bearer(old["access_token"]),
        json={"current_password": "khong-dung-123", "new_password": "mat-khau-moi-12345"},
    )
    assert assert_problem(wrong, 422, "validation_failed")["errors"][0]["field"] == "body.current_password"
    changed = client.post(
        "/api/v1/auth/password",
        headers=bearer(old["access_token"]),
        json={"current_password": DEFAULT_PASSWORD, "new_password": "mat-khau-moi-12345"},
    )
    assert changed.status_code == 204
    assert_problem(
        client.post("/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]}),
        401,
        "invalid_refresh_token",
    )
    new = login(client, "admin1", "mat-khau-moi-12345")
    assert client.get(ME, headers=bearer(new["access_token"])).status_code == 200


@pytest.fixture(scope="module")
def es256_server(database_url):
    """A second app on the same database, signing with ES256 and a key id, as in production."""
    pem = _ec_pem()
    settings = make_settings(
        database_url,
        jwt_algorithm="ES256",
        jwt_private_key=pem,
        jwt_kid="key-2026",
        argon2_memory_cost_kib=1024,
        argon2_time_cost=1,
    )
    from app.main import create_app

    app = create_app(settings)
    with serve(app) as url:
        yield url, settings, pem


def test_es256_tokens_verify_with_the_published_jwks(es256_server, make_user):
    url, settings, _ = es256_server
    make_user("admin1")
    with httpx.Client(base_url=url) as client:
        jwks = client.get("/.well-known/jwks.json").json()
        # The access-token key, then the keys that sign credentials (a key of their own).
        access = [k for k in jwks["keys"] if k["kid"] == "key-2026"]
        assert [(k["kid"], k["alg"], k["kty"], k["use"]) for k in access] == [("key-2026", "ES256", "EC", "sig")]
        assert len(jwks["keys"]) == 2
        assert all("d" not in key for key in jwks["keys"])  # never the private part
        token = login(client, "admin1")["access_token"]
        assert jwt.get_unverified_header(token)["kid"] == "key-2026"
        # An independent verifier needs only the published key.
        claims = jwt.decode(token, access[0], algorithms=["ES256"], audience=settings.jwt_audience)
        assert claims["role"] == Role.ADMIN
        assert client.get(ME, headers=bearer(token)).status_code == 200


def test_es256_server_rejects_other_keys_and_algorithm_confusion(es256_server, make_user):
    url, settings, pem = es256_server
    user = make_user("admin1")
    claims = _claims(user.id, settings)
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    forged = {
        "another EC key, same kid": jwt.encode(claims, _ec_pem(), algorithm="ES256", headers={"kid": "key-2026"}),
        "unknown kid": jwt.encode(claims, pem, algorithm="ES256", headers={"kid": "other"}),
        "RS256 not allowed": jwt.encode(claims, rsa_pem, algorithm="RS256", headers={"kid": "key-2026"}),
        "development HS256 token": jwt.encode(
            claims, settings.secret_key.get_secret_value(), algorithm="HS256", headers={"kid": "dev-hs256"}
        ),
    }
    with httpx.Client(base_url=url) as client:
        for name, token in forged.items():
            response = client.get(ME, headers=bearer(token))
            assert response.status_code == 401, name
            assert response.json()["code"] == "invalid_token", name


def test_es256_server_rejects_hs256_token_keyed_with_its_public_key(es256_server, make_user):
    """Algorithm confusion (CVE-2024-33663): made by hand, as python-jose refuses to sign it."""
    import hashlib
    import hmac

    url, settings, pem = es256_server
    user = make_user("admin1")
    public_pem = (
        serialization.load_pem_private_key(pem.encode(), None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': 'key-2026'})}.{_b64(_claims(user.id, settings))}"
    signature = (
        base64.urlsafe_b64encode(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    with httpx.Client(base_url=url) as client:
        assert_problem(client.get(ME, headers=bearer(f"{signing_input}.{signature}")), 401, "invalid_token")
