"""Rate limits are counted where the setting says: in one process's memory by default, or in
Redis, shared by every worker and machine. `.ci/run` sets HOCTAP_TEST_REDIS_URL (and fails if
Redis is unreachable), so the shared case runs in CI; `make test` on a bare machine runs the
memory case."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from app.main import create_app
from tests.conftest import make_settings, serve

API = "/api/v1"
REDIS_URL = os.environ.get("HOCTAP_TEST_REDIS_URL")
STORAGES = ["memory://", *([REDIS_URL] if REDIS_URL else [])]


def _check(client, index):
    body = {"national_id": f"00109300{index:04d}", "birth_date": "1990-01-01"}
    return client.post(f"{API}/title-checks", json=body).status_code


@pytest.mark.parametrize("storage", STORAGES, ids=lambda url: url.split(":", 1)[0])
def test_two_workers_share_the_limit_only_through_a_shared_storage(database_url, storage):
    prefix = f"hoctap-test-{uuid.uuid4().hex[:8]}"
    workers = [
        create_app(make_settings(database_url, rate_limit_storage_url=storage, rate_limit_key_prefix=prefix))
        for _ in range(2)
    ]
    try:
        with (
            serve(workers[0]) as first,
            serve(workers[1]) as second,
            httpx.Client(base_url=first) as a,
            httpx.Client(base_url=second) as b,
        ):
            answers = [_check(a if index % 2 else b, index) for index in range(10)]
            assert answers == [200] * 10
            eleventh = _check(a, 10)
        shared = storage.startswith("redis")
        # Ten requests from one address reached the two workers: with Redis they counted together.
        assert eleventh == (429 if shared else 200)
    finally:
        for app in workers:
            app.state.rate_limiter.reset()
