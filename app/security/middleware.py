"""Security headers and the guard on every request's input, as pure ASGI middleware."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.database import RequestConnections
from app.exceptions import FieldError, Problem, problem_response
from app.text import forbidden_character

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI runs an inline initialiser and loads its bundle from our own static path.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
)

# Pages: our own scripts and stylesheet, inline images (QR codes), forms and requests to ourselves.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; manifest-src 'self'; worker-src 'self'"
)
# Printable documents carry their print CSS and QR code inline, and run no script.
DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'"

# Paths that are not pages: the API, keys, probes and static files get the strictest policy.
_NOT_PAGES = ("/api/", "/.well-known/", "/healthz", "/readyz", "/openapi.json", "/assets/")

MAX_JSON_DEPTH = 32
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path.startswith(("/docs", "/static/docs")):
            csp = DOCS_CSP
        elif path.endswith(".html"):
            csp = DOCUMENT_CSP
        elif path.startswith(_NOT_PAGES):
            csp = API_CSP
        else:
            csp = PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                ]
                # A page that chose its own policy (the widget portals frame) keeps it.
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers += [(b"x-frame-options", b"DENY"), (b"content-security-policy", csp.encode())]
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _bad_text(field: str, text: str, *, single_line: bool = False) -> FieldError | None:
    char = forbidden_character(text, single_line=single_line)
    if char is None:
        return None
    return FieldError(
        field=field, code="control_character", message=f"Có ký tự điều khiển hoặc không hợp lệ ({char}); hãy xoá."
    )


def _walk(value, path: str, depth: int, errors: list[FieldError]) -> None:
    if len(errors) >= 20:
        return
    if depth > MAX_JSON_DEPTH:
        errors.append(FieldError(field=path, code="too_deep", message=f"Dữ liệu lồng quá {MAX_JSON_DEPTH} cấp."))
        return
    if isinstance(value, str):
        if error := _bad_text(path, value):
            errors.append(error)
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}"
            if error := _bad_text(path, key):
                errors.append(error)
                continue
            _walk(item, child, depth + 1, errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}.{index}", depth + 1, errors)


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def input_errors(scope: Scope, body: bytes) -> list[FieldError]:
    """Characters no input may carry, and JSON nested deeper than any body of ours, by field."""
    errors: list[FieldError] = []
    if error := _bad_text("path", scope.get("path", ""), single_line=True):
        errors.append(error)
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        for text in (name, value):
            if error := _bad_text(f"query.{name}", text, single_line=True):
                errors.append(error)
                break
    if not body:
        return errors
    kind = _content_type(scope)
    if kind == "application/json" or kind.endswith("+json"):
        try:
            document = json.loads(body)
        except RecursionError:
            errors.append(FieldError(field="body", code="too_deep", message=f"Dữ liệu lồng quá {MAX_JSON_DEPTH} cấp."))
        except ValueError:
            pass  # malformed JSON: the framework reports it, with its position
        else:
            _walk(document, "body", 0, errors)
    elif kind == "application/x-www-form-urlencoded":
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if error := _bad_text(f"body.{name}", f"{name}{value}", single_line=True):
                errors.append(error)
    elif kind.startswith("text/") or kind in ("application/yaml", "application/x-yaml"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(FieldError(field="body", code="not_utf8", message="Nội dung phải mã hoá UTF-8."))
        else:
            if error := _bad_text("body", text):
                errors.append(error)
    return errors


class InputGuardMiddleware:
    """Every request passes here before any route sees it:

    - bodies over `limit` bytes are refused (413), at once when Content-Length says so,
      otherwise as soon as the streamed body passes the limit;
    - control characters in the path, the query or a text body (JSON strings and keys, form
      fields, YAML) and JSON nested more than 32 levels are refused with 422 naming the field;
    - while the route runs, the connection is watched: if the client goes away, the database
      work of the request is cancelled instead of running on for nobody.
    """

    def __init__(self, app: ASGIApp, *, limit: int, uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        # Paths that take files (spreadsheet imports) and their own, larger limit.
        self.uploads = uploads or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.uploads.get(scope.get("path", ""), self.limit)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await self._refuse(send)
                    return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        errors = input_errors(scope, body)
        if errors:
            problem = Problem(
                422,
                "validation_failed",
                "Dữ liệu không hợp lệ",
                "Một số trường không hợp lệ: " + ", ".join(error.field for error in errors) + ".",
                errors=errors,
            )
            await problem_response(None, problem, instance=scope.get("path"))(scope, receive, send)
            return
        await self._run(scope, body, receive, send)

    async def _run(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        gone = anyio.Event()
        complete = False
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send_watching(message: Message) -> None:
            nonlocal complete
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        with RequestConnections() as connections:

            async def watch() -> None:
                message = await receive()
                if message["type"] == "http.disconnect" and not complete:
                    gone.set()
                    await anyio.to_thread.run_sync(connections.cancel)

            try:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(watch)
                    try:
                        await self.app(scope, replay, send_watching)
                    finally:
                        tasks.cancel_scope.cancel()
            except BaseExceptionGroup as group:  # the task group wraps what the app raised
                if len(group.exceptions) == 1:
                    raise group.exceptions[0] from None
                raise

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "https://hoctap.vn/problems/payload_too_large",
                "title": "Dữ liệu quá lớn",
                "status": 413,
                "detail": f"Nội dung gửi lên vượt quá {self.limit} byte.",
                "code": "payload_too_large",
            },
            ensure_ascii=False,
        ).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
