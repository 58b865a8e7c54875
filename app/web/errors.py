"""Errors of pages answered as pages: a person gets a Vietnamese page with a way on, not JSON.
The API keeps its problem+json answers (the handlers of app/exceptions.py)."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.exceptions import Problem, field_errors, handle_http_error, handle_validation_error, problem_response
from app.web.rendering import page
from app.web.sessions import LoginRequired

_NOT_PAGES = ("/api/", "/.well-known/", "/healthz", "/readyz", "/openapi.json", "/assets/", "/docs", "/static/")


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(_NOT_PAGES)


def _error_page(status: int, title: str, detail: str) -> Response:
    return page("pages/error.html", status_code=status, title=title, detail=detail)


async def handle_problem(request: Request, exc: Problem) -> Response:
    if not is_page(request):
        return problem_response(request, exc)
    if isinstance(exc, LoginRequired):
        return RedirectResponse(exc.location, status_code=303)
    return _error_page(exc.status, exc.title, exc.detail)


async def handle_validation(request: Request, exc: RequestValidationError) -> Response:
    if not is_page(request):
        return await handle_validation_error(request, exc)
    fields = ", ".join(error.field for error in field_errors(list(exc.errors())))
    return _error_page(422, "Đường dẫn không hợp lệ", f"Giá trị không hợp lệ: {fields}.")


async def handle_http(request: Request, exc: StarletteHTTPException) -> Response:
    if not is_page(request):
        return await handle_http_error(request, exc)
    if exc.status_code == 404:
        return _error_page(404, "Không tìm thấy trang", "Đường dẫn này không có trên hệ thống.")
    return _error_page(exc.status_code, "Không thực hiện được", str(exc.detail))


def install(app) -> None:
    app.add_exception_handler(Problem, handle_problem)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(StarletteHTTPException, handle_http)
