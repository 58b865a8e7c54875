"""Which subject (đối tượng) a row of an import names, the way a commune officer knows it, shared
by the imports of registrations, assessments and past decisions:

- Công dân học tập: a person by national ID (Số CCCD), or by full name, birth date and the unit
  where they live;
- Gia đình học tập: a household by its name and the unit where it lives;
- Dòng họ học tập: a clan by its name and its home commune;
- Đơn vị học tập: an organisation by its name and the unit where it is based;
- Cộng đồng học tập: a village or residential group by its code.

Unit codes mean what they meant on the file's day (codes were reused in the 2025 reform). Only
subjects inside the importer's units are found; one outside reads as not found, as in the API.
Also here: the cells every one of those kinds reads the same way (titles, days, years)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date

from sqlalchemy import or_, select

from app.exceptions import Problem
from app.imports.kinds import Context, Row, RowError
from app.imports.sheets import Column
from app.registry.models import Clan, Household, Organisation, Person, Residence
from app.registry.service import within
from app.rules import TitleCode
from app.stats.report import TITLE_NAMES
from app.text import clean_name, iso_day, plain
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel
from app.units.service import in_jurisdiction, unit_named

# The titles whose subjects a file can name (the commune, district and province titles have
# administrative units as subjects and are not imported).
TITLES = (TitleCode.CITIZEN, TitleCode.FAMILY, TitleCode.CLAN, TitleCode.COMMUNITY, TitleCode.UNIT)
NATIONAL_ID, NAME, BIRTH_DATE, UNIT_CODE = "national_id", "subject_name", "birth_date", "unit_code"

_HEADERS = {NATIONAL_ID: "Số CCCD", NAME: "Tên đối tượng", BIRTH_DATE: "Ngày sinh", UNIT_CODE: "Mã đơn vị"}
# What to write in each column, per title; a title without an entry leaves the column empty.
_GUIDES: dict[str, dict[TitleCode, str]] = {
    NATIONAL_ID: {
        TitleCode.CITIZEN: "Công dân học tập: 12 chữ số. Bỏ trống thì ghi họ và tên, ngày sinh và mã nơi cư trú.",
    },
    NAME: {
        TitleCode.CITIZEN: "Công dân học tập (khi không ghi số CCCD): họ và tên.",
        TitleCode.FAMILY: "Gia đình học tập: tên hộ như trong sổ, ví dụ Hộ ông Nguyễn Văn An.",
        TitleCode.CLAN: "Dòng họ học tập: tên dòng họ như trong sổ.",
        TitleCode.UNIT: "Đơn vị học tập: tên cơ quan, đơn vị như trong sổ.",
    },
    BIRTH_DATE: {TitleCode.CITIZEN: "Công dân học tập (khi không ghi số CCCD): dd/mm/yyyy."},
    UNIT_CODE: {
        TitleCode.CITIZEN: "Công dân học tập (khi không ghi số CCCD): mã thôn, tổ dân phố hoặc xã, phường nơi cư trú.",
        TitleCode.FAMILY: "Gia đình học tập: mã thôn, tổ dân phố hoặc xã, phường nơi hộ cư trú.",
        TitleCode.CLAN: "Dòng họ học tập: mã xã, phường quê của dòng họ.",
        TitleCode.COMMUNITY: "Cộng đồng học tập: mã thôn, tổ dân phố (ví dụ 00367-001).",
        TitleCode.UNIT: "Đơn vị học tập: mã xã, phường hoặc thôn nơi cơ quan, đơn vị đóng trụ sở.",
    },
}
_UNIT_DAY = " Mã đơn vị hiểu theo ngày của tệp."


def columns(title: TitleCode | None = None) -> list[Column]:
    """The subject-reference columns: those one title needs (required where that title always
    needs them), or all of them for a file mixing titles."""
    found = []
    for key, guides in _GUIDES.items():
        if title is not None and title not in guides:
            continue
        wanted = [guides[title]] if title is not None else list(guides.values())
        guide = " ".join(wanted) + (_UNIT_DAY if key == UNIT_CODE else "")
        # A citizen has two ways (national ID, or name, birth date and unit); other titles one.
        required = title is not None and title != TitleCode.CITIZEN
        found.append(Column(key, _HEADERS[key], required, guide))
    return found


def column_of(title: TitleCode, row: Row) -> str:
    """The column an error about a row's subject is reported on."""
    if title == TitleCode.CITIZEN and row.get(NATIONAL_ID):
        return NATIONAL_ID
    return UNIT_CODE if title == TitleCode.COMMUNITY else NAME


def resolve(context: Context, title: TitleCode, row: Row) -> int:
    """The id of the subject the row names for `title`; RowError when there is none, or more
    than one, inside the importer's units."""
    if title == TitleCode.CITIZEN and row.get(NATIONAL_ID):
        return _person_by_national_id(context, row)
    if title == TitleCode.COMMUNITY:
        return _unit(context, row, (UnitLevel.VILLAGE,)).id
    if title == TitleCode.CLAN:
        return _named(context, row, title, _unit(context, row, (UnitLevel.COMMUNE,)))
    return _named(context, row, title, _unit(context, row, (UnitLevel.COMMUNE, UnitLevel.VILLAGE)))


def _person_by_national_id(context: Context, row: Row) -> int:
    number = "".join(row.get(NATIONAL_ID).split())
    if number.isascii() and number.isdigit() and len(number) in (10, 11):
        # As in the people import: a number cell drops the leading zeros of a CCCD (a province
        # code 001–096), at most two.
        number = number.zfill(12)
    if not (number.isascii() and number.isdigit() and len(number) == 12):
        raise RowError(NATIONAL_ID, "Số CCCD phải gồm đúng 12 chữ số.", row)
    digests = context.ids.digests(number)
    key = ("person", digests[0])
    if key not in context.cache:
        # Seen where the person lives now, as the API's search by national ID does.
        context.cache[key] = context.session.scalar(
            select(Person.id)
            .join(Residence, (Residence.person_id == Person.id) & Residence.valid_to.is_(None))
            .where(Person.national_id_hmac.in_(digests), within(context.principal, Residence.unit_id))
        )
    if context.cache[key] is None:
        reason = (
            "Không có người mang số CCCD này trong phạm vi quản lý của tài khoản (hãy nhập danh sách công dân trước)."
        )
        raise RowError(NATIONAL_ID, reason, row)
    return context.cache[key]


def _unit(context: Context, row: Row, levels: tuple[UnitLevel, ...]) -> AdministrativeUnit:
    """The unit the row's code names on the file's day, of one of `levels`, inside the
    importer's units."""
    code = (row.get(UNIT_CODE) or "").strip()
    if not code:
        raise RowError(UNIT_CODE, "Thiếu mã đơn vị.", row)
    key = ("unit", code)
    if key not in context.cache:
        try:
            unit = unit_named(context.session, code, context.on_day, UNIT_CODE)
        except Problem as unknown:
            raise RowError(UNIT_CODE, unknown.errors[0].message if unknown.errors else unknown.detail, row) from None
        context.cache[key] = unit, in_jurisdiction(context.session, context.principal, unit.id)
    unit, inside = context.cache[key]
    if unit.level not in levels:
        words = {UnitLevel.VILLAGE: "thôn, tổ dân phố", UnitLevel.COMMUNE: "xã, phường"}
        raise RowError(UNIT_CODE, f"{unit.name} không phải cấp {' hoặc '.join(words[level] for level in levels)}.", row)
    if not inside:
        raise RowError(UNIT_CODE, "Đơn vị ngoài phạm vi quản lý của tài khoản.", row)
    return unit


def _name_key(name: str) -> str:
    return clean_name(name).casefold()


def _named(context: Context, row: Row, title: TitleCode, unit: AdministrativeUnit) -> int:
    """A person (with a birth date), household, clan or organisation by its name in `unit`."""
    name = row.get(NAME)
    if not name:
        reason = (
            "Cần ghi số CCCD, hoặc họ và tên cùng ngày sinh và mã nơi cư trú."
            if title == TitleCode.CITIZEN
            else "Thiếu tên đối tượng."
        )
        raise RowError(NAME, reason, row)
    wanted = _name_key(name)
    if title == TitleCode.CITIZEN:
        born = day(row, BIRTH_DATE)
        if born is None:
            raise RowError(BIRTH_DATE, "Không có số CCCD thì cần ngày sinh để tìm đúng người.", row)
        wanted = f"{wanted}|{born.isoformat()}"
    key = ("named", title, unit.id)
    if key not in context.cache:
        context.cache[key] = _names_in(context, title, unit)
    found = context.cache[key].get(wanted, set())
    noun = {
        TitleCode.CITIZEN: "người cùng họ tên và ngày sinh",
        TitleCode.FAMILY: "hộ tên này",
        TitleCode.CLAN: "dòng họ tên này",
        TitleCode.UNIT: "cơ quan, đơn vị tên này",
    }[title]
    if not found:
        raise RowError(NAME, f"Không có {noun} tại {unit.name} trong sổ đăng ký.", row)
    if len(found) > 1:
        more = "hãy ghi số CCCD" if title == TitleCode.CITIZEN else "hãy ghi mã thôn, tổ dân phố cụ thể"
        raise RowError(NAME, f"Có {len(found)} {noun} tại {unit.name}; {more} để phân biệt.", row)
    return next(iter(found))


def _names_in(context: Context, title: TitleCode, unit: AdministrativeUnit) -> dict[str, set[int]]:
    """Every subject of the title in `unit` (or a village of it) by its name key, in one query:
    those living there on the file's day or since (a person matched by name who has moved away
    since is refused by the service writing the row, outside the importer's units)."""
    if title == TitleCode.CLAN:
        query = select(Clan.id, Clan.name).where(
            Clan.home_unit_id == unit.id, within(context.principal, Clan.home_unit_id)
        )
    else:
        model, column, name = {
            TitleCode.CITIZEN: (Person, Residence.person_id, Person.full_name),
            TitleCode.FAMILY: (Household, Residence.household_id, Household.name),
            TitleCode.UNIT: (Organisation, Residence.organisation_id, Organisation.name),
        }[title]
        query = (
            select(model.id, name, *([Person.birth_date] if model is Person else []))
            .join(Residence, column == model.id)
            .join(UnitAncestor, UnitAncestor.unit_id == Residence.unit_id)
            .where(
                UnitAncestor.ancestor_id == unit.id,
                or_(Residence.valid_to.is_(None), Residence.valid_to > context.on_day),
            )
        )
    names: dict[str, set[int]] = defaultdict(set)
    for subject_id, name, *born in context.session.execute(query):
        key = _name_key(name) + (f"|{born[0].isoformat() if born[0] else ''}" if born else "")
        names[key].add(subject_id)
    return names


# --- cells read alike by every kind -----------------------------------------------------------


def _title_words() -> dict[str, TitleCode]:
    words = {}
    for title in TITLES:
        words[plain(title.value)] = title
        words[plain(TITLE_NAMES[title])] = title
        words[plain(TITLE_NAMES[title].split(" (")[0])] = title  # "Cộng đồng học tập" without "(thôn, …)"
    return words


_TITLE_WORDS = _title_words()
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TITLE_GUIDE = "Một trong: " + ", ".join(TITLE_NAMES[title].split(" (")[0] for title in TITLES) + "."


def title(row: Row, key: str) -> TitleCode:
    """A title written by its Vietnamese name (with or without accents) or its code."""
    found = _TITLE_WORDS.get(plain(row.get(key) or ""))
    if found is None:
        raise RowError(key, "Danh hiệu không hợp lệ. " + TITLE_GUIDE, row)
    return found


def day(row: Row, key: str) -> date | None:
    """A day written dd/mm/yyyy (or as a date cell); blank is None."""
    written = iso_day(row.get(key) or "")
    if written is None:
        return None
    try:
        if not _ISO_DAY.fullmatch(written):
            raise ValueError(written)
        return date.fromisoformat(written)
    except ValueError:
        raise RowError(key, "Ngày không hợp lệ; viết dd/mm/yyyy.", row) from None


def year(row: Row, key: str) -> int:
    """A year written as a number (its range is the API schema's to check)."""
    written = (row.get(key) or "").strip()
    if not written:
        raise RowError(key, "Thiếu năm.", row)
    if not (written.isascii() and written.isdigit() and len(written) == 4):
        raise RowError(key, "Năm phải là số có bốn chữ số, ví dụ 2025.", row)
    return int(written)
