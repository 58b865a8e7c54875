"""Imports every model so `Base.metadata` is complete (Alembic and the schema test use it)."""

from app.auth.models import RefreshToken, User, UserUnit
from app.criteria.models import CriteriaVersionProvince, CriteriaVersionRecord
from app.database import Base
from app.registry.models import Household, Organisation, Person, Residence
from app.units.models import AdministrativeUnit, UnitAncestor, UnitSuccession

__all__ = [
    "AdministrativeUnit",
    "Base",
    "CriteriaVersionProvince",
    "CriteriaVersionRecord",
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
