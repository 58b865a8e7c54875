"""Structured JSON logs and the request id carried by every response.

The access log records method, route path, status and duration only: never query strings,
bodies or headers, because those can hold national IDs, passwords and tokens. Exceptions are
logged as their type and stack frames (file, line, function) only, never their message: the
message of a database error carries the statement and may carry its values, and any library
may put request values into its exception text.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
import uuid
from contextvars import ContextVar
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

access_logger = logging.getLogger("hoctap.access")
error_logger = logging.getLogger("hoctap.errors")


def current_request_id() -> str | None:
    return _request_id.get()


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def _safe_exception(exc_info) -> dict[str, str]:
    kind, _value, tb = exc_info
    frames = traceback.extract_tb(tb)[-12:] if tb is not None else []
    stack = " < ".join(f"{Path(frame.filename).name}:{frame.lineno} {frame.name}" for frame in reversed(frames))
    return {"error_type": getattr(kind, "__name__", "Exception"), "error_stack": stack}


_default_record_factory = logging.getLogRecordFactory()


def _record_without_exception_text(*args, **kwargs) -> logging.LogRecord:
    """Every record of the process: an exception becomes its type and frames, no message."""
    record = _default_record_factory(*args, **kwargs)
    if record.exc_info and record.exc_info[0] is not None:
        for key, value in _safe_exception(record.exc_info).items():
            setattr(record, key, value)
    record.exc_info = None
    record.exc_text = None
    return record


def configure_logging(level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}{request_id}",
                style="{",
                datefmt="%Y-%m-%dT%H:%M:%S%z",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler.addFilter(_RequestIdFilter())
    logging.setLogRecordFactory(_record_without_exception_text)
    handler._hoctap = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    # Replace only our own handler: others (a test run's log capture, a host's) stay.
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_hoctap", False)] + [handler]
    root.setLevel(level)
    # uvicorn's own access log prints full URLs with query strings; ours replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Huey logs every job it runs at INFO; its warnings and errors are what an operator needs.
    logging.getLogger("huey").setLevel(max(logging.getLevelName(level), logging.WARNING))
    # WeasyPrint narrates each step of every PDF at INFO, and its fontTools at INFO too.
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(max(logging.getLevelName(level), logging.WARNING))


_INTERNAL_ERROR_BODY = json.dumps(
    {
        "type": "https://hoctap.vn/problems/internal_error",
        "title": "Lỗi hệ thống",
        "status": 500,
        "detail": "Đã xảy ra lỗi không mong muốn. Vui lòng thử lại hoặc báo quản trị viên kèm mã yêu cầu.",
        "code": "internal_error",
    },
    ensure_ascii=False,
)


def route_template(scope: Scope) -> str:
    """The template of the route that served the request, with the prefix it is mounted under
    (the app factory records them by endpoint in `app.state.route_templates`)."""
    templates = getattr(getattr(scope.get("app"), "state", None), "route_templates", {})
    endpoint = scope.get("endpoint")
    if endpoint is not None and endpoint in templates:
        return templates[endpoint]
    return getattr(scope.get("route"), "path", None) or "(no route)"


class RequestContextMiddleware:
    """Assigns a request id, logs one access line per request and answers unhandled errors.

    Pure ASGI (no BaseHTTPMiddleware) so it adds no task switch per request. It is the
    outermost layer we own, so a crash anywhere below still gets a problem+json 500 that
    carries the request id in its header and body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Always the service's own id: a caller's could carry anything (a national ID) into
        # every log line of the request. Callers correlate with the id we return.
        request_id = uuid.uuid4().hex
        _request_id.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_logger.error(
                "unhandled error", extra={"path": route_template(scope), **_safe_exception(sys.exc_info())}
            )
            if not response_started:
                body = _INTERNAL_ERROR_BODY[:-1] + f', "request_id": "{request_id}"}}'
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/problem+json")],
                    }
                )
                await send({"type": "http.response.body", "body": body.encode("utf-8")})
        finally:
            access_logger.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    # The route's template ("/api/v1/people/{person_id}"), never the path sent:
                    # a path can carry anything a caller typed (a national ID in place of a
                    # code); the query string is left out for the same reason.
                    "path": route_template(scope),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
