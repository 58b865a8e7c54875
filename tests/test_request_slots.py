"""Requests beyond the connection pool wait for a slot instead of failing (app/database.py,
RequestSlots). Before the slots, a worker with more requests in flight than its pool could
deadlock: requests holding a connection between two thread-pool hops waited for a thread while
every thread waited for a connection, until the pool's checkout timed out (500s under load)."""

from __future__ import annotations

import asyncio

import httpx

from app.auth.models import Role
from app.main import create_app
from tests.conftest import make_settings, serve
from tests.helpers import bearer

IN_FLIGHT = 96  # more than the thread pool's 40 threads, against a pool of 2 connections


def test_more_requests_than_connections_all_succeed(database_url, make_user):
    make_user("slots_admin", Role.ADMIN)
    app = create_app(make_settings(database_url, database_pool_size=1))
    with serve(app) as base:
        with httpx.Client(base_url=base) as client:
            token = client.post(
                "/api/v1/auth/token", data={"username": "slots_admin", "password": "mat-khau-thu-nghiem-1"}
            ).json()["access_token"]

        async def burst() -> list[int]:
            limits = httpx.Limits(max_connections=IN_FLIGHT)
            async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
                answers = await asyncio.gather(
                    *(client.get("/api/v1/auth/me", headers=bearer(token)) for _ in range(IN_FLIGHT))
                )
            return [answer.status_code for answer in answers]

        statuses = asyncio.run(burst())
        pool = app.state.engine.pool
    assert statuses == [200] * IN_FLIGHT
    assert pool.size() == 1
    assert pool.overflow() <= 1  # never more connections than the pool allows
