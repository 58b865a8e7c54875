"""TT 25/2023, Điều 8, 13 and 18: a commune, district or province is recognised at a level only
when every criterion of that level is met, and a criterion only when every one of its chỉ tiêu
is: each chỉ tiêu failing alone fails the title (at its level)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.rules import evaluate, load_file
from app.rules.model import IndicatorKind

ROOT = Path(__file__).parent.parent.parent
GOLDEN = Path(__file__).parent / "golden"
# (criteria file, golden file whose `base` meets every answered chỉ tiêu, derived values meeting both levels)
VERSIONS = [
    ("commune/tt25-2023-v2.yaml", "commune-tt25.yaml", {"c5_1_m1": 0.8, "c5_1_m2": 0.8}),
    ("commune/tt25-2023-two-tier.yaml", "commune-tt25.yaml", {"c5_1_m1": 0.8, "c5_1_m2": 0.8}),
    ("district/tt25-2023.yaml", "district-tt25.yaml", {"c4_1_m1": 0.9, "c4_1_m2": 0.9}),
    ("province/tt25-2023.yaml", "province-tt25.yaml", {"c4_1_m1": 0.9, "c4_1_m2": 0.9}),
    ("province/tt25-2023-communes.yaml", "province-tt25.yaml", {"c4_1_m1": 0.9, "c4_1_m2": 0.9}),
]


def _base(golden: str) -> dict:
    return yaml.safe_load((GOLDEN / golden).read_text(encoding="utf-8"))["base"]


CASES = [(load_file(ROOT / "criteria" / file), _base(golden), derived) for file, golden, derived in VERSIONS]
PER_INDICATOR = [
    pytest.param(version, met, derived, indicator, id=f"{version.title.value}/{version.version}/{indicator.id}")
    for version, met, derived in CASES
    for indicator in version.indicators()
]


def _failing(indicator) -> object:
    if indicator.kind == IndicatorKind.YES_NO:
        return False
    return float(indicator.threshold.value) - 1  # one point below the share the text asks


def _levels(indicator) -> list[str]:
    return indicator.levels or ["muc_do_1", "muc_do_2"]


@pytest.mark.parametrize(("version", "met", "derived_met", "indicator"), PER_INDICATOR)
def test_each_chi_tieu_failing_alone_fails_its_level(version, met, derived_met, indicator):
    answers, derived = dict(met), dict(derived_met)
    if indicator.kind == IndicatorKind.DERIVED:
        derived[indicator.id] = float(indicator.threshold.value) - 0.001
    else:
        answers[indicator.id] = _failing(indicator)
    result = evaluate(version, answers, derived)
    if "muc_do_1" in _levels(indicator):
        assert (result.status, result.level) == ("khong_dat", None)
    else:  # a level-2 chỉ tiêu: the commune stays at mức độ 1
        assert (result.status, result.level) == ("dat", "muc_do_1")
    assert indicator.id in {i for outcome in result.levels for c in outcome.checks for i in c.failing_indicators}


@pytest.mark.parametrize(("version", "met", "derived_met"), CASES, ids=[v[0] for v in VERSIONS])
def test_the_base_answers_meet_every_chi_tieu(version, met, derived_met):
    result = evaluate(version, met, derived_met)
    assert (result.status, result.level) == ("dat", "muc_do_2")
