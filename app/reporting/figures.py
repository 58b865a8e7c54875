"""The numbers of a report (số liệu báo cáo): computed from the registry for a commune, summed
from approved reports for a province or the country. Kept as plain dicts, because they are
frozen as JSON when a report is submitted."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy.orm import Session

from app import clock
from app.reporting.models import ReportingPeriod
from app.rules import TitleCode
from app.stats import counting
from app.stats.report import TITLE_NAMES
from app.stats.service import progress
from app.units.models import AdministrativeUnit

SUMMED = ("registered", "assessed", "recognised", "denominator")

# Values the registry cannot know, typed in with their source (Vietnamese label, and the title
# whose official denominator it is, if it is one).
TYPED_FIELDS: dict[str, tuple[str, TitleCode | None]] = {
    "official_residents_15_plus": ("Số người từ 15 tuổi trở lên (số liệu thống kê chính thức)", TitleCode.CITIZEN),
    "official_households": ("Tổng số hộ gia đình (số liệu thống kê chính thức)", TitleCode.FAMILY),
    "official_clans": ("Tổng số dòng họ (số liệu chính thức)", TitleCode.CLAN),
    "official_villages": ("Tổng số thôn, tổ dân phố (số liệu chính thức)", TitleCode.COMMUNITY),
    "official_organisations": ("Tổng số cơ quan, đơn vị, trường học (số liệu chính thức)", TitleCode.UNIT),
    "community_learning_centres": ("Số trung tâm học tập cộng đồng đang hoạt động", None),
    "funding_million_vnd": ("Kinh phí chi cho xây dựng xã hội học tập (triệu đồng)", None),
}


def as_of(period: ReportingPeriod) -> date:
    """The day a period's numbers are counted at: its last day, or today while it runs."""
    return min(period.ends_on, clock.today())


def percent(part: int | None, whole: int | None) -> float | None:
    return round(100 * part / whole, 2) if part is not None and whole else None


def _item(title, segment, label, registered, assessed, recognised, denominator, target, source) -> dict:
    rate = percent(recognised, denominator)
    gap = None if rate is None or target is None else round(max(target - rate, 0.0), 2)
    return {
        "title": title,
        "title_name": TITLE_NAMES[TitleCode(title)],
        "segment": segment,
        "segment_label": counting.segment_label(segment),
        "registered": registered,
        "assessed": assessed,
        "recognised": recognised,
        "denominator": denominator,
        "denominator_label": label,
        "percent": rate,
        "target_percent": target,
        "target_source": source,
        "gap": gap,
        "met": None if rate is None or target is None else rate >= target,
    }


def unit_figures(session: Session, unit: AdministrativeUnit, period: ReportingPeriod) -> dict:
    """Per title (and each segment a target names): registered, assessed, recognised, percent of
    the named denominator, the target in force and the gap — as the registry counts them over
    the unit's territory (a commune's report; the live numbers of a province)."""
    day = as_of(period)
    result = progress(session, unit, period.year, today=day)
    items = []
    for found in result.items:
        scope = counting.Scope(unit=unit, year=period.year, reference_day=result.reference_date, segment=found.segment)
        plain = found.segment in (None, counting.EDUCATION)
        source = found.target_source
        items.append(
            _item(
                found.title.value,
                found.segment,
                found.denominator_label,
                counting.registered_count(session, found.title, scope) if plain else None,
                counting.assessed_count(session, found.title, scope) if plain else None,
                found.numerator,
                found.denominator,
                found.target_percent,
                f"{source.document_number} — {source.issuer}" if source else None,
            )
        )
    return {"as_of": result.reference_date.isoformat(), "counted_at": clock.now().isoformat(), "items": items}


def consolidate(
    reports: Iterable[dict], targets: dict[tuple[str, str | None], tuple[float | None, str | None]]
) -> dict:
    """The sum of reports' frozen figures per title and segment; the percent is recomputed from
    the sums (never an average of percents); `targets` gives the consolidating unit's own."""
    sums: dict[tuple[str, str | None], dict] = {}
    count = 0
    for figures in reports:
        count += 1
        for item in figures["items"]:
            key = (item["title"], item["segment"])
            total = sums.setdefault(key, {"label": item["denominator_label"], **dict.fromkeys(SUMMED)})
            for name in SUMMED:
                if item[name] is not None:
                    total[name] = (total[name] or 0) + item[name]
    items = []
    for (title, segment), total in sums.items():
        target, source = targets.get((title, segment), (None, None))
        items.append(
            _item(
                title,
                segment,
                total["label"],
                total["registered"],
                total["assessed"],
                total["recognised"],
                total["denominator"],
                target,
                source,
            )
        )
    return {"reports": count, "items": items}


def live_targets(session: Session, unit: AdministrativeUnit, period: ReportingPeriod) -> dict:
    """The unit's own targets in force, by (title, segment), with their document."""
    result = progress(session, unit, period.year, today=as_of(period))
    return {
        (item.title.value, item.segment): (
            item.target_percent,
            f"{item.target_source.document_number} — {item.target_source.issuer}" if item.target_source else None,
        )
        for item in result.items
    }
