"""Schema changes go only through Alembic: the migrations must build exactly the models'
schema, and go down to nothing and back up again, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.migrate import PROJECT_ROOT, head_revisions, upgrade
from app.models import Base


def _diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_and_migrations_agree(database_url):
    assert _diff(database_url) == []


def test_downgrade_to_base_and_upgrade_again_with_the_alembic_command(database_factory):
    with database_factory() as url:
        env = {**os.environ, "HOCTAP_DATABASE_URL": url}

        def alembic(*args: str) -> None:
            subprocess.run(
                [sys.executable, "-m", "alembic", *args], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True
            )

        alembic("upgrade", "head")
        assert set(Base.metadata.tables) <= _tables(url)
        alembic("downgrade", "base")
        assert _tables(url) <= {"alembic_version"}
        alembic("upgrade", "head")
        assert _diff(url) == []


def test_single_head():
    assert len(head_revisions()) == 1


def test_upgrade_is_idempotent(database_url):
    upgrade(database_url)
    assert _diff(database_url) == []
