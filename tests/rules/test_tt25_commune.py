"""TT 25/2023, Điều 8: a commune is recognised at a level only when every criterion of that level
is met, and a criterion only when every one of its chỉ tiêu is: each chỉ tiêu failing alone
fails the title (at its level)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.rules import evaluate, load_file
from app.rules.model import IndicatorKind

ROOT = Path(__file__).parent.parent.parent
VERSION = load_file(ROOT / "criteria/commune/tt25-2023-v2.yaml")
MET = yaml.safe_load((Path(__file__).parent / "golden/commune-tt25.yaml").read_text(encoding="utf-8"))["base"]
DERIVED_MET = {"c5_1_m1": 0.8, "c5_1_m2": 0.8}


def _failing(indicator) -> object:
    if indicator.kind == IndicatorKind.YES_NO:
        return False
    return float(indicator.threshold.value) - 1  # one point below the share the text asks


def _levels(indicator) -> list[str]:
    return indicator.levels or ["muc_do_1", "muc_do_2"]


@pytest.mark.parametrize("indicator", VERSION.indicators(), ids=lambda i: i.id)
def test_each_chi_tieu_failing_alone_fails_its_level(indicator):
    answers, derived = dict(MET), dict(DERIVED_MET)
    if indicator.kind == IndicatorKind.DERIVED:
        derived[indicator.id] = float(indicator.threshold.value) - 0.001
    else:
        answers[indicator.id] = _failing(indicator)
    result = evaluate(VERSION, answers, derived)
    if "muc_do_1" in _levels(indicator):
        assert (result.status, result.level) == ("khong_dat", None)
    else:  # a level-2 chỉ tiêu: the commune stays at mức độ 1
        assert (result.status, result.level) == ("dat", "muc_do_1")
    assert indicator.id in {i for outcome in result.levels for c in outcome.checks for i in c.failing_indicators}


def test_the_base_answers_meet_every_chi_tieu():
    result = evaluate(VERSION, MET, DERIVED_MET)
    assert (result.status, result.level) == ("dat", "muc_do_2")
