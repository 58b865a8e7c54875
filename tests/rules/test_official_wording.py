"""The shipped versions encoding TT 25/2023 and TT 24/2023 quote them: every indicator's words
(its `official_text`, or its label) stand in the circular as published
(criteria/sources/), and for the commune level every chỉ tiêu of Điều 6 and the level-2 ones of
Điều 7 is encoded once, word for word."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from app.criteria.service import shipped_files
from app.rules import load_file

SOURCES = Path(__file__).parent.parent.parent / "criteria" / "sources"
CIRCULARS = {"25/2023/TT-BGDĐT": "tt25-2023.txt", "24/2023/TT-BGDĐT": "tt24-2023.txt"}


def _plain(text: str) -> str:
    # NFC on both sides: the published copy stores some lines decomposed (NFD).
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().rstrip(";.")


def _source(name: str) -> str:
    return (SOURCES / name).read_text(encoding="utf-8")


def _quoting_versions():
    """Versions that encode a circular (their first document), except those a newer shipped
    version replaces (kept only for the recognitions decided under them)."""
    versions = [load_file(path) for path in shipped_files()]
    replaced = {(version.title, old) for version in versions for old in version.replaces}
    for version in versions:
        encoded = version.documents[0].number
        if encoded in CIRCULARS and (version.title, version.version) not in replaced:
            yield pytest.param(version, CIRCULARS[encoded], id=f"{version.title}/{version.version}")


QUOTING = list(_quoting_versions())


def test_the_commune_version_quotes_tt25():
    assert any(version.version == "tt25-2023-v2" for version, _ in (p.values for p in QUOTING))


@pytest.mark.parametrize(("version", "source"), QUOTING)
def test_every_indicator_is_the_documents_own_words(version, source):
    text = _plain(_source(source))
    missing = [
        indicator.id
        for indicator in version.indicators()
        if _plain(indicator.official_text or indicator.label) not in text
    ]
    assert missing == []
    assert all(indicator.reference for indicator in version.indicators())


def _article(source: str, number: int) -> str:
    """The text of one article of a circular as the pháp điển prints it ("Điều 13.1.TT.179.6.")."""
    pieces = re.split(r"^Điều 13\.1\.TT\.\d+\.(\d+)\.", source, flags=re.MULTILINE)
    articles = {int(pieces[i]): pieces[i + 1] for i in range(1, len(pieces) - 1, 2)}
    return articles[number]


def _chi_tieu(article: str) -> list[str]:
    return [_plain(match) for match in re.findall(r"^[a-zđ]\) Chỉ tiêu \d+: (.+)$", article, flags=re.MULTILINE)]


def test_every_commune_chi_tieu_is_encoded_once_word_for_word():
    version = load_file(next(p for p in shipped_files() if p.name == "tt25-2023-v2.yaml"))
    source = _source("tt25-2023.txt")
    level_one = _chi_tieu(_article(source, 6))
    level_two = _chi_tieu(_article(source, 7))
    assert len(level_one) == 15 and len(level_two) == 6  # Điều 7 repeats only criteria 4 and 5

    def encoded(level: str) -> list[str]:
        words = {
            _plain(i.official_text or i.label) for i in version.indicators() if i.levels is None or level in i.levels
        }
        return sorted(words)

    assert encoded("muc_do_1") == sorted(level_one)
    # Level 2: criteria 1–3 as in Điều 6, 4 and 5 as in Điều 7 (chỉ tiêu 4.1 of Điều 7 cites the
    # decree by its short name only: the same requirement).
    short_decree = _plain(
        "Xã đạt chuẩn phổ cập giáo dục mầm non cho trẻ em 5 tuổi theo quy định tại Nghị định số 20/2014/NĐ-CP"
    )
    assert short_decree in level_two
    expected_two = sorted({*level_one[:9], *level_two} - {short_decree} | {level_one[9]})
    assert encoded("muc_do_2") == expected_two
