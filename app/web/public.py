"""Public pages (no login): the home page with unit search, a unit's progress page, and the widget
ward portals embed. Server-rendered over the same services as the API; no script needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from app import clock
from app.criteria import service as criteria
from app.criteria.service import model_of
from app.database import SessionDep
from app.exceptions import NotFound
from app.stats import service as stats
from app.stats.report import TITLE_NAMES
from app.stats.schemas import Progress, ProgressItem
from app.units import service as units
from app.units.models import AdministrativeUnit, UnitLevel
from app.web.rendering import page

router = APIRouter(include_in_schema=False)

# What a commune or province page shows, in the statistics' order (district and province titles
# are listed as targets elsewhere, not counted per unit).
PAGE_TITLES = stats.TITLE_ORDER
CHART_YEARS = 3  # this year and the two before: each is one (cached) progress computation
HONOUR_PAGE = 20
SENTENCE_LABELS = {
    "verbatim": "Nguyên văn văn bản",
    "secondary": "Trích lại từ nguồn thứ cấp",
    "summary": "Tóm tắt của hệ thống, không phải nguyên văn",
}
Year = Annotated[int | None, Query(ge=2000, le=2100)]
CodePath = Annotated[str, Path(pattern=r"^[0-9]{2,5}(-[0-9]{3})?$")]


def unit_today(session: SessionDep, code: CodePath) -> AdministrativeUnit:
    unit = units.get_unit(session, code, clock.today())
    if unit.level not in (UnitLevel.PROVINCE, UnitLevel.COMMUNE):
        raise NotFound("Trang công khai có cho tỉnh, thành phố và xã, phường.")
    return unit


UnitDep = Annotated[AdministrativeUnit, Depends(unit_today)]


def cached_progress(request: Request, session, unit: AdministrativeUnit, year: int) -> Progress:
    """The unit's progress, from the cache the API fills (keyed with the data version: never stale)."""
    tag = stats.public_etag("web-progress", unit.id, year, clock.today(), *stats.data_versions(session, unit))
    cache = request.app.state.stats_cache
    body = cache.get(tag)
    if body is None:
        body = stats.progress(session, unit, year).model_dump_json().encode()
        cache.put(tag, body)
    return Progress.model_validate_json(body)


@dataclass
class TitleRow:
    """One title on a unit's page: the whole population, then the segments a target names."""

    title: str
    name: str
    main: ProgressItem | None
    segments: list[ProgressItem]
    history: list[tuple[int, float | None, float | None]]  # (year, percent, target)


def title_rows(request: Request, session, unit: AdministrativeUnit, year: int) -> list[TitleRow]:
    by_year = {y: cached_progress(request, session, unit, y) for y in range(year - CHART_YEARS + 1, year + 1)}
    rows = []
    for title in PAGE_TITLES:
        items = [item for item in by_year[year].items if item.title == title]
        if not items:
            continue
        history = []
        for one_year, progress in sorted(by_year.items()):
            main = next((i for i in progress.items if i.title == title and i.segment is None), None)
            history.append((one_year, main.percent if main else None, main.target_percent if main else None))
        rows.append(
            TitleRow(
                title=title.value,
                name=TITLE_NAMES[title],
                main=next((i for i in items if i.segment is None), None),
                segments=[i for i in items if i.segment is not None],
                history=history,
            )
        )
    return rows


def criteria_in_force(session, unit: AdministrativeUnit) -> list[dict]:
    province = units.province_code_of(session, unit.id)
    found = []
    for title in PAGE_TITLES:
        try:
            record = criteria.resolve(session, title, province, clock.today())
        except NotFound:
            continue
        model = model_of(record)
        found.append(
            {
                "title_name": TITLE_NAMES[title],
                "name": record.name,
                "version": record.version_id,
                "effective_from": record.effective_from,
                "provisional": record.provisional,
                "documents": model.documents,
            }
        )
    return found


@router.get("/", response_class=HTMLResponse)
def home(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    found, total = [], 0
    query = (q or "").strip()
    if query:
        found, total = units.list_units(
            session, parent_code=None, level=None, q=query, as_of=clock.today(), limit=30, offset=0
        )
        found = [u for u in found if u.level in (UnitLevel.PROVINCE, UnitLevel.COMMUNE)]
    return page("pages/home.html", q=query, found=found, total=total)


@router.get("/don-vi/{code}", response_class=HTMLResponse)
def unit_page(
    request: Request,
    session: SessionDep,
    unit: UnitDep,
    year: Year = None,
    trang: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    year = year or clock.today().year
    rows = title_rows(request, session, unit, year)
    honour, honour_total = stats.honour_roll(
        session,
        unit,
        year,
        None,
        request.app.state.settings.publish_person_names,
        limit=HONOUR_PAGE,
        offset=(trang - 1) * HONOUR_PAGE,
    )
    detail = units.unit_detail(session, unit, clock.today())
    return page(
        "pages/unit.html",
        unit=unit,
        detail=detail,
        year=year,
        this_year=clock.today().year,
        rows=rows,
        honour=honour,
        honour_total=honour_total,
        honour_page=trang,
        honour_pages=max(1, -(-honour_total // HONOUR_PAGE)),
        title_names=TITLE_NAMES,
        versions=criteria_in_force(session, unit),
        sentence_labels=SENTENCE_LABELS,
        publish_people=request.app.state.settings.publish_person_names,
        reference_date=cached_progress(request, session, unit, year).reference_date,
    )


@router.get("/nhung/don-vi/{code}", response_class=HTMLResponse)
def widget(request: Request, session: SessionDep, unit: UnitDep, year: Year = None) -> HTMLResponse:
    """The compact page a ward portal frames: only configured portal origins may frame it."""
    year = year or clock.today().year
    response = page("pages/widget.html", unit=unit, year=year, rows=title_rows(request, session, unit, year))
    origins = " ".join(request.app.state.settings.embed_origins) or "'none'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors {origins}"
    )
    return response
