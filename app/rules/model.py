"""A criteria version (bộ tiêu chí) as data: the schema every file in `criteria/` must follow.

Every value that carries legal weight can be marked `provisional: true` with a `note` saying
what is not yet confirmed against the official text; the API, forms and certificates show it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Mã: chữ thường, số, gạch dưới")]
# Numbers of a criteria file: finite, of sane size and precision (a 4,000-digit or 1e308 value
# is a mistake or an attack, and would break the arithmetic of scoring).
Quantity = Annotated[Decimal, Field(allow_inf_nan=False, ge=-(10**9), le=10**9, max_digits=18, decimal_places=6)]
Points = Annotated[Decimal, Field(allow_inf_nan=False, ge=0, le=100_000, max_digits=12, decimal_places=4)]
Label = Annotated[str, Field(min_length=1, max_length=1000)]


class TitleCode(StrEnum):
    CITIZEN = "citizen"  # Công dân học tập
    FAMILY = "family"  # Gia đình học tập
    CLAN = "clan"  # Dòng họ học tập
    COMMUNITY = "community"  # Cộng đồng học tập (thôn, tổ dân phố)
    UNIT = "unit"  # Đơn vị học tập
    COMMUNE = "commune"  # Cộng đồng học tập cấp xã
    DISTRICT = "district"  # Cộng đồng học tập cấp huyện ("huyện học tập"; districts ended on 01/7/2025)
    PROVINCE = "province"  # Cộng đồng học tập cấp tỉnh ("tỉnh học tập", "thành phố học tập")


class IndicatorKind(StrEnum):
    SCORE = "score"  # points 0..max_points, entered by the assessor
    YES_NO = "yes_no"  # max_points when met, else 0
    NUMBER = "number"  # a measured number; max_points when it meets the threshold
    DERIVED = "derived"  # computed by the registry (e.g. a share of members holding a title)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Provenance(Strict):
    provisional: bool = Field(default=False, description="Chưa đối chiếu với văn bản chính thức")
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _provisional_needs_note(self):
        if self.provisional and not (self.note and self.note.strip()):
            raise ValueError("a provisional value needs a note saying what is not confirmed")
        return self


class Document(Strict):
    number: str = Field(min_length=1, max_length=100, examples=["244/QĐ-KHVN"])
    date: dt.date | None = None
    issuer: str = Field(min_length=1, max_length=300)
    title: str | None = Field(default=None, max_length=1000)
    provisional: bool = False
    note: str | None = None


ManagingLevelCode = Literal["commune", "district", "province", "central"]


class Applicability(Strict):
    scope: Literal["national", "provinces"] = "national"
    provinces: list[Annotated[str, Field(pattern=r"^[0-9]{2}$")]] = Field(default_factory=list)
    managing_levels: list[ManagingLevelCode] = Field(
        default_factory=list,
        description="Đơn vị học tập: chỉ các cơ quan, đơn vị do cấp này quản lý (trống: mọi cấp)",
    )

    @model_validator(mode="after")
    def _provinces_match_scope(self):
        if self.scope == "provinces" and not self.provinces:
            raise ValueError("scope 'provinces' needs at least one province code")
        if self.scope == "national" and self.provinces:
            raise ValueError("a national version lists no provinces")
        return self


class Threshold(Strict):
    op: Literal[">=", ">", "<=", "<", "=="] = ">="
    value: Quantity


class Membership(StrEnum):
    """Whom a derived indicator counts, by their tie to the subject on the reference date."""

    CLAN_HOUSEHOLDS = "clan_households"  # households belonging to the clan that day
    CLAN_MEMBERS = "clan_members"  # people in those households that day
    HOUSEHOLD_MEMBERS = "household_members"  # people in the household that day
    VILLAGE_HOUSEHOLDS = "village_households"  # households residing in the village that day
    ORGANISATION_STAFF = "organisation_staff"  # people on the organisation's staff that day
    COMMUNE_CITIZENS = "commune_citizens"  # people residing in the commune (or its villages) that day
    DISTRICT_COMMUNES = "district_communes"  # communes of the district in force that day
    PROVINCE_DISTRICTS = "province_districts"  # districts of the province in force that day
    PROVINCE_COMMUNES = "province_communes"  # communes of the province in force that day


# The memberships each title's subject has, and which of them are people (an age band applies).
MEMBERSHIPS: dict[TitleCode, tuple[Membership, ...]] = {
    TitleCode.CLAN: (Membership.CLAN_HOUSEHOLDS, Membership.CLAN_MEMBERS),
    TitleCode.FAMILY: (Membership.HOUSEHOLD_MEMBERS,),
    TitleCode.COMMUNITY: (Membership.VILLAGE_HOUSEHOLDS,),
    TitleCode.UNIT: (Membership.ORGANISATION_STAFF,),
    TitleCode.COMMUNE: (Membership.COMMUNE_CITIZENS,),
    TitleCode.DISTRICT: (Membership.DISTRICT_COMMUNES,),
    TitleCode.PROVINCE: (Membership.PROVINCE_DISTRICTS, Membership.PROVINCE_COMMUNES),
}
PEOPLE = frozenset(
    {Membership.CLAN_MEMBERS, Membership.HOUSEHOLD_MEMBERS, Membership.ORGANISATION_STAFF, Membership.COMMUNE_CITIZENS}
)
_MEMBERSHIP_WORDS = {
    Membership.CLAN_HOUSEHOLDS: "hộ thuộc dòng họ",
    Membership.CLAN_MEMBERS: "thành viên các hộ thuộc dòng họ",
    Membership.HOUSEHOLD_MEMBERS: "thành viên của hộ",
    Membership.VILLAGE_HOUSEHOLDS: "hộ cư trú tại thôn/tổ dân phố",
    Membership.ORGANISATION_STAFF: "cán bộ, người lao động của đơn vị",
    Membership.COMMUNE_CITIZENS: "công dân cư trú trên địa bàn xã",
    Membership.DISTRICT_COMMUNES: "xã, phường, thị trấn của huyện",
    Membership.PROVINCE_DISTRICTS: "huyện, quận, thị xã, thành phố thuộc tỉnh",
    Membership.PROVINCE_COMMUNES: "xã, phường, đặc khu của tỉnh",
}


class AgeBand(Strict):
    """Ages in completed years on the reference date, both bounds included."""

    min: int | None = Field(default=None, ge=0, le=150, description="Từ … tuổi trở lên")
    max: int | None = Field(default=None, ge=0, le=150, description="Đến … tuổi")

    @model_validator(mode="after")
    def _ordered(self):
        if self.min is None and self.max is None:
            raise ValueError("an age band needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class Population(Strict):
    """Who is counted: the membership kind, on the reference date, and for people an age band
    (people without a known birth date are then not counted)."""

    membership: Membership
    age: AgeBand | None = None

    @model_validator(mode="after")
    def _age_for_people(self):
        if self.age is not None and self.membership not in PEOPLE:
            raise ValueError(f"an age band applies to people, not to {self.membership}")
        return self

    def describe(self) -> str:
        words = _MEMBERSHIP_WORDS[self.membership]
        if self.age is None:
            ages = ", mọi độ tuổi" if self.membership in PEOPLE else ""
        elif self.age.max is None:
            ages = f", từ đủ {self.age.min} tuổi trở lên"
        elif self.age.min is None:
            ages = f", đến {self.age.max} tuổi"
        else:
            ages = f", từ đủ {self.age.min} đến {self.age.max} tuổi"
        return f"{words[0].upper()}{words[1:]}{ages}, tính vào ngày tham chiếu"


class DerivedSource(Strict):
    """What the registry computes for a derived indicator, as of the assessment's date."""

    measure: Literal["share_holding_title", "count_holding_title"]
    title: TitleCode = Field(description="Danh hiệu được đếm (còn hiệu lực vào ngày tham chiếu)")
    population: Population
    levels: list[Identifier] = Field(
        default_factory=list,
        description="Chỉ đếm công nhận ở một trong các mức độ này (của bộ tiêu chí danh hiệu được đếm); trống: mọi mức",
    )


class Indicator(Provenance):
    id: Identifier
    label: Label
    labels_by_group: dict[Identifier, Label] = Field(default_factory=dict)
    kind: IndicatorKind
    max_points: Points
    step: Points = Field(default=Decimal(1), gt=0, description="Bước điểm cho loại score (1 hoặc 0.5)")
    pass_min: Points | None = Field(default=None, description="Điểm tối thiểu để chỉ số này được tính là đạt")
    threshold: Threshold | None = None
    minimum: Quantity | None = Field(default=None, description="Giá trị nhỏ nhất được nhập (loại number)")
    maximum: Quantity | None = Field(default=None, description="Giá trị lớn nhất được nhập (loại number)")
    unit: str | None = Field(default=None, max_length=50)
    derived: DerivedSource | None = None
    mandatory: bool = False
    groups: list[Identifier] | None = Field(default=None, description="Chỉ áp dụng cho các nhóm đối tượng này")
    levels: list[Identifier] | None = Field(
        default=None, description="Chỉ xét ở các mức độ này (văn bản quy định khác nhau theo mức độ); trống: mọi mức"
    )
    reference: str | None = Field(default=None, max_length=200, description="Vị trí trong văn bản: Điều, khoản, điểm")
    official_text: str | None = Field(
        default=None,
        max_length=4000,
        description="Nguyên văn chỉ tiêu trong văn bản, khi nhãn là dạng rút gọn hoặc chỉ tiêu được tách "
        "thành nhiều giá trị đo",
    )

    @model_validator(mode="after")
    def _fits_kind(self):
        if self.kind in (IndicatorKind.NUMBER, IndicatorKind.DERIVED) and self.threshold is None:
            raise ValueError(f"a {self.kind} indicator needs a threshold")
        if self.kind in (IndicatorKind.SCORE, IndicatorKind.YES_NO) and self.threshold is not None:
            raise ValueError(f"a {self.kind} indicator has no threshold")
        if (self.kind == IndicatorKind.DERIVED) != (self.derived is not None):
            raise ValueError("'derived' is given exactly for derived indicators")
        if self.pass_min is not None and (self.kind != IndicatorKind.SCORE or self.pass_min > self.max_points):
            raise ValueError("pass_min applies to score indicators and cannot exceed max_points")
        if self.kind == IndicatorKind.SCORE and self.max_points % self.step:
            raise ValueError("max_points must be a multiple of step")
        return self


class Criterion(Provenance):
    id: Identifier
    label: Label
    max_points: Points | None = Field(default=None, description="Tổng điểm của tiêu chí, nếu văn bản nêu")
    indicators: list[Indicator] = Field(min_length=1)

    @model_validator(mode="after")
    def _points_add_up(self):
        if self.max_points is not None:
            total = sum((indicator.max_points for indicator in self.indicators), Decimal(0))
            if total != self.max_points:
                raise ValueError(f"indicators' max_points add up to {total}, not {self.max_points}")
        return self


class PassRules(Provenance):
    """All stated conditions must hold. Unstated ones do not apply."""

    total_min: Points | None = Field(default=None, description="Tổng điểm tối thiểu")
    each_score_min: Points | None = Field(default=None, description="Mỗi chỉ số loại score tối thiểu")
    all_mandatory: bool = Field(default=True, description="Mọi chỉ số bắt buộc phải đạt")
    required: list[Identifier] = Field(default_factory=list, description="Các chỉ số phải đạt")
    indicator_min: dict[Identifier, Points] = Field(default_factory=dict, description="Điểm tối thiểu riêng")


class PassRulesChange(Strict):
    """The fields an override replaces; the rest come from the rules it modifies."""

    total_min: Points | None = None
    each_score_min: Points | None = None


class Level(Provenance):
    id: Identifier
    label: Label
    rank: int = Field(ge=1, description="Mức cao hơn có rank lớn hơn")
    rules: PassRules


class Override(Provenance):
    """Different pass rules for a unit group (e.g. disadvantaged areas), applied only when the
    evaluation context names that group."""

    id: Identifier
    label: Label
    unit_group: Identifier
    rules: PassRulesChange = Field(default_factory=lambda: PassRulesChange())
    thresholds: dict[Identifier, Threshold] = Field(
        default_factory=dict, description="Ngưỡng khác của một số chỉ số cho nhóm đơn vị này"
    )


class SubjectGroup(Strict):
    id: Identifier
    label: Label
    provisional: bool = False
    note: str | None = None


class RecognitionPeriod(Provenance):
    months: int = Field(ge=1, le=120)
    starts: Literal["decision", "year_after_decision"] = Field(
        default="decision",
        description="Hiệu lực tính từ ngày quyết định, hoặc từ ngày 01/01 của năm sau năm có quyết định",
    )
    text: str | None = Field(default=None, max_length=2000, description="Nguyên văn quy định về thời hạn")
    reference: str | None = Field(default=None, max_length=200)


class MonthDay(Strict):
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)

    @model_validator(mode="after")
    def _exists(self):
        dt.date(2024, self.month, self.day)  # a leap year: 29/02 exists
        return self


class Deadline(Provenance):
    """A date the procedure must meet, counted from the assessed year (the period)."""

    id: Identifier
    label: Label
    by: MonthDay = Field(description="Trước ngày …")
    years_after_period: int = Field(default=1, ge=0, le=3, description="Năm của hạn: năm đánh giá + …")
    text: str | None = Field(default=None, max_length=2000)
    reference: str | None = Field(default=None, max_length=200)


class Procedure(Provenance):
    """The procedure's dates and actors as the document states them (app checks them where the
    workflow is built; the data are here with their words)."""

    data_from: MonthDay | None = Field(default=None, description="Số liệu tính từ ngày … của năm đánh giá")
    data_to: MonthDay | None = Field(default=None, description="… đến ngày … của năm đánh giá")
    data_text: str | None = Field(default=None, max_length=2000)
    deadlines: list[Deadline] = Field(default_factory=list)
    recognised_by: str | None = Field(default=None, max_length=500, description="Ai quyết định công nhận")


class Workflow(Provenance):
    """What the registry enforces of the procedure, for the assessments filed under this version
    and the decisions recognising them. A version without it gets none of these checks.

    The deadlines are those of `procedure.deadlines`, named by id (the days and the text's words
    stay there); each is met up to and including its day. The assessment covers the data window
    of `procedure` (`data_from`–`data_to` of the assessed year; 1/1–31/12 if not given), is
    dated on its last day, and is submitted from the day after it."""

    dossier_deadline: Identifier | None = Field(
        default=None, description="Hạn gửi hồ sơ (mã một hạn trong procedure.deadlines): nộp đến hết ngày này"
    )
    decision_deadline: Identifier | None = Field(
        default=None,
        description="Hạn quyết định công nhận (mã một hạn trong procedure.deadlines): ngày quyết định đến hết ngày này",
    )
    decided_by_level: Literal["commune", "province"] = Field(
        default="commune",
        description="Cấp ghi quyết định công nhận: cán bộ cấp xã của đơn vị, hoặc cán bộ cấp tỉnh của tỉnh có đơn vị",
    )
    next_level_after_months: int | None = Field(
        default=None,
        ge=1,
        le=120,
        description="Một mức độ trên mức thấp nhất chỉ được công nhận khi đối tượng đã được công nhận ở mức liền dưới "
        "(hoặc cao hơn) ít nhất … tháng, tính từ ngày quyết định đó đến ngày quyết định mới",
    )


class CriteriaVersion(Provenance):
    """One version of the criteria of one title."""

    schema_version: Literal[1] = 1
    title: TitleCode
    version: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    name: Label
    documents: list[Document] = Field(min_length=1)
    effective_from: dt.date
    effective_to: dt.date | None = Field(default=None, description="Ngày thôi áp dụng (không tính ngày này)")
    applies_to: Applicability = Field(default_factory=Applicability)
    subject_groups: list[SubjectGroup] = Field(default_factory=list)
    criteria: list[Criterion] = Field(min_length=1)
    pass_rules: PassRules | None = None
    levels: list[Level] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)
    recognition_period: RecognitionPeriod
    procedure: Procedure | None = None
    workflow: Workflow | None = None
    replaces: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]] = Field(
        default_factory=list,
        description="Phiên bản (cùng danh hiệu) mà phiên bản này thay thế: khi công bố, các phiên bản đó ngừng áp dụng",
    )

    def indicators(self) -> list[Indicator]:
        return [indicator for criterion in self.criteria for indicator in criterion.indicators]

    @property
    def any_provisional(self) -> bool:
        nodes: list[Provenance] = [
            self,
            self.recognition_period,
            *self.criteria,
            *self.indicators(),
            *self.levels,
            *self.overrides,
            *([self.procedure, *self.procedure.deadlines] if self.procedure else []),
            *([self.workflow] if self.workflow else []),
        ]
        if self.pass_rules is not None:
            nodes.append(self.pass_rules)
        return any(node.provisional for node in nodes) or any(d.provisional for d in self.documents)
