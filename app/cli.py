"""The `hoctap` console command: serve, migrate, seed and account administration."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from app.config import get_settings

cli = typer.Typer(help="hoctap: sổ đăng ký danh hiệu học tập.", no_args_is_help=True, pretty_exceptions_enable=False)
users_cli = typer.Typer(help="Quản lý tài khoản.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")


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
        proxy_headers=True,
        server_header=False,
        log_config=None,
    )


@cli.command()
def migrate(revision: Annotated[str, typer.Argument(help="Phiên bản đích")] = "head") -> None:
    """Upgrade the database schema (alembic upgrade)."""
    from app.migrate import upgrade

    upgrade(get_settings().sqlalchemy_url, revision)
    typer.echo(f"Database at {revision}.")


@cli.command()
def seed(
    force: Annotated[bool, typer.Option(help="Nạp lại cả khi CSDL đã có dữ liệu")] = False,
) -> None:
    """Load the built-in seed data when the database holds none yet."""
    from app.database import create_db_engine, create_session_factory
    from app.seeding import load_builtin_seed

    engine = create_db_engine(get_settings().sqlalchemy_url)
    try:
        with create_session_factory(engine)() as session:
            report = load_builtin_seed(session, force=force)
    finally:
        engine.dispose()
    for line in report:
        typer.echo(line)


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
    from app.database import create_db_engine, create_session_factory
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
    settings = get_settings()
    engine = create_db_engine(settings.sqlalchemy_url)
    try:
        with create_session_factory(engine)() as session:
            user = create_user(session, Passwords(settings), data)
            typer.echo(f"Created {user.role} account '{user.username}' (id {user.id}).")
    except Problem as problem:
        details = "; ".join(e.message for e in problem.errors or []) or problem.detail
        _fail(f"{problem.title}: {details}")
    finally:
        engine.dispose()


def main() -> None:
    cli()
