"""Loading credentials in the caller's jurisdiction, and the signing context of the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import select
from starlette.convertors import Convertor, register_url_convertor

from app.assessments.models import Recognition
from app.auth.dependencies import CurrentPrincipal
from app.auth.tokens import CredentialKeys
from app.credentials.models import Credential
from app.database import SessionDep
from app.exceptions import NotFound
from app.registry.service import within


@dataclass
class Signing:
    """The keys that sign credentials and the public address their links point to."""

    keys: CredentialKeys
    base_url: str
    # How long verifiers may cache a status list (the list's `ttl`, and Cache-Control).
    status_ttl_seconds: int = 300
    # Signed status lists by (number, purpose, version, digest of the bits): a list is re-signed
    # only when it changes.
    signed_lists: dict[tuple[int, str, int, str], str] = field(default_factory=dict)


def signing(request: Request) -> Signing:
    return request.app.state.credential_signing


SigningDep = Annotated[Signing, Depends(signing)]


class CredentialCodeConvertor(Convertor[str]):
    """Routes written `{code:credential}` match only a credential's code (16 base64url
    characters), so `/credentials/verify` is never taken for a code: a GET there is 405."""

    regex = "[A-Za-z0-9_-]{16}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("credential", CredentialCodeConvertor())
CodePath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16}$", description="Mã công khai của giấy công nhận")]


def credential_in_scope(code: CodePath, session: SessionDep, principal: CurrentPrincipal) -> Credential:
    """Path dependency: the credential of a recognition in the caller's jurisdiction (404 otherwise)."""
    credential = session.scalar(
        select(Credential)
        .join(Recognition, Recognition.id == Credential.recognition_id)
        .where(Credential.code == code, within(principal, Recognition.unit_id))
    )
    if credential is None:
        raise NotFound("Không tìm thấy giấy công nhận.")
    return credential


CredentialDep = Annotated[Credential, Depends(credential_in_scope)]
