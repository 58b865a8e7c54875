"""Imports every model so `Base.metadata` is complete (Alembic and the schema test use it)."""

from app.auth.models import RefreshToken, User, UserUnit
from app.database import Base
from app.registry.models import Household, Organisation, Person, Residence
from app.units.models import AdministrativeUnit, UnitAncestor, UnitSuccession

__all__ = [
    "AdministrativeUnit",
    "Base",
    "Household",
    "Organisation",
    "Person",
    "RefreshToken",
    "Residence",
    "UnitAncestor",
    "UnitSuccession",
    "User",
    "UserUnit",
]
