"""ASGI application factory.

Everything the app needs (settings, engine, token service, password hasher) hangs off
`app.state`, so tests can build several apps with different settings side by side.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from app import clock
from app.assessments.router import router as assessments_router
from app.assessments.router import status_router, title_check_router
from app.audit.router import router as audit_router
from app.auth.dependencies import PrincipalCache
from app.auth.passwords import Passwords
from app.auth.router import router as auth_router
from app.auth.router import users_router
from app.auth.tokens import CredentialKeys, TokenService
from app.config import Settings, get_settings
from app.credentials.dependencies import Signing
from app.credentials.pages import router as credential_pages
from app.credentials.router import public_router as public_credentials_router
from app.credentials.router import router as credentials_router
from app.criteria.router import router as criteria_router
from app.database import RequestSlots, create_async_db_engine, create_db_engine
from app.exceptions import install_problem_handlers, problem_responses
from app.health.router import router as health_router
from app.imports.decisions import SIGNING as IMPORT_SIGNING
from app.imports.router import UPLOAD_PATH as IMPORT_UPLOAD_PATH
from app.imports.router import router as imports_router
from app.imports.sheets import MAX_BYTES as IMPORT_MAX_BYTES
from app.jobs import Jobs
from app.logs import RequestContextMiddleware, configure_logging
from app.privacy.access_log import AccessLog
from app.privacy.router import router as privacy_router
from app.registry.national_id import NationalIds
from app.registry.router import router as registry_router
from app.reporting.router import router as reporting_router
from app.security.client import ClientAddressMiddleware
from app.security.middleware import InputGuardMiddleware, SecurityHeadersMiddleware
from app.security.ratelimit import RateLimiter
from app.stats.router import router as stats_router
from app.stats.service import ResultCache
from app.units.router import router as units_router
from app.web import errors as page_errors
from app.web.activation import router as activation_pages
from app.web.assessing import router as assessing_pages
from app.web.deciding import router as deciding_pages
from app.web.importing import UPLOAD_PAGE as IMPORT_UPLOAD_PAGE
from app.web.importing import router as importing_pages
from app.web.public import router as public_pages
from app.web.reporting import router as reporting_pages
from app.web.staff import router as staff_pages
from app.web.subjects import router as subject_pages
from app.wiring import rekey_task, session_factory

API_PREFIX = "/api/v1"
DESCRIPTION = """
Sổ đăng ký các danh hiệu học tập: Công dân học tập, Gia đình học tập, Dòng họ học tập,
Cộng đồng học tập và Đơn vị học tập.

Lỗi trả về dạng `application/problem+json` (RFC 9457) với `code` ổn định và nội dung tiếng Việt.
Danh sách trả về `{"items": [...], "total": N}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    clock.configure(settings.timezone)
    engine = create_db_engine(
        settings.sqlalchemy_url,
        settings.database_pool_size,
        statement_timeout_seconds=settings.statement_timeout_seconds,
    )

    jobs = Jobs(settings.jobs_url, settings.jobs_queue_name, settings.jobs_workers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        access_log.start()
        if settings.jobs_in_process:
            jobs.start()
        try:
            yield
        finally:
            jobs.stop()
            access_log.stop()
            await app.state.async_engine.dispose()
            engine.dispose()

    app = FastAPIOffline(
        title="hoctap",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url="/docs" if settings.show_docs else None,
        redoc_url=None,
        static_url="/static/docs",
        lifespan=lifespan,
        swagger_ui_parameters={"persistAuthorization": False},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.jobs = jobs
    app.state.request_slots = RequestSlots(settings.database_pool_size)
    app.state.session_factory = session_factory(
        engine, jobs, settings.count_sweep_minutes, settings.count_rebuild_delay_seconds, NationalIds(settings)
    )
    # The lookups served without a thread per request (app/assessments/lookups.py).
    app.state.async_engine = create_async_db_engine(
        settings.sqlalchemy_url,
        settings.database_pool_size,
        statement_timeout_seconds=settings.statement_timeout_seconds,
    )
    app.state.principal_cache = PrincipalCache(settings.lookup_account_cache_seconds)
    app.state.rekey = rekey_task(app.state.session_factory, jobs)
    access_log = AccessLog(
        app.state.session_factory,
        settings.access_journal_path,
        flush_seconds=settings.access_log_flush_seconds,
        fsync=settings.access_log_fsync,
    )
    app.state.access_log = access_log
    app.state.rate_limiter = RateLimiter(settings.rate_limit_storage_url, settings.rate_limit_key_prefix)
    app.state.tokens = TokenService(settings)
    # Development creates its credential key on first start; production must be given one.
    app.state.credential_signing = Signing(
        CredentialKeys(settings.credential_key_dir, create=not settings.is_production), settings.public_base_url
    )
    # Imported decisions get their credentials from the same keys as POST /decisions.
    app.state.session_factory.kw.setdefault("info", {})[IMPORT_SIGNING] = app.state.credential_signing
    app.state.passwords = Passwords(settings)
    app.state.national_ids = NationalIds(settings)
    # 1,024 answers of about 6 KB: the hot set of a province's public pages, a few MB per process.
    app.state.stats_cache = ResultCache(1024)

    install_problem_handlers(app)
    page_errors.install(app)  # pages answer errors as pages; the API keeps problem+json
    # Added last runs first: request id and error capture wrap everything else.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID"],
            expose_headers=["ETag", "X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(
        InputGuardMiddleware,
        limit=settings.max_body_bytes,
        uploads={
            IMPORT_UPLOAD_PATH: IMPORT_MAX_BYTES + 100_000,
            IMPORT_UPLOAD_PAGE: IMPORT_MAX_BYTES + 100_000,
        },
    )
    app.add_middleware(ClientAddressMiddleware, trusted_proxies=settings.trusted_proxies)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.is_production)
    app.add_middleware(RequestContextMiddleware)

    # Any operation may meet a malformed or oversized body or invalid parameters.
    api = APIRouter(prefix=API_PREFIX, responses=problem_responses(400, 413, 422))
    # Routes are matched in order: the two lookups asked all day come first.
    api.include_router(status_router)
    api.include_router(title_check_router)
    api.include_router(auth_router)
    api.include_router(users_router)
    api.include_router(units_router)
    api.include_router(criteria_router)
    api.include_router(registry_router)
    api.include_router(privacy_router)
    api.include_router(public_credentials_router)
    api.include_router(assessments_router)
    api.include_router(credentials_router)
    api.include_router(imports_router)
    api.include_router(reporting_router)
    api.include_router(audit_router)
    api.include_router(stats_router)
    app.include_router(api)
    app.include_router(health_router)
    app.include_router(credential_pages)
    app.include_router(public_pages)
    app.include_router(staff_pages)
    app.include_router(activation_pages)
    app.include_router(assessing_pages)
    app.include_router(deciding_pages)
    app.include_router(subject_pages)
    app.include_router(importing_pages)
    app.include_router(reporting_pages)
    app.mount("/assets", StaticFiles(packages=[("app", "static")]), name="assets")

    @app.get(
        "/.well-known/jwks.json",
        tags=["auth"],
        summary="Khóa công khai: kiểm tra mã truy cập và giấy công nhận điện tử (kể cả khóa đã thay)",
    )
    def jwks(response: Response) -> dict:
        response.headers["Cache-Control"] = "public, max-age=300"
        return {"keys": app.state.tokens.jwks()["keys"] + app.state.credential_signing.keys.jwks()}

    # What the access log names a request by: its route's full template, never the path sent.
    app.state.route_templates = {
        route.endpoint: route.path for route in iter_route_contexts(app.routes) if route.endpoint and route.path
    }

    return app
