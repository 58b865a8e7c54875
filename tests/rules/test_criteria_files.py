"""Criteria files: every shipped one is valid; malformed ones are refused with the path (and
line) of the bad field, through `hoctap criteria validate` as an author runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.rules import InvalidCriteria, load_text

ROOT = Path(__file__).parent.parent.parent
SHIPPED = sorted((ROOT / "criteria").glob("*/*.yaml"))
HOCTAP = [sys.executable, "-c", "from app.cli import main; main()"]
BASE = (ROOT / "criteria/citizen/qd244-2022.yaml").read_text(encoding="utf-8")


def validate(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*HOCTAP, "criteria", "validate", *map(str, paths)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_every_shipped_file_is_valid():
    assert len(SHIPPED) >= 11
    result = validate()
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok  ") == len(SHIPPED)


def test_each_title_has_its_versions():
    titles = {path.parent.name for path in SHIPPED}
    assert titles == {"citizen", "family", "clan", "community", "unit", "commune", "district", "province"}


def replace_nth(text: str, old: str, new: str, n: int) -> str:
    """`text` with the n-th (1-based) occurrence of `old` replaced."""
    index = -1
    for _ in range(n):
        index = text.index(old, index + 1)
    return text[:index] + new + text[index + len(old) :]


@pytest.mark.parametrize(
    ("old", "new", "nth", "where", "message", "marker"),
    [
        (
            "max_points: 10",
            "max_points: -1",
            1,
            "criteria[0].indicators[0].max_points",
            "greater than or equal to 0",
            ("max_points: -1", 1),
        ),
        (
            "- id: c1_2",
            "- id: c1_1",
            1,
            "criteria[0].indicators[1].id",
            "duplicate indicator id 'c1_1'",
            ("- id: c1_1", 2),
        ),
        ("kind: score", "kind: essay", 4, "criteria[0].indicators[3].kind", "Input should be", ("kind: essay", 1)),
    ],
    ids=["negative max", "duplicate id", "unknown kind"],
)
def test_malformed_files_are_refused_with_the_path(tmp_path, old, new, nth, where, message, marker):
    bad = tmp_path / "bad.yaml"
    bad.write_text(replace_nth(BASE, old, new, nth), encoding="utf-8")
    result = validate(bad)
    assert result.returncode == 1
    line = next(line for line in result.stderr.splitlines() if where in line)
    assert message in line
    file_part, line_number = line.split(":")[:2]
    assert file_part == str(bad)
    text, occurrence = marker
    lines = [n for n, content in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1) if text in content]
    assert int(line_number) == lines[occurrence - 1]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("title: citizen\n", "version"),
        ("- just a list\n", "(document)"),
        ("title: [unclosed\n", "(document)"),
    ],
)
def test_broken_documents(text, where):
    with pytest.raises(InvalidCriteria) as caught:
        load_text(text)
    assert where in [issue.where for issue in caught.value.issues]


def test_cross_field_rules():
    text = BASE.replace("effective_to: 2024-01-01", "effective_to: 2020-01-01").replace(
        "  all_mandatory: true\n", "  all_mandatory: true\n  required: [c9_9]\n", 1
    )
    with pytest.raises(InvalidCriteria) as caught:
        load_text(text)
    found = {issue.where: issue.message for issue in caught.value.issues}
    assert found["effective_to"] == "must be after effective_from"
    assert found["pass_rules.required[0]"] == "unknown indicator 'c9_9'"


def test_provisional_values_need_a_note():
    text = BASE.replace(
        '    note: "Cách chia 4/4/2 chỉ số theo dự thảo 2020, chưa đối chiếu văn bản chính thức."\n', "", 1
    )
    with pytest.raises(InvalidCriteria) as caught:
        load_text(text)
    assert "provisional value needs a note" in caught.value.issues[0].message
    assert caught.value.issues[0].where == "criteria[0]"


def test_committed_json_schema_matches_the_model():
    result = subprocess.run(
        [*HOCTAP, "criteria", "schema", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
