"""The rule engine: answers + derived values + context → result with a full trace.

Pure: no web framework, no database. The same inputs always give the same result, and every
rule it applies is in the trace with the threshold used and, when it fails, why (in Vietnamese).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, PlainSerializer

from app.rules.model import CriteriaVersion, Indicator, IndicatorKind, PassRules, Threshold

Number = Annotated[
    Decimal, PlainSerializer(lambda v: int(v) if v == v.to_integral_value() else float(v), return_type=int | float)
]
_OPS = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}
_OP_WORDS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}


_LARGEST = Decimal(10**12)  # no answer or derived value of a criteria file is larger


def fmt(value: Decimal | None) -> str:
    if value is None:
        return "—"
    text = format(value.normalize(), "f")
    return text.replace(".", ",")


@dataclass(frozen=True)
class EvaluationContext:
    """What the evaluation depends on besides answers: the subject's group (nhóm đối tượng) and
    the unit groups of its place (e.g. "disadvantaged") that switch overrides on."""

    subject_group: str | None = None
    unit_groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class AnswerIssue:
    field: str
    code: str
    message: str


class AnswersInvalid(Exception):  # noqa: N818 - read as "the answers are invalid"
    def __init__(self, issues: list[AnswerIssue]):
        super().__init__("; ".join(f"{issue.field}: {issue.message}" for issue in issues))
        self.issues = issues


class IndicatorTrace(BaseModel):
    indicator_id: str
    criterion_id: str
    label: str
    kind: IndicatorKind
    mandatory: bool
    answered: bool
    value: Number | bool | None
    points: Number
    max_points: Number
    rule: str
    met: bool
    reason: str | None
    provisional: bool
    population: str | None = None  # derived indicators: who was counted, in words
    levels: list[str] | None = None  # checked only at these levels


class RuleCheck(BaseModel):
    rule: Literal["total_min", "each_score_min", "indicator_min", "all_mandatory", "required"]
    description: str
    passed: bool
    failing_indicators: list[str]


class LevelOutcome(BaseModel):
    id: str
    label: str
    rank: int
    passed: bool
    checks: list[RuleCheck]


class Result(BaseModel):
    title: str
    version: str
    status: Literal["dat", "khong_dat"]
    level: str | None
    level_label: str | None
    total: Number
    max_total: Number
    override: str | None
    subject_group: str | None
    checks: list[RuleCheck]
    levels: list[LevelOutcome]
    failed_indicators: list[str]
    reasons: list[str]
    indicators: list[IndicatorTrace]
    provisional: bool


# A number written as text: ASCII digits, an optional sign and decimal part. Decimal() itself
# also takes other scripts' digits ("٩"), exponents ("1e-999999999") and "NaN".
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,6})?")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) > _LARGEST:
        return None
    return number


def _applicable(version: CriteriaVersion, context: EvaluationContext) -> list[tuple[str, Indicator]]:
    return [
        (criterion.id, indicator)
        for criterion in version.criteria
        for indicator in criterion.indicators
        if indicator.groups is None or context.subject_group in indicator.groups
    ]


def validate_inputs(
    version: CriteriaVersion, answers: Mapping[str, Any], derived: Mapping[str, Any], context: EvaluationContext
) -> dict[str, Decimal | bool]:
    """Check every answer against the version; returns the values to score, or raises with
    one issue per bad field."""
    issues: list[AnswerIssue] = []
    groups = {group.id for group in version.subject_groups}
    if groups and context.subject_group not in groups:
        issues.append(
            AnswerIssue(
                "context.subject_group",
                "unknown_subject_group" if context.subject_group else "missing",
                f"Cần chọn nhóm đối tượng: {', '.join(sorted(groups))}.",
            )
        )
    if not groups and context.subject_group:
        issues.append(
            AnswerIssue("context.subject_group", "no_subject_groups", "Bộ tiêu chí này không chia nhóm đối tượng.")
        )
    by_id = {indicator.id: indicator for indicator in version.indicators()}
    applicable = {indicator.id for _, indicator in _applicable(version, context)}
    values: dict[str, Decimal | bool] = {}
    for indicator_id, raw in answers.items():
        where = f"answers.{indicator_id}"
        indicator = by_id.get(indicator_id)
        if indicator is None:
            issues.append(
                AnswerIssue(
                    where, "unknown_indicator", f"Không có chỉ số '{indicator_id}' trong bộ tiêu chí {version.version}."
                )
            )
        elif indicator_id not in applicable:
            issues.append(AnswerIssue(where, "not_applicable", "Chỉ số này không áp dụng cho nhóm đối tượng đã chọn."))
        elif indicator.kind == IndicatorKind.DERIVED:
            issues.append(
                AnswerIssue(where, "derived_not_accepted", "Chỉ số này do hệ thống tính từ sổ đăng ký, không nhập tay.")
            )
        elif indicator.kind == IndicatorKind.YES_NO:
            if isinstance(raw, bool):
                values[indicator_id] = raw
            else:
                issues.append(AnswerIssue(where, "invalid_type", "Phải là true (đạt) hoặc false (chưa đạt)."))
        else:
            number = _number(raw)
            if number is None:
                issues.append(AnswerIssue(where, "invalid_type", "Phải là một số."))
            elif indicator.kind == IndicatorKind.SCORE and not Decimal(0) <= number <= indicator.max_points:
                issues.append(AnswerIssue(where, "out_of_range", f"Điểm phải từ 0 đến {fmt(indicator.max_points)}."))
            elif indicator.kind == IndicatorKind.SCORE and number % indicator.step:
                step = "số nguyên" if indicator.step == 1 else f"bội số của {fmt(indicator.step)}"
                issues.append(AnswerIssue(where, "invalid_step", f"Điểm phải là {step}."))
            elif indicator.kind == IndicatorKind.NUMBER and (
                (indicator.minimum is not None and number < indicator.minimum)
                or (indicator.maximum is not None and number > indicator.maximum)
            ):
                issues.append(
                    AnswerIssue(
                        where, "out_of_range", f"Giá trị phải từ {fmt(indicator.minimum)} đến {fmt(indicator.maximum)}."
                    )
                )
            else:
                values[indicator_id] = number
    for indicator_id, raw in derived.items():
        indicator = by_id.get(indicator_id)
        number = _number(raw)
        if indicator is None or indicator.kind != IndicatorKind.DERIVED:
            issues.append(
                AnswerIssue(
                    f"derived.{indicator_id}",
                    "unknown_indicator",
                    f"Không có chỉ số tính toán '{indicator_id}' trong bộ tiêu chí.",
                )
            )
        elif number is None:
            issues.append(AnswerIssue(f"derived.{indicator_id}", "invalid_type", "Phải là một số."))
        elif indicator_id in applicable:
            values[indicator_id] = number
    for _, indicator in _applicable(version, context):
        if indicator.kind == IndicatorKind.DERIVED and indicator.id not in values and indicator.id not in derived:
            issues.append(
                AnswerIssue(
                    f"derived.{indicator.id}", "missing_derived", "Thiếu giá trị tính từ sổ đăng ký cho chỉ số này."
                )
            )
        elif (
            indicator.mandatory
            and indicator.levels is None
            and indicator.kind != IndicatorKind.DERIVED
            and indicator.id not in answers
        ):
            # A level's own indicator left unanswered is not an input error: that level is
            # simply not reached (a commune seeking mức độ 1 does not answer mức độ 2's).
            issues.append(
                AnswerIssue(f"answers.{indicator.id}", "missing_mandatory", "Chỉ số bắt buộc chưa có câu trả lời.")
            )
    if issues:
        raise AnswersInvalid(issues)
    return values


def _score(
    indicator: Indicator, value: Decimal | bool | None, threshold: Threshold | None = None
) -> tuple[Decimal, bool | None, str]:
    """Points, whether a threshold/yes-no is met (None for scores), and the rule in words.
    `threshold` replaces the indicator's own (an override for a unit group)."""
    if indicator.kind == IndicatorKind.SCORE:
        points = value if isinstance(value, Decimal) else Decimal(0)
        return points, None, f"điểm 0–{fmt(indicator.max_points)}"
    if indicator.kind == IndicatorKind.YES_NO:
        met = value is True
        return (indicator.max_points if met else Decimal(0)), met, f"đạt: {fmt(indicator.max_points)} điểm"
    threshold = threshold or indicator.threshold
    if threshold is None:  # the model requires one for number/derived indicators
        raise ValueError(f"indicator {indicator.id} has no threshold")
    met = isinstance(value, Decimal) and _OPS[threshold.op](value, threshold.value)
    limit = f"{_OP_WORDS[threshold.op]} {fmt(threshold.value)}{indicator.unit or ''}"
    rule = f"giá trị {limit}: {fmt(indicator.max_points)} điểm"
    return (indicator.max_points if met else Decimal(0)), met, rule


def _score_min(indicator: Indicator, rules: PassRules) -> Decimal | None:
    if indicator.id in rules.indicator_min:
        return rules.indicator_min[indicator.id]
    if indicator.pass_min is not None:
        return indicator.pass_min
    return rules.each_score_min


def _check(
    rules: PassRules, traces: list[IndicatorTrace], indicators: dict[str, Indicator], total: Decimal
) -> list[RuleCheck]:
    checks: list[RuleCheck] = []
    if rules.total_min is not None:
        checks.append(
            RuleCheck(
                rule="total_min",
                passed=total >= rules.total_min,
                failing_indicators=[],
                description=f"Tổng điểm từ {fmt(rules.total_min)} trở lên (đạt {fmt(total)})",
            )
        )
    scores = [t for t in traces if t.kind == IndicatorKind.SCORE]
    if rules.each_score_min is not None:
        low = [t.indicator_id for t in scores if t.points < rules.each_score_min]
        checks.append(
            RuleCheck(
                rule="each_score_min",
                passed=not low,
                failing_indicators=low,
                description=f"Không chỉ số nào dưới {fmt(rules.each_score_min)} điểm",
            )
        )
    for indicator_id, minimum in rules.indicator_min.items():
        trace = next((t for t in traces if t.indicator_id == indicator_id), None)
        if trace is not None:
            checks.append(
                RuleCheck(
                    rule="indicator_min",
                    passed=trace.points >= minimum,
                    failing_indicators=[] if trace.points >= minimum else [indicator_id],
                    description=f"Chỉ số {indicator_id} từ {fmt(minimum)} điểm trở lên",
                )
            )

    def met(trace: IndicatorTrace) -> bool:
        indicator = indicators[trace.indicator_id]
        if trace.kind == IndicatorKind.SCORE:
            minimum = _score_min(indicator, rules)
            return trace.answered and (minimum is None or trace.points >= minimum)
        return trace.met

    if rules.all_mandatory:
        failing = [t.indicator_id for t in traces if t.mandatory and not met(t)]
        checks.append(
            RuleCheck(
                rule="all_mandatory",
                passed=not failing,
                failing_indicators=failing,
                description="Mọi chỉ số bắt buộc đều đạt",
            )
        )
    if rules.required:
        present = [t for t in traces if t.indicator_id in rules.required]
        failing = [t.indicator_id for t in present if not met(t)]
        checks.append(
            RuleCheck(
                rule="required",
                passed=not failing,
                failing_indicators=failing,
                description="Các chỉ số yêu cầu đều đạt: " + ", ".join(rules.required),
            )
        )
    return checks


def _with_overrides(
    rules: PassRules, version: CriteriaVersion, context: EvaluationContext
) -> tuple[PassRules, str | None]:
    used = None
    for override in version.overrides:
        if override.unit_group in context.unit_groups:
            changes = override.rules.model_dump(exclude_none=True)
            rules = rules.model_copy(update=changes)
            used = override.id
    return rules, used


def evaluate(
    version: CriteriaVersion,
    answers: Mapping[str, Any],
    derived: Mapping[str, Any] | None = None,
    context: EvaluationContext | None = None,
) -> Result:
    """Score `answers` (and registry-`derived` values) against `version`.

    Raises AnswersInvalid, naming each field, when the answers do not fit the version.
    """
    context = context or EvaluationContext()
    derived = derived or {}
    values = validate_inputs(version, answers, derived, context)
    applicable = _applicable(version, context)
    indicators = {indicator.id: indicator for _, indicator in applicable}
    # Thresholds of the unit groups named in the context (e.g. disadvantaged communes).
    thresholds = {
        indicator_id: threshold
        for override in version.overrides
        if override.unit_group in context.unit_groups
        for indicator_id, threshold in override.thresholds.items()
    }
    traces = []
    for criterion_id, indicator in applicable:
        value = values.get(indicator.id)
        points, met, rule = _score(indicator, value, thresholds.get(indicator.id))
        traces.append(
            IndicatorTrace(
                indicator_id=indicator.id,
                criterion_id=criterion_id,
                label=indicator.labels_by_group.get(context.subject_group or "", indicator.label),
                kind=indicator.kind,
                mandatory=indicator.mandatory,
                answered=indicator.id in values,
                value=value,
                points=points,
                max_points=indicator.max_points,
                rule=rule,
                met=bool(met) if met is not None else True,
                reason=None,
                provisional=indicator.provisional,
                population=indicator.derived.population.describe() if indicator.derived else None,
                levels=indicator.levels,
            )
        )

    def totals(shown: list[IndicatorTrace]) -> tuple[Decimal, Decimal]:
        return (
            sum((trace.points for trace in shown), Decimal(0)),
            sum((indicators[trace.indicator_id].max_points for trace in shown), Decimal(0)),
        )

    override_used = None
    outcomes: list[LevelOutcome] = []
    if version.levels:
        totals_by_level = {}
        for level in sorted(version.levels, key=lambda lvl: lvl.rank):
            # A level is judged on its own indicators: those of every level and its own.
            own = [trace for trace in traces if trace.levels is None or level.id in trace.levels]
            totals_by_level[level.id] = totals(own)
            rules, used = _with_overrides(level.rules, version, context)
            override_used = override_used or used
            checks = _check(rules, own, indicators, totals_by_level[level.id][0])
            outcomes.append(
                LevelOutcome(
                    id=level.id, label=level.label, rank=level.rank, passed=all(c.passed for c in checks), checks=checks
                )
            )
        # Levels are reached in order: a higher level counts only when every lower one is met
        # too (its stricter chỉ tiêu imply the lower ones'; answers saying otherwise reach neither).
        achieved = []
        for outcome in outcomes:
            if not outcome.passed:
                break
            achieved.append(outcome)
        shown = achieved[-1] if achieved else outcomes[0]
        checks, level = shown.checks, (achieved[-1] if achieved else None)
        passed = bool(achieved)
        total, max_total = totals_by_level[shown.id]
    else:
        if version.pass_rules is None:  # loading refuses a version with neither
            raise ValueError("a version needs pass_rules or levels")
        total, max_total = totals(traces)
        rules, override_used = _with_overrides(version.pass_rules, version, context)
        checks = _check(rules, traces, indicators, total)
        passed, level = all(c.passed for c in checks), None
    if thresholds and override_used is None:
        override_used = next(o.id for o in version.overrides if o.unit_group in context.unit_groups)

    failed = list(dict.fromkeys(i for c in checks if not c.passed for i in c.failing_indicators))
    for trace in traces:
        if trace.indicator_id in failed:
            trace.reason = _reason(trace, checks)
        elif not trace.met:
            trace.reason = "Chưa đạt ngưỡng của chỉ số." if trace.kind != IndicatorKind.YES_NO else "Chưa đạt."
    reasons = [
        f"Chưa đạt yêu cầu: {c.description}"
        + (f" — chỉ số {', '.join(c.failing_indicators)}" if c.failing_indicators else "")
        for c in checks
        if not c.passed
    ]
    return Result(
        title=version.title,
        version=version.version,
        status="dat" if passed else "khong_dat",
        level=level.id if level else None,
        level_label=level.label if level else None,
        total=total,
        max_total=max_total,
        override=override_used,
        subject_group=context.subject_group,
        checks=checks,
        levels=outcomes,
        failed_indicators=failed,
        reasons=reasons,
        indicators=traces,
        provisional=version.any_provisional,
    )


def _reason(trace: IndicatorTrace, checks: list[RuleCheck]) -> str:
    """Why one indicator fails: the first rule it breaks, in words."""
    check = next(c for c in checks if not c.passed and trace.indicator_id in c.failing_indicators)
    if check.rule in ("each_score_min", "indicator_min"):
        return f'Điểm {fmt(trace.points)}: chưa đạt yêu cầu "{check.description.lower()}".'
    if not trace.answered:
        return "Chưa có câu trả lời."
    if trace.kind == IndicatorKind.SCORE:
        return f"Điểm {fmt(trace.points)} chưa đạt mức tối thiểu của chỉ số."
    if trace.kind == IndicatorKind.YES_NO:
        return "Chỉ số chưa đạt."
    value = fmt(trace.value) if isinstance(trace.value, Decimal) else str(trace.value)
    return f"Giá trị {value} chưa đạt ngưỡng ({trace.rule})."
