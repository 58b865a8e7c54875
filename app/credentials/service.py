"""Issuing, suspending and verifying signed credentials of recognitions (giấy công nhận điện tử).

A credential is a W3C Verifiable Credential 2.0 shaped after Open Badges 3.0, signed as a JWS
(`application/vc+jwt`) by the registry on behalf of the recognising commune. It names its subject
by an opaque `urn:uuid` only: never the national ID, a hash of it, a birth date or an address. A
person's or household's name is included only when the holder asked for it.

Its status lives in two W3C Bitstring Status Lists (revocation, suspension) at a random index;
the bits change in the transaction that revokes the recognition or suspends the credential.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.assessments.models import Decision, Recognition
from app.audit.service import record as audit
from app.auth.principal import Principal
from app.auth.tokens import CredentialKeys, CredentialSignatureError
from app.credentials import statuslist
from app.credentials.models import Credential, StatusList
from app.credentials.schemas import CredentialOut
from app.criteria.models import CriteriaVersionRecord
from app.exceptions import Conflict
from app.registry.models import Clan, Household, Organisation, Person
from app.rules.model import TitleCode
from app.stats.report import TITLE_NAMES
from app.units.models import AdministrativeUnit, UnitLevel

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
STATUS_PATH = "/api/v1/status-lists/"
# Titles held by people (a household is named after one): their names go into a credential only
# when the holder asks. Clans, villages, organisations and communes are named always.
PERSONAL_TITLES = (TitleCode.CITIZEN, TitleCode.FAMILY)
_SUBJECT_NAMES = {
    TitleCode.CITIZEN: Person.full_name,
    TitleCode.FAMILY: Household.name,
    TitleCode.CLAN: Clan.name,
    TitleCode.UNIT: Organisation.name,
    TitleCode.COMMUNITY: AdministrativeUnit.name,
    TitleCode.COMMUNE: AdministrativeUnit.name,
    TitleCode.DISTRICT: AdministrativeUnit.name,
    TitleCode.PROVINCE: AdministrativeUnit.name,
}


@dataclass(frozen=True)
class RecognitionFacts:
    """What a credential and a printed document say about one recognition."""

    recognition_id: int
    title: str
    period: int
    level: str | None
    valid_from: date
    valid_until: date  # exclusive
    revoked_on: date | None
    decision_id: int
    decision_number: str
    decided_on: date
    signer: str
    commune_code: str
    commune_name: str
    criteria_version: str
    criteria_name: str
    provisional: bool
    subject_id: int
    subject_name: str | None
    village_name: str | None

    @property
    def title_name(self) -> str:
        return TITLE_NAMES.get(TitleCode(self.title), self.title)

    @property
    def named_always(self) -> bool:
        return TitleCode(self.title) not in PERSONAL_TITLES


def recognition_facts(session: Session, condition) -> list[RecognitionFacts]:
    """The facts of the recognitions matching `condition`, in id order: one statement for the
    recognitions and one per title for the subjects' names."""
    commune, village = AdministrativeUnit.__table__.alias("commune"), AdministrativeUnit.__table__.alias("village")
    rows = session.execute(
        select(
            Recognition,
            Decision.number,
            Decision.decided_on,
            Decision.signer,
            commune.c.code,
            commune.c.name,
            CriteriaVersionRecord.version_id,
            CriteriaVersionRecord.name,
            CriteriaVersionRecord.provisional,
            village.c.name,
            village.c.level,
        )
        .join(Decision, Decision.id == Recognition.decision_id)
        .join(commune, commune.c.id == Decision.unit_id)
        .join(CriteriaVersionRecord, CriteriaVersionRecord.id == Recognition.criteria_version_id)
        .join(village, village.c.id == Recognition.unit_id)
        .where(condition)
        .order_by(Recognition.id)
    ).all()
    names = subject_names(session, [(r.title, r.subject_id) for r, *_ in rows])
    return [
        RecognitionFacts(
            recognition_id=r.id,
            title=r.title,
            period=r.period,
            level=r.level,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            revoked_on=r.revoked_on,
            decision_id=r.decision_id,
            decision_number=number,
            decided_on=decided_on,
            signer=signer,
            commune_code=commune_code,
            commune_name=commune_name,
            criteria_version=version_id,
            criteria_name=version_name,
            provisional=provisional,
            subject_id=r.subject_id,
            subject_name=names.get((r.title, r.subject_id)),
            village_name=village_name if village_level == UnitLevel.VILLAGE else None,
        )
        for (
            r,
            number,
            decided_on,
            signer,
            commune_code,
            commune_name,
            version_id,
            version_name,
            provisional,
            village_name,
            village_level,
        ) in rows
    ]


def subject_names(session: Session, subjects: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    by_title: dict[str, set[int]] = {}
    for title, subject_id in subjects:
        by_title.setdefault(title, set()).add(subject_id)
    names: dict[tuple[str, int], str] = {}
    for title, ids in by_title.items():
        column = _SUBJECT_NAMES[TitleCode(title)]
        key = column.class_.id
        for subject_id, name in session.execute(select(key, column).where(key.in_(sorted(ids)))):
            names[(title, subject_id)] = name
    return names


# --- the credential document ------------------------------------------------------------------


def _instant(day: date) -> str:
    """A calendar day of Vietnam as the dateTime it starts at."""
    return clock.start_of(day).astimezone(clock.zone()).isoformat()


def status_list_url(base_url: str, number: int, purpose: str) -> str:
    return f"{base_url.rstrip('/')}{STATUS_PATH}{number}/{purpose}"


def verify_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{code}"


def credential_document(
    facts: RecognitionFacts,
    *,
    code: str,
    subject_ref: str,
    include_name: bool,
    status_list: int,
    status_index: int,
    base_url: str,
    issued_at: datetime,
) -> dict[str, Any]:
    """The unsecured credential (the JWS payload). Nothing here may identify a person beyond
    the name the holder chose to show."""
    base = base_url.rstrip("/")
    issuer_id = f"{base}/api/v1/units/{facts.commune_code}"
    criteria_url = f"{base}/api/v1/criteria/versions/{facts.title}/{facts.criteria_version}"
    provisional = " (tạm thời)" if facts.provisional else ""
    subject: dict[str, Any] = {
        "id": subject_ref,
        "type": ["AchievementSubject"],
        "achievement": {
            "id": criteria_url,
            "type": ["Achievement"],
            "achievementType": "Award",
            "name": facts.title_name,
            "description": f"Danh hiệu “{facts.title_name}” năm {facts.period}",
            "criteria": {"id": criteria_url, "narrative": f"{facts.criteria_name}{provisional}"},
            "version": facts.criteria_version,
        },
    }
    if (include_name or facts.named_always) and facts.subject_name:
        subject["name"] = facts.subject_name
    status = [
        {
            "id": f"{status_list_url(base, status_list, purpose)}#{status_index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": str(status_index),
            "statusListCredential": status_list_url(base, status_list, purpose),
        }
        for purpose in statuslist.PURPOSES
    ]
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": verify_url(base, code),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{facts.title_name} năm {facts.period}",
        "issuer": {"id": issuer_id, "type": ["Profile"], "name": f"UBND {facts.commune_name}"},
        "validFrom": _instant(facts.valid_from),
        "validUntil": _instant(facts.valid_until),
        "credentialSubject": subject,
        "credentialStatus": status,
        # What the registry adds (undefined terms fall under the VC 2.0 context's @vocab).
        "recognition": {
            "title": facts.title,
            "period": facts.period,
            "level": facts.level,
            "decision": {"number": facts.decision_number, "date": facts.decided_on.isoformat()},
            "criteriaVersion": {"id": facts.criteria_version, "provisional": facts.provisional},
        },
        # JWT claims that restate the document (VC-JOSE-COSE: they must not conflict with it).
        "iss": issuer_id,
        "jti": verify_url(base, code),
        "iat": int(issued_at.timestamp()),
    }


# --- status lists -----------------------------------------------------------------------------


def _lock_lists(session: Session, number: int) -> dict[str, StatusList]:
    rows = session.scalars(
        select(StatusList).where(StatusList.number == number).order_by(StatusList.purpose).with_for_update()
    )
    return {row.purpose: row for row in rows}


def _new_lists(session: Session, number: int) -> dict[str, StatusList]:
    now = clock.now()
    lists = {
        purpose: StatusList(number=number, purpose=purpose, bits=statuslist.empty(), allocated=0, updated_at=now)
        for purpose in statuslist.PURPOSES
    }
    session.add_all(lists.values())
    session.flush()
    return lists


def _allocate(session: Session, count: int) -> list[tuple[int, int]]:
    """`count` free (list, index) pairs at random positions. The open list's rows are locked
    until the transaction ends, so two decisions never draw the same index."""
    pairs: list[tuple[int, int]] = []
    while len(pairs) < count:
        number = session.scalar(select(func.max(StatusList.number))) or 0
        lists = _lock_lists(session, number) if number else {}
        if not lists or lists["revocation"].allocated >= statuslist.SIZE:
            # Another transaction may have opened the next list while this one waited for the lock.
            if (session.scalar(select(func.max(StatusList.number))) or 0) != number:
                continue
            number += 1
            lists = _new_lists(session, number)
        opened = lists["revocation"]
        used = set(session.scalars(select(Credential.status_index).where(Credential.status_list == number)))
        used.update(index for n, index in pairs if n == number)
        take = min(count - len(pairs), statuslist.SIZE - len(used))
        drawn: set[int] = set()
        while len(drawn) < take:
            index = secrets.randbelow(statuslist.SIZE)
            if index not in used:
                drawn.add(index)
        pairs.extend((number, index) for index in drawn)
        opened.allocated = len(used) + take
        session.flush()
    return pairs


def _set_bits(session: Session, purpose: str, credentials: list[Credential], value: bool) -> None:
    by_list: dict[int, list[int]] = {}
    for credential in credentials:
        by_list.setdefault(credential.status_list, []).append(credential.status_index)
    now = clock.now()
    for number, indexes in sorted(by_list.items()):
        row = _lock_lists(session, number)[purpose]
        bits = row.bits
        for index in indexes:
            bits = statuslist.with_bit(bits, index, value)
        if bits != row.bits:
            row.bits, row.version, row.updated_at = bits, row.version + 1, now
    session.flush()


@dataclass(frozen=True)
class PublishedList:
    number: int
    purpose: str
    version: int
    encoded: str
    updated_at: datetime


def published_list(session: Session, number: int, purpose: str) -> PublishedList | None:
    row = session.scalar(select(StatusList).where(StatusList.number == number, StatusList.purpose == purpose))
    if row is None:
        return None
    return PublishedList(number, purpose, row.version, statuslist.encode(row.bits), row.updated_at)


def status_list_document(base_url: str, published: PublishedList, ttl_seconds: int) -> dict[str, Any]:
    url = status_list_url(base_url, published.number, published.purpose)
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        # The registry signs every commune's credentials, so it issues the lists they share.
        "issuer": {"id": base_url.rstrip("/"), "name": "hoctap"},
        "validFrom": published.updated_at.isoformat(),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": published.purpose,
            "encodedList": published.encoded,
            "ttl": ttl_seconds * 1000,
        },
        "iss": base_url.rstrip("/"),
        "iat": int(published.updated_at.timestamp()),
    }


# --- issuing ----------------------------------------------------------------------------------


def issue(
    session: Session,
    keys: CredentialKeys,
    base_url: str,
    principal: Principal,
    facts: list[RecognitionFacts],
    *,
    include_name: bool = False,
) -> list[Credential]:
    """Sign one credential per recognition; a re-issue keeps the subject's opaque id."""
    if not facts:
        return []
    now = clock.now()
    refs = dict(
        session.execute(
            select(Credential.recognition_id, func.min(Credential.subject_ref))
            .where(Credential.recognition_id.in_([f.recognition_id for f in facts]))
            .group_by(Credential.recognition_id)
        ).all()
    )
    issued = []
    for one, (number, index) in zip(facts, _allocate(session, len(facts)), strict=True):
        code = secrets.token_urlsafe(12)  # 96 random bits: a link nobody can guess or count
        subject_ref = refs.get(one.recognition_id) or uuid.uuid4().urn
        token = keys.sign(
            credential_document(
                one,
                code=code,
                subject_ref=subject_ref,
                include_name=include_name,
                status_list=number,
                status_index=index,
                base_url=base_url,
                issued_at=now,
            )
        )
        issued.append(
            Credential(
                code=code,
                recognition_id=one.recognition_id,
                subject_ref=subject_ref,
                includes_name=include_name or one.named_always,
                status_list=number,
                status_index=index,
                kid=keys.kid,
                token=token,
                issued_at=now,
                issued_by_id=principal.id or None,
            )
        )
    session.add_all(issued)
    session.flush()
    for credential in issued:
        audit(
            session,
            principal,
            "issue",
            "credential",
            credential.id,
            None,
            {"code": credential.code, "kid": credential.kid, "recognition_id": credential.recognition_id},
            recognition_id=credential.recognition_id,
            includes_name=credential.includes_name,
        )
    # A recognition revoked before this (re-)issue: its credential is born revoked.
    revoked = {f.recognition_id for f in facts if f.revoked_on is not None}
    if revoked:
        born_revoked = [c for c in issued if c.recognition_id in revoked]
        for credential in born_revoked:
            credential.revoked_at = now
        _set_bits(session, "revocation", born_revoked, True)
    return issued


def issue_for_decision(
    session: Session, keys: CredentialKeys, base_url: str, principal: Principal, decision: Decision
) -> list[Credential]:
    return issue(session, keys, base_url, principal, recognition_facts(session, Recognition.decision_id == decision.id))


def codes_of(session: Session, recognition_ids: list[int]) -> dict[int, list[str]]:
    codes: dict[int, list[str]] = {}
    if recognition_ids:
        rows = session.execute(
            select(Credential.recognition_id, Credential.code)
            .where(Credential.recognition_id.in_(recognition_ids))
            .order_by(Credential.id)
        )
        for recognition_id, code in rows:
            codes.setdefault(recognition_id, []).append(code)
    return codes


def revoke_recognition(session: Session, recognition: Recognition) -> None:
    """Called inside the recognition's revocation: its credentials' bits change with it."""
    credentials = list(
        session.scalars(
            select(Credential)
            .where(Credential.recognition_id == recognition.id, Credential.revoked_at.is_(None))
            .order_by(Credential.id)
        )
    )
    for credential in credentials:
        credential.revoked_at = recognition.revoked_at
    _set_bits(session, "revocation", credentials, True)


def suspend(session: Session, principal: Principal, credential: Credential, reason: str) -> Credential:
    if credential.revoked_at is not None:
        raise Conflict("Giấy công nhận này đã bị thu hồi.", code="already_revoked")
    if credential.suspended_at is not None:
        raise Conflict("Giấy công nhận này đang bị tạm đình chỉ.", code="already_suspended")
    credential.suspended_at, credential.suspended_reason = clock.now(), reason.strip()
    _set_bits(session, "suspension", [credential], True)
    audit(session, principal, "suspend", "credential", credential.id, None, None, reason=credential.suspended_reason)
    session.flush()
    return credential


def reinstate(session: Session, principal: Principal, credential: Credential) -> Credential:
    if credential.suspended_at is None:
        raise Conflict("Giấy công nhận này không bị tạm đình chỉ.", code="not_suspended")
    credential.suspended_at, credential.suspended_reason = None, None
    _set_bits(session, "suspension", [credential], False)
    audit(session, principal, "reinstate", "credential", credential.id, None, None)
    session.flush()
    return credential


# --- verifying --------------------------------------------------------------------------------

MESSAGES = {
    "valid": "Giấy công nhận hợp lệ.",
    "revoked": "Danh hiệu đã bị thu hồi.",
    "suspended": "Giấy công nhận đang bị tạm đình chỉ.",
    "expired": "Giấy công nhận đã hết thời hạn hiệu lực.",
    "invalid": "Giấy công nhận không hợp lệ.",
}
REASONS = {
    "malformed": "Không phải một giấy công nhận điện tử (JWT) đọc được.",
    "wrong_algorithm": "Giấy công nhận không được ký bằng ES256 theo chuẩn vc+jwt.",
    "unknown_key": "Giấy công nhận được ký bằng một khóa không được công bố.",
    "bad_signature": "Chữ ký không khớp: nội dung đã bị thay đổi hoặc chữ ký bị giả.",
    "not_a_credential": "Nội dung đã ký không phải một giấy công nhận danh hiệu.",
    "not_yet_valid": "Giấy công nhận chưa đến ngày có hiệu lực.",
    "unknown_status_list": "Không tìm thấy danh sách trạng thái của giấy công nhận.",
    "unknown_credential": "Không có giấy công nhận với mã này.",
}


@dataclass
class Verification:
    status: str  # valid | revoked | suspended | expired | invalid
    reason: str | None = None
    credential: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return (
            REASONS.get(self.reason or "", MESSAGES[self.status]) if self.status == "invalid" else MESSAGES[self.status]
        )


def parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _status_entries(payload: dict[str, Any], base_url: str) -> list[tuple[str, int, int]] | None:
    entries = payload.get("credentialStatus")
    entries = entries if isinstance(entries, list) else [entries]
    prefix = base_url.rstrip("/") + STATUS_PATH
    found = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry":
            return None
        url, purpose, index = (
            entry.get("statusListCredential"),
            entry.get("statusPurpose"),
            entry.get("statusListIndex"),
        )
        if not isinstance(url, str) or not url.startswith(prefix) or purpose not in statuslist.PURPOSES:
            return None
        number, _, url_purpose = url[len(prefix) :].partition("/")
        if url_purpose != purpose or not number.isdigit() or not (isinstance(index, str) and index.isdigit()):
            return None
        if int(index) >= statuslist.SIZE:
            return None
        found.append((purpose, int(number), int(index)))
    return found or None


def verify(session: Session, keys: CredentialKeys, base_url: str, token: str) -> Verification:
    """Check signature, shape, dates and status of a credential this registry issued."""
    try:
        payload = keys.open(token)
    except CredentialSignatureError as error:
        return Verification("invalid", error.code)
    types = payload.get("type")
    subject = payload.get("credentialSubject")
    valid_from, valid_until = parse_instant(payload.get("validFrom")), parse_instant(payload.get("validUntil"))
    entries = _status_entries(payload, base_url)
    if (
        not isinstance(types, list)
        or "VerifiableCredential" not in types
        or not isinstance(subject, dict)
        or valid_from is None
        or valid_until is None
        or entries is None
        or payload.get("@context", [None])[0] != VC_CONTEXT
    ):
        return Verification("invalid", "not_a_credential")
    summary = credential_summary(payload)
    now = clock.now()
    if valid_from > now:
        return Verification("invalid", "not_yet_valid", summary)
    lists = {
        (row.number, row.purpose): row.bits
        for row in session.scalars(
            select(StatusList).where(StatusList.number.in_(sorted({number for _, number, _ in entries})))
        )
    }
    state = {}
    for purpose, number, index in entries:
        bits = lists.get((number, purpose))
        if bits is None:
            return Verification("invalid", "unknown_status_list", summary)
        state[purpose] = statuslist.get_bit(bits, index)
    if state.get("revocation"):
        return Verification("revoked", None, summary)
    if state.get("suspension"):
        return Verification("suspended", None, summary)
    if valid_until <= now:
        return Verification("expired", None, summary)
    return Verification("valid", None, summary)


def credential_summary(payload: dict[str, Any]) -> dict[str, Any]:
    """What a verifier is shown: the title, period, level, issuer, decision, criteria version
    with its provisional mark, the validity and the holder's name if the credential has one."""
    subject = payload.get("credentialSubject") or {}
    achievement = subject.get("achievement") or {}
    recognition = payload.get("recognition") or {}
    decision = recognition.get("decision") or {}
    version = recognition.get("criteriaVersion") or {}
    issuer = payload.get("issuer") or {}
    return {
        "id": payload.get("id"),
        "name": payload.get("name"),
        "title": recognition.get("title"),
        "title_name": achievement.get("name"),
        "period": recognition.get("period"),
        "level": recognition.get("level"),
        "issuer": issuer.get("name") if isinstance(issuer, dict) else None,
        "issuer_id": issuer.get("id") if isinstance(issuer, dict) else issuer,
        "decision_number": decision.get("number"),
        "decided_on": decision.get("date"),
        "criteria_version": version.get("id"),
        "criteria": (achievement.get("criteria") or {}).get("narrative"),
        "provisional": bool(version.get("provisional")),
        "valid_from": payload.get("validFrom"),
        "valid_until": payload.get("validUntil"),
        "holder_name": subject.get("name"),
    }


def verify_code(session: Session, keys: CredentialKeys, base_url: str, code: str) -> Verification:
    """The short link's check: the credential issued under `code`, verified as any other."""
    token = session.scalar(select(Credential.token).where(Credential.code == code)) if len(code) <= 32 else None
    if token is None:
        return Verification("invalid", "unknown_credential")
    return verify(session, keys, base_url, token)


# --- reading ----------------------------------------------------------------------------------


def credential_out(session: Session, keys: CredentialKeys, base_url: str, credential: Credential) -> CredentialOut:
    checked = verify(session, keys, base_url, credential.token)
    return CredentialOut(
        id=credential.code,
        recognition_id=credential.recognition_id,
        status=checked.status,
        includes_name=credential.includes_name,
        issued_at=credential.issued_at,
        kid=credential.kid,
        verify_url=verify_url(base_url, credential.code),
        suspended_at=credential.suspended_at,
        suspended_reason=credential.suspended_reason,
        revoked_at=credential.revoked_at,
        credential=credential.token,
        document=_readable(keys, credential.token),
    )


def _readable(keys: CredentialKeys, token: str) -> dict[str, Any]:
    try:
        return keys.open(token)
    except CredentialSignatureError:  # signed by a key no longer published: shown as invalid
        return {}


def credentials_of(session: Session, recognition_id: int) -> list[Credential]:
    return list(
        session.scalars(select(Credential).where(Credential.recognition_id == recognition_id).order_by(Credential.id))
    )


def facts_of(session: Session, recognition_id: int) -> RecognitionFacts:
    return recognition_facts(session, Recognition.id == recognition_id)[0]
