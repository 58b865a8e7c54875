"""The rule engine for learning-title criteria (bộ tiêu chí), in the manner of OpenFisca-core:
a pure package — no web framework, no database — tested with data files of input → expected
result. The web API and the registry import it; it imports neither."""

from app.rules.diff import Change, diff_versions
from app.rules.engine import AnswerIssue, AnswersInvalid, EvaluationContext, Result, evaluate
from app.rules.loading import InvalidCriteria, Issue, canonical_json, content_hash, load_file, load_text, parse_version
from app.rules.model import CriteriaVersion, TitleCode

__all__ = [
    "AnswerIssue",
    "AnswersInvalid",
    "Change",
    "CriteriaVersion",
    "EvaluationContext",
    "InvalidCriteria",
    "Issue",
    "Result",
    "TitleCode",
    "canonical_json",
    "content_hash",
    "diff_versions",
    "evaluate",
    "load_file",
    "load_text",
    "parse_version",
]
