"""Error rendering: application/problem+json for the API, a friendly page (or the login) for pages."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from niaga.kit.errors import DomainError, TooManyRequests, ValidationFailed
from niaga.kit.logging import get_logger
from niaga.kit.messages import translate
from niaga.privacy import audit
from niaga.privacy.audit import Actor
from niaga.web.deps import CsrfFailed, Forbidden, Unauthorized
from niaga.web.i18n import N_, gettext_for

log = get_logger("niaga.errors")
PROBLEM = "application/problem+json"
TITLES = {400: N_("Bad request"), 401: N_("Sign-in required"), 403: N_("Not allowed"), 404: N_("Not found"),
          405: N_("Method not allowed"), 409: N_("Conflict"), 410: N_("Gone"), 413: N_("Request too large"),
          415: N_("Unsupported media type"), 422: N_("Invalid input"), 429: N_("Too many requests"),
          500: N_("Server error")}
ERROR_TITLE = N_("Error")
NOT_FOUND = N_("This page does not exist.")
INVALID_INPUT = N_("Some fields are missing or invalid.")
SERVER_ERROR = N_("Something went wrong on our side. Nothing was saved; please try again.")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/webhooks/", "/healthz"))


def _locale(request: Request) -> str:
    from niaga.web.templating import request_locale

    try:
        return request_locale(request)
    except Exception:  # noqa: BLE001 - rendering an error must not fail on locale lookup
        return "en"


def problem(request: Request, status: int, detail: str, *, code: str = "about:blank",
            errors: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """An RFC 9457 problem response; the title is in the caller's language (the detail already is)."""
    title = gettext_for(_locale(request))(TITLES.get(status, ERROR_TITLE))
    body: dict = {"type": code, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _audit_security(request: Request, action: str, outcome: str) -> None:
    """Security-relevant refusals are audited in their own transaction (the request's was rolled back)."""
    principal = getattr(request.state, "principal", None)
    try:
        with request.app.state.database.transaction() as session:
            actor = principal.actor if principal else Actor("anonymous", None, getattr(request.state, "client_ref", None))
            route = request.scope.get("route")
            audit.record(session, principal.tenant_id if principal else None, action, actor, outcome=outcome,
                         details={"route": getattr(route, "path", "(unmatched)"), "method": request.method})
    except Exception:  # noqa: BLE001 - auditing a refusal must not turn it into a 500
        log.exception("could not audit a refused request")


def _page_error(request: Request, status: int, message: str, headers: dict[str, str] | None = None):  # noqa: ANN202
    from niaga.web.templating import render

    if hasattr(request.state, "db"):
        response = render(request, "error.html", {"status": status, "message": message}, status_code=status)
    else:
        with request.app.state.database.transaction() as session:
            request.state.db = session
            response = render(request, "error.html", {"status": status, "message": message}, status_code=status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


async def domain_error(request: Request, exc: DomainError):  # noqa: ANN201
    """Render a DomainError in the caller's language."""
    gettext = gettext_for(_locale(request))
    detail = translate(exc.message, gettext)
    headers = {}
    if isinstance(exc, TooManyRequests) and exc.retry_after:
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, (CsrfFailed, Forbidden)) or (isinstance(exc, Unauthorized) and request.headers.get("authorization")):
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(_audit_security, request, f"security.{exc.code}", "denied")
    if _is_api(request):
        errors = None
        if isinstance(exc, ValidationFailed):
            errors = {k: translate(v, gettext) for k, v in exc.errors.items()}
        return problem(request, exc.status, detail, code=exc.code, errors=errors, headers=headers)
    if isinstance(exc, Unauthorized):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return _page_error(request, exc.status, detail, headers)


async def validation_error(request: Request, exc: RequestValidationError):  # noqa: ANN201
    """FastAPI's input validation, as field messages without echoing the input."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        errors[".".join(loc) or "body"] = err.get("msg", "invalid")
    detail = gettext_for(_locale(request))(INVALID_INPUT)
    if _is_api(request):
        return problem(request, 422, detail, code="validation-failed", errors=errors)
    return _page_error(request, 422, detail)


async def http_error(request: Request, exc: StarletteHTTPException):  # noqa: ANN201
    """404 for unknown routes, 405, and other framework errors."""
    gettext = gettext_for(_locale(request))
    default = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else None
    if exc.status_code == 404:
        detail = NOT_FOUND
    elif not isinstance(exc.detail, str) or exc.detail == default:
        detail = TITLES.get(exc.status_code, ERROR_TITLE)  # the framework's English phrase: use ours
    else:
        detail = exc.detail
    detail = gettext(detail)
    if _is_api(request):
        return problem(request, exc.status_code, detail, headers=getattr(exc, "headers", None))
    return _page_error(request, exc.status_code, detail, getattr(exc, "headers", None))


async def unexpected_error(request: Request, exc: Exception):  # noqa: ANN201
    """Last resort: log the type and route, never the request's data."""
    route = request.scope.get("route")
    log.error("unhandled error", error=type(exc).__name__, route=getattr(route, "path", "(unmatched)"), exc_info=exc)
    detail = gettext_for(_locale(request))(SERVER_ERROR)
    if not _is_api(request):
        try:
            return _page_error(request, 500, detail)
        except Exception:  # noqa: BLE001 - the page itself may need what just failed (the database)
            log.error("could not render the error page", route=getattr(route, "path", "(unmatched)"))
    return problem(request, 500, detail)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
