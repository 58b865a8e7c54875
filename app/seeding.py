"""Built-in seed data, loaded by `hoctap seed` (and so by `make run` and the container start).

Every loader is idempotent: it loads what is missing and leaves what is there, so running the
seed on every start is safe and brings newly shipped data (e.g. a new criteria file) in.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.criteria.service import publish_shipped
from app.database import analyze
from app.reporting.periods import load_reporting
from app.stats.service import load_targets
from app.units.seed import load_units

SeedLoader = Callable[[Session], str]

# In dependency order; each returns one line for the report.
LOADERS: list[SeedLoader] = [load_units, publish_shipped, load_targets, load_reporting]


def load_builtin_seed(session: Session) -> list[str]:
    """Load, commit (a load owns its transaction, as a request does), then give the planner
    statistics of what was loaded."""
    report = [loader(session) for loader in LOADERS]
    session.commit()
    analyze(session)
    return report
