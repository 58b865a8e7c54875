"""Imports every model so `Base.metadata` is complete (Alembic and the schema test use it)."""

from app.assessments.models import Assessment, Decision, Recognition, RescoringItem, RescoringOutcome, RescoringRun
from app.audit.models import AuditEvent
from app.auth.models import RefreshToken, User, UserUnit, WebSession
from app.credentials.models import Credential, StatusList
from app.criteria.models import CriteriaVersionProvince, CriteriaVersionRecord
from app.database import Base
from app.imports.models import ImportJob
from app.privacy.models import PersonAccessEvent
from app.registry.models import (
    Clan,
    ClanHousehold,
    Household,
    HouseholdMember,
    Organisation,
    OrganisationStaff,
    Person,
    PersonSector,
    Registration,
    Residence,
)
from app.reporting.models import ReportingDeadline, ReportingPeriod, UnitReport
from app.stats.models import (
    CountBuild,
    CountVersion,
    DataVersion,
    OfficialDenominator,
    Target,
    UnitCount,
    UnitGroupMember,
)
from app.units.models import AdministrativeUnit, UnitAncestor, UnitSuccession

__all__ = [
    "AdministrativeUnit",
    "Assessment",
    "AuditEvent",
    "Base",
    "Clan",
    "ClanHousehold",
    "CountBuild",
    "CountVersion",
    "Credential",
    "CriteriaVersionProvince",
    "CriteriaVersionRecord",
    "DataVersion",
    "Decision",
    "Household",
    "HouseholdMember",
    "ImportJob",
    "OfficialDenominator",
    "Organisation",
    "OrganisationStaff",
    "Person",
    "PersonAccessEvent",
    "PersonSector",
    "Recognition",
    "RefreshToken",
    "Registration",
    "ReportingDeadline",
    "ReportingPeriod",
    "RescoringItem",
    "RescoringOutcome",
    "RescoringRun",
    "Residence",
    "StatusList",
    "Target",
    "UnitAncestor",
    "UnitCount",
    "UnitGroupMember",
    "UnitReport",
    "UnitSuccession",
    "User",
    "UserUnit",
    "WebSession",
]
