"""The people import's two paths give the same answers: on PostgreSQL the set-based one
(app/imports/people_sql.py: a TEMP staging table, the rules in SQL, one INSERT … SELECT), on
SQLite the row-by-row one (app/imports/people.py: the API's schema in Python). A file with one
of every kind of bad row goes through both checks and the reports must be equal (row, column,
value, reason, in file order), and so must the people and residences they write; on SQLite the
row-by-row path is held to the same expectations (which rows, which columns). Plus the cheap
per-row helpers the set-based path relies on, checked over every code point."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from app import clock
from app.auth.models import User
from app.auth.service import load_principal
from app.imports import people, people_sql, sheets
from app.registry.models import Person, Residence
from app.text import clean_name, plain
from app.units.service import get_unit
from tests import test_imports, test_registry_e2e
from tests.conftest import TEST_DATABASE_URL

desks = test_registry_e2e.desks
village = test_imports.village
HEADER = test_imports.HEADER
ON_POSTGRES = TEST_DATABASE_URL is not None
ON_DAY = date(2025, 12, 1)
NAME, BIRTH, SEX, CCCD, UNIT, SINCE = HEADER.split(",")
VILLAGE = "{village}"  # replaced by the test's village code


def line(name="Lê Văn Tốt", birth="02/03/1985", sex="Nam", cccd="", unit=VILLAGE, since="01/07/2025"):
    return [name, birth, sex, cccd, unit, since]


def tomorrow() -> str:
    return f"{clock.today() + timedelta(days=1):%d/%m/%Y}"


def bad_file() -> list[tuple[list[str | None], list[str]]]:
    """(cells, the columns the row's errors name, in order): good rows, people already in the
    registry, and one of every kind of bad row."""
    return [
        (line(cccd="001085000101"), []),
        (line(name="Lê\tVăn  Tốt\u00a0Hai \u3000Ba"), []),  # white space of every kind: one space each
        (line(name="각" * 70), []),  # long enough for the normalised length to be measured
        (line(name="x" * 200), []),
        (line(birth="29/02/2000", sex="NỮ"), []),
        (line(birth="2024-02-29", sex="nu"), []),
        (line(birth="0005/4/1990", sex="Male"), []),
        (line(cccd="1190000002", sex=""), []),  # a number cell lost two leading zeros
        (line(cccd="01190000003", since=""), []),  # one zero; the file's day
        (line(unit="00367"), []),  # the commune itself
        (line(cccd="001190000001"), []),  # in the registry: matched
        (line(name="Phạm Văn Cũ", birth="01/01/1980"), []),  # in the registry without CCCD: matched
        (line(name="Đỗ Thị Không Ngày", birth=""), []),  # the same, no birth date either: matched
        (line(name="Phạm Văn Cũ", birth="02/01/1980"), []),  # another birth date: created
        (line(name=None), [NAME]),
        (line(name="x" * 201), [NAME]),
        (line(name="\u0958" * 101), [NAME]),  # 202 characters once NFC
        (line(birth="31/02/1990"), [BIRTH]),
        (line(birth="hôm qua"), [BIRTH]),
        (line(birth="1990-4-5"), [BIRTH]),
        (line(birth="5/4/0000"), [BIRTH]),
        (line(birth="5/123/1990"), [BIRTH]),
        (line(birth="5/4/1899"), [BIRTH]),
        (line(birth="5/4/2101"), [BIRTH]),
        (line(birth=tomorrow()), [BIRTH]),
        (line(birth="29/02/1900"), [BIRTH]),
        (line(birth="1990-02-30"), [BIRTH]),
        (line(birth="05/04/90"), [BIRTH]),
        (line(birth="٠٥/٠٤/١٩٩٠"), [BIRTH]),
        (line(birth="05/04/1990/1"), [BIRTH]),
        (line(sex="khác"), [SEX]),
        (line(cccd="12345"), [CCCD]),
        (line(cccd="abcdefghijkl"), [CCCD]),
        (line(cccd="123456789"), [CCCD]),
        (line(cccd="0011900000041"), [CCCD]),
        (line(cccd="٠٠١١٩٠٠٠٠٠٠٥"), [CCCD]),
        (line(cccd="0011 9000 0006"), [CCCD]),
        (line(unit="99999"), [UNIT]),  # no such unit
        (line(unit="00001"), [UNIT]),  # a unit that ended before the file's day
        (line(unit="00364"), [UNIT]),  # another commune: outside the officer's units
        (line(unit="abc"), [UNIT]),
        (line(unit="00367-"), [UNIT]),
        (line(unit="0036"), [UNIT]),
        (line(unit=""), [UNIT]),
        (line(unit="٠٠٣٦٧"), [UNIT]),
        (line(since="31/02/2025"), [SINCE]),
        (line(since="hôm nay"), [SINCE]),
        (line(since=tomorrow()), [SINCE]),
        (line(since="01/01/1900"), [SINCE]),  # before the birth
        (line(birth="15/12/2025", since=""), [SINCE]),  # born after the file's day, which it defaults to
        (line(name=None, sex="x", cccd="1"), [NAME, SEX, CCCD]),  # every field error of a row
        (line(birth="x", unit="99999"), [BIRTH]),  # a field error: the unit is not looked at
        (line(unit="99999", since="01/01/1900"), [UNIT]),  # a unit error: nothing after it
        (line(cccd="001190000010"), []),
        (line(cccd="001190000010"), [CCCD]),  # the same CCCD as the row before
        (line(cccd="1190000010"), [CCCD]),  # again, once its zeros are restored
        (line(cccd="001190000011", birth="x"), [BIRTH]),  # wrong: not the first of its CCCD
        (line(cccd="001190000011"), []),  # so this is
        (line(cccd="001190000011"), [CCCD]),
        (["", "", "", "", "", ""], None),  # a blank row: skipped
        (["Ngắn Văn Dòng", "01/01/1990"], [UNIT]),  # a short row: no unit
    ]


def rows_with(rows, cccd: str) -> list[int]:
    """The row numbers (the header is row 1) of the rows with this CCCD cell."""
    return [number for number, (cells, _) in enumerate(rows, start=2) if len(cells) > 3 and cells[3] == cccd]


def content(rows, village_code: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER.split(","))
    for cells, _ in rows:
        writer.writerow(["" if cell is None else cell.replace(VILLAGE, village_code) for cell in cells])
    return out.getvalue().encode("utf-8")


@pytest.fixture
def officer(session, desks):
    user = session.scalar(select(User).where(User.username == "canbo.tx"))
    return load_principal(session, user.id, user.credential_version)


@pytest.fixture
def registry(desks, village):
    """People already in the registry: one with a CCCD, two without (one without birth date)."""
    test_registry_e2e.person(desks["officer"], "Trần Văn Có", village, national_id="001190000001")
    desks["officer"].post(
        "/people",
        {"full_name": "Phạm Văn Cũ", "birth_date": "1980-01-01", "unit_code": village, "resident_since": "2025-07-01"},
    )
    desks["officer"].post("/people", {"full_name": "Đỗ Thị Không Ngày", "unit_code": village})


def test_both_paths_report_the_same_errors(app, session, officer, village, registry):
    rows = bad_file()
    data = content(rows, village)
    ids = app.state.national_ids
    expected = []
    number = 1
    for _, columns in rows:
        number += 1
        expected += [(number, column) for column in columns or ()]
    python = people.check(session, officer, ids, ON_DAY, sheets.rows(data))
    session.rollback()
    assert [(error["row"], error["column"]) for error in python.errors] == expected
    assert all(error["reason"] for error in python.errors)
    ten, _, eleven = (rows_with(rows, cccd) for cccd in ("001190000010", "1190000010", "001190000011"))
    duplicates = [error for error in python.errors if error["column"] == CCCD and "trùng" in error["reason"]]
    assert [(error["row"], error["value"]) for error in duplicates] == [
        (ten[1], "********0010"),
        (ten[1] + 1, "********0010"),
        (eleven[2], "********0011"),
    ]
    # The first row with the number, and for 0011: the first that is otherwise right.
    assert [f"dòng {ten[0]} " in error["reason"] for error in duplicates] == [True, True, False]
    assert f"dòng {eleven[1]} " in duplicates[2]["reason"]
    mistyped = rows_with(rows, "12345")[0]
    assert next(e for e in python.errors if e["row"] == mistyped)["value"] == "*2345"  # masked
    good = sum(1 for _, columns in rows if columns == [])
    assert (python.matched, len(python.new)) == (3, good - 3)
    if ON_POSTGRES:
        fast = people_sql.run(session, officer, ids, ON_DAY, sheets.rows(data), write=False)
        session.rollback()
        assert fast.errors == python.errors  # row, column, value and reason, in the same order
        assert (fast.rows, fast.matched, fast.created) == (python.rows, python.matched, len(python.new))


def written(session, since_id: int) -> list[tuple]:
    """What the people created after `since_id` hold, with their residences, in a stable order."""
    found = session.execute(
        select(
            Person.full_name,
            Person.birth_date,
            Person.sex,
            Person.occupational_group,
            Person.national_id_hmac,
            Person.national_id_key_version,
            Person.national_id_masked,
            Residence.unit_id,
            Residence.valid_from,
            Residence.valid_to,
            Residence.reason,
            Residence.note,
        )
        .join(Residence, Residence.person_id == Person.id)
        .where(Person.id > since_id)
    )
    return sorted((tuple(row) for row in found), key=repr)


def test_both_paths_write_the_same_people(app, session, officer, village, registry, monkeypatch):
    rows = [row for row in bad_file() if row[1] == []]
    data = content(rows, village)
    ids = app.state.national_ids
    since_id = session.scalar(select(Person.id).order_by(Person.id.desc()).limit(1))
    unit = get_unit(session, village, ON_DAY).id
    commune = get_unit(session, "00367", ON_DAY).id
    python = people.check(session, officer, ids, ON_DAY, sheets.rows(data))
    assert not python.errors
    assert people.write(session, ids, python) == len(rows) - 3
    by_python = written(session, since_id)
    session.rollback()
    # What is stored, as the API stores it: the name cleaned, days in ISO, the sex's value, the
    # CCCD only as its HMAC (current key) and mask, zeros a number cell lost restored.
    tot = ("Lê Văn Tốt", date(1985, 3, 2))
    assert (*tot, "male", None, ids.digest("001085000101"), ids.key_version, "********0101") in [
        row[:7] for row in by_python
    ]
    assert ("Lê Văn Tốt Hai Ba", date(1985, 3, 2), "male") in [row[:3] for row in by_python]
    assert ("Lê Văn Tốt", date(1990, 4, 5), "male", None, None, None, None, unit) in [row[:8] for row in by_python]
    assert ids.digest("001190000002") in [row[4] for row in by_python]
    assert (ids.digest("001190000003"), ON_DAY) in [(row[4], row[8]) for row in by_python]  # the file's day
    assert sorted({row[7] for row in by_python}) == sorted({unit, commune})
    assert {row[9:] for row in by_python} == {(None, "registered", "")}
    assert "Đỗ Thị Không Ngày" not in [row[0] for row in by_python]  # matched, not created
    if ON_POSTGRES:
        heard = []
        # Small COPY and write chunks: the staging in several statements, the write in several.
        monkeypatch.setattr(people_sql, "PROGRESS_EVERY", 4)
        monkeypatch.setattr(people_sql, "WRITE_EVERY", 5)
        fast = people_sql.run(session, officer, ids, ON_DAY, sheets.rows(data), heard.append, write=True)
        assert (fast.errors, fast.matched, fast.created) == ([], 3, len(rows) - 3)
        assert written(session, since_id) == by_python
        assert heard == sorted(heard) and heard[0] == 4 and heard[-1] == len(rows)
        staged = session.execute(text("SELECT relpersistence FROM pg_class WHERE relname = 'import_people_rows'"))
        assert staged.scalar() == "t"  # TEMP
        session.commit()
        gone = session.scalar(text("SELECT to_regclass('pg_temp.import_people_rows') IS NULL"))
        assert gone  # dropped at commit
        assert written(session, since_id) == by_python


def test_no_clear_national_id_reaches_the_database(app, session, officer, village):
    """The staging table holds a CCCD only as its HMAC and its mask (the import's transaction
    holds the file itself, in the job row, until it is over; the staging table adds nothing)."""
    numbers = [f"0011900{index:05d}" for index in range(20)]
    rows = [(line(cccd=number), []) for number in numbers] + [(line(cccd="12345678901234"), [CCCD])]
    data = content(rows, village)
    ids = app.state.national_ids
    if ON_POSTGRES:
        people_sql.run(session, officer, ids, ON_DAY, sheets.rows(data), write=False)
        cells = [
            cell
            for row in session.execute(text("SELECT * FROM import_people_rows")).all()
            for cell in row
            if isinstance(cell, str)
        ]
        session.rollback()
    else:
        cells = [
            cell
            for values in people_sql._staged_rows(
                ids, {"national_id": 3}, iter([[None, None, None, n] for n in numbers])
            )
            for cell in values
            if isinstance(cell, str)
        ]
    assert not any(number in cell for number in [*numbers, "12345678901234"] for cell in cells)
    assert ids.digest(numbers[0]) in cells and "********0000" in cells


def test_the_fast_name_cleaning_is_clean_name():
    """people.clean_name (str.split) is app.text.clean_name (a regular expression) for every
    character, alone, repeated and next to spaces."""
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        character = chr(code)
        value = f"a{character}{character}b {character}"
        assert people.clean_name(value) == clean_name(value), hex(code)


def test_a_character_grows_at_most_threefold_once_plain():
    """people_sql measures plain() of a name only when it could pass the limit: each character
    becomes at most three in plain()'s decomposition (Đ replaced, NFD, combining marks dropped,
    lower case); NFC and the joining of spaces after it only shorten. So a name of NAME_MAX / 3
    characters or fewer never needs it."""

    def decomposed(character: str) -> str:
        spelled = unicodedata.normalize("NFD", character.replace("Đ", "D").replace("đ", "d"))
        return "".join(part for part in spelled if unicodedata.category(part) != "Mn").lower()

    characters = (chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
    changed = [c for c in characters if unicodedata.normalize("NFD", c) != c or c.lower() != c]
    assert max(len(decomposed(c)) for c in changed) == people_sql._PLAIN_GROWTH
    assert max(len(plain(c)) for c in changed) <= people_sql._PLAIN_GROWTH
    worst = "\U0001d160" * (people_sql.NAME_MAX // people_sql._PLAIN_GROWTH)  # three characters each once plain
    assert len(plain(worst)) <= people_sql.NAME_MAX < len(plain(worst + "\U0001d160" * 2))
