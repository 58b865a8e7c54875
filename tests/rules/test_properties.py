"""Properties of the engine that must hold for any answers (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.rules import EvaluationContext, evaluate, load_file
from app.rules.model import CriteriaVersion, IndicatorKind

CRITERIA = Path(__file__).parent.parent.parent / "criteria"
SCORED = [
    "citizen/qd244-2022.yaml",
    "citizen/qd324-2023.yaml",
    "family/qd448-2016.yaml",
    "clan/hkhvn-2022.yaml",
    "unit/hkhvn-2022.yaml",
    "commune/tt25-2023.yaml",
]


def answers_for(version: CriteriaVersion):
    """A strategy of complete, valid answers (and derived values) for `version`."""
    parts = {}
    for indicator in version.indicators():
        if indicator.kind == IndicatorKind.SCORE:
            parts[indicator.id] = st.integers(0, int(indicator.max_points))
        elif indicator.kind == IndicatorKind.YES_NO:
            parts[indicator.id] = st.booleans()
        elif indicator.kind == IndicatorKind.DERIVED:
            parts["derived:" + indicator.id] = st.decimals(0, 1, places=2)
    return st.fixed_dictionaries(parts)


def split(drawn: dict) -> tuple[dict, dict]:
    answers = {k: v for k, v in drawn.items() if not k.startswith("derived:")}
    derived = {k.removeprefix("derived:"): v for k, v in drawn.items() if k.startswith("derived:")}
    return answers, derived


def context_for(version: CriteriaVersion, disadvantaged: bool) -> EvaluationContext:
    group = version.subject_groups[0].id if version.subject_groups else None
    return EvaluationContext(subject_group=group, unit_groups=frozenset({"disadvantaged"} if disadvantaged else ()))


@pytest.mark.parametrize("version_file", SCORED)
def test_raising_a_score_never_turns_a_pass_into_a_fail(version_file):
    version = load_file(CRITERIA / version_file)
    scores = [i for i in version.indicators() if i.kind == IndicatorKind.SCORE]

    @settings(max_examples=60, deadline=None)
    @given(
        drawn=answers_for(version),
        which=st.integers(0, 10_000),
        raise_by=st.integers(1, 10),
        disadvantaged=st.booleans(),
    )
    def check(drawn, which, raise_by, disadvantaged):
        answers, derived = split(drawn)
        context = context_for(version, disadvantaged)
        before = evaluate(version, answers, derived, context)
        if not scores:
            return
        indicator = scores[which % len(scores)]
        higher = dict(answers)
        higher[indicator.id] = min(int(indicator.max_points), answers[indicator.id] + raise_by)
        after = evaluate(version, higher, derived, context)
        if before.status == "dat":
            assert after.status == "dat"
        rank = {level.id: level.rank for level in version.levels}
        assert rank.get(after.level or "", 0) >= rank.get(before.level or "", 0)

    check()


@pytest.mark.parametrize("version_file", SCORED)
def test_total_is_the_sum_of_points_and_results_repeat(version_file):
    version = load_file(CRITERIA / version_file)

    @settings(max_examples=60, deadline=None)
    @given(drawn=answers_for(version), disadvantaged=st.booleans())
    def check(drawn, disadvantaged):
        answers, derived = split(drawn)
        context = context_for(version, disadvantaged)
        result = evaluate(version, answers, derived, context)
        assert result.total == sum((trace.points for trace in result.indicators), Decimal(0))
        assert all(Decimal(0) <= t.points <= t.max_points for t in result.indicators)
        assert evaluate(version, dict(answers), dict(derived), context) == result
        assert (result.status == "dat") == (not result.reasons)

    check()


def test_the_engine_imports_no_web_framework_or_database():
    import subprocess
    import sys

    code = (
        "import sys, app.rules; bad = [m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'sqlalchemy', 'app') and m.split('.')[:2] != ['app', 'rules'] and m != 'app']; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
