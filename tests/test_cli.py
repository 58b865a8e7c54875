"""The `hoctap` command as an operator uses it: migrate, seed, create the first admin, serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from app.migrate import PROJECT_ROOT

HOCTAP = [sys.executable, "-c", "from app.cli import main; main()"]


@pytest.fixture
def cli_env(database_factory, tmp_path):
    with database_factory() as url:
        yield {
            **os.environ,
            "HOCTAP_DATABASE_URL": url,
            "HOCTAP_CREDENTIAL_KEY_DIR": str(tmp_path / "credential-keys"),
            "HOCTAP_ARGON2_MEMORY_COST_KIB": "1024",
            "HOCTAP_ARGON2_TIME_COST": "1",
            "HOCTAP_ARGON2_PARALLELISM": "1",
        }


def run(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*HOCTAP, *args], cwd=PROJECT_ROOT, env=env, input=stdin, text=True, capture_output=True, timeout=120
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_migrate_seed_create_admin_and_serve(cli_env):
    assert run(cli_env, "migrate").returncode == 0
    seeded = run(cli_env, "seed")
    assert seeded.returncode == 0, seeded.stderr
    created = run(
        cli_env,
        "users",
        "create",
        "--username",
        "quantri",
        "--full-name",
        "Quản trị viên",
        "--password-stdin",
        stdin="mat-khau-quan-tri-1\n",
    )
    assert created.returncode == 0, created.stderr
    assert "mat-khau-quan-tri-1" not in created.stdout + created.stderr

    port = _free_port()
    server = subprocess.Popen(
        [*HOCTAP, "serve", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        assert httpx.get(f"{base}/readyz").status_code == 200
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "quantri", "password": "mat-khau-quan-tri-1"}
        ).json()["access_token"]
        me = httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["role"] == "admin"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    # Structured logs, and no secret in them.
    assert '"logger": "hoctap.access"' in output
    assert "mat-khau-quan-tri-1" not in output and token not in output


def test_users_create_reports_bad_input_and_writes_nothing(cli_env):
    assert run(cli_env, "migrate").returncode == 0
    short = run(cli_env, "users", "create", "--username", "a1b", "--full-name", "X", "--password-stdin", stdin="ngan\n")
    assert short.returncode == 1 and "password" in short.stderr
    no_unit = run(
        cli_env,
        "users",
        "create",
        "--username",
        "canbo",
        "--full-name",
        "X",
        "--role",
        "assessor",
        "--unit",
        "00367",
        "--password-stdin",
        stdin="mat-khau-du-dai-1\n",
    )
    assert no_unit.returncode == 1 and "00367" in no_unit.stderr
    again = run(
        cli_env,
        "users",
        "create",
        "--username",
        "canbo",
        "--full-name",
        "X",
        "--password-stdin",
        stdin="mat-khau-du-dai-1\n",
    )
    assert again.returncode == 0, again.stderr  # the refused attempts left no row behind


def test_stats_build_prebuilds_a_province_once(cli_env):
    assert run(cli_env, "migrate").returncode == 0
    assert run(cli_env, "seed").returncode == 0
    assert run(cli_env, "seed", "synthetic", "--province", "01", "--people", "300").returncode == 0
    first = run(cli_env, "stats", "build", "--province", "01", "--year", "2025")
    assert first.returncode == 0, first.stderr
    rebuilt = int(first.stdout.split(": ")[1].split()[0])
    assert rebuilt > 126  # every commune of Hà Nội and the units under them
    again = run(cli_env, "stats", "build", "--province", "01", "--year", "2025")
    assert again.returncode == 0 and ": 0 units rebuilt" in again.stdout  # nothing changed since
    unknown = run(cli_env, "stats", "build", "--province", "99")
    assert unknown.returncode != 0 and "Không có đơn vị hành chính mã 99" in unknown.stderr
    wrong = run(cli_env, "stats", "build", "--basis", "some")
    assert wrong.returncode != 0 and "basis" in wrong.stderr


def test_credential_keys_from_the_command_line(cli_env, tmp_path):
    keys = tmp_path / "credential-keys"
    first = run(cli_env, "credentials", "new-key")
    assert first.returncode == 0, first.stderr
    kid = first.stdout.split(":")[-1].strip()
    assert (keys / "signing-key.pem").exists()
    again = run(cli_env, "credentials", "new-key")
    assert again.returncode == 1 and "rotate-key" in again.stderr
    rotated = run(cli_env, "credentials", "rotate-key")
    assert rotated.returncode == 0 and kid in rotated.stdout
    listed = run(cli_env, "credentials", "keys").stdout.splitlines()
    assert len(listed) == 2 and f"  {kid}" in listed and any(line.startswith("* ") for line in listed)
    assert "BEGIN PUBLIC KEY" in (keys / "retired" / f"{kid}.pem").read_text()
