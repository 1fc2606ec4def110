"""Request plumbing: one transaction per request, authentication, per-route permissions, CSRF.

Every route declares either `Depends(Require(Perm.X))` or `Depends(PUBLIC)`; the route matrix test
reads these declarations, so a new route is covered as soon as it exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from niaga.identity import auth
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal, client_ref
from niaga.kit.errors import DomainError, Forbidden, Unauthorized
from niaga.kit.messages import Msg
from niaga.privacy.vault import get_vault

SESSION_COOKIE = "niaga_session"
CSRF_COOKIE = "niaga_csrf"
LANG_COOKIE = "niaga_lang"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class CsrfFailed(DomainError):
    """The form's anti-forgery token is missing or wrong."""

    status = 403
    code = "csrf-failed"


class TransactionalRoute(APIRoute):
    """Opens the request's session and commits it before the response leaves (rule 1).

    On SQLite every transaction holds the single write lock from BEGIN IMMEDIATE to commit, so the
    requests of one process queue on an asyncio gate first: a waiting request then holds no thread and
    no lock, instead of filling the thread pool while the lock holder waits for a thread to commit.
    """

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def run(request: Request) -> Any:
            gate = request.app.state.write_gate
            if gate is None:
                return await _transaction(request)
            database = request.app.state.database
            async with gate:
                # The gate orders this process's requests; the writer turn orders them with the worker's jobs.
                turn = await run_in_threadpool(database.acquire_writer_turn)
                try:
                    with database.turn_held():  # for the threads below, and jobs run inline after commit
                        return await _transaction(request)
                finally:
                    database.release_writer_turn(turn)

        async def _transaction(request: Request) -> Any:
            session = request.app.state.database.session()
            request.state.db = session
            try:
                response = await handler(request)
                await run_in_threadpool(session.commit)
                return response
            except BaseException:
                await run_in_threadpool(session.rollback)
                raise
            finally:
                await run_in_threadpool(session.close)

        return run


def db(request: Request) -> Session:
    """The request's session."""
    return request.state.db


def client_address(request: Request) -> str | None:
    """The client's address as the server sees it (proxy headers are handled by uvicorn)."""
    return request.client.host if request.client else None


def request_client_ref(request: Request, session: Session) -> str | None:
    """Keyed hash of the client address, cached on the request."""
    if not hasattr(request.state, "client_ref"):
        request.state.client_ref = client_ref(session, client_address(request))
    return request.state.client_ref


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def optional_principal(request: Request, session: Session = Depends(db)) -> Principal | None:
    """The signed-in principal from a bearer token or the session cookie, if any."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    settings = request.app.state.settings
    ref = request_client_ref(request, session)
    principal = None
    token = _bearer(request)
    if token is not None:
        principal = auth.resolve_token(session, token, ref)
        if principal is None:
            raise Unauthorized(Msg("The API token is not valid, expired or revoked."))
    else:
        row = auth.resolve_session(session, request.cookies.get(SESSION_COOKIE), settings)
        if row is not None and not row.pending_second_factor:
            principal = auth.principal_for_session(row, ref)
            request.state.staff_session = row
    request.state.principal = principal
    return principal


def _check_csrf_value(request: Request, session: Session, supplied: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not supplied or not hmac.compare_digest(supplied, csrf_token_for(session, cookie)):
        raise CsrfFailed(Msg("The form expired or was sent from another site. Reload the page and try again."))


def csrf_token_for(session: Session, cookie_value: str) -> str:
    """The token a form must echo for a given CSRF cookie (signed double-submit)."""
    secret = get_vault().platform_secret(session, "csrf")
    return hmac.new(secret, cookie_value.encode(), hashlib.sha256).hexdigest()


def ensure_csrf_cookie(request: Request) -> str:
    """The visitor's CSRF cookie value, minting one (set on the response by the page layer)."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(24)
        request.state.new_csrf_cookie = value
    return value


async def check_csrf(request: Request) -> None:
    """Pages: every unsafe request carries the token in the form or the X-CSRF-Token header."""
    if request.method not in UNSAFE:
        return
    supplied = request.headers.get("x-csrf-token")
    if supplied is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        supplied = value if isinstance(value, str) else None
    session: Session = request.state.db
    await run_in_threadpool(_check_csrf_value, request, session, supplied)


class Require:
    """Route dependency: the caller must be signed in and hold `perm`."""

    def __init__(self, perm: Perm) -> None:
        self.perm = perm

    def __call__(self, request: Request, principal: Principal | None = Depends(optional_principal)) -> Principal:
        if principal is None:
            raise Unauthorized(Msg("Please sign in."))
        if (
            principal.via == "session"
            and request.method in UNSAFE
            and request.url.path.startswith("/api/")
        ):
            _check_csrf_value(request, request.state.db, request.headers.get("x-csrf-token"))
        if not principal.can(self.perm):
            raise Forbidden(Msg("Your role does not allow this."))
        return principal

    def __repr__(self) -> str:
        return f"Require({self.perm.value})"


class _Public:
    """Route dependency marking a route as open to anyone (sign-up, login, health, public pages)."""

    def __call__(self) -> None:
        return None

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC = _Public()


def route_access(route: APIRoute) -> Require | _Public | None:
    """The access declaration of a route (for the route matrix and docs)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, (Require, _Public)):
            return dep.call
        stack.extend(dep.dependencies)
    return None


def app_routes(app: Any) -> list[tuple[str, APIRoute | Any]]:
    """(full path, route) for every route, whether FastAPI flattens included routers or keeps them nested."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before nested router contexts: routes are already flat
        return [(getattr(r, "path", ""), r) for r in app.routes]
    return [(ctx.path or "", ctx.original_route) for ctx in iter_route_contexts(app.routes)]
