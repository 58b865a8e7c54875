"""What the app factory and the CLI wire onto the sessions they make.

`app/database.py` knows no domain; work that must follow a write (keeping the pre-built
statistics exact) is installed here, on the session factory of whoever owns the sessions.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.database import create_session_factory
from app.stats import invalidation


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose writes keep the pre-built statistics exact."""
    factory = create_session_factory(engine)
    invalidation.install(factory)
    return factory
