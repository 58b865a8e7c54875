"""Reading and checking criteria files: every problem with its YAML path (and line).

`check_version` reports everything a reader of a file needs to fix, in one pass: the schema's
errors and the cross-field ones (duplicate ids, references to unknown indicators, …).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.rules.model import MEMBERSHIPS, CriteriaVersion

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    path: Path_
    message: str
    line: int | None = None

    @property
    def where(self) -> str:
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        return text or "(document)"


class InvalidCriteria(Exception):  # noqa: N818 - read as "criteria are invalid"
    def __init__(self, issues: list[Issue]):
        super().__init__("; ".join(f"{issue.where}: {issue.message}" for issue in issues))
        self.issues = issues


def _duplicates(items: list, path: Path_, what: str) -> list[Issue]:
    seen: dict[str, int] = {}
    issues = []
    for index, item in enumerate(items):
        if item.id in seen:
            issues.append(
                Issue((*path, index, "id"), f"duplicate {what} id '{item.id}' (first at index {seen[item.id]})")
            )
        seen.setdefault(item.id, index)
    return issues


def semantic_issues(version: CriteriaVersion) -> list[Issue]:
    """Cross-field rules the schema alone cannot express."""
    issues: list[Issue] = []
    if version.effective_to is not None and version.effective_to <= version.effective_from:
        issues.append(Issue(("effective_to",), "must be after effective_from"))
    if bool(version.levels) == (version.pass_rules is not None):
        issues.append(Issue(("pass_rules",), "give either pass_rules or levels, not both or neither"))
    issues += _duplicates(version.criteria, ("criteria",), "criterion")
    issues += _duplicates(version.levels, ("levels",), "level")
    issues += _duplicates(version.overrides, ("overrides",), "override")
    issues += _duplicates(version.subject_groups, ("subject_groups",), "subject group")
    group_ids = {group.id for group in version.subject_groups}
    indicator_ids: dict[str, Path_] = {}
    for c_index, criterion in enumerate(version.criteria):
        for i_index, indicator in enumerate(criterion.indicators):
            path = ("criteria", c_index, "indicators", i_index)
            if indicator.id in indicator_ids:
                issues.append(Issue((*path, "id"), f"duplicate indicator id '{indicator.id}'"))
            indicator_ids.setdefault(indicator.id, path)
            if indicator.derived is not None:
                membership = indicator.derived.population.membership
                if membership not in MEMBERSHIPS.get(version.title, ()):
                    issues.append(
                        Issue(
                            (*path, "derived", "population", "membership"),
                            f"'{membership}' is not a membership of a {version.title} subject",
                        )
                    )
            level_ids = {level.id for level in version.levels}
            for index, level in enumerate(indicator.levels or []):
                if level not in level_ids:
                    issues.append(Issue((*path, "levels", index), f"unknown level '{level}'"))
            for group in indicator.groups or []:
                if group not in group_ids:
                    issues.append(Issue((*path, "groups"), f"unknown subject group '{group}'"))
            for group in indicator.labels_by_group:
                if group not in group_ids:
                    issues.append(Issue((*path, "labels_by_group", group), f"unknown subject group '{group}'"))
            if (
                indicator.minimum is not None
                and indicator.maximum is not None
                and indicator.minimum > indicator.maximum
            ):
                issues.append(Issue((*path, "maximum"), "must not be below minimum"))
    rule_sets = [(("pass_rules",), version.pass_rules)] if version.pass_rules else []
    rule_sets += [(("levels", index, "rules"), level.rules) for index, level in enumerate(version.levels)]
    for path, rules in rule_sets:
        for index, indicator_id in enumerate(rules.required):
            if indicator_id not in indicator_ids:
                issues.append(Issue((*path, "required", index), f"unknown indicator '{indicator_id}'"))
        for indicator_id in rules.indicator_min:
            if indicator_id not in indicator_ids:
                issues.append(Issue((*path, "indicator_min", indicator_id), f"unknown indicator '{indicator_id}'"))
    ranks = [level.rank for level in version.levels]
    if len(ranks) != len(set(ranks)):
        issues.append(Issue(("levels",), "each level needs its own rank"))
    for o_index, override in enumerate(version.overrides):
        for indicator_id in override.thresholds:
            indicator = next((i for i in version.indicators() if i.id == indicator_id), None)
            if indicator is None or indicator.threshold is None:
                issues.append(
                    Issue(
                        ("overrides", o_index, "thresholds", indicator_id),
                        f"'{indicator_id}' is not an indicator with a threshold",
                    )
                )
    if version.version in version.replaces:
        issues.append(Issue(("replaces",), "a version cannot replace itself"))
    groups = [override.unit_group for override in version.overrides]
    if len(groups) != len(set(groups)):
        issues.append(Issue(("overrides",), "at most one override per unit group"))
    if version.procedure is not None:
        issues += _duplicates(version.procedure.deadlines, ("procedure", "deadlines"), "deadline")
    return issues + _workflow_issues(version)


def _workflow_issues(version: CriteriaVersion) -> list[Issue]:
    workflow = version.workflow
    if workflow is None:
        return []
    issues = []
    deadlines = {deadline.id for deadline in version.procedure.deadlines} if version.procedure else set()
    for field in ("dossier_deadline", "decision_deadline"):
        named = getattr(workflow, field)
        if named is not None and named not in deadlines:
            issues.append(Issue(("workflow", field), f"unknown deadline '{named}' (procedure.deadlines)"))
    if workflow.next_level_after_months is not None and len(version.levels) < 2:
        issues.append(Issue(("workflow", "next_level_after_months"), "applies to a version with two or more levels"))
    return issues


def parse_version(data: Any) -> CriteriaVersion:
    """A validated version from parsed YAML/JSON; raises InvalidCriteria with every issue."""
    if not isinstance(data, dict):
        raise InvalidCriteria([Issue((), "a criteria file is a mapping (title, version, criteria, …)")])
    try:
        version = CriteriaVersion.model_validate(data)
    except ArithmeticError:
        raise InvalidCriteria([Issue((), "a number is out of range")]) from None
    except ValidationError as error:
        raise InvalidCriteria(
            [Issue(tuple(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in error.errors()]
        ) from None
    issues = semantic_issues(version)
    if issues:
        raise InvalidCriteria(issues)
    return version


def _line_of(root: yaml.Node | None, path: Path_) -> int | None:
    """1-based line of the YAML node at `path` (or of its nearest existing parent)."""
    node, line = root, (root.start_mark.line + 1) if root is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = next((value for key, value in node.value if getattr(key, "value", None) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            match = node.value[part]
        else:
            match = None
        if match is None:
            break
        node, line = match, match.start_mark.line + 1
    return line


MAX_YAML_DEPTH = 32


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, refusing what no criteria file needs and an attacker would send:
    nesting deeper than MAX_YAML_DEPTH (the composer recurses once per level) and aliases
    (a few lines of them expand into billions of nodes when the data is walked)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in criteria files", self.peek_event().start_mark
            )
        depth = getattr(self, "_depth", 0)
        if depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_YAML_DEPTH} levels", self.peek_event().start_mark
            )
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth


def load_text(text: str) -> CriteriaVersion:
    """Parse YAML (or JSON) text; issues carry line numbers."""
    try:
        root = yaml.compose(text, Loader=_BoundedLoader)
        data = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise InvalidCriteria(
            [Issue((), f"not valid YAML: {getattr(error, 'problem', error)}", mark.line + 1 if mark else None)]
        ) from None
    except (ValueError, TypeError, AttributeError, OverflowError, ArithmeticError):
        # A scalar the YAML constructors cannot make a value of: a date like 2023-02-30, a tag
        # like `!!int 'abc'`, an integer of thousands of digits.
        raise InvalidCriteria([Issue((), "not valid YAML: a value (date, number or tag) cannot be read")]) from None
    try:
        return parse_version(data)
    except InvalidCriteria as invalid:
        raise InvalidCriteria([Issue(i.path, i.message, _line_of(root, i.path)) for i in invalid.issues]) from None


def load_file(path: Path) -> CriteriaVersion:
    return load_text(path.read_text(encoding="utf-8"))


def canonical_json(version: CriteriaVersion) -> str:
    """The stored form: stable key order and no field left at its default, so equal content has
    an equal hash, and a field the schema gains later leaves the hash of every file that does not
    use it unchanged."""
    return json.dumps(
        version.model_dump(mode="json", exclude_defaults=True),
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def content_hash(version: CriteriaVersion) -> str:
    return hashlib.sha256(canonical_json(version).encode("utf-8")).hexdigest()
