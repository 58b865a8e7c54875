"""Probes, request ids, problem+json for every kind of failure, settings that refuse unsafe
production configurations, and the offline API docs."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text

from app.config import DEVELOPMENT_SECRET, Settings
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import make_settings, serve
from tests.helpers import assert_problem

STRONG_SECRET = "s" * 48


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


def test_every_response_carries_a_request_id(client):
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    # A caller's own id is never taken (it would go into every log line of the request, and
    # could carry a national ID): the service's id is returned for the caller to keep.
    for sent in ("portal-abc-123", "079180001111", 'x" injected'):
        answered = client.get("/healthz", headers={"X-Request-ID": sent}).headers["x-request-id"]
        assert answered != sent and len(answered) == 32
    problem = client.get("/api/v1/nowhere")
    assert problem.json()["request_id"] == problem.headers["x-request-id"]


def test_framework_errors_are_problems(client):
    assert_problem(client.get("/api/v1/nowhere"), 404, "not_found")
    assert_problem(client.delete("/healthz"), 405, "method_not_allowed")
    body = assert_problem(
        client.post("/api/v1/auth/revoke", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["code"] == "json_invalid"


def test_unexpected_errors_are_a_generic_500_problem(database_url):
    app = create_app(make_settings(database_url))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    with serve(app) as url, httpx.Client(base_url=url) as client:
        response = client.get("/boom")
    body = assert_problem(response, 500, "internal_error")
    assert "secret internal detail" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]


def test_readyz_is_503_until_migrations_are_applied(database_factory):
    with database_factory() as url:
        app = create_app(make_settings(url))
        with serve(app) as base, httpx.Client(base_url=base) as client:
            assert client.get("/healthz").status_code == 200
            assert_problem(client.get("/readyz"), 503, "migrations_pending")
            upgrade(url)
            assert client.get("/readyz").status_code == 200
        app.state.engine.dispose()


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path):
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1"
    app = create_app(make_settings(url))
    with serve(app) as base, httpx.Client(base_url=base) as client:
        assert_problem(client.get("/readyz"), 503, "database_unavailable")


def test_connections_enforce_foreign_keys(engine):
    from sqlalchemy.exc import IntegrityError

    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":  # SQLite needs WAL and FKs switched on per connection
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        with pytest.raises(IntegrityError):
            connection.execute(text("INSERT INTO user_units (user_id, unit_id) VALUES (424242, 434343)"))
        connection.rollback()


class TestSettings:
    def test_development_defaults_are_allowed(self):
        settings = Settings(_env_file=None)
        assert settings.sqlalchemy_url.startswith("sqlite:///")
        assert settings.show_docs

    @pytest.mark.parametrize(
        ("values", "complaint"),
        [
            ({}, "HOCTAP_SECRET_KEY"),
            ({"secret_key": DEVELOPMENT_SECRET}, "HOCTAP_SECRET_KEY"),
            ({"secret_key": "short"}, "HOCTAP_SECRET_KEY"),
            ({"secret_key": STRONG_SECRET}, "HOCTAP_NATIONAL_ID_KEY"),
            ({"secret_key": STRONG_SECRET, "national_id_key": "n" * 40}, "ES256 or RS256"),
            ({"secret_key": STRONG_SECRET, "jwt_algorithm": "ES256"}, "HOCTAP_JWT_PRIVATE_KEY"),
            (
                {
                    "secret_key": STRONG_SECRET,
                    "national_id_key": "n" * 40,
                    "jwt_algorithm": "ES256",
                    "jwt_private_key": "pem",
                },
                "HOCTAP_JWT_KID",
            ),
            (
                {
                    "secret_key": STRONG_SECRET,
                    "national_id_key": "n" * 40,
                    "jwt_algorithm": "ES256",
                    "jwt_private_key": "pem",
                    "jwt_kid": "k1",
                },
                "HOCTAP_PUBLIC_BASE_URL",
            ),
        ],
    )
    def test_production_refuses_default_or_missing_secrets(self, values, complaint):
        with pytest.raises(ValidationError, match=complaint):
            Settings(_env_file=None, environment="production", **values)

    def test_production_with_keys_starts_without_docs(self, database_url, tmp_path):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        pem = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            .decode()
        )
        settings = make_settings(
            database_url,
            environment="production",
            secret_key=STRONG_SECRET,
            national_id_key="n" * 40,
            jwt_algorithm="RS256",
            jwt_private_key=pem,
            jwt_kid="rsa-1",
            public_base_url="https://hoctap.example.vn",
        )
        assert not settings.show_docs
        # Production never makes its own credential signing key: it must be given one.
        with pytest.raises(ValueError, match="hoctap credentials new-key"):
            create_app(settings.model_copy(update={"credential_key_dir": tmp_path / "none"}))
        assert not (tmp_path / "none").exists()
        app = create_app(settings)
        with serve(app) as base, httpx.Client(base_url=base) as client:
            assert_problem(client.get("/docs"), 404, "not_found")
            assert client.get("/openapi.json").status_code == 200
            assert client.get("/.well-known/jwks.json").json()["keys"][0]["kty"] == "RSA"

    def test_settings_come_from_prefixed_environment(self, monkeypatch):
        monkeypatch.setenv("HOCTAP_DATABASE_URL", "postgresql+psycopg://u@h/db")
        monkeypatch.setenv("HOCTAP_ACCESS_TOKEN_TTL_SECONDS", "120")
        settings = Settings(_env_file=None)
        assert settings.sqlalchemy_url == "postgresql+psycopg://u@h/db"
        assert settings.access_token_ttl_seconds == 120


def test_openapi_and_offline_docs(client):
    spec = client.get("/openapi.json").json()
    assert "/api/v1/auth/token" in spec["paths"]
    assert spec["components"]["schemas"]["ProblemDetail"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    # The docs page must work in an office without internet: no CDN.
    assert "cdn.jsdelivr.net" not in docs.text
    assert client.get("/static/docs/swagger-ui-bundle.js").status_code == 200
