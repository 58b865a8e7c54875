"""The `hoctap` console command: serve, migrate, seed and account administration."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from app.config import get_settings

cli = typer.Typer(help="hoctap: sổ đăng ký danh hiệu học tập.", no_args_is_help=True, pretty_exceptions_enable=False)
users_cli = typer.Typer(help="Quản lý tài khoản.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")
criteria_cli = typer.Typer(help="Bộ tiêu chí: kiểm tra, công bố, liệt kê, so sánh.", no_args_is_help=True)
cli.add_typer(criteria_cli, name="criteria")


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Địa chỉ lắng nghe (mặc định HOCTAP_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Cổng (mặc định HOCTAP_PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="Số tiến trình (mặc định HOCTAP_WORKERS)")] = None,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        access_log=False,
        # X-Forwarded-For is read by the app itself, and only from HOCTAP_TRUSTED_PROXIES.
        proxy_headers=False,
        server_header=False,
        log_config=None,
    )


@cli.command()
def worker() -> None:
    """Run the background jobs (count rebuilds and sweeps, re-scoring runs) in the foreground,
    for deployments whose app processes leave them out (HOCTAP_JOBS_IN_PROCESS=false). The
    queue must be shared with the app: HOCTAP_JOBS_URL names the Redis server."""
    from app import clock
    from app.database import create_db_engine
    from app.jobs import Jobs
    from app.wiring import session_factory

    settings = get_settings()
    if not settings.jobs_url:
        _fail("HOCTAP_JOBS_URL (redis://…) is needed: an in-memory queue is only the app process's own.")
    clock.configure(settings.timezone)
    engine = create_db_engine(settings.sqlalchemy_url)
    jobs = Jobs(settings.jobs_url, settings.jobs_queue_name, settings.jobs_workers)
    session_factory(engine, jobs, settings.count_sweep_minutes, settings.count_rebuild_delay_seconds)
    try:
        jobs.run_forever()
    finally:
        engine.dispose()


@cli.command()
def migrate(revision: Annotated[str, typer.Argument(help="Phiên bản đích")] = "head") -> None:
    """Upgrade the database schema (alembic upgrade)."""
    from app.migrate import upgrade

    upgrade(get_settings().sqlalchemy_url, revision)
    typer.echo(f"Database at {revision}.")


seed_cli = typer.Typer(help="Nạp dữ liệu mẫu.", invoke_without_command=True)
cli.add_typer(seed_cli, name="seed")


@seed_cli.callback()
def seed(ctx: typer.Context) -> None:
    """Load the built-in seed data that the database does not hold yet (idempotent)."""
    if ctx.invoked_subcommand is not None:
        return
    from app.exceptions import Problem
    from app.seeding import load_builtin_seed

    try:
        with _cli_session() as session:
            report = load_builtin_seed(session)
    except Problem as problem:  # e.g. a shipped criteria file differs from a version stored earlier
        _fail(f"Seed refused, nothing loaded: {problem.detail}")
        return
    for line in report:
        typer.echo(line)


@seed_cli.command("synthetic")
def seed_synthetic(
    province: Annotated[str, typer.Option(help="Mã tỉnh, ví dụ 01 (Hà Nội)")] = "01",
    people: Annotated[int, typer.Option(min=1, max=20_000_000, help="Số người")] = 10_000,
    year: Annotated[int, typer.Option(min=2016, max=2100, help="Năm được công nhận")] = 2025,
    random_seed: Annotated[int, typer.Option(help="Hạt giống ngẫu nhiên")] = 2025,
) -> None:
    """Add a synthetic population (households, clans, organisations, recognitions) over the
    province's real communes. For demos and benchmarks; never on a production database."""
    from app.stats.synthetic import generate

    if get_settings().is_production:
        _fail("Refusing to add synthetic data in production.")
    with _cli_session() as session:
        typer.echo(generate(session, province, people, year, random_seed))


@users_cli.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="Tên đăng nhập")],
    full_name: Annotated[str, typer.Option(help="Họ và tên")],
    role: Annotated[
        str, typer.Option(help="admin, province_officer, commune_officer, assessor, portal_client")
    ] = "admin",
    unit: Annotated[list[str] | None, typer.Option(help="Mã đơn vị thuộc phạm vi (lặp lại được)")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Đọc mật khẩu từ stdin thay vì hỏi")] = False,
) -> None:
    """Create an account, e.g. the first administrator. The password is prompted for (or read
    from stdin), never taken as an argument, so it stays out of shell history and `ps`."""
    from pydantic import ValidationError

    from app.auth.passwords import Passwords
    from app.auth.schemas import UserCreate
    from app.auth.service import create_user
    from app.exceptions import Problem

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Mật khẩu", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(username=username, full_name=full_name, password=password, role=role, unit_codes=unit or [])
    except ValidationError as error:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()))
        return
    try:
        with _cli_session() as session:
            user = create_user(session, Passwords(get_settings()), data)
        typer.echo(f"Created {user.role} account '{user.username}' (id {user.id}).")
    except Problem as problem:
        details = "; ".join(e.message for e in problem.errors or []) or problem.detail
        _fail(f"{problem.title}: {details}")


@contextmanager
def _cli_session() -> Iterator[Session]:
    """A session for one CLI command, which owns its transaction: committed when the command
    finishes, rolled back if it fails. Loads are not bounded by the request time limit."""
    from app import clock
    from app.database import create_db_engine, owned_session
    from app.wiring import session_factory

    settings = get_settings()
    clock.configure(settings.timezone)
    engine = create_db_engine(settings.sqlalchemy_url)
    try:
        with owned_session(session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def _print_issues(path: Path, invalid) -> None:
    for issue in invalid.issues:
        typer.echo(f"{path}:{issue.line or 0}: {issue.where}: {issue.message}", err=True)


def _criteria_paths(paths: list[Path] | None) -> list[Path]:
    from app.criteria.service import shipped_files

    return list(paths) if paths else shipped_files()


@criteria_cli.command("validate")
def criteria_validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Tệp YAML (mặc định: mọi tệp trong criteria/)")] = None,
) -> None:
    """Check criteria files; print every problem as FILE:LINE: PATH: MESSAGE."""
    from app.rules import InvalidCriteria, load_file

    failures = 0
    for path in _criteria_paths(paths):
        try:
            version = load_file(path)
        except InvalidCriteria as invalid:
            failures += 1
            _print_issues(path, invalid)
        except OSError as error:
            failures += 1
            typer.echo(f"{path}: cannot read: {error.strerror}", err=True)
        else:
            flag = " (provisional values)" if version.any_provisional else ""
            typer.echo(f"ok  {path}  {version.title}/{version.version}{flag}")
    if failures:
        raise typer.Exit(code=1)


@criteria_cli.command("publish")
def criteria_publish(
    paths: Annotated[list[Path] | None, typer.Argument(help="Tệp YAML (mặc định: mọi tệp trong criteria/)")] = None,
) -> None:
    """Validate and publish criteria files as immutable versions."""
    from app.criteria.service import publish_file
    from app.exceptions import Problem
    from app.rules import InvalidCriteria

    failures = 0
    for path in _criteria_paths(paths):
        try:
            with _cli_session() as session:  # each file published, or refused, on its own
                typer.echo(publish_file(session, path))
        except InvalidCriteria as invalid:
            failures += 1
            _print_issues(path, invalid)
        except Problem as problem:
            failures += 1
            typer.echo(f"{path}: {problem.detail}", err=True)
    if failures:
        raise typer.Exit(code=1)


@criteria_cli.command("list")
def criteria_list() -> None:
    """List stored versions."""
    from app.auth.principal import SYSTEM
    from app.criteria.service import list_versions

    with _cli_session() as session:
        items, _ = list_versions(session, SYSTEM, title=None, state=None, limit=1000, offset=0)
    for item in items:
        until = item.effective_to.isoformat() if item.effective_to else "…"
        flag = "  provisional" if item.provisional else ""
        typer.echo(
            f"{item.title:10} {item.version:14} {item.state:10} {item.effective_from} → {until}  "
            f"{item.content_hash[:12]}{flag}"
        )


@criteria_cli.command("diff")
def criteria_diff(
    old: Annotated[str, typer.Argument(help="TITLE/VERSION đã lưu, hoặc đường dẫn tệp YAML")],
    new: Annotated[str, typer.Argument(help="TITLE/VERSION đã lưu, hoặc đường dẫn tệp YAML")],
) -> None:
    """Field-by-field differences between two versions."""
    import json

    from app.auth.principal import SYSTEM
    from app.criteria.service import get_version, model_of
    from app.exceptions import Problem
    from app.rules import InvalidCriteria, diff_versions, load_file

    def resolve(session, ref: str):
        if ref.endswith((".yaml", ".yml", ".json")) or Path(ref).is_file():
            return load_file(Path(ref))
        title, _, version = ref.partition("/")
        return model_of(get_version(session, title, version, SYSTEM))

    try:
        with _cli_session() as session:
            changes = diff_versions(resolve(session, old), resolve(session, new))
    except Problem as problem:
        _fail(problem.detail)
        return
    except InvalidCriteria as error:
        _fail(str(error))
        return
    for change in changes:
        old_text, new_text = (json.dumps(value, ensure_ascii=False) for value in (change.old, change.new))
        shown = {"added": new_text, "removed": old_text}.get(change.change, f"{old_text} → {new_text}")
        typer.echo(f"{change.change:8} {change.path}: {shown}")
    typer.echo(f"{len(changes)} differences")


@criteria_cli.command("schema")
def criteria_schema(
    check: Annotated[bool, typer.Option(help="Chỉ kiểm tra tệp đã có khớp với mã nguồn")] = False,
) -> None:
    """Write criteria/schema.json, the JSON Schema of criteria files."""
    from app.criteria.service import CRITERIA_DIR, json_schema_text

    target = CRITERIA_DIR / "schema.json"
    text = json_schema_text()
    if check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            _fail("criteria/schema.json is out of date: run `hoctap criteria schema`")
        typer.echo("criteria/schema.json is up to date")
        return
    target.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {target}")


privacy_cli = typer.Typer(help="Dữ liệu cá nhân: khóa CCCD, thời hạn lưu.", no_args_is_help=True)
cli.add_typer(privacy_cli, name="privacy")


@privacy_cli.command("key-status")
def privacy_key_status() -> None:
    """How many national-ID digests each key version holds (rotation progress)."""
    from app.privacy.service import key_status

    with _cli_session() as session:
        counts = key_status(session)
    current = get_settings().national_id_key_version
    for version, count in sorted(counts.items(), key=lambda item: item[0] or 0):
        marker = " (current)" if version == current else ""
        typer.echo(f"key version {version}{marker}: {count} records")


@privacy_cli.command("purge")
def privacy_purge() -> None:
    """Delete access-log entries and rate-limit counters past their retention."""
    from app.privacy.service import purge

    with _cli_session() as session:
        removed = purge(session, get_settings().access_log_retention_days)
    typer.echo(", ".join(f"{name}: {count} removed" for name, count in removed.items()))


stats_cli = typer.Typer(help="Số liệu tiến độ dựng sẵn.", no_args_is_help=True)
cli.add_typer(stats_cli, name="stats")


@stats_cli.command("build")
def stats_build(
    year: Annotated[int | None, typer.Option(help="Năm (mặc định: năm nay)")] = None,
    province: Annotated[list[str] | None, typer.Option(help="Mã tỉnh (lặp lại được; mặc định: mọi tỉnh)")] = None,
    basis: Annotated[str, typer.Option(help="all hoặc registered")] = "all",
) -> None:
    """Pre-build the progress counts of whole provinces for a year (e.g. a new year before its
    first reads). Reads never wait for a build: they count live what is not built, and the
    background sweep keeps what was built up to date (a new day, writes)."""
    from sqlalchemy import select

    from app import clock
    from app.exceptions import Problem
    from app.stats import counting, summary
    from app.units.models import AdministrativeUnit, UnitLevel
    from app.units.service import get_unit, in_force_on

    if basis not in ("all", "registered"):
        _fail("basis: all hoặc registered")
    with _cli_session() as session:
        year = year or clock.today().year  # the year in Vietnam, whatever the server's zone
        day = counting.reference_day(year)
        if province:
            try:
                codes = [get_unit(session, code, day).code for code in province]
            except Problem as problem:
                _fail(problem.detail)
                return
        else:
            codes = list(
                session.scalars(
                    select(AdministrativeUnit.code)
                    .where(AdministrativeUnit.level == UnitLevel.PROVINCE, *in_force_on(day))
                    .order_by(AdministrativeUnit.code)
                )
            )
    for code in codes:  # one transaction per province
        with _cli_session() as session:
            unit = get_unit(session, code, day)
            rebuilt = summary.build_under(session, unit, year, day, basis)
        if rebuilt is None:
            typer.echo(f"{unit.code} {unit.name}: another build was running; run again.", err=True)
            continue
        typer.echo(f"{unit.code} {unit.name}: {rebuilt} units rebuilt for {year} ({basis}, counted on {day}).")


@stats_cli.command("sweep")
def stats_sweep() -> None:
    """Bring every out-of-date pre-built count up to date now (what the background sweep does
    every minute)."""
    from app import clock
    from app.database import create_db_engine
    from app.stats import jobs as count_jobs
    from app.wiring import session_factory

    settings = get_settings()
    clock.configure(settings.timezone)
    engine = create_db_engine(settings.sqlalchemy_url)
    try:
        made = count_jobs.sweep(session_factory(engine))
    finally:
        engine.dispose()
    typer.echo(f"{made} unit builds brought up to date.")


def main() -> None:
    from app.config import ConfigurationError

    try:
        cli()
    except ConfigurationError as error:  # names the variables, never their values
        typer.secho(str(error), fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None


credentials_cli = typer.Typer(help="Giấy công nhận điện tử: khóa ký, cấp bổ sung.", no_args_is_help=True)
cli.add_typer(credentials_cli, name="credentials")


@credentials_cli.command("new-key")
def credentials_new_key() -> None:
    """Tạo khóa ký giấy công nhận trong HOCTAP_CREDENTIAL_KEY_DIR (khi chưa có)."""
    from app.auth.tokens import SIGNING_KEY_FILE, CredentialKeys

    directory = get_settings().credential_key_dir
    if (directory / SIGNING_KEY_FILE).exists():
        _fail(f"Đã có khóa ký ở {directory}; dùng `hoctap credentials rotate-key` để thay.")
    typer.echo(f"Khóa ký mới: {CredentialKeys(directory, create=True).kid}")


@credentials_cli.command("rotate-key")
def credentials_rotate_key() -> None:
    """Thay khóa ký: khóa cũ vẫn được công bố để kiểm tra những giấy nó đã ký. Khởi động lại dịch vụ sau đó."""
    from app.auth.tokens import rotate_credential_key

    try:
        old, new = rotate_credential_key(get_settings().credential_key_dir)
    except ValueError as error:
        _fail(str(error))
    typer.echo(f"Khóa cũ {old} chuyển sang danh sách đã thay; khóa ký mới: {new}. Hãy khởi động lại dịch vụ.")


@credentials_cli.command("keys")
def credentials_keys() -> None:
    """Liệt kê các khóa được công bố (khóa đang ký đánh dấu *)."""
    from app.auth.tokens import CredentialKeys

    try:
        keys = CredentialKeys(get_settings().credential_key_dir, create=False)
    except ValueError as error:
        _fail(str(error))
    for key in keys.jwks():
        typer.echo(("* " if key["kid"] == keys.kid else "  ") + key["kid"])


@credentials_cli.command("issue-missing")
def credentials_issue_missing(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Số danh hiệu mỗi giao dịch")] = 500,
) -> None:
    """Cấp giấy điện tử cho những danh hiệu chưa có (ghi nhận trước khi có chức năng này)."""
    from sqlalchemy import exists, select

    from app.assessments.models import Recognition
    from app.auth.principal import SYSTEM
    from app.auth.tokens import CredentialKeys
    from app.credentials import service
    from app.credentials.models import Credential

    settings = get_settings()
    keys = CredentialKeys(settings.credential_key_dir, create=not settings.is_production)
    issued = 0
    while True:
        with _cli_session() as session:
            ids = list(
                session.scalars(
                    select(Recognition.id)
                    .where(~exists().where(Credential.recognition_id == Recognition.id))
                    .order_by(Recognition.id)
                    .limit(batch)
                )
            )
            if not ids:
                break
            facts = service.recognition_facts(session, Recognition.id.in_(ids))
            issued += len(service.issue(session, keys, settings.public_base_url, SYSTEM, facts))
        typer.echo(f"Đã cấp {issued} giấy.")
    typer.echo(f"Xong: {issued} giấy công nhận mới.")


import_cli = typer.Typer(help="Nhập dữ liệu từ tệp Excel (XLSX) hoặc CSV.", no_args_is_help=True)
cli.add_typer(import_cli, name="import")


@import_cli.command("template")
def import_template(
    output: Annotated[Path, typer.Argument(help="Tệp mẫu sẽ ghi ra (.xlsx)")],
    kind: Annotated[str, typer.Option(help="Loại dữ liệu")] = "people",
    variant: Annotated[str | None, typer.Option(help="Biến thể (đánh giá: danh hiệu:bộ tiêu chí)")] = None,
) -> None:
    """Ghi tệp mẫu (tiêu đề tiếng Việt, trang hướng dẫn)."""
    from app.exceptions import Problem
    from app.imports import service

    if kind not in service.KINDS:
        _fail(f"Không có loại '{kind}'; có: {', '.join(service.KINDS)}.")
    with _cli_session() as session:
        try:
            content = service.template(session, kind, variant)
        except Problem as problem:
            _fail(problem.detail)
    output.write_bytes(content)
    typer.echo(f"Đã ghi {output}")


_FILE = Annotated[Path, typer.Argument(help="Tệp XLSX (theo mẫu) hoặc CSV UTF-8", exists=True, dir_okay=False)]
_USER = Annotated[str, typer.Option(help="Tài khoản nhập (phạm vi quản lý của tài khoản này được áp dụng)")]
_WRITE = Annotated[bool, typer.Option("--write/--dry-run", help="Ghi vào sổ, hay chỉ kiểm tra (mặc định)")]
_ON_DAY = Annotated[str | None, typer.Option(help="Ngày của tệp (YYYY-MM-DD): mã đơn vị hiểu theo ngày này")]


@import_cli.command("people")
def import_people(file: _FILE, user: _USER, write: _WRITE = False, on_day: _ON_DAY = None) -> None:
    """Nhập danh sách công dân; kiểm tra toàn bộ trước, ghi tất cả hoặc không ghi gì."""
    _import_file("people", file, user, write, on_day, None)


@import_cli.command("file")
def import_file(
    kind: Annotated[str, typer.Argument(help="Loại dữ liệu (hoctap import kinds)")],
    file: _FILE,
    user: _USER,
    write: _WRITE = False,
    on_day: _ON_DAY = None,
    variant: Annotated[str | None, typer.Option(help="Biến thể (đánh giá: danh hiệu:bộ tiêu chí)")] = None,
) -> None:
    """Nhập một tệp của bất kỳ loại nào; kiểm tra toàn bộ trước, ghi tất cả hoặc không ghi gì."""
    _import_file(kind, file, user, write, on_day, variant)


@import_cli.command("kinds")
def import_kinds() -> None:
    """Các loại dữ liệu nhập được, và biến thể của mỗi loại."""
    from app.imports import service

    with _cli_session() as session:
        for kind in service.kinds(session):
            typer.echo(f"{kind['key']}: {kind['label']}")
            for variant in kind["variants"]:
                typer.echo(f"    --variant {variant['key']}  ({variant['label']})")


def _import_file(kind: str, file: Path, user: str, write: bool, on_day: str | None, variant: str | None) -> None:
    from datetime import date

    from sqlalchemy import select

    from app import clock
    from app.auth.models import User
    from app.auth.service import load_principal
    from app.database import create_db_engine
    from app.exceptions import Problem
    from app.imports import service, sheets
    from app.imports.models import ImportJob
    from app.registry.national_id import NationalIds
    from app.wiring import session_factory

    settings = get_settings()
    clock.configure(settings.timezone)
    content = file.read_bytes()
    with _cli_session() as session:
        account = session.scalar(select(User).where(User.username == user.strip().lower()))
        principal = load_principal(session, account.id, account.credential_version) if account else None
        if principal is None:
            _fail(f"Không có tài khoản đang hoạt động tên {user}.")
        if kind not in service.KINDS:
            _fail(f"Không có loại '{kind}'; có: {', '.join(service.KINDS)}.")
        day = date.fromisoformat(on_day) if on_day else clock.today()
        try:
            job, created = service.start(session, principal, kind, file.name, content, not write, day, variant)
        except Problem as problem:
            _fail(problem.detail)
        job_id, public_id = job.id, job.public_id
    if not created:
        typer.echo(f"Tệp này đã được nhập (lần nhập {public_id}): không có gì mới.")
        return
    engine = create_db_engine(settings.sqlalchemy_url)
    try:
        with typer.progressbar(length=sheets.estimated_rows(content), label="Kiểm tra", show_pos=True) as bar:

            def progress(count: int) -> None:
                bar.update(count - bar.pos)

            state = service.run(session_factory(engine), NationalIds(settings), job_id, on_progress=progress)
        with _cli_session() as session:
            job = session.get(ImportJob, job_id)
            typer.echo(
                f"{state}: {job.total_rows} dòng, tạo mới {job.created}, đã có {job.matched}, lỗi {job.error_count}"
            )
            for error in service.summary(job)["errors"][:20]:
                typer.echo(f"  dòng {error['row']}, {error['column']}: {error['reason']}", err=True)
    finally:
        engine.dispose()
    if state != "done":
        raise typer.Exit(code=1)
