"""The one Jinja2 environment of pages and printed documents, with Vietnamese formats:
dates dd/mm/yyyy, thousands with a dot and decimals with a comma."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from app import clock


def short_date(day: date | None) -> str:
    return f"{day:%d/%m/%Y}" if day else ""


def day_before(day: date) -> date:
    """An exclusive end (valid_until) as the last day it covers."""
    return day - timedelta(days=1)


def long_date(day: date) -> str:
    return f"ngày {day:%d} tháng {day:%m} năm {day:%Y}"


def local_time(instant: datetime | None) -> str:
    """A UTC timestamp as a time in Vietnam: '01/12/2026 09:41'."""
    if instant is None:
        return "—"
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return f"{instant.astimezone(clock.zone()):%d/%m/%Y %H:%M}"


def number(value: int | float | None, decimals: int = 0) -> str:
    """1234567 → '1.234.567'; 72.45 with one decimal → '72,5'."""
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def percent(value: float | None) -> str:
    return "—" if value is None else number(value, 1) + "%"


def first_upper(text: str) -> str:
    """Capitalise the first letter only ('cán bộ … Đơn vị học tập' keeps its capitals)."""
    return text[:1].upper() + text[1:]


def first_lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def comparison(value: str | None) -> str:
    return {">=": "≥", ">": ">", "==": "="}.get(value or ">=", value or "")


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("app", "templates"),
        autoescape=select_autoescape(("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        short_date=short_date,
        day_before=day_before,
        long_date=long_date,
        local_time=local_time,
        number=number,
        percent=percent,
        comparison=comparison,
        first_upper=first_upper,
        first_lower=first_lower,
    )
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def page(template: str, status_code: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(render(template, **context), status_code=status_code)
