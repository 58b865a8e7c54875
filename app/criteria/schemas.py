"""Bodies of the criteria API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.criteria.models import VersionState
from app.rules import Change


class VersionSummary(BaseModel):
    title: str
    version: str
    name: str
    state: VersionState
    effective_from: date
    effective_to: date | None
    scope: str
    provinces: list[str]
    provisional: bool = Field(description="Có giá trị chưa đối chiếu với văn bản chính thức")
    content_hash: str
    published_at: datetime | None
    retired_at: datetime | None


class VersionDetail(VersionSummary):
    content: dict[str, Any] = Field(description="Toàn văn phiên bản (theo criteria/schema.json)")


class VersionList(BaseModel):
    items: list[VersionSummary]
    total: int


class ChangeList(BaseModel):
    items: list[Change]
    total: int


class ContextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_group: str | None = Field(default=None, max_length=64)
    unit_groups: list[str] = Field(default_factory=list, max_length=20)


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, Any] = Field(default_factory=dict, max_length=500)
    derived: dict[str, Any] = Field(default_factory=dict, max_length=100)
    context: ContextIn = Field(default_factory=ContextIn)
