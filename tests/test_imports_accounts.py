"""Bulk accounts with one-time activation codes, and bulk moves, through the import framework:
accounts filled into the template have no password and cannot sign in; the importing
administrator downloads their codes once (cells formula-safe); a code activates its account
once, and a wrong, used, replaced or expired one is refused; only administrators import
accounts; the same rows again create nothing; the activation page works on a phone without a
REST client; moves move people and households (a dry run moves nobody, a file again moves
nobody twice)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import httpx
import openpyxl
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from app import clock
from app.auth.activation import new_code
from app.auth.models import ActivationCode, Role, User
from app.auth.passwords import UNUSABLE_PASSWORD
from app.auth.schemas import AccountCreate
from app.auth.service import create_user
from app.spreadsheets import append_row
from tests import test_registry_e2e
from tests.browser import assert_accessible, shoot
from tests.helpers import assert_problem, bearer, login
from tests.log_leaks import leaks
from tests.test_imports import finished

API = "/api/v1"
desks = test_registry_e2e.desks
CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
NEW_PASSWORD = "mat-khau-tu-dat-9"  # matched by the log-leak check ("mat-khau-")
ACCOUNT_HEADER = ["Tên đăng nhập", "Họ và tên", "Vai trò", "Mã đơn vị phụ trách"]
# Names that a spreadsheet program would run as formulas if written as they are.
ROWS = [
    ["thamdinh.lan", '=HYPERLINK("http://x","Lan")', "Người đánh giá (Hội Khuyến học)", "00367"],
    ["canbo.tu", "+Lê Văn Tư", "cán bộ cấp xã", "00367"],
    ["canbo.tinh", "-Nguyễn Thị Hoa", "Can bo cap tinh", "01"],
    ["thamdinh.minh", "@Phạm Minh", "assessor", "00367, 00364"],
]


def upload(desk, kind: str, content: bytes, name: str, *, dry_run: bool, expect=(200, 202)) -> httpx.Response:
    response = desk.client.post(
        f"{API}/imports",
        headers=desk.headers,
        data={"kind": kind, "dry_run": "true" if dry_run else "false"},
        files={"file": (name, content)},
    )
    assert response.status_code in expect, response.text
    return response


def imported(desk, kind: str, content: bytes, name: str, *, dry_run: bool) -> dict:
    return finished(desk, upload(desk, kind, content, name, dry_run=dry_run).json()["id"])


def filled_template(desk, rows: list[list[str]]) -> bytes:
    """The accounts template as an administrator fills it: example row removed, rows added."""
    book = openpyxl.load_workbook(io.BytesIO(desk.get("/imports/templates/accounts.xlsx").content))
    data = book["Dữ liệu"]
    assert [cell.value for cell in data[1]] == ACCOUNT_HEADER
    data.delete_rows(2)
    for row in rows:
        append_row(data, row)  # as typed into the template's text cells: "=…" stays text
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def codes_of(desk, job_id: str) -> dict[str, dict]:
    """The codes sheet of an import, by username; every cell as written."""
    response = desk.get(f"/imports/{job_id}/codes.xlsx")
    assert response.headers["cache-control"] == "no-store"
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["Mã kích hoạt"]
    header = [cell.value for cell in sheet[1]]
    assert header == ["Tên đăng nhập", "Họ và tên", "Vai trò", "Mã kích hoạt", "Hết hạn", "Đường dẫn kích hoạt"]
    return {row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)}


def activate(client: httpx.Client, username: str, code: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return client.post(f"{API}/auth/activate", json={"username": username, "code": code, "password": password})


def test_accounts_from_the_template_have_no_password_and_activate_once(client, desks, session, make_user, request):
    admin = desks["admin"]
    content = filled_template(admin, ROWS)
    dry = imported(admin, "accounts", content, "tai-khoan.xlsx", dry_run=True)
    assert (dry["state"], dry["created"], dry["error_count"]) == ("done", 4, 0), dry["errors"]
    assert session.scalar(select(func.count()).select_from(User).where(User.username == "canbo.tu")) == 0
    assert_problem(admin.get(f"/imports/{dry['id']}/codes.xlsx", expect=(409,)), 409, "import_not_written")

    job = imported(admin, "accounts", content, "tai-khoan.xlsx", dry_run=False)
    assert (job["state"], job["created"], job["matched"]) == ("done", 4, 0), job["errors"]
    session.expire_all()
    users = {
        user.username: user for user in session.scalars(select(User).where(User.username.in_([r[0] for r in ROWS])))
    }
    assert {name: user.password_hash for name, user in users.items()} == dict.fromkeys(users, UNUSABLE_PASSWORD)
    assert users["canbo.tinh"].role == Role.PROVINCE_OFFICER and users["thamdinh.minh"].role == Role.ASSESSOR
    listed = {u["username"]: u for u in admin.get("/users", params={"limit": 100}).json()["items"]}
    assert listed["thamdinh.lan"]["activated"] is False and listed["quantri"]["activated"] is True
    assert [unit["code"] for unit in listed["thamdinh.minh"]["units"]] == ["00364", "00367"]
    # Not activated: no password of any kind signs in, and the answer says why.
    for password in ("", "!", UNUSABLE_PASSWORD, "mat-khau-thu-nghiem-1"):
        refused = client.post(f"{API}/auth/token", data={"username": "thamdinh.lan", "password": password or "x"})
        assert_problem(refused, 401, "account_not_activated")
    assert "kích hoạt" in refused.json()["detail"]

    # The codes sheet is the importing administrator's alone, and it can be downloaded once.
    make_user("quantri.hai")
    other_admin = bearer(login(client, "quantri.hai")["access_token"])
    assert_problem(client.get(f"{API}/imports/{job['id']}/codes.xlsx", headers=other_admin), 404, "not_found")
    assert_problem(desks["officer"].get(f"/imports/{job['id']}/codes.xlsx", expect=(404,)), 404, "not_found")
    sheet = codes_of(admin, job["id"])
    assert sorted(sheet) == sorted(r[0] for r in ROWS)
    for username, typed_name, _, _ in ROWS:
        row = sheet[username]
        assert CODE.match(row["Mã kích hoạt"].value)
        assert row["Đường dẫn kích hoạt"].value.endswith(f"/kich-hoat#u={username}&ma={row['Mã kích hoạt'].value}")
        assert re.match(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}$", row["Hết hạn"].value)
        name = row["Họ và tên"]
        # Written as text: a spreadsheet program shows it and never runs it.
        assert name.value == typed_name and name.data_type == "s" and name.quotePrefix, username
    assert sheet["canbo.tinh"]["Vai trò"].value == "Cán bộ cấp tỉnh"
    assert_problem(admin.get(f"/imports/{job['id']}/codes.xlsx", expect=(410,)), 410, "codes_already_delivered")
    session.expire_all()
    stored = list(session.scalars(select(ActivationCode.code_hash)))
    codes = {username: row["Mã kích hoạt"].value for username, row in sheet.items()}
    assert len(stored) == 4 and not set(stored) & {c for code in codes.values() for c in (code, code.replace("-", ""))}

    lan = codes["thamdinh.lan"]
    wrong = new_code()
    assert_problem(activate(client, "thamdinh.lan", wrong), 422, "activation_code_invalid")
    assert_problem(activate(client, "nobody.here", lan), 422, "activation_code_invalid")
    assert_problem(activate(client, "thamdinh.lan", codes["canbo.tu"]), 422, "activation_code_invalid")  # another's
    too_short = activate(client, "thamdinh.lan", lan, password="ngan")
    assert_problem(too_short, 422, "validation_failed")
    # Typed by hand: lower case, spaces for dashes, O for 0 and I/L for 1 are the same code.
    typed = lan.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert activate(client, "ThamDinh.Lan ", typed).status_code == 204
    token = login(client, "thamdinh.lan", NEW_PASSWORD)["access_token"]
    me = client.get(f"{API}/auth/me", headers=bearer(token)).json()
    assert (me["username"], me["activated"]) == ("thamdinh.lan", True)
    used = assert_problem(activate(client, "thamdinh.lan", lan, "mat-khau-khac-nua-1"), 422, "activation_code_used")
    assert used["errors"][0]["field"] == "body.code" and "đã được dùng" in used["detail"]
    login(client, "thamdinh.lan", NEW_PASSWORD)  # the second use changed nothing
    # The codes never reach the service's logs.
    logged = request.config.hoctap_log.read_text(encoding="utf-8")
    secrets = [*codes.values(), *(code.replace("-", "") for code in codes.values())]
    assert [found for found in leaks(logged, *secrets) if found.startswith("a given secret")] == []


def test_expired_and_replaced_codes_and_a_fresh_code_for_one_account(client, desks, session):
    admin = desks["admin"]
    user = create_user(
        session, None, AccountCreate(username="thamdinh.nam", full_name="Đỗ Nam", role="assessor", unit_codes=["00367"])
    )
    session.commit()
    first = admin.post(f"/users/{user.id}/activation-code", expect=(201,))
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert CODE.match(body["code"]) and body["activation_url"].endswith(f"#u=thamdinh.nam&ma={body['code']}")
    with clock.frozen(clock.now() + timedelta(days=14, minutes=1)):
        expired = assert_problem(activate(client, "thamdinh.nam", body["code"]), 422, "activation_code_expired")
        assert "hết hạn" in expired["detail"]
    fresh = admin.post(f"/users/{user.id}/activation-code", expect=(201,)).json()
    assert_problem(activate(client, "thamdinh.nam", body["code"]), 422, "activation_code_replaced")
    with clock.frozen(clock.now() + timedelta(days=13, hours=23)):  # still valid an hour before its end
        assert activate(client, "thamdinh.nam", fresh["code"]).status_code == 204
    login(client, "thamdinh.nam", NEW_PASSWORD)
    assert_problem(admin.post(f"/users/{user.id}/activation-code", expect=(409,)), 409, "already_activated")
    assert_problem(admin.post("/users/999999/activation-code", expect=(404,)), 404, "not_found")
    officer = desks["officer"]
    assert_problem(officer.post(f"/users/{user.id}/activation-code", expect=(403,)), 403, "forbidden")


def test_wrong_codes_are_rate_limited_like_logins(client, app, session):
    create_user(
        session,
        None,
        AccountCreate(username="canbo.doan", full_name="Đoàn", role="commune_officer", unit_codes=["00367"]),
    )
    session.commit()
    for _ in range(app.state.settings.login_attempts_per_15_minutes):
        assert_problem(activate(client, "canbo.doan", new_code()), 422, "activation_code_invalid")
    limited = activate(client, "canbo.doan", new_code())
    assert_problem(limited, 429, "too_many_requests")
    assert int(limited.headers["retry-after"]) > 0


def test_only_administrators_import_accounts(desks):
    officer = desks["officer"]
    content = ("\n".join([",".join(ACCOUNT_HEADER), "canbo.x,Cán bộ X,Cán bộ cấp xã,00367"]) + "\n").encode()
    assert_problem(upload(officer, "accounts", content, "x.csv", dry_run=True, expect=(403,)), 403, "forbidden")
    assert_problem(upload(desks["a"], "accounts", content, "x.csv", dry_run=False, expect=(403,)), 403, "forbidden")
    kinds = {kind["key"] for kind in officer.get("/imports/kinds").json()["items"]}
    assert {"accounts", "moves", "household_moves"} <= kinds


def test_the_same_accounts_again_create_nothing_and_bad_rows_are_reported_formula_safe(desks, session):
    admin = desks["admin"]
    lines = [",".join(ACCOUNT_HEADER), "thamdinh.ha,Vũ Hà,Người đánh giá,00367", "canbo.son,Lý Sơn,Cán bộ cấp xã,00367"]
    content = ("\n".join(lines) + "\n").encode()
    job = imported(admin, "accounts", content, "tai-khoan.csv", dry_run=False)
    assert (job["state"], job["created"]) == ("done", 2), job["errors"]
    codes = codes_of(admin, job["id"])
    session.expire_all()
    before = session.scalar(select(func.count()).select_from(ActivationCode))
    # The same file: answered with the first import, no new job.
    again = upload(admin, "accounts", content, "tai-khoan.csv", dry_run=False)
    assert again.status_code == 200 and again.json()["id"] == job["id"]
    # The same accounts in another file (plus one that was already there): matched, nothing new.
    resaved = imported(admin, "accounts", content + b"quantri,Quan Tri,Can bo cap xa,00367\n", "lai.csv", dry_run=False)
    assert (resaved["state"], resaved["created"], resaved["matched"]) == ("done", 0, 3), resaved["errors"]
    assert_problem(admin.get(f"/imports/{resaved['id']}/codes.xlsx", expect=(409,)), 409, "no_new_accounts")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ActivationCode)) == before
    assert session.scalar(select(User.role).where(User.username == "quantri")) == Role.ADMIN  # not changed
    assert activate(admin.client, "thamdinh.ha", codes["thamdinh.ha"]["Mã kích hoạt"].value).status_code == 204

    bad = [
        ",".join(ACCOUNT_HEADER),
        '"=HYPERLINK(""http://x"")",Tên,Người đánh giá,00367',  # 2: not a username
        "+moi,Tên,Người đánh giá,00367",  # 3
        "-moi,Tên,Người đánh giá,00367",  # 4
        "@moi,Tên,Người đánh giá,00367",  # 5
        "canbo.moi,Tên,Quản trị viên,",  # 6: administrators are not made from a sheet
        "canbo.moi2,Tên,Cán bộ cấp xã,01",  # 7: a province for a commune officer
        "canbo.moi3,Tên,Cán bộ cấp xã,00367",  # 8: fine
        "canbo.moi3,Tên khác,Cán bộ cấp xã,00367",  # 9: the same username again
        "canbo.moi4,Tên,Thủ quỹ,00367",  # 10: no such role
    ]
    refused = imported(admin, "accounts", ("\n".join(bad) + "\n").encode(), "loi.csv", dry_run=False)
    assert (refused["state"], refused["created"]) == ("refused", 0)
    found = {(e["row"], e["column"]) for e in refused["errors"]}
    assert found == {
        (2, "Tên đăng nhập"),
        (3, "Tên đăng nhập"),
        (4, "Tên đăng nhập"),
        (5, "Tên đăng nhập"),
        (6, "Vai trò"),
        (7, "Mã đơn vị phụ trách"),
        (9, "Tên đăng nhập"),
        (10, "Vai trò"),
    }, refused["errors"]
    session.expire_all()
    assert session.scalar(select(User.id).where(User.username == "canbo.moi3")) is None  # all or nothing
    report = openpyxl.load_workbook(io.BytesIO(admin.get(f"/imports/{refused['id']}/errors.xlsx").content)).active
    values = {row[0].value: row[2] for row in report.iter_rows(min_row=2)}
    for number, start in ((2, "="), (3, "+"), (4, "-"), (5, "@")):
        cell = values[number]
        assert cell.value.startswith(start) and cell.data_type == "s" and cell.quotePrefix, number


# --- moves ---------------------------------------------------------------------------------------


def _village(desk, name: str) -> str:
    body = {"name": name, "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
    return desk.post("/units/00367/villages", body).json()["code"]


def _person(desk, name: str, born: str, village: str, national_id: str | None = None, since="2025-07-01") -> int:
    body = {"full_name": name, "birth_date": born, "unit_code": village, "resident_since": since}
    if national_id:
        body["national_id"] = national_id
    return desk.post("/people", body).json()["id"]


def _unit_of(desk, person_id: int) -> str:
    return desk.get(f"/people/{person_id}").json()["unit"]["code"]


MOVE_HEADER = "Số CCCD,Họ và tên,Ngày sinh,Mã nơi cư trú hiện tại,Mã nơi cư trú mới,Ngày chuyển"


def test_moves_move_people_and_households_once(desks):
    officer = desks["officer"]
    old, new = _village(officer, "Tổ dân phố số 30"), _village(officer, "Tổ dân phố số 31")
    an = _person(officer, "Nguyễn Văn An", "1985-03-02", old, "001085099001")
    binh = _person(officer, "Trần Thị Bình", "1990-05-04", old)
    chi = _person(officer, "Lê Văn Chi", "1970-01-01", old, since="2025-08-01")  # not in the file
    lines = [
        MOVE_HEADER,
        f"001085099001,,,,{new},01/09/2025",
        f",tran thi binh,04/05/1990,{old},{new},01/09/2025",  # no CCCD: name (any case, accents), birth, unit
    ]
    content = ("\n".join(lines) + "\n").encode()
    dry = imported(officer, "moves", content, "chuyen.csv", dry_run=True)
    assert (dry["state"], dry["created"], dry["error_count"]) == ("done", 2, 0), dry["errors"]
    assert [_unit_of(officer, p) for p in (an, binh, chi)] == [old, old, old]  # the dry run moved nobody
    done = imported(officer, "moves", content, "chuyen.csv", dry_run=False)
    assert (done["state"], done["created"], done["matched"]) == ("done", 2, 0), done["errors"]
    assert [_unit_of(officer, p) for p in (an, binh, chi)] == [new, new, old]
    again = imported(officer, "moves", content + b"\n", "chuyen-lai.csv", dry_run=False)
    assert (again["state"], again["created"], again["matched"]) == ("done", 0, 2), again["errors"]

    bad = [
        MOVE_HEADER,
        f"001085099002,,,,{new},01/09/2025",  # 2: nobody has this CCCD
        f",Lê Văn Chi,01/01/1970,{old},{new},01/09/2099",  # 3: a day to come
        f",Lê Văn Chi,01/01/1970,{old},00364,01/09/2025",  # 4: another commune
        f",Lê Văn Chiến,01/01/1970,{old},{new},01/09/2025",  # 5: no such person there
        f",Lê Văn Chi,01/01/1970,{old},{new},15/07/2025",  # 6: before they came
        f",Lê Văn Chi,,{old},{new},01/09/2025",  # 7: no CCCD and no birth date
    ]
    refused = imported(officer, "moves", ("\n".join(bad) + "\n").encode(), "loi.csv", dry_run=False)
    assert refused["state"] == "refused"
    assert {(e["row"], e["column"]) for e in refused["errors"]} == {
        (2, "Số CCCD"),
        (3, "Ngày chuyển"),
        (4, "Mã nơi cư trú mới"),
        (5, "Họ và tên"),
        (6, "Ngày chuyển"),
        (7, "Ngày sinh"),
    }, refused["errors"]
    masked = next(e for e in refused["errors"] if e["row"] == 2)
    assert masked["value"] == "********9002"  # a CCCD in an error is masked
    assert _unit_of(officer, chi) == old

    household = officer.post(
        "/households",
        {
            "name": "Hộ ông Lê Văn Chi",
            "unit_code": old,
            "since": "2025-08-01",
            "head_person_id": chi,
            "members": [{"person_id": chi}],
        },
    ).json()["id"]
    header = "Tên hộ,Họ tên chủ hộ,Mã nơi cư trú hiện tại,Mã nơi cư trú mới,Ngày chuyển"
    moves = f"{header}\nhộ ông lê văn chi,Le Van Chi,{old},{new},01/09/2025\n".encode()
    moved = imported(officer, "household_moves", moves, "ho.csv", dry_run=False)
    assert (moved["state"], moved["created"]) == ("done", 1), moved["errors"]
    assert officer.get(f"/households/{household}").json()["unit"]["code"] == new
    repeated = imported(officer, "household_moves", moves + b"\n", "ho-lai.csv", dry_run=False)
    assert (repeated["created"], repeated["matched"]) == (0, 1)


# --- the activation page -------------------------------------------------------------------------


def test_the_activation_page_needs_its_form_token_and_activates(base_url, client, desks, session):
    admin = desks["admin"]
    user = create_user(
        session, None, AccountCreate(username="thamdinh.web", full_name="Hồ Web", role="assessor", unit_codes=["00367"])
    )
    session.commit()
    code = admin.post(f"/users/{user.id}/activation-code", expect=(201,)).json()["code"]
    with httpx.Client(base_url=base_url, timeout=30) as phone:
        form = phone.get("/kich-hoat")
        assert form.status_code == 200 and "Mã kích hoạt" in form.text and "/assets/activate.js" in form.text
        assert form.headers["cache-control"] == "no-store"
        cookie = form.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/kich-hoat" in cookie
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        fields = {"username": "thamdinh.web", "code": code, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
        # Another site's form has neither the cookie's token nor the page's.
        with httpx.Client(base_url=base_url, timeout=30) as other_site:
            forged = other_site.post("/kich-hoat", data={**fields, "csrf": token})
        assert forged.status_code == 403 and "tải lại trang" in forged.text
        wrong = phone.post("/kich-hoat", data={**fields, "code": new_code(), "csrf": token})
        assert wrong.status_code == 422 and "không đúng" in wrong.text
        token = re.search(r'name="csrf" value="([^"]+)"', wrong.text).group(1)
        mismatch = phone.post("/kich-hoat", data={**fields, "password_again": "khac-han-nhau-1", "csrf": token})
        assert mismatch.status_code == 422 and "không giống nhau" in mismatch.text
        token = re.search(r'name="csrf" value="([^"]+)"', mismatch.text).group(1)
        done = phone.post("/kich-hoat", data={**fields, "csrf": token})
        assert done.status_code == 200 and "Đã kích hoạt tài khoản thamdinh.web" in done.text
        assert phone.get("/assets/activate.js").status_code == 200
    login(client, "thamdinh.web", NEW_PASSWORD)


def test_the_activation_link_fills_the_page_in_a_browser(browser, base_url, desks, session, client):
    """The link of the codes sheet, opened on a phone: the username and code come from after `#`
    (never sent to the server) and leave the address bar; the holder sets a password."""
    admin = desks["admin"]
    user = create_user(
        session,
        None,
        AccountCreate(username="thamdinh.dt", full_name="Mai Điện Thoại", role="assessor", unit_codes=["00367"]),
    )
    session.commit()
    link = admin.post(f"/users/{user.id}/activation-code", expect=(201,)).json()["activation_url"]
    path = link[link.index("/kich-hoat") :]
    context = browser.new_context(viewport={"width": 360, "height": 800}, locale="vi-VN")
    page = context.new_page()
    page.goto(base_url + path)
    expect(page.get_by_label("Tên đăng nhập")).to_have_value("thamdinh.dt")
    expect(page.get_by_label("Mã kích hoạt")).to_have_value(path.split("ma=")[1])
    assert "#" not in page.url and "ma=" not in page.url
    assert_accessible(page)
    shoot(page, "staff-activate")
    page.get_by_label("Mật khẩu mới", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Nhập lại mật khẩu mới", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Kích hoạt").click()
    expect(page.get_by_role("status")).to_contain_text("Đã kích hoạt tài khoản thamdinh.dt")
    assert_accessible(page)
    context.close()
    login(client, "thamdinh.dt", NEW_PASSWORD)


@pytest.mark.parametrize("password", ["", "mat-khau-thu-nghiem-1"])
def test_an_account_without_password_cannot_sign_in_on_the_pages(client, session, password):
    create_user(
        session,
        None,
        AccountCreate(username="canbo.trang", full_name="Trang", role="commune_officer", unit_codes=["00367"]),
    )
    session.commit()
    page = client.post("/dang-nhap", data={"username": "canbo.trang", "password": password or "x"})
    assert page.status_code == 401 and "chưa được kích hoạt" in page.text
