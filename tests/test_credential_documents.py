"""Printed documents and QR codes of credentials: the PDFs open and say what they must (decision
number, the attached list, the provisional mark where it applies), the QR code decodes to the
short verification link, and no credential, QR code or document holds a national ID, a birth
date or an address. The offline verifier in examples/ checks a credential with the network off."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pypdf
from sqlalchemy import select

from app.assessments.models import Decision, Recognition
from app.credentials import documents, service
from app.registry.models import Person
from app.units.models import AdministrativeUnit
from tests import test_credentials, test_registry_e2e
from tests.test_credentials import first_code, payload_of

ROOT = Path(__file__).resolve().parent.parent
desks = test_registry_e2e.desks
recognised = test_credentials.recognised


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def zbar() -> str:
    path = shutil.which("zbarimg")
    assert path, "zbarimg (Debian package zbar-tools) is needed: `make test` installs it"
    return path


def decode_qr(png: bytes, tmp_path: Path) -> list[str]:
    image = tmp_path / "qr.png"
    image.write_bytes(png)
    result = subprocess.run([zbar(), "--raw", "-q", str(image)], capture_output=True, text=True, check=False)
    return result.stdout.split()


def pdf_images(content: bytes) -> list[bytes]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    out = []
    for page in reader.pages:
        for image in page.images:
            buffer = io.BytesIO()
            image.image.convert("L").save(buffer, format="PNG")
            out.append(buffer.getvalue())
    return out


def forbidden_values(session, recognised) -> list[str]:
    """Everything that identifies the two holders beyond their names: national IDs (whole, masked,
    and as stored), birth dates in every usual spelling, and their address (the residential group)."""
    values = list(test_registry_e2e.CCCD)
    for one in recognised["people"]:
        person = session.get(Person, one["id"])
        values += [person.national_id_hmac, person.national_id_masked]
        day = person.birth_date
        values += [
            day.isoformat(),
            f"{day:%d/%m/%Y}",
            f"{day.day}/{day.month}/{day.year}",
            f"{day:%d-%m-%Y}",
            f"{day:%Y%m%d}",
        ]
    village = session.scalar(select(AdministrativeUnit).where(AdministrativeUnit.code == recognised["village"]))
    values += [village.name, village.code]
    return [value for value in values if value]


def test_documents_say_what_they_must(desks, recognised, session):
    officer = desks["officer"]
    decision = officer.get(f"/decisions/{recognised['decision']['id']}/document.pdf")
    assert decision.headers["content-type"] == "application/pdf"
    text = pdf_text(decision.content)
    for expected in (
        "QUYẾT ĐỊNH",
        "01/QĐ-UBND",
        "Nguyễn Văn An",
        "Trần Thị Bình",
        "TẠM THỜI",
        "Công dân học tập",
        "14/01/2027",
    ):
        assert expected in text, expected
    assert "Chủ tịch UBND phường Thanh Xuân".upper() in text.upper()
    for size in ("a4", "a5"):
        certificate = officer.get(f"/credentials/{first_code(recognised)}/certificate.pdf", params={"size": size})
        text = pdf_text(certificate.content)
        page = pypdf.PdfReader(io.BytesIO(certificate.content)).pages[0]
        width_mm, height_mm = (float(v) * 25.4 / 72 for v in (page.mediabox.width, page.mediabox.height))
        assert (round(width_mm), round(height_mm)) == ((297, 210) if size == "a4" else (210, 148))
        for expected in ("GIẤY CÔNG NHẬN", "Nguyễn Văn An", "01/QĐ-UBND", "TẠM THỜI", "CÔNG DÂN HỌC TẬP"):
            assert expected in text, (size, expected)
    html = officer.get(f"/decisions/{recognised['decision']['id']}/document.html")
    assert html.headers["content-type"].startswith("text/html") and "01/QĐ-UBND" in html.text
    desks["other"].get(f"/decisions/{recognised['decision']['id']}/document.pdf", expect=(404,))


def test_the_provisional_mark_only_where_it_applies(session, recognised):
    decision = session.get(Decision, recognised["decision"]["id"])
    facts = service.recognition_facts(session, Recognition.decision_id == decision.id)
    official = [dataclasses.replace(one, provisional=False, criteria_name="Tiêu chí chính thức") for one in facts]
    for items, marked in ((facts, True), (official, False)):
        text = pdf_text(documents.pdf(documents.decision_html(decision, "Phường Thanh Xuân", items)))
        assert ("TẠM THỜI" in text) is marked and "01/QĐ-UBND" in text
        certificate = pdf_text(documents.pdf(documents.certificate_html(items[0], "http://x/verify/abc", "a4")))
        assert ("TẠM THỜI" in certificate) is marked


def test_qr_codes_decode_to_the_short_link(desks, recognised, tmp_path):
    officer = desks["officer"]
    code = first_code(recognised)
    link = officer.get(f"/credentials/{code}").json()["verify_url"]
    assert link.endswith(f"/verify/{code}") and len(link) < 80
    png = officer.get(f"/credentials/{code}/qr.png")
    assert png.headers["content-type"] == "image/png"
    assert decode_qr(png.content, tmp_path) == [link]
    svg = officer.get(f"/credentials/{code}/qr.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    certificate = officer.get(f"/credentials/{code}/certificate.pdf").content
    decoded = [text for image in pdf_images(certificate) for text in decode_qr(image, tmp_path)]
    assert decoded == [link]


def test_nothing_personal_in_credentials_qr_codes_or_documents(desks, recognised, session, tmp_path):
    officer = desks["officer"]
    forbidden = forbidden_values(session, recognised)
    recognition = recognised["decision"]["recognitions"][0]
    named = officer.post(f"/recognitions/{recognition['id']}/credentials", {"include_name": True}).json()
    artefacts: dict[str, str] = {}
    for item in recognised["decision"]["recognitions"]:
        for code in [*item["credentials"], named["id"]]:
            one = officer.get(f"/credentials/{code}").json()
            artefacts[f"credential {code}"] = json.dumps(payload_of(one["credential"]), ensure_ascii=False)
            artefacts[f"credential response {code}"] = json.dumps(one, ensure_ascii=False)
            artefacts[f"qr {code}"] = " ".join(decode_qr(officer.get(f"/credentials/{code}/qr.png").content, tmp_path))
            artefacts[f"qr svg {code}"] = officer.get(f"/credentials/{code}/qr.svg").text
            for size in ("a4", "a5"):
                pdf = officer.get(f"/credentials/{code}/certificate.pdf", params={"size": size}).content
                artefacts[f"certificate {size} {code}"] = pdf_text(pdf)
                artefacts[f"certificate {size} qr {code}"] = " ".join(
                    text for image in pdf_images(pdf) for text in decode_qr(image, tmp_path)
                )
            artefacts[f"certificate html {code}"] = officer.get(f"/credentials/{code}/certificate.html").text
    decision_id = recognised["decision"]["id"]
    artefacts["decision"] = pdf_text(officer.get(f"/decisions/{decision_id}/document.pdf").content)
    artefacts["decision html"] = officer.get(f"/decisions/{decision_id}/document.html").text
    for name, text in artefacts.items():
        assert text, name
        for value in forbidden:
            assert value not in text, f"{name} contains {value!r}"
    # The named credential does carry the name the holder chose; the test is not blind.
    assert "Nguyễn Văn An" in artefacts[f"credential {named['id']}"]


def save_for_offline(client, officer, code: str, folder: Path) -> dict[str, Path]:
    token = officer.get(f"/credentials/{code}").json()["credential"]
    files = {"credential": folder / "credential.jwt", "jwks": folder / "jwks.json"}
    files["credential"].write_text(token, encoding="ascii")
    files["jwks"].write_text(client.get("/.well-known/jwks.json").text, encoding="utf-8")
    for entry in payload_of(token)["credentialStatus"]:
        path = folder / f"{entry['statusPurpose']}.jwt"
        path.write_text(client.get(entry["statusListCredential"].split("127.0.0.1:8000", 1)[1]).text, encoding="ascii")
        files[entry["statusPurpose"]] = path
    return files


def offline(files: dict[str, Path], *extra: str) -> tuple[int, dict]:
    """Run the example verifier in a network namespace of its own: no network at all."""
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to cut the verifier off the network"
    command = [
        unshare,
        "--net",
        sys.executable,
        str(ROOT / "examples" / "verify_offline.py"),
        str(files["credential"]),
        "--jwks",
        str(files["jwks"]),
        "--status-list",
        str(files["revocation"]),
        "--status-list",
        str(files["suspension"]),
        "--json",
        *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_offline_verifier_needs_only_saved_files(client, desks, recognised, tmp_path):
    officer = desks["officer"]
    code = first_code(recognised)
    files = save_for_offline(client, officer, code, tmp_path)
    # The namespace really has no network: the same Python cannot reach the test server.
    port = client.base_url.port
    probe = subprocess.run(
        [
            shutil.which("unshare"),
            "--net",
            sys.executable,
            "-c",
            f"import socket; s = socket.socket(); s.settimeout(2); print(s.connect_ex(('127.0.0.1', {port})))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() != "0"
    status, result = offline(files)
    assert (status, result["status"], result["decision"]["number"]) == (0, "valid", "01/QĐ-UBND")
    assert result["criteria_version"] == {"id": "qd324-2023", "provisional": True}
    status, result = offline(files, "--at", "2027-01-15")
    assert (status, result["status"]) == (1, "expired")
    # A changed credential is invalid.
    token = files["credential"].read_text()
    files["credential"].write_text(token[:40] + ("A" if token[40] != "A" else "B") + token[41:])
    assert offline(files)[1]["status"] == "invalid"
    files["credential"].write_text(token)
    # Revoked: only a status list saved after the revocation knows it.
    officer.post(f"/recognitions/{recognised['decision']['recognitions'][0]['id']}/revoke", {"reason": "Sai sót hồ sơ"})
    assert offline(files)[1]["status"] == "valid"
    files = save_for_offline(client, officer, code, tmp_path)
    status, result = offline(files)
    assert (status, result["status"]) == (1, "revoked")
    # Without the issuer's key, nothing verifies.
    files["jwks"].write_text('{"keys": []}')
    status, result = offline(files)
    assert status == 2 and result["status"] == "invalid" and "unknown key" in result["reason"]
