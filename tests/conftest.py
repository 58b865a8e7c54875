"""Test fixtures: a real database (SQLite file, or a fresh PostgreSQL database when
HOCTAP_TEST_DATABASE_URL is set), migrated with Alembic, and the app served by a real uvicorn
on a loopback port so tests speak real HTTP."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import Engine, create_engine, delete, make_url, select, text
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.auth.passwords import Passwords
from app.auth.schemas import UserCreate
from app.auth.service import create_user
from app.auth.tokens import CredentialKeys
from app.config import Settings
from app.criteria.models import CriteriaVersionProvince, CriteriaVersionRecord
from app.criteria.service import shipped_files
from app.database import Base, create_db_engine
from app.main import create_app
from app.migrate import upgrade
from app.reporting.models import ReportingPeriod
from app.reporting.periods import load_reporting
from app.seeding import load_builtin_seed
from app.stats.models import DataVersion, Target
from app.units.models import AdministrativeUnit, UnitAncestor, UnitSuccession
from app.wiring import session_factory
from tests.browser import browser  # noqa: F401 - the session's chromium, for page tests
from tests.helpers import DEFAULT_PASSWORD

TEST_DATABASE_URL = os.environ.get("HOCTAP_TEST_DATABASE_URL")
SHIPPED_VERSIONS = sorted({path.stem for path in shipped_files()})


def pytest_configure(config: pytest.Config) -> None:
    """Every log record of the run also goes to one file, which tests/test_logs.py reads and
    `pytest_sessionfinish` checks when the run ends."""
    import logging
    import tempfile

    path = Path(tempfile.mkstemp(prefix="hoctap-test-", suffix=".log")[1])
    handler = logging.FileHandler(path, encoding="utf-8")
    # JSON with every extra field, as the service writes it, so nothing hides outside "message".
    handler.setFormatter(JsonFormatter("{asctime}{levelname}{name}{message}", style="{"))
    logging.getLogger().addHandler(handler)
    # The test client's own request lines (full URLs) are not the service's logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config.hoctap_log = path  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The whole run's logs hold no password, token or national ID: checked after every test has
    run (in any order), failing the run otherwise."""
    import logging

    from tests.log_leaks import leaks

    path = getattr(session.config, "hoctap_log", None)
    if path is None or not path.exists():
        return
    for handler in logging.getLogger().handlers:
        handler.flush()
    found = leaks(path.read_text(encoding="utf-8"))
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"The service's logs of this run contain {', '.join(found)} (log file: {path})."
        if reporter is not None:
            reporter.write_line(message, red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_report_header(config: pytest.Config) -> str:
    if TEST_DATABASE_URL:
        return f"database: PostgreSQL ({make_url(TEST_DATABASE_URL).render_as_string(hide_password=True)})"
    return "database: SQLite"


@contextmanager
def fresh_database(tmp_dir: Path) -> Iterator[str]:
    """A new, empty database on the backend under test; dropped afterwards."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_dir / f'hoctap-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    server_url = make_url(TEST_DATABASE_URL)
    name = f"hoctap_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory):
    """Call inside `with` to get an extra fresh database URL."""
    tmp_dir = tmp_path_factory.mktemp("databases")
    return lambda: fresh_database(tmp_dir)


@pytest.fixture(scope="session")
def database_url(database_factory) -> Iterator[str]:
    """The shared test database: migrated and loaded with the built-in seed."""
    with database_factory() as url:
        upgrade(url)
        engine = create_db_engine(url)
        with session_factory(engine)() as session:
            load_builtin_seed(session)
        engine.dispose()
        yield url


# One credential signing key for the test run, made in a temporary folder (never in var/).
CREDENTIAL_KEY_DIR = Path(tempfile.mkdtemp(prefix="hoctap-credential-keys-"))
CredentialKeys(CREDENTIAL_KEY_DIR, create=True)  # production-mode apps in tests need it to exist


def make_settings(database_url: str, **overrides) -> Settings:
    values = {
        "credential_key_dir": CREDENTIAL_KEY_DIR,
        "database_url": database_url,
        "environment": "development",
        # Cheap Argon2 so tests that create accounts stay fast; production uses the default.
        "argon2_memory_cost_kib": 1024,
        "argon2_time_cost": 1,
        "argon2_parallelism": 1,
        "log_json": True,
        # Rebuild jobs run (after writes, for reads); the minute sweep is called by its tests.
        "count_sweep_minutes": 0,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session for setting up or checking data directly; the test commits what it writes."""
    with session_factory(engine)() as session:
        yield session


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test leaves empty tables behind (only when it uses the shared database)."""
    engine: Engine | None = request.getfixturevalue("engine") if "database_url" in request.fixturenames else None
    app = request.getfixturevalue("app") if "app" in request.fixturenames else None
    if app is not None:
        app.state.rate_limiter.reset()  # limits count per test, as tables do
    yield
    if app is not None:
        app.state.access_log.flush()  # the reads the test made, into the tables cleaned below
        # A rebuild the test's writes queued must not write into the next test's tables.
        jobs = app.state.jobs
        assert jobs.wait_idle(60), (
            f"background jobs still running after the test: {jobs._running} running, "
            f"{jobs.huey.pending_count()} queued, {jobs.huey.scheduled_count()} scheduled, consumer {jobs._consumer}"
        )
    if engine is None:
        return
    seeded = {
        AdministrativeUnit.__table__,
        UnitAncestor.__table__,
        UnitSuccession.__table__,
        CriteriaVersionRecord.__table__,
        CriteriaVersionProvince.__table__,
        Target.__table__,
        DataVersion.__table__,
        ReportingPeriod.__table__,
    }
    villages = select(AdministrativeUnit.id).where(AdministrativeUnit.source == "village").scalar_subquery()
    with engine.begin() as connection:
        connection.execute(delete(Target).where(Target.source_key == ""))
        # Dependents first; of the criteria versions only those a test uploaded go.
        uploaded = select(CriteriaVersionRecord.id).where(CriteriaVersionRecord.version_id.not_in(SHIPPED_VERSIONS))
        for table in reversed(Base.metadata.sorted_tables):
            if table is CriteriaVersionProvince.__table__:
                connection.execute(
                    delete(CriteriaVersionProvince).where(
                        CriteriaVersionProvince.version_pk.in_(uploaded.scalar_subquery())
                    )
                )
            elif table is CriteriaVersionRecord.__table__:
                connection.execute(
                    delete(CriteriaVersionRecord).where(CriteriaVersionRecord.version_id.not_in(SHIPPED_VERSIONS))
                )
            elif table not in seeded:
                connection.execute(table.delete())
        # Seeded units stay; what a test added (villages and their links) goes.
        connection.execute(
            delete(UnitSuccession).where(
                UnitSuccession.predecessor_id.in_(villages) | UnitSuccession.successor_id.in_(villages)
            )
        )
        connection.execute(delete(UnitAncestor).where(UnitAncestor.unit_id.in_(villages)))
        connection.execute(delete(AdministrativeUnit).where(AdministrativeUnit.source == "village"))
        # Deadlines an officer changed go with their users; the seeded ones come back as shipped.
        with Session(bind=connection) as reseed:
            load_reporting(reseed)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(app) -> Iterator[str]:
    """Run `app` under uvicorn on a loopback port in a thread; yields its base URL."""
    port = _free_port()
    # As `hoctap serve`: the app itself decides whose X-Forwarded-For to believe.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture(scope="session")
def base_url(app) -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def passwords(settings: Settings) -> Passwords:
    return Passwords(settings)


UserFactory = Callable[..., User]


@pytest.fixture
def make_user(session: Session, passwords: Passwords) -> UserFactory:
    def make(
        username: str, role: Role = Role.ADMIN, unit_codes: list[str] | None = None, password: str = DEFAULT_PASSWORD
    ) -> User:
        data = UserCreate(
            username=username,
            full_name=f"Người dùng {username}",
            password=password,
            role=role,
            unit_codes=unit_codes or [],
        )
        user = create_user(session, passwords, data)
        session.commit()
        return user

    return make
