"""The one form engine: the assessment form of any title and criteria version, built from the
version itself (criteria → indicators by kind, subject groups, derived values read-only, provisional
marks), and the answers read back from a submitted form. No title has a template of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.exceptions import Problem
from app.rules.engine import fmt
from app.rules.model import CriteriaVersion, IndicatorKind

FIELD_PREFIX = "a_"  # form field of indicator `c1_1` is `a_c1_1`


@dataclass
class FormField:
    id: str
    label: str
    kind: str
    max_points: str
    step: str
    minimum: str | None
    maximum: str | None
    unit: str | None
    mandatory: bool
    provisional: bool
    note: str | None
    reference: str | None
    value: Any = None  # what the form showed or was sent
    error: str | None = None
    derived: dict | None = None  # for derived indicators: value, numerator, denominator

    @property
    def name(self) -> str:
        return FIELD_PREFIX + self.id


@dataclass
class FormSection:
    id: str
    label: str
    max_points: str | None
    provisional: bool
    note: str | None
    fields: list[FormField] = field(default_factory=list)


def sections(
    model: CriteriaVersion,
    subject_group: str | None,
    answers: dict[str, Any] | None = None,
    derived: dict[str, dict] | None = None,
    errors: dict[str, str] | None = None,
) -> list[FormSection]:
    """The criteria of `model` as form sections, with only the indicators that apply to the
    subject group, labelled for that group."""
    answers, derived, errors = answers or {}, derived or {}, errors or {}
    out = []
    for criterion in model.criteria:
        section = FormSection(
            id=criterion.id,
            label=criterion.label,
            max_points=fmt(criterion.max_points) if criterion.max_points is not None else None,
            provisional=criterion.provisional,
            note=criterion.note if criterion.provisional else None,
        )
        for indicator in criterion.indicators:
            if indicator.groups is not None and subject_group not in indicator.groups:
                continue
            section.fields.append(
                FormField(
                    id=indicator.id,
                    label=indicator.labels_by_group.get(subject_group or "", indicator.label),
                    kind=indicator.kind.value,
                    max_points=fmt(indicator.max_points),
                    step=fmt(indicator.step),
                    minimum=fmt(indicator.minimum) if indicator.minimum is not None else None,
                    maximum=fmt(indicator.maximum) if indicator.maximum is not None else None,
                    unit=indicator.unit,
                    mandatory=indicator.mandatory,
                    provisional=indicator.provisional,
                    note=indicator.note if indicator.provisional else None,
                    reference=indicator.reference,
                    value=answers.get(indicator.id),
                    error=errors.get(indicator.id),
                    derived=derived.get(indicator.id) if indicator.kind == IndicatorKind.DERIVED else None,
                )
            )
        if section.fields:
            out.append(section)
    return out


def form_int(form, name: str, low: int, high: int) -> int:
    """A whole number a form must carry (a hidden field), within the range the database and the
    calendar take; anything else is a 422, never a database error."""
    raw = str(form.get(name, "")).strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and low <= int(raw) <= high:
        return int(raw)
    raise Problem(422, "validation_failed", "Biểu mẫu không hợp lệ", f"Giá trị “{name}” của biểu mẫu không hợp lệ.")


def read_answers(model: CriteriaVersion, subject_group: str | None, form: dict[str, str]) -> dict[str, Any]:
    """The answers of a submitted form as the API takes them: yes/no as booleans, numbers as
    text (a decimal comma is read as a point; the engine checks the rest). Blank is unanswered."""
    answers: dict[str, Any] = {}
    for indicator in model.indicators():
        if indicator.kind == IndicatorKind.DERIVED:
            continue
        if indicator.groups is not None and subject_group not in indicator.groups:
            continue
        raw = form.get(FIELD_PREFIX + indicator.id)
        if raw is None or not str(raw).strip():
            continue
        raw = str(raw).strip()
        if indicator.kind == IndicatorKind.YES_NO:
            answers[indicator.id] = raw == "yes" if raw in ("yes", "no") else raw
        else:
            answers[indicator.id] = raw.replace(",", ".").replace(" ", "")
    return answers


def field_errors(errors) -> tuple[dict[str, str], list[tuple[str, str]], set[str]]:
    """A problem's field errors as {indicator id: message}, the rest as (field, message), and the
    ids of mandatory indicators that are merely not answered yet."""
    by_indicator: dict[str, str] = {}
    others: list[tuple[str, str]] = []
    missing: set[str] = set()
    for error in errors or []:
        path = error.field
        for prefix in ("body.answers.", "body.derived."):
            if path.startswith(prefix):
                by_indicator[path[len(prefix) :]] = error.message
                if error.code == "missing_mandatory":
                    missing.add(path[len(prefix) :])
                break
        else:
            others.append((path, error.message))
    return by_indicator, others, missing
