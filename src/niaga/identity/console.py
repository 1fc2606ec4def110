"""Signed-in staff pages: dashboard, own account, business settings, staff management."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.identity import accounts, auth, staff, teams
from niaga.identity.accounts import INDUSTRIES, TIMEZONES
from niaga.identity.models import Tenant, User
from niaga.identity.permissions import ASSIGNABLE, Perm, Role
from niaga.identity.principal import Principal
from niaga.kit.errors import DomainError, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy.audit import AuditEvent
from niaga.web.deps import LANG_COOKIE, Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)


@router.get("/dashboard")
def dashboard(request: Request, p: Principal = Depends(Require(Perm.DASHBOARD)),
              session: Session = Depends(db)) -> Response:
    """Landing page after sign-in."""
    tenant = session.get(Tenant, p.tenant_id)
    user = accounts.get_user(session, p.tenant_id, p.user_id)
    staff_count = session.scalar(select(func.count()).select_from(User).where(User.tenant_id == p.tenant_id))
    recent = []
    if p.can(Perm.AUDIT_READ):
        recent = list(session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == p.tenant_id)
                                      .order_by(AuditEvent.seq.desc()).limit(8)))
    return render(request, "identity/dashboard.html",
                  {"tenant": tenant, "user": user, "staff_count": staff_count, "recent": recent})


def _account_context(session: Session, p: Principal, **extra: object) -> dict:
    user = accounts.get_user(session, p.tenant_id, p.user_id)
    ctx = {
        "user": user,
        "sessions": auth.list_sessions(session, user),
        "tokens": auth.list_tokens(session, user) if p.can(Perm.TOKENS_MANAGE) else [],
        "errors": {},
        "values": {},
        "notice": None,
        "new_token": None,
        "totp_setup": None,
        "scopes": sorted(perm.value for perm in p.permissions),
    }
    ctx.update(extra)
    return ctx


@router.get("/account")
def account(request: Request, p: Principal = Depends(Require(Perm.ACCOUNT_SELF)),
            session: Session = Depends(db)) -> Response:
    """Own profile, password, sessions, second factor and API tokens."""
    return render(request, "identity/account.html", _account_context(session, p))


@router.post("/account/profile")
def account_profile(request: Request, form: dict = Depends(form_data),
                    p: Principal = Depends(Require(Perm.ACCOUNT_SELF)), session: Session = Depends(db)) -> Response:
    """Save one's own profile."""
    user = accounts.get_user(session, p.tenant_id, p.user_id)
    try:
        with session.begin_nested():
            accounts.update_profile(session, user, full_name=form.get("full_name", ""),
                                    position=form.get("position", ""), phone=form.get("phone", ""),
                                    locale=form.get("locale", user.locale), actor=p.actor)
    except ValidationFailed as exc:
        return render(request, "identity/account.html",
                      _account_context(session, p, errors=exc.errors, values=form), status_code=422)
    response = RedirectResponse("/account?saved=profile", status_code=303)
    response.set_cookie(LANG_COOKIE, user.locale, samesite="lax", path="/", max_age=365 * 24 * 3600,
                        secure=request.app.state.settings.require_https)
    return response


@router.post("/account/password")
def account_password(request: Request, form: dict = Depends(form_data),
                     p: Principal = Depends(Require(Perm.ACCOUNT_SELF)), session: Session = Depends(db)) -> Response:
    """Change one's own password."""
    user = accounts.get_user(session, p.tenant_id, p.user_id)
    try:
        accounts.change_password(session, user, form.get("current_password", ""), form.get("new_password", ""),
                                 request.app.state.passwords, p.actor)
    except ValidationFailed as exc:
        return render(request, "identity/account.html", _account_context(session, p, errors=exc.errors),
                      status_code=422)
    return RedirectResponse("/account?saved=password", status_code=303)


@router.post("/account/sessions/{session_id}/revoke")
def account_revoke_session(session_id: uuid.UUID, p: Principal = Depends(Require(Perm.ACCOUNT_SELF)),
                           session: Session = Depends(db)) -> Response:
    """Sign out one of one's own sessions."""
    auth.revoke_session(session, accounts.get_user(session, p.tenant_id, p.user_id), session_id, p.actor)
    return RedirectResponse("/account?saved=sessions", status_code=303)


@router.post("/account/second-factor/start")
def totp_start(request: Request, p: Principal = Depends(Require(Perm.ACCOUNT_SELF)),
               session: Session = Depends(db)) -> Response:
    """Show a new secret for the authenticator app."""
    user = accounts.get_user(session, p.tenant_id, p.user_id)
    secret = auth.new_totp_secret()
    setup = {"secret": secret, "uri": auth.totp_uri(secret, str(user.email))}
    return render(request, "identity/account.html", _account_context(session, p, totp_setup=setup))


@router.post("/account/second-factor/enable")
def totp_enable(request: Request, form: dict = Depends(form_data),
                p: Principal = Depends(Require(Perm.ACCOUNT_SELF)), session: Session = Depends(db)) -> Response:
    """Turn the second factor on after a correct code."""
    user = accounts.get_user(session, p.tenant_id, p.user_id)
    secret = form.get("secret", "")[:64]
    try:
        auth.enable_totp(session, user, secret, form.get("code", ""), p.actor)
    except ValidationFailed as exc:
        if not auth.valid_totp_secret(secret):
            secret = auth.new_totp_secret()
        setup = {"secret": secret, "uri": auth.totp_uri(secret, str(user.email))}
        return render(request, "identity/account.html",
                      _account_context(session, p, errors=exc.errors, totp_setup=setup), status_code=422)
    return RedirectResponse("/account?saved=second-factor", status_code=303)


@router.post("/account/second-factor/disable")
def totp_disable(request: Request, form: dict = Depends(form_data),
                 p: Principal = Depends(Require(Perm.ACCOUNT_SELF)), session: Session = Depends(db)) -> Response:
    """Turn the second factor off (needs the password)."""
    user = accounts.get_user(session, p.tenant_id, p.user_id)
    try:
        auth.disable_totp(session, user, form.get("password", ""), request.app.state.passwords, p.actor)
    except ValidationFailed as exc:
        return render(request, "identity/account.html", _account_context(session, p, errors=exc.errors),
                      status_code=422)
    return RedirectResponse("/account?saved=second-factor", status_code=303)


@router.post("/account/tokens")
def token_create(request: Request, form: dict = Depends(form_data),
                 p: Principal = Depends(Require(Perm.TOKENS_MANAGE)), session: Session = Depends(db)) -> Response:
    """Create an API token and show its secret once."""
    user = accounts.get_user(session, p.tenant_id, p.user_id)
    scopes = [s for s in form.get("scopes", "").split(",") if s.strip()]
    try:
        with session.begin_nested():
            secret, _ = auth.create_token(session, user, form.get("label", ""), [s.strip() for s in scopes], p.actor)
    except ValidationFailed as exc:
        return render(request, "identity/account.html", _account_context(session, p, errors=exc.errors),
                      status_code=422)
    return render(request, "identity/account.html", _account_context(session, p, new_token=secret))


@router.post("/account/tokens/{token_id}/revoke")
def token_revoke(token_id: uuid.UUID, p: Principal = Depends(Require(Perm.TOKENS_MANAGE)),
                 session: Session = Depends(db)) -> Response:
    """Revoke one of one's API tokens."""
    auth.revoke_token(session, accounts.get_user(session, p.tenant_id, p.user_id), token_id, p.actor)
    return RedirectResponse("/account?saved=tokens", status_code=303)


@router.get("/settings")
def tenant_settings(request: Request, p: Principal = Depends(Require(Perm.TENANT_READ)),
                    session: Session = Depends(db)) -> Response:
    """The business's settings (editable for owner and admin)."""
    tenant = session.get(Tenant, p.tenant_id)
    return render(request, "identity/settings.html", {"tenant": tenant, "errors": {}, "industries": INDUSTRIES,
                                                      "timezones": TIMEZONES, "can_edit": p.can(Perm.TENANT_UPDATE)})


@router.post("/settings")
def tenant_settings_save(request: Request, form: dict = Depends(form_data),
                         p: Principal = Depends(Require(Perm.TENANT_UPDATE)),
                         session: Session = Depends(db)) -> Response:
    """Save the business's settings."""
    tenant = session.get(Tenant, p.tenant_id)
    changes = {key: form.get(key, "") for key in ("name", "industry", "address", "timezone", "privacy_contact_email",
                                                    "dpo_name", "locale")}
    changes["is_pkp"] = form.get("is_pkp") == "on"
    try:
        with session.begin_nested():
            accounts.update_tenant(session, tenant, changes, p.actor)
    except ValidationFailed as exc:
        session.refresh(tenant)
        return render(request, "identity/settings.html",
                      {"tenant": tenant, "errors": exc.errors, "industries": INDUSTRIES, "timezones": TIMEZONES,
                       "can_edit": True, "values": form}, status_code=422)
    return RedirectResponse("/settings?saved=1", status_code=303)


def _staff_context(session: Session, p: Principal, **extra: object) -> dict:
    ctx = {
        "members": staff.list_staff(session, p),
        "invitations": staff.list_invitations(session, p),
        "assignable": sorted(r.value for r in ASSIGNABLE.get(p.role, frozenset())),
        "roles": [r.value for r in Role],
        "can_invite": p.can(Perm.STAFF_INVITE),
        "can_manage": p.can(Perm.STAFF_MANAGE),
        "teams": teams.list_teams(session, p),
        "can_manage_teams": p.can(Perm.TEAMS_MANAGE),
        "errors": {},
        "values": {},
        "invite_link": None,
    }
    ctx.update(extra)
    return ctx


@router.get("/staff")
def staff_page(request: Request, p: Principal = Depends(Require(Perm.STAFF_READ)),
               session: Session = Depends(db)) -> Response:
    """Staff list, open invitations, invite form."""
    return render(request, "identity/staff.html", _staff_context(session, p))


@router.post("/staff/invite")
def staff_invite(request: Request, form: dict = Depends(form_data), p: Principal = Depends(Require(Perm.STAFF_INVITE)),
                 session: Session = Depends(db)) -> Response:
    """Invite someone and show the single-use link."""
    settings = request.app.state.settings
    try:
        with session.begin_nested():
            token, _ = staff.invite(session, p, form.get("email", ""), form.get("role", ""), settings)
    except ValidationFailed as exc:
        return render(request, "identity/staff.html", _staff_context(session, p, errors=exc.errors, values=form),
                      status_code=422)
    link = f"{settings.base_url.rstrip('/')}/invite/{token}"
    return render(request, "identity/staff.html", _staff_context(session, p, invite_link=link))


@router.post("/staff/invitations/{invitation_id}/revoke")
def staff_invitation_revoke(invitation_id: uuid.UUID, p: Principal = Depends(Require(Perm.STAFF_INVITE)),
                            session: Session = Depends(db)) -> Response:
    """Withdraw an invitation."""
    staff.revoke_invitation(session, p, invitation_id)
    return RedirectResponse("/staff", status_code=303)


@router.post("/staff/{user_id}")
def staff_update(user_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                 p: Principal = Depends(Require(Perm.STAFF_MANAGE)), session: Session = Depends(db)) -> Response:
    """Change a member's role, or disable / re-enable them."""
    action = form.get("action", "")
    try:
        with session.begin_nested():
            if action == "role":
                staff.change_role(session, p, user_id, form.get("role", ""))
            elif action in ("disable", "enable"):
                staff.set_status(session, p, user_id, action == "enable")
            else:
                raise ValidationFailed({"action": Msg("Unknown action.")})
    except DomainError as exc:
        errors = exc.errors if isinstance(exc, ValidationFailed) else {"form": exc.message}
        return render(request, "identity/staff.html", _staff_context(session, p, errors=errors),
                      status_code=exc.status)
    return RedirectResponse("/staff", status_code=303)


@router.post("/teams")
def team_create(request: Request, form: dict = Depends(form_data), p: Principal = Depends(Require(Perm.TEAMS_MANAGE)),
                session: Session = Depends(db)) -> Response:
    """Create a team from the staff page."""
    try:
        with session.begin_nested():
            teams.create_team(session, p, form.get("name", ""))
    except ValidationFailed as exc:
        return render(request, "identity/staff.html", _staff_context(session, p, errors=exc.errors, values=form),
                      status_code=422)
    return RedirectResponse("/staff#teams", status_code=303)


@router.post("/teams/{team_id}")
def team_update(team_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                p: Principal = Depends(Require(Perm.TEAMS_MANAGE)), session: Session = Depends(db)) -> Response:
    """Save a team's members (checkboxes), or delete the team."""
    try:
        with session.begin_nested():
            if form.get("action") == "delete":
                teams.delete_team(session, p, team_id)
            else:
                raw = request.state.form_lists.get("members", [])
                try:
                    members = [uuid.UUID(v) for v in raw]
                except ValueError:
                    raise ValidationFailed({"members": Msg("Every member must be a staff member of this business.")})
                teams.set_members(session, p, team_id, members)
    except ValidationFailed as exc:
        return render(request, "identity/staff.html", _staff_context(session, p, errors=exc.errors),
                      status_code=422)
    return RedirectResponse("/staff#teams", status_code=303)
