"""Credentials API: the holder's staff read, re-issue, suspend and print; anyone verifies."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from app.assessments.router import DecisionDep, RecognitionDep
from app.assessments.service import DECIDERS
from app.auth.dependencies import CurrentPrincipal, require_roles
from app.auth.principal import Principal
from app.credentials import documents, service
from app.credentials.dependencies import CredentialDep, SigningDep
from app.credentials.schemas import (
    CredentialList,
    CredentialOut,
    CredentialRequest,
    Suspension,
    VerificationOut,
    VerifyRequest,
)
from app.database import SessionDep
from app.exceptions import Forbidden, NotFound, problem_responses
from app.registry.service import READERS
from app.security import ratelimit
from app.security.client import client_address

router = APIRouter(
    tags=["credentials"], responses=problem_responses(401, 403, 404), dependencies=[Depends(require_roles(*READERS))]
)
public_router = APIRouter(tags=["credentials"])

PDF = {200: {"content": {"application/pdf": {}}, "description": "Tài liệu PDF"}}
HTML = {200: {"content": {"text/html": {}}, "description": "Trang in (HTML)"}}
Paper = Annotated[Literal["a4", "a5"], Query(description="Khổ giấy")]


def _require_decider(principal: Principal) -> None:
    if principal.role not in DECIDERS:
        raise Forbidden("Chỉ cán bộ cấp xã (hoặc quản trị viên) được cấp, tạm đình chỉ giấy công nhận.")


def _document(content: bytes | str, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, no-store"},
    )


def _html_or_pdf(html: str, kind: str, name: str) -> Response:
    if kind == "html":
        return _document(html, "text/html; charset=utf-8", f"{name}.html")
    return _document(documents.pdf(html), "application/pdf", f"{name}.pdf")


@router.get("/credentials/{code:credential}", response_model=CredentialOut, summary="Một giấy công nhận điện tử")
def read_credential(session: SessionDep, signing: SigningDep, credential: CredentialDep) -> CredentialOut:
    return service.credential_out(session, signing.keys, signing.base_url, credential)


@router.get(
    "/recognitions/{recognition_id}/credentials",
    response_model=CredentialList,
    summary="Các giấy công nhận điện tử của một danh hiệu",
)
def list_credentials(session: SessionDep, signing: SigningDep, recognition: RecognitionDep) -> CredentialList:
    items = [
        service.credential_out(session, signing.keys, signing.base_url, one)
        for one in service.credentials_of(session, recognition.id)
    ]
    return CredentialList(items=items, total=len(items))


@router.post(
    "/recognitions/{recognition_id}/credentials",
    response_model=CredentialOut,
    status_code=status.HTTP_201_CREATED,
    summary="Cấp (lại) giấy công nhận điện tử, có tên người được công nhận nếu họ đề nghị",
)
def issue_credential(
    session: SessionDep,
    principal: CurrentPrincipal,
    signing: SigningDep,
    recognition: RecognitionDep,
    body: CredentialRequest,
) -> CredentialOut:
    _require_decider(principal)
    facts = service.facts_of(session, recognition.id)
    issued = service.issue(session, signing.keys, signing.base_url, principal, [facts], include_name=body.include_name)
    return service.credential_out(session, signing.keys, signing.base_url, issued[0])


@router.post(
    "/credentials/{code:credential}/suspension",
    response_model=CredentialOut,
    responses=problem_responses(409),
    summary="Tạm đình chỉ một giấy công nhận (có lý do)",
)
def suspend(
    session: SessionDep, principal: CurrentPrincipal, signing: SigningDep, credential: CredentialDep, body: Suspension
) -> CredentialOut:
    _require_decider(principal)
    service.suspend(session, principal, credential, body.reason)
    return service.credential_out(session, signing.keys, signing.base_url, credential)


@router.delete(
    "/credentials/{code:credential}/suspension",
    response_model=CredentialOut,
    responses=problem_responses(409),
    summary="Bỏ tạm đình chỉ một giấy công nhận",
)
def reinstate(
    session: SessionDep, principal: CurrentPrincipal, signing: SigningDep, credential: CredentialDep
) -> CredentialOut:
    _require_decider(principal)
    service.reinstate(session, principal, credential)
    return service.credential_out(session, signing.keys, signing.base_url, credential)


@router.get(
    "/credentials/{code:credential}/qr.{kind}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}, "description": "Mã QR"}},
    summary="Mã QR của đường dẫn kiểm tra (PNG hoặc SVG)",
)
def qr_code(signing: SigningDep, credential: CredentialDep, kind: Annotated[Literal["png", "svg"], Path()]) -> Response:
    link = service.verify_url(signing.base_url, credential.code)
    if kind == "png":
        return _document(documents.qr_png(link), "image/png", f"qr-{credential.code}.png")
    return _document(documents.qr_svg(link), "image/svg+xml", f"qr-{credential.code}.svg")


@router.get(
    "/credentials/{code:credential}/certificate.{kind}",
    response_class=Response,
    responses={**PDF, **HTML},
    summary="Giấy công nhận để in (A4 hoặc A5, có mã QR kiểm tra)",
)
def certificate(
    session: SessionDep,
    signing: SigningDep,
    credential: CredentialDep,
    kind: Annotated[Literal["pdf", "html"], Path()],
    size: Paper = "a4",
) -> Response:
    html = documents.certificate_document(session, signing.base_url, credential.code, credential.recognition_id, size)
    return _html_or_pdf(html, kind, f"giay-cong-nhan-{credential.code}-{size}")


@router.get(
    "/decisions/{decision_id}/document.{kind}",
    response_class=Response,
    responses={**PDF, **HTML},
    summary="Quyết định công nhận kèm danh sách, để in",
)
def decision_document(
    session: SessionDep, decision: DecisionDep, kind: Annotated[Literal["pdf", "html"], Path()]
) -> Response:
    html = documents.decision_document(session, decision)
    return _html_or_pdf(html, kind, f"quyet-dinh-{decision.id}")


# --- public ----------------------------------------------------------------------------------


async def _limit_verifications(request: Request) -> None:
    settings = request.app.state.settings
    limiter: ratelimit.RateLimiter = request.app.state.rate_limiter
    network = ratelimit.network_of(client_address(request))
    await limiter.enforce_async(
        ratelimit.per_minute("credential-verify", settings.credential_verify_per_address_per_minute), network
    )


VerifyLimit = Depends(_limit_verifications)


def verification_out(checked: service.Verification) -> VerificationOut:
    return VerificationOut(
        status=checked.status,
        reason=checked.reason,
        message=checked.message,
        credential=checked.credential or None,
    )


@public_router.post(
    "/credentials/verify",
    response_model=VerificationOut,
    responses=problem_responses(422, 429),
    dependencies=[VerifyLimit],
    summary="Kiểm tra một giấy công nhận điện tử (công khai): hợp lệ, thu hồi, tạm đình chỉ, hết hạn, không hợp lệ",
)
def verify(session: SessionDep, signing: SigningDep, body: VerifyRequest) -> VerificationOut:
    """A credential that fails any check is answered 200 with `status: invalid` and a `reason`:
    the answer is the verification's result, not an error of the request."""
    return verification_out(service.verify(session, signing.keys, signing.base_url, body.credential))


@public_router.get(
    "/status-lists/{number}/{purpose}",
    response_class=Response,
    responses={
        200: {"content": {"application/vc+jwt": {}}, "description": "Danh sách trạng thái (Bitstring Status List)"},
        304: {"description": "Không đổi"},
        **problem_responses(404, 422),
    },
    summary="Danh sách trạng thái thu hồi / tạm đình chỉ (W3C Bitstring Status List, đã ký)",
)
def status_list(
    session: SessionDep,
    signing: SigningDep,
    number: Annotated[int, Path(ge=1, le=1_000_000)],
    purpose: Annotated[Literal["revocation", "suspension"], Path()],
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    published = service.published_list(session, number, purpose)
    if published is None:
        raise NotFound("Không có danh sách trạng thái này.")
    # The bits and the signing key name the answer: a restored database or a new key never
    # meets an old cached list.
    digest = hashlib.sha256(f"{published.encoded}|{signing.keys.kid}".encode("ascii")).hexdigest()[:20]
    etag = f'"{number}-{purpose}-{published.version}-{digest}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={signing.status_ttl_seconds}"}
    if if_none_match == etag:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    key = (number, purpose, published.version, digest)
    token = signing.signed_lists.get(key)
    if token is None:
        document = service.status_list_document(signing.base_url, published, signing.status_ttl_seconds)
        token = signing.keys.sign(document)
        if len(signing.signed_lists) > 256:
            signing.signed_lists.clear()
        signing.signed_lists[key] = token
    return Response(token, media_type="application/vc+jwt", headers=headers)
