"""Golden data files: for each shipped version, answers -> expected status, total, level and
failing indicators. A new version gets a file here before it ships."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from app.rules import EvaluationContext, evaluate, load_file
from app.rules.model import IndicatorKind

HERE = Path(__file__).parent
CRITERIA = HERE.parent.parent / "criteria"


def _cases():
    for golden in sorted((HERE / "golden").glob("*.yaml")):
        data = yaml.safe_load(golden.read_text(encoding="utf-8"))
        for version_file in data["versions"]:
            for case in data["cases"]:
                yield pytest.param(version_file, case, id=f"{version_file}: {case['name']}")


@pytest.mark.parametrize(("version_file", "case"), list(_cases()))
def test_golden_case(version_file, case):
    version = load_file(CRITERIA / version_file)
    context = dict(case.get("context", {}))
    if context.get("subject_group") == "@first":
        context["subject_group"] = version.subject_groups[0].id
    answers = {}
    if "all" in case:
        answers = {i.id: case["all"] for i in version.indicators() if i.kind != IndicatorKind.DERIVED}
    answers.update(case.get("answers", {}))
    result = evaluate(
        version,
        answers,
        case.get("derived", {}),
        EvaluationContext(
            subject_group=context.get("subject_group"), unit_groups=frozenset(context.get("unit_groups", []))
        ),
    )
    expect = case["expect"]
    assert result.status == expect["status"]
    if "total" in expect:
        assert result.total == Decimal(str(expect["total"]))
    if "failed_indicators" in expect:
        assert result.failed_indicators == expect["failed_indicators"]
        for trace in result.indicators:
            assert (trace.reason is not None) == (trace.indicator_id in expect["failed_indicators"]) or not trace.met
    if "failed_rules" in expect:
        assert [c.rule for c in result.checks if not c.passed] == expect["failed_rules"]
    if "level" in expect:
        assert result.level == expect["level"]
    if "override" in expect:
        assert result.override == expect["override"]
    if "provisional" in expect:
        assert result.provisional is expect["provisional"]
    if result.status == "khong_dat":
        assert result.reasons, "a failure is explained"
