"""Helpers shared by the tests."""

from __future__ import annotations

import httpx

from app import clock

DEFAULT_PASSWORD = "mat-khau-thu-nghiem-1"


def login(client: httpx.Client, username: str, password: str = DEFAULT_PASSWORD) -> dict:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    """The response is an RFC 9457 problem with our stable code and Vietnamese text."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("/" + code)
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


def today() -> str:
    """Today in Vietnam (the service's "today"), as the API writes dates."""
    return clock.today().isoformat()
