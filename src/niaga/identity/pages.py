"""Staff pages: sign-up, sign-in (with second factor), sign-out, invitation acceptance."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from niaga.identity import accounts, auth, staff
from niaga.identity.accounts import INDUSTRIES, TIMEZONES, SignUpForm
from niaga.kit.errors import DomainError, TooManyRequests, ValidationFailed
from niaga.privacy.audit import Actor
from niaga.web.deps import TransactionalRoute, PUBLIC, SESSION_COOKIE, client_address, db, optional_principal, request_client_ref
from niaga.web.forms import form_data
from niaga.web.templating import render, request_locale

router = APIRouter(route_class=TransactionalRoute)


def safe_next(target: str | None) -> str:
    """Only local paths are followed after sign-in (no open redirect)."""
    if not target:
        return "/dashboard"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/dashboard"
    return target


def signed_in(request: Request, token: str, target: str) -> RedirectResponse:
    """Redirect with the session cookie set."""
    settings = request.app.state.settings
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=settings.require_https, path="/",
        max_age=settings.session_max_hours * 3600,
    )
    return response


@router.get("/", dependencies=[Depends(PUBLIC)])
def home(principal=Depends(optional_principal)) -> RedirectResponse:  # noqa: ANN001
    """Signed in: the dashboard; otherwise the sign-in page."""
    return RedirectResponse("/dashboard" if principal else "/login", status_code=303)


def _signup_context(values: dict, errors: dict | None = None) -> dict:
    return {"values": values, "errors": errors or {}, "industries": INDUSTRIES, "timezones": TIMEZONES}


@router.get("/signup", dependencies=[Depends(PUBLIC)])
def signup_form(request: Request) -> Response:
    """The sign-up form."""
    return render(request, "identity/signup.html", _signup_context({"timezone": "Asia/Jakarta", "industry": "retail"}))


@router.post("/signup", dependencies=[Depends(PUBLIC)])
def signup(request: Request, form: dict = Depends(form_data), session: Session = Depends(db)) -> Response:
    """Create the business and its owner, then sign the owner in."""
    settings = request.app.state.settings
    data = SignUpForm(
        full_name=form.get("full_name", ""), company_name=form.get("company_name", ""),
        position=form.get("position", ""), email=form.get("email", ""), phone=form.get("phone", ""),
        birth_date=form.get("birth_date", ""), password=form.get("password", ""),
        accept_terms=form.get("accept_terms") == "on", industry=form.get("industry", "retail"),
        timezone=form.get("timezone", "Asia/Jakarta"), locale=request_locale(request),
    )
    ref = request_client_ref(request, session)
    try:
        with session.begin_nested():
            user = accounts.sign_up(session, data, settings, request.app.state.passwords, Actor("anonymous", None, ref))
    except ValidationFailed as exc:
        values = {k: v for k, v in form.items() if k != "password"}
        return render(request, "identity/signup.html", _signup_context(values, exc.errors), status_code=422)
    token, _ = auth.start_session(session, user, settings, user_agent=request.headers.get("user-agent", ""),
                                  client=client_address(request), client_ref=ref)
    return signed_in(request, token, "/dashboard")


@router.get("/login", dependencies=[Depends(PUBLIC)])
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
    """The sign-in form."""
    return render(request, "identity/login.html", {"next": safe_next(next), "errors": {}, "values": {}})


@router.post("/login", dependencies=[Depends(PUBLIC)])
def login(request: Request, form: dict = Depends(form_data), session: Session = Depends(db)) -> Response:
    """Check the password (throttled); start a session or ask for the second factor."""
    settings = request.app.state.settings
    target = safe_next(form.get("next"))
    email = form.get("email", "")[:254]
    ref = request_client_ref(request, session)
    try:
        outcome = auth.check_password_login(
            session, email, form.get("password", "")[:300], client_address(request), settings,
            request.app.state.passwords,
        )
    except DomainError as exc:
        status = exc.status
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) and exc.retry_after else {}
        response = render(request, "identity/login.html",
                          {"next": target, "errors": {"form": exc.message}, "values": {"email": email}},
                          status_code=status)
        response.headers.update(headers)
        return response
    token, _ = auth.start_session(
        session, outcome.user, settings, user_agent=request.headers.get("user-agent", ""),
        client=client_address(request), client_ref=ref, pending_second_factor=outcome.needs_second_factor,
    )
    if outcome.needs_second_factor:
        return signed_in(request, token, f"/login/second-factor?next={quote(target, safe='')}")
    return signed_in(request, token, target)


@router.get("/login/second-factor", dependencies=[Depends(PUBLIC)])
def second_factor_form(request: Request, next: str | None = None, session: Session = Depends(db)) -> Response:  # noqa: A002
    """Ask for the authenticator code."""
    row = auth.resolve_session(session, request.cookies.get(SESSION_COOKIE), request.app.state.settings)
    if row is None or not row.pending_second_factor:
        return RedirectResponse("/login", status_code=303)
    return render(request, "identity/second_factor.html", {"next": safe_next(next), "errors": {}})


@router.post("/login/second-factor", dependencies=[Depends(PUBLIC)])
def second_factor(request: Request, form: dict = Depends(form_data), session: Session = Depends(db)) -> Response:
    """Finish signing in with the authenticator code."""
    row = auth.resolve_session(session, request.cookies.get(SESSION_COOKIE), request.app.state.settings)
    if row is None or not row.pending_second_factor:
        return RedirectResponse("/login", status_code=303)
    target = safe_next(form.get("next"))
    try:
        auth.complete_second_factor(session, row, form.get("code", "")[:12], request_client_ref(request, session))
    except ValidationFailed as exc:
        return render(request, "identity/second_factor.html", {"next": target, "errors": exc.errors}, status_code=422)
    return RedirectResponse(target, status_code=303)


@router.post("/logout", dependencies=[Depends(PUBLIC)])
def logout(request: Request, session: Session = Depends(db)) -> Response:
    """End the session and forget the cookie."""
    row = auth.resolve_session(session, request.cookies.get(SESSION_COOKIE), request.app.state.settings)
    if row is not None:
        auth.end_session(session, row, Actor("user", row.user_id, request_client_ref(request, session)))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/invite/{token}", dependencies=[Depends(PUBLIC)])
def invitation_form(token: str, request: Request, session: Session = Depends(db)) -> Response:
    """The form that turns an invitation into an account."""
    row = staff.open_invitation(session, token)
    return render(request, "identity/accept.html", {"invitation": row, "errors": {}, "values": {}})


@router.post("/invite/{token}", dependencies=[Depends(PUBLIC)])
def accept_invitation(token: str, request: Request, form: dict = Depends(form_data),
                      session: Session = Depends(db)) -> Response:
    """Create the invitee's account and sign them in."""
    settings = request.app.state.settings
    data = staff.AcceptForm(
        full_name=form.get("full_name", ""), position=form.get("position", ""), phone=form.get("phone", ""),
        birth_date=form.get("birth_date", ""), password=form.get("password", ""),
        accept_terms=form.get("accept_terms") == "on",
    )
    ref = request_client_ref(request, session)
    try:
        with session.begin_nested():
            user = staff.accept_invitation(session, token, data, settings, request.app.state.passwords, ref)
    except ValidationFailed as exc:
        row = staff.open_invitation(session, token)
        values = {k: v for k, v in form.items() if k != "password"}
        return render(request, "identity/accept.html", {"invitation": row, "errors": exc.errors, "values": values},
                      status_code=422)
    session_token, _ = auth.start_session(session, user, settings, user_agent=request.headers.get("user-agent", ""),
                                          client=client_address(request), client_ref=ref)
    return signed_in(request, session_token, "/dashboard")
