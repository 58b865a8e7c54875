"""Imports every model so `Base.metadata` is complete (Alembic and the schema test use it)."""

from app.auth.models import RefreshToken, User, UserUnit
from app.database import Base
from app.units.models import AdministrativeUnit

__all__ = ["AdministrativeUnit", "Base", "RefreshToken", "User", "UserUnit"]
