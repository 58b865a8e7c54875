"""Staff pages for the subjects other than people: households (Gia đình học tập), clans (Dòng họ
học tập), villages (Cộng đồng học tập) and organisations (Đơn vị học tập) — find, register, assess."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app import clock
from app.database import SessionDep
from app.exceptions import Problem, invalid_field
from app.registry import service as registry
from app.registry.listing import list_subjects
from app.registry.models import OrganisationKind
from app.registry.schemas import ClanCreate, HouseholdCreate, MemberIn, OrganisationCreate
from app.units import service as units
from app.units.models import VillageType
from app.units.schemas import VillageCreate
from app.web.sessions import CsrfChecked, StaffDep
from app.web.staff import errors_from, staff_page

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Kind:
    """One kind of subject: what the pages call it and the title it is assessed for."""

    key: str
    title: str
    name: str
    plural: str


KINDS = {
    "household": Kind("household", "family", "Hộ gia đình", "Hộ gia đình"),
    "clan": Kind("clan", "clan", "Dòng họ", "Dòng họ"),
    "village": Kind("village", "community", "Thôn, tổ dân phố", "Thôn, tổ dân phố"),
    "organisation": Kind("organisation", "unit", "Cơ quan, đơn vị", "Cơ quan, đơn vị"),
}
KindKey = Literal["household", "clan", "village", "organisation"]
ORGANISATION_KINDS = {
    OrganisationKind.AGENCY: "Cơ quan",
    OrganisationKind.SCHOOL: "Trường học, cơ sở giáo dục",
    OrganisationKind.ENTERPRISE: "Doanh nghiệp",
    OrganisationKind.COOPERATIVE: "Hợp tác xã",
    OrganisationKind.ARMED_FORCES: "Đơn vị lực lượng vũ trang",
    OrganisationKind.HEALTH: "Cơ sở y tế",
    OrganisationKind.ASSOCIATION: "Hội, đoàn thể",
    OrganisationKind.OTHER: "Khác",
}
VILLAGE_TYPES = {
    VillageType.THON: "Thôn",
    VillageType.TO_DAN_PHO: "Tổ dân phố",
    VillageType.KHU_PHO: "Khu phố",
    VillageType.XOM: "Xóm",
    VillageType.BAN: "Bản",
    VillageType.AP: "Ấp",
    VillageType.BUON: "Buôn",
    VillageType.PHUM: "Phum, sóc",
}
FIELDS = ("name", "unit_code", "person_ids", "head_person_id", "household_ids", "kind", "unit_type")


def _page(who, kind: Kind, session, *, q="", values=None, errors=(), status_code=200):
    found, total = list_subjects(session, who.principal, kind.key, q=q, limit=50, offset=0)
    return staff_page(
        "staff/subjects.html",
        who,
        status_code=status_code,
        kind=kind,
        kinds=KINDS,
        q=q,
        found=found,
        total=total,
        values=values or {},
        errors=list(errors),
        organisation_kinds=ORGANISATION_KINDS,
        village_types=VILLAGE_TYPES,
    )


@router.get("/can-bo/doi-tuong/{kind}", response_class=HTMLResponse)
def subjects(
    session: SessionDep,
    who: StaffDep,
    kind: Annotated[KindKey, Path()],
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    return _page(who, KINDS[kind], session, q=(q or "").strip())


def _ids(text: str, field: str) -> list[int]:
    """'12, 15 16' → [12, 15, 16]; anything else names the field."""
    parts = text.replace(",", " ").split()
    if not all(part.isascii() and part.isdigit() and len(part) <= 9 for part in parts):
        raise invalid_field(f"body.{field}", "invalid", "Mã phải là số, cách nhau bằng dấu phẩy.")
    return [int(part) for part in parts]


@router.post("/can-bo/doi-tuong/{kind}", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def register(request: Request, session: SessionDep, who: StaffDep, kind: Annotated[KindKey, Path()]):
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    try:
        if kind == "household":
            members = [MemberIn(person_id=i) for i in _ids(values["person_ids"], "person_ids")]
            head = _ids(values["head_person_id"], "head_person_id")
            created = registry.create_household(
                session,
                who.principal,
                HouseholdCreate(
                    name=values["name"],
                    unit_code=values["unit_code"],
                    members=members,
                    head_person_id=head[0] if head else None,
                ),
            )
        elif kind == "clan":
            created = registry.create_clan(
                session,
                who.principal,
                ClanCreate(
                    name=values["name"],
                    home_commune_code=values["unit_code"],
                    household_ids=_ids(values["household_ids"], "household_ids"),
                ),
            )
        elif kind == "organisation":
            created = registry.create_organisation(
                session,
                who.principal,
                OrganisationCreate(name=values["name"], kind=values["kind"] or "other", unit_code=values["unit_code"]),
            )
        else:
            commune = units.unit_named(session, values["unit_code"], clock.today(), "body.unit_code")
            units.require_unit_writer(session, who.principal, commune)
            village = VillageCreate(name=values["name"], unit_type=values["unit_type"] or "thon")
            created = units.create_villages(session, commune, [village], who.principal)[0]
    except (ValidationError, Problem) as failed:
        return _page(who, KINDS[kind], session, values=values, errors=errors_from(failed), status_code=422)
    return RedirectResponse(f"/can-bo/danh-gia/moi?title={KINDS[kind].title}&subject_id={created.id}", status_code=303)
