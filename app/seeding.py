"""Built-in seed data, loaded by `hoctap seed` (and so by `make run`).

Each loader is idempotent on an empty database and reports one line. The seed runs only when
the database holds no administrative units yet, unless forced.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.units.models import AdministrativeUnit

SeedLoader = Callable[[Session], str]

# Filled by the domain packages that ship seed data (units, criteria, targets).
LOADERS: list[SeedLoader] = []


def database_is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(AdministrativeUnit))


def load_builtin_seed(session: Session, *, force: bool = False) -> list[str]:
    if not force and not database_is_empty(session):
        return ["Database already holds data; seed skipped (use --force to reload)."]
    report = [loader(session) for loader in LOADERS]
    return report or ["No built-in seed data to load."]
