"""Answers that do not fit a version are refused, each bad field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.rules import AnswersInvalid, EvaluationContext, evaluate, load_file

CRITERIA = Path(__file__).parent.parent.parent / "criteria"
CITIZEN = load_file(CRITERIA / "citizen/qd244-2022.yaml")
CLAN = load_file(CRITERIA / "clan/qd448-2016.yaml")
FARMER = EvaluationContext(subject_group="farmer")
FULL = {indicator.id: 8 for indicator in CITIZEN.indicators()}


def issues(version, answers, derived=None, context=FARMER) -> dict[str, str]:
    with pytest.raises(AnswersInvalid) as caught:
        evaluate(version, answers, derived or {}, context)
    return {issue.field: issue.code for issue in caught.value.issues}


def test_unknown_out_of_range_wrong_type_and_missing_are_each_named():
    answers = {**FULL, "c9_9": 5, "c1_1": 11, "c1_2": -1, "c1_3": "tám", "c1_4": 7.5, "c2_1": True}
    del answers["c3_2"]
    assert issues(CITIZEN, answers) == {
        "answers.c9_9": "unknown_indicator",
        "answers.c1_1": "out_of_range",
        "answers.c1_2": "out_of_range",
        "answers.c1_3": "invalid_type",
        "answers.c1_4": "invalid_step",
        "answers.c2_1": "invalid_type",
        "answers.c3_2": "missing_mandatory",
    }


def test_subject_group_is_required_and_checked():
    assert issues(CITIZEN, FULL, context=EvaluationContext()) == {"context.subject_group": "missing"}
    assert issues(CITIZEN, FULL, context=EvaluationContext(subject_group="pupil")) == {
        "context.subject_group": "unknown_subject_group"
    }


def test_derived_values_come_from_the_registry_only():
    assert issues(CLAN, {"c1_1": 0.9, "c2_1": True, "c3_1": 10}, context=EvaluationContext()) == {
        "answers.c1_1": "derived_not_accepted",
        "derived.c1_1": "missing_derived",
    }
    assert issues(CLAN, {"c2_1": "yes"}, {"c1_1": "nhiều"}, context=EvaluationContext()) == {
        "answers.c2_1": "invalid_type",
        "derived.c1_1": "invalid_type",
    }


def test_messages_are_vietnamese_sentences():
    with pytest.raises(AnswersInvalid) as caught:
        evaluate(CITIZEN, {**FULL, "c1_1": 11}, {}, FARMER)
    assert caught.value.issues[0].message == "Điểm phải từ 0 đến 10."
