"""Errors as `application/problem+json` (RFC 9457) with a stable `code` and Vietnamese text.

Services raise `Problem` (or a subclass); the handlers here turn it, validation failures,
framework HTTP errors and anything unexpected into the same body shape. Clients branch on
`code`, people read `title` / `detail`; no stack trace ever reaches a client (unexpected
errors are answered by `app.logs.RequestContextMiddleware`).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.database import is_cancelled_query
from app.logs import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://hoctap.vn/problems/"


class FieldError(BaseModel):
    field: str = Field(description="Đường dẫn tới trường lỗi, ví dụ `body.username`")
    code: str = Field(description="Mã lỗi ổn định của trường")
    message: str = Field(description="Lý do, bằng tiếng Việt")


class ProblemDetail(BaseModel):
    """Body of every error response."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):  # noqa: N818 - it is the RFC 9457 name
    """An error a client can act on. `code` is stable; title/detail are Vietnamese."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail or title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail or title
        self.errors = errors
        self.headers = headers


def invalid_field(field: str, code: str, message: str, detail: str | None = None) -> Problem:
    """A 422 naming one field: the shape every service uses for a single bad input."""
    return Problem(
        422,
        "validation_failed",
        "Dữ liệu không hợp lệ",
        detail or message,
        errors=[FieldError(field=field, code=code, message=message)],
    )


class NotAuthenticated(Problem):
    def __init__(self, detail: str = "Cần đăng nhập để dùng chức năng này.", code: str = "not_authenticated") -> None:
        super().__init__(401, code, "Chưa xác thực", detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    def __init__(self, detail: str = "Tài khoản không có quyền thực hiện thao tác này.") -> None:
        super().__init__(403, "forbidden", "Không có quyền", detail)


class NotFound(Problem):
    def __init__(self, detail: str = "Không tìm thấy đối tượng được yêu cầu.") -> None:
        super().__init__(404, "not_found", "Không tìm thấy", detail)


class Conflict(Problem):
    def __init__(self, detail: str, code: str = "conflict") -> None:
        super().__init__(409, code, "Xung đột dữ liệu", detail)


# Vietnamese wording for Pydantic's error types; anything unlisted gets a generic sentence.
_VALIDATION_MESSAGES: dict[str, str] = {
    "missing": "Trường này là bắt buộc.",
    "extra_forbidden": "Trường này không được phép.",
    "string_type": "Phải là chuỗi ký tự.",
    "string_too_short": "Phải có ít nhất {min_length} ký tự.",
    "string_too_long": "Chỉ được tối đa {max_length} ký tự.",
    "string_pattern_mismatch": "Không đúng định dạng yêu cầu.",
    "int_type": "Phải là số nguyên.",
    "int_parsing": "Phải là số nguyên.",
    "int_from_float": "Phải là số nguyên.",
    "float_type": "Phải là số.",
    "float_parsing": "Phải là số.",
    "bool_type": "Phải là true hoặc false.",
    "bool_parsing": "Phải là true hoặc false.",
    "greater_than": "Phải lớn hơn {gt}.",
    "greater_than_equal": "Phải lớn hơn hoặc bằng {ge}.",
    "less_than": "Phải nhỏ hơn {lt}.",
    "less_than_equal": "Phải nhỏ hơn hoặc bằng {le}.",
    "literal_error": "Phải là một trong các giá trị: {expected}.",
    "enum": "Phải là một trong các giá trị: {expected}.",
    "date_type": "Phải là ngày theo dạng YYYY-MM-DD.",
    "date_parsing": "Phải là ngày theo dạng YYYY-MM-DD.",
    "date_from_datetime_parsing": "Phải là ngày theo dạng YYYY-MM-DD.",
    "datetime_type": "Phải là thời điểm theo ISO 8601.",
    "datetime_parsing": "Phải là thời điểm theo ISO 8601.",
    "uuid_type": "Phải là UUID.",
    "uuid_parsing": "Phải là UUID.",
    "list_type": "Phải là danh sách.",
    "dict_type": "Phải là đối tượng JSON.",
    "model_type": "Phải là đối tượng JSON.",
    "model_attributes_type": "Phải là đối tượng JSON.",
    "json_invalid": "Nội dung không phải JSON hợp lệ.",
    "too_short": "Phải có ít nhất {min_length} phần tử.",
    "too_long": "Chỉ được tối đa {max_length} phần tử.",
    "value_error": "{reason}",
    "assertion_error": "{reason}",
    "string_unicode": "Chuỗi ký tự không hợp lệ.",
}
_GENERIC_FIELD_MESSAGE = "Giá trị không hợp lệ."


def _field_message(error: dict[str, Any]) -> str:
    template = _VALIDATION_MESSAGES.get(error.get("type", ""), _GENERIC_FIELD_MESSAGE)
    context = dict(error.get("ctx") or {})
    # Our own validators raise ValueError with a Vietnamese sentence: show it as is.
    reason = context.get("error")
    context["reason"] = str(reason) if reason else _GENERIC_FIELD_MESSAGE
    try:
        return template.format(**context)
    except (KeyError, IndexError, ValueError):
        return _GENERIC_FIELD_MESSAGE


def _field_error(error: dict[str, Any]) -> FieldError:
    location = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "json_invalid":
        # The framework puts the character position where a field name belongs ("body.1"):
        # the field is the body itself, the position goes into the message.
        position = location[1] if len(location) > 1 else None
        where = f" (lỗi ở ký tự thứ {position})" if position is not None else ""
        return FieldError(field="body", code="json_invalid", message=f"Nội dung không phải JSON hợp lệ{where}.")
    return FieldError(
        field=".".join(location) or "body", code=str(error.get("type", "invalid")), message=_field_message(error)
    )


def field_errors(raw_errors: list[dict[str, Any]]) -> list[FieldError]:
    return [_field_error(error) for error in raw_errors]


def problem_response(request: Request | None, problem: Problem, *, instance: str | None = None) -> JSONResponse:
    body = ProblemDetail(
        type=PROBLEM_TYPE_BASE + problem.code,
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        code=problem.code,
        instance=request.url.path if request is not None else instance,
        request_id=current_request_id(),
        errors=problem.errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


# Framework-raised HTTP errors (unknown route, wrong method, …) mapped to stable codes.
_HTTP_STATUS_PROBLEMS: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "Yêu cầu không hợp lệ", "Yêu cầu không đúng định dạng."),
    401: ("not_authenticated", "Chưa xác thực", "Cần đăng nhập để dùng chức năng này."),
    403: ("forbidden", "Không có quyền", "Tài khoản không có quyền thực hiện thao tác này."),
    404: ("not_found", "Không tìm thấy", "Không tìm thấy địa chỉ hoặc đối tượng được yêu cầu."),
    405: ("method_not_allowed", "Phương thức không được hỗ trợ", "Địa chỉ này không hỗ trợ phương thức HTTP đã dùng."),
    406: ("not_acceptable", "Không đáp ứng được định dạng", "Không có định dạng phản hồi phù hợp."),
    413: ("payload_too_large", "Dữ liệu quá lớn", "Nội dung gửi lên vượt quá giới hạn cho phép."),
    415: ("unsupported_media_type", "Định dạng không được hỗ trợ", "Kiểu nội dung gửi lên không được hỗ trợ."),
    429: ("too_many_requests", "Quá nhiều yêu cầu", "Vui lòng thử lại sau."),
}


async def _handle_problem(request: Request, exc: Problem) -> JSONResponse:
    return problem_response(request, exc)


async def handle_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = field_errors(list(exc.errors()))
    fields = ", ".join(error.field for error in errors)
    return problem_response(
        request,
        Problem(
            422,
            "validation_failed",
            "Dữ liệu không hợp lệ",
            f"Một số trường không hợp lệ: {fields}." if fields else "Dữ liệu gửi lên không hợp lệ.",
            errors=errors,
        ),
    )


async def handle_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code, title, detail = _HTTP_STATUS_PROBLEMS.get(
        exc.status_code,
        (
            f"http_{exc.status_code}",
            "Lỗi yêu cầu",
            HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "",
        ),
    )
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return problem_response(request, Problem(exc.status_code, code, title, detail, headers=headers))


def _allowed_methods(request: Request) -> list[str]:
    """Every method any route offers for this path (Starlette names only the first route's)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in _flatten(request.app.routes):
        match, _ = route.matches({**request.scope, "method": "__ANY__"})
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return sorted(methods)


def _flatten(routes):
    for route in routes:
        if hasattr(route, "routes") and not getattr(route, "methods", None):
            yield from _flatten(route.routes)
        else:
            yield route


async def _handle_operational(request: Request, exc: OperationalError) -> JSONResponse:
    """A query stopped by the statement time limit, or cancelled because the client left, is
    an answer (503), not a crash; any other database failure stays a 500."""
    if not is_cancelled_query(exc):
        raise exc
    return problem_response(
        request,
        Problem(
            503,
            "query_timeout",
            "Yêu cầu xử lý quá lâu",
            "Yêu cầu cần quá nhiều thời gian để xử lý và đã được dừng. Vui lòng thu hẹp phạm vi hoặc thử lại sau.",
            headers={"Retry-After": "30"},
        ),
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _handle_problem)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _handle_operational)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, handle_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, handle_http_error)  # type: ignore[arg-type]


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem+json bodies for the given statuses."""
    return {
        status: {
            "model": ProblemDetail,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}},
        }
        for status in statuses
    }
