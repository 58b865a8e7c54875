"""Built-in seed data, loaded by `hoctap seed` (and so by `make run`).

Each loader is idempotent on an empty database and reports one line. The seed runs only when
the database holds no administrative units yet, unless forced.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.units.models import AdministrativeUnit
from app.units.seed import load_units

SeedLoader = Callable[[Session], str]

# In dependency order; each returns one line for the report.
LOADERS: list[SeedLoader] = [load_units]


def database_is_empty(session: Session) -> bool:
    return not session.scalar(
        select(func.count()).select_from(AdministrativeUnit).where(AdministrativeUnit.source != "village")
    )


def load_builtin_seed(session: Session, *, force: bool = False) -> list[str]:
    if not force and not database_is_empty(session):
        return ["Database already holds data; seed skipped (use --force to reload)."]
    return [loader(session) for loader in LOADERS]
