"""Printed documents: the recognition decision with its attached list, and the certificate of one
holder (A4 or A5) with the QR code of its verification link. HTML from Jinja2 templates with print
CSS; PDF through WeasyPrint, which is never allowed to fetch anything (every image is inline).

Nothing printed carries a national ID, a birth date or an address: the templates receive only
`RecognitionFacts`, which hold none of them.
"""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import segno

from app.assessments.models import Decision, Recognition
from app.credentials.service import RecognitionFacts, facts_of, recognition_facts, verify_url
from app.exceptions import Problem
from app.rules.model import TitleCode
from app.units.models import AdministrativeUnit
from app.web.rendering import render, short_date

SUBJECT_WORDS = {
    TitleCode.CITIZEN: ("công dân", "Họ và tên"),
    TitleCode.FAMILY: ("gia đình", "Hộ gia đình"),
    TitleCode.CLAN: ("dòng họ", "Dòng họ"),
    TitleCode.COMMUNITY: ("thôn, tổ dân phố", "Thôn, tổ dân phố"),
    TitleCode.UNIT: ("đơn vị", "Đơn vị"),
    TitleCode.COMMUNE: ("xã, phường", "Xã, phường"),
    TitleCode.DISTRICT: ("huyện", "Huyện"),
    TitleCode.PROVINCE: ("tỉnh", "Tỉnh"),
}
PAPER_SIZES = ("a4", "a5")
_UNIT_PREFIXES = ("Phường ", "Xã ", "Thị trấn ", "Đặc khu ")


def place_name(commune_name: str) -> str:
    """'Phường Thanh Xuân' → 'Thanh Xuân', as the place line of a decision writes it."""
    for prefix in _UNIT_PREFIXES:
        if commune_name.startswith(prefix):
            return commune_name[len(prefix) :]
    return commune_name


# --- QR codes ---------------------------------------------------------------------------------


def qr(link: str) -> segno.QRCode:
    # Level M survives a crease or a stain on paper; a short link keeps the code coarse enough
    # to scan from a cheap phone at 2–3 cm.
    return segno.make(link, error="m", micro=False)


def qr_png(link: str, scale: int = 8) -> bytes:
    out = io.BytesIO()
    qr(link).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_svg(link: str) -> bytes:
    out = io.BytesIO()
    qr(link).save(out, kind="svg", scale=4, border=4, xmldecl=True, svgns=True, title="Mã QR kiểm tra giấy công nhận")
    return out.getvalue()


def qr_data_uri(link: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(link, scale=10)).decode("ascii")


# --- documents --------------------------------------------------------------------------------


def decision_html(decision: Decision, commune_name: str, items: list[RecognitionFacts]) -> str:
    title = TitleCode(decision.title)
    word, header = SUBJECT_WORDS.get(title, ("đối tượng", "Tên"))
    last_days = sorted({item.valid_until - timedelta(days=1) for item in items})
    validity = f"đến hết ngày {short_date(last_days[-1])}" if len(last_days) == 1 else "theo danh sách kèm theo"
    criteria_names = sorted({item.criteria_name for item in items}) or ["bộ tiêu chí đánh giá hiện hành"]
    rows = [
        {
            "subject_name": item.subject_name,
            "level": item.level,
            "criteria_version": item.criteria_version,
            "provisional": item.provisional,
            "last_day": item.valid_until - timedelta(days=1),
            "revoked_on": item.revoked_on,
        }
        for item in items
    ]
    return render(
        "documents/decision.html",
        decision=decision,
        commune_name=commune_name,
        commune_short=place_name(commune_name),
        title_name=items[0].title_name if items else decision.title,
        subject_word=word,
        name_header=header,
        items=rows,
        has_levels=any(item.level for item in items),
        criteria_names=criteria_names,
        provisional=any(item.provisional for item in items),
        validity=validity,
    )


def certificate_html(facts: RecognitionFacts, link: str, size: str) -> str:
    return render(
        "documents/certificate.html",
        facts=facts,
        size=size,
        link=link,
        qr=qr_data_uri(link),
        commune_short=place_name(facts.commune_name),
        last_day=facts.valid_until - timedelta(days=1),
        revoked=facts.revoked_on is not None,
    )


def pdf(html: str) -> bytes:
    # Imported on use: it loads Pango, which only documents need.
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except OSError:  # Pango missing on this machine (`make run` installs it)
        raise Problem(
            503,
            "pdf_unavailable",
            "Chưa in được PDF",
            "Máy chủ thiếu thư viện Pango để tạo PDF; bản HTML (.html) vẫn in được từ trình duyệt.",
        ) from None

    # Documents are self-contained (the QR code is a data: URI): a renderer allowed to fetch
    # URLs would be a way into the network.
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"}, allow_redirects=False)).write_pdf()


def decision_document(session, decision: Decision) -> str:
    """The decision with its attached list, as printable HTML."""
    commune = session.get(AdministrativeUnit, decision.unit_id)
    return decision_html(decision, commune.name, recognition_facts(session, Recognition.decision_id == decision.id))


def certificate_document(session, base_url: str, code: str, recognition_id: int, size: str) -> str:
    """The certificate of one credential, as printable HTML with its QR code."""
    return certificate_html(facts_of(session, recognition_id), verify_url(base_url, code), size)
