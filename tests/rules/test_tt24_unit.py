"""TT 24/2023, "Đơn vị học tập" cấp huyện (Điều 6–9) and cấp tỉnh (Điều 12–15): a unit is
recognised at a level only when it meets every tiêu chí and chỉ tiêu of that level (Điều 8, 14)
that applies to its kind of organisation. For each kind (subject group): the chỉ tiêu of that kind
all met reach mức độ 2; each one failing alone fails its level; a chỉ tiêu of other kinds is not
asked. The kinds each conditional chỉ tiêu applies to are read here from the text independently
of the files, and every chỉ tiêu of the articles is encoded word for word."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.rules import AnswersInvalid, EvaluationContext, evaluate, load_file
from app.rules.model import CriteriaVersion, Indicator, IndicatorKind

ROOT = Path(__file__).parent.parent.parent
DISTRICT = load_file(ROOT / "criteria/unit/tt24-2023-district.yaml")
PROVINCE = load_file(ROOT / "criteria/unit/tt24-2023-province.yaml")
VERSIONS = {"district": DISTRICT, "province": PROVINCE}
SOURCE = (ROOT / "criteria/sources/tt24-2023.txt").read_text(encoding="utf-8")

# The kinds of organisation, and the sets the text's conditions name.
AGENCIES = {"co_quan_nha_nuoc", "co_quan_dang_doan_the"}
DISTRICT_SCHOOLS = {"pho_thong_cong_lap", "pho_thong_ngoai_cong_lap"}
PROVINCE_SCHOOLS = {"thpt_gdtx_cong_lap", "thpt_gdtx_ngoai_cong_lap"}
VOCATIONAL = {"gdnn_cong_lap", "gdnn_ngoai_cong_lap"}
OTHER_EDUCATION = {"csgd_khac_cong_lap", "csgd_khac_ngoai_cong_lap"}
DISTRICT_KINDS = (
    AGENCIES
    | {"to_chuc_xa_hoi", "to_chuc_kinh_te", "mam_non_cong_lap", "mam_non_ngoai_cong_lap"}
    | DISTRICT_SCHOOLS
    | VOCATIONAL
    | OTHER_EDUCATION
)
PROVINCE_KINDS = (
    AGENCIES
    | {"to_chuc_xa_hoi", "to_chuc_kinh_te", "mam_non_cong_lap", "dai_hoc_cong_lap"}
    | PROVINCE_SCHOOLS
    | VOCATIONAL
    | OTHER_EDUCATION
)
KINDS = {"district": DISTRICT_KINDS, "province": PROVINCE_KINDS}


def _public(kinds: set[str]) -> set[str]:
    """“cơ quan, đơn vị sự nghiệp công lập”: agencies and every public education institution."""
    return AGENCIES | {kind for kind in kinds if kind.endswith("_cong_lap") and "ngoai" not in kind}


# Người học (Điều 2 khoản 8): not in nhà trẻ, mầm non, tiểu học, trung học cơ sở (the district's
# general schools).
LEARNERS = {
    "district": VOCATIONAL | OTHER_EDUCATION,
    "province": PROVINCE_SCHOOLS | {"dai_hoc_cong_lap"} | VOCATIONAL | OTHER_EDUCATION,
}
CONDITIONS = {
    "district": {
        "c1_2_mam_non": {"mam_non_cong_lap"},  # Điều 6 khoản 1 điểm b, second sentence
        "c1_3": _public(DISTRICT_KINDS),  # "đối với đơn vị là cơ quan, đơn vị sự nghiệp công lập"
        "c2_4_m1": DISTRICT_KINDS - {"to_chuc_kinh_te"},  # "không bao gồm … tổ chức kinh tế"
        "c2_4_m2": DISTRICT_KINDS - {"to_chuc_kinh_te"},
        "c3_1_m1_learners": LEARNERS["district"],
        "c3_1_m2_learners": LEARNERS["district"],
        "c3_2_mam_non": {"mam_non_cong_lap"},
        "c3_3_m2": _public(DISTRICT_KINDS),  # Điều 7 khoản 3 điểm c
        "c3_4_m1": DISTRICT_SCHOOLS,  # "cơ sở giáo dục phổ thông"
        "c3_4_m2": DISTRICT_SCHOOLS,
        "c3_5": VOCATIONAL,  # "cơ sở giáo dục nghề nghiệp"
    },
    "province": {
        "c1_2_mam_non": {"mam_non_cong_lap"},
        "c1_3": _public(PROVINCE_KINDS),
        "c2_4_m1": PROVINCE_KINDS - {"to_chuc_kinh_te"},
        "c2_4_m2": PROVINCE_KINDS - {"to_chuc_kinh_te"},
        "c3_1_m1_learners": LEARNERS["province"],
        "c3_1_m2_learners": LEARNERS["province"],
        "c3_4_m1": PROVINCE_SCHOOLS,  # THPT, phổ thông nhiều cấp đến THPT, trung tâm GDTX
        "c3_4_m2": PROVINCE_SCHOOLS,
        "c3_5_m1": {"dai_hoc_cong_lap"},  # "cơ sở giáo dục đại học"
        "c3_5_m2": {"dai_hoc_cong_lap"},
        "c3_6": VOCATIONAL,
    },
}


def _applies(indicator: Indicator, kind: str) -> bool:
    return indicator.groups is None or kind in indicator.groups


def _met(version: CriteriaVersion, kind: str) -> tuple[dict, dict]:
    """Answers meeting every chỉ tiêu of `kind` exactly at its threshold."""
    answers, derived = {}, {}
    for indicator in version.indicators():
        if indicator.kind == IndicatorKind.DERIVED:
            derived[indicator.id] = float(indicator.threshold.value)
        elif _applies(indicator, kind):
            answers[indicator.id] = True if indicator.kind == IndicatorKind.YES_NO else int(indicator.threshold.value)
    return answers, derived


def _cases(build):
    return [
        pytest.param(name, kind, *extra, id=f"{name}-{kind}-{'-'.join(map(str, extra))}".rstrip("-"))
        for name, version in VERSIONS.items()
        for kind in sorted(KINDS[name])
        for extra in build(version, kind)
    ]


def test_the_subject_groups_are_the_kinds_read_from_the_text():
    for name, version in VERSIONS.items():
        assert {group.id for group in version.subject_groups} == KINDS[name]


@pytest.mark.parametrize("name", VERSIONS)
def test_each_conditional_chi_tieu_applies_to_the_kinds_the_text_names(name):
    version = VERSIONS[name]
    conditional = {i.id: set(i.groups) for i in version.indicators() if i.groups is not None}
    assert conditional == CONDITIONS[name]


@pytest.mark.parametrize(("name", "kind"), _cases(lambda version, kind: [()]))
def test_every_chi_tieu_of_a_kind_met_reaches_level_2(name, kind):
    version = VERSIONS[name]
    answers, derived = _met(version, kind)
    result = evaluate(version, answers, derived, EvaluationContext(subject_group=kind))
    assert (result.status, result.level) == ("dat", "muc_do_2")


@pytest.mark.parametrize(
    ("name", "kind", "indicator_id"),
    _cases(lambda version, kind: [(i.id,) for i in version.indicators() if _applies(i, kind)]),
)
def test_each_chi_tieu_failing_alone_fails_its_level(name, kind, indicator_id):
    version = VERSIONS[name]
    indicator = next(i for i in version.indicators() if i.id == indicator_id)
    answers, derived = _met(version, kind)
    if indicator.kind == IndicatorKind.DERIVED:
        derived[indicator.id] = float(indicator.threshold.value) - 0.001
    elif indicator.kind == IndicatorKind.YES_NO:
        answers[indicator.id] = False
    else:
        answers[indicator.id] = int(indicator.threshold.value) - 1  # one point below the share asked
    result = evaluate(version, answers, derived, EvaluationContext(subject_group=kind))
    if indicator.levels is None or "muc_do_1" in indicator.levels:
        assert (result.status, result.level) == ("khong_dat", None)
    else:  # a level-2 chỉ tiêu: the unit stays at mức độ 1
        assert (result.status, result.level) == ("dat", "muc_do_1")
    assert indicator.id in {i for outcome in result.levels for c in outcome.checks for i in c.failing_indicators}


@pytest.mark.parametrize(
    ("name", "kind", "indicator_id"),
    _cases(lambda version, kind: [(i.id,) for i in version.indicators() if not _applies(i, kind)]),
)
def test_a_chi_tieu_of_other_kinds_is_not_asked(name, kind, indicator_id):
    version = VERSIONS[name]
    indicator = next(i for i in version.indicators() if i.id == indicator_id)
    answers, derived = _met(version, kind)
    answers[indicator_id] = True if indicator.kind == IndicatorKind.YES_NO else 100
    with pytest.raises(AnswersInvalid) as refused:
        evaluate(version, answers, derived, EvaluationContext(subject_group=kind))
    assert [(issue.field, issue.code) for issue in refused.value.issues] == [
        (f"answers.{indicator_id}", "not_applicable")
    ]


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(";.")


def _chi_tieu(number: int) -> list[str]:
    pieces = re.split(r"^Điều 13\.1\.TT\.\d+\.(\d+)\.", SOURCE, flags=re.MULTILINE)
    article = {int(pieces[i]): pieces[i + 1] for i in range(1, len(pieces) - 1, 2)}[number]
    return [_plain(match) for match in re.findall(r"^[a-zđ]\) Chỉ tiêu \d+: (.+)$", article, flags=re.MULTILINE)]


def _encoded(version: CriteriaVersion, level: str) -> set[str]:
    return {_plain(i.official_text or i.label) for i in version.indicators() if i.levels is None or level in i.levels}


def test_every_chi_tieu_is_encoded_word_for_word():
    art6, art7, art12, art13 = _chi_tieu(6), _chi_tieu(7), _chi_tieu(12), _chi_tieu(13)
    assert (len(art6), len(art7), len(art12), len(art13)) == (15, 10, 6, 6)
    # Cấp huyện: mức độ 1 is Điều 6; mức độ 2 is criterion 1 of Điều 6 and criteria 2–3 of Điều 7.
    assert _encoded(DISTRICT, "muc_do_1") == set(art6)
    assert _encoded(DISTRICT, "muc_do_2") == set(art6[:5] + art7)
    # Cấp tỉnh: criteria 1–2 by reference (Điều 12: khoản 1, 2 Điều 6; Điều 13: khoản 1 Điều 6 and
    # khoản 2 Điều 7), criterion 3 its own.
    assert _encoded(PROVINCE, "muc_do_1") == set(art6[:10] + art12)
    assert _encoded(PROVINCE, "muc_do_2") == set(art6[:5] + art7[:5] + art13)


def test_procedure_dates_and_validity_are_the_texts():
    for version, who in (
        (DISTRICT, "Chủ tịch Ủy ban nhân dân cấp huyện"),
        (PROVINCE, "Chủ tịch Ủy ban nhân dân cấp tỉnh"),
    ):
        dates = {d.id: (d.by.day, d.by.month, d.years_after_period) for d in version.procedure.deadlines}
        assert dates == {"ho_so": (15, 1, 1), "cong_nhan": (15, 2, 1)}
        assert version.procedure.recognised_by.startswith(who)
        assert version.recognition_period.months == 36
        for text in [version.recognition_period.text, *(d.text for d in version.procedure.deadlines)]:
            assert _plain(text) in _plain(SOURCE)
    assert DISTRICT.effective_to is not None and PROVINCE.effective_to is None
    assert DISTRICT.applies_to.managing_levels == ["district"] and PROVINCE.applies_to.managing_levels == ["province"]
