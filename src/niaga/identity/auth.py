"""Sign-in: password check with throttling and lockout, server-side sessions, API tokens, TOTP."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.db.base import utcnow
from niaga.identity.accounts import user_field, clean_email
from niaga.identity.models import ApiToken, LoginThrottle, StaffSession, User
from niaga.identity.passwords import Passwords
from niaga.identity.permissions import ROLE_PERMISSIONS, Perm, Role
from niaga.identity.principal import Principal, client_ref
from niaga.kit.errors import NotFound, TooManyRequests, Unauthorized, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit, blind_index
from niaga.privacy.audit import Actor
from niaga.privacy.vault import get_vault

SLOWDOWN_AFTER = 3  # failures before each further attempt has to wait (1 s, 2 s, 4 s, …)
ADDRESS_FACTOR = 4  # an address may fail this many times more than one account before it is locked
TOKEN_PREFIX = "ngt_"
TOUCH_EVERY = timedelta(seconds=60)


def token_digest(token: str) -> bytes:
    """SHA-256 of a bearer secret (tokens are random, so a fast hash is enough)."""
    return hashlib.sha256(token.encode()).digest()


# -- throttling ------------------------------------------------------------------------------------
def _throttle_key(session: Session, kind: str, value: str) -> str:
    secret = get_vault().platform_secret(session, "throttle")
    return f"{kind}:" + hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:64]


def _check_throttle(session: Session, key: str, now: datetime) -> None:
    row = session.get(LoginThrottle, key)
    if row and row.locked_until and row.locked_until > now:
        wait = int((row.locked_until - now).total_seconds()) + 1
        if wait > 60:
            raise TooManyRequests(
                Msg("Too many failed sign-ins. Try again in {minutes} minutes.", minutes=(wait + 59) // 60),
                retry_after=wait,
            )
        raise TooManyRequests(Msg("Too many failed sign-ins. Wait {seconds} seconds.", seconds=wait), retry_after=wait)


def _fail(session: Session, key: str, limit: int, settings: Settings, now: datetime) -> bool:
    """Count a failure; returns True when this failure locked the key."""
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, first_failure_at=now)
        session.add(row)
    if now - row.first_failure_at > timedelta(hours=24):
        row.failures, row.first_failure_at = 0, now
    row.failures += 1
    if row.failures >= limit:
        row.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
        return row.failures == limit
    if row.failures >= SLOWDOWN_AFTER:
        row.locked_until = now + timedelta(seconds=2 ** (row.failures - SLOWDOWN_AFTER))
    return False


@dataclass
class LoginOutcome:
    """A successful password check: the user, and whether a second factor is still needed."""

    user: User
    needs_second_factor: bool


def check_password_login(
    session: Session, email: str, password: str, client: str | None, settings: Settings, passwords: Passwords
) -> LoginOutcome:
    """Verify email and password with per-account and per-address throttling; audits every failure."""
    now = utcnow()
    normalized = clean_email(email) or email.strip().casefold()
    acct_key = _throttle_key(session, "acct", normalized)
    addr_key = _throttle_key(session, "addr", client) if client else None
    for key in filter(None, (acct_key, addr_key)):
        _check_throttle(session, key, now)
    matches = blind_index.find_platform_rows(session, user_field("email"), normalized)
    user = session.get(User, matches[0]) if matches else None
    ok = passwords.verify(user.password_hash if user else None, password)
    actor = Actor("anonymous", None, client_ref(session, client))
    if not ok or user is None or user.status != "active":
        locked = _fail(session, acct_key, settings.login_max_failures, settings, now)
        if addr_key:
            locked |= _fail(session, addr_key, settings.login_max_failures * ADDRESS_FACTOR, settings, now)
        tenant_id = user.tenant_id if user else None
        reason = "disabled" if (ok and user is not None) else "bad-credentials"
        audit.record(session, tenant_id, "auth.login", actor, outcome="failed",
                     target_type="user" if user else None, target_id=user.id if user else None,
                     details={"reason": reason})
        if locked:
            audit.record(session, tenant_id, "auth.locked", actor, outcome="denied",
                         target_type="user" if user else None, target_id=user.id if user else None)
        if reason == "disabled":
            raise Unauthorized(Msg("This account has been disabled. Ask the business owner."))
        raise Unauthorized(Msg("The email or password is not correct."))
    row = session.get(LoginThrottle, acct_key)
    if row is not None:
        session.delete(row)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    return LoginOutcome(user=user, needs_second_factor=bool(user.totp_secret))


# -- sessions ---------------------------------------------------------------------------------------
def start_session(
    session: Session, user: User, settings: Settings, *, user_agent: str, client: str | None,
    client_ref: str | None, pending_second_factor: bool = False,
) -> tuple[str, StaffSession]:
    """Create a session row; returns the cookie token (shown once) and the row."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = StaffSession(
        tenant_id=user.tenant_id,
        user_id=user.id,
        subject=user.subject,
        token_hash=token_digest(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
        user_agent=(user_agent or "")[:300],
        ip_address=client,
        pending_second_factor=pending_second_factor,
    )
    session.add(row)
    if not pending_second_factor:
        user.last_login_at = now
        audit.record(session, user.tenant_id, "auth.login", Actor("user", user.id, client_ref),
                     target_type="session", target_id=row.id, subject_id=user.subject_id, purpose="U9")
    session.flush()
    return token, row


def resolve_session(session: Session, token: str | None, settings: Settings) -> StaffSession | None:
    """The live session for a cookie token, or None (unknown, revoked, expired, idle too long)."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(StaffSession).where(StaffSession.token_hash == token_digest(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
        return None
    if row.user is None or row.user.status != "active":
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
    return row


def complete_second_factor(session: Session, row: StaffSession, code: str, client_ref: str | None) -> None:
    """Finish a login that waits for a TOTP code."""
    user = row.user
    secret = user.totp_secret
    if not secret or not pyotp.TOTP(str(secret)).verify(code.strip(), valid_window=1):
        audit.record(session, user.tenant_id, "auth.second_factor", Actor("user", user.id, client_ref),
                     outcome="failed", target_type="session", target_id=row.id)
        raise ValidationFailed({"code": Msg("The code is not correct. Use the current code from your app.")})
    row.pending_second_factor = False
    user.last_login_at = utcnow()
    audit.record(session, user.tenant_id, "auth.login", Actor("user", user.id, client_ref),
                 target_type="session", target_id=row.id, subject_id=user.subject_id, purpose="U9",
                 details={"second_factor": True})


def principal_for_session(row: StaffSession, client_ref: str | None) -> Principal:
    """The principal a live session acts as."""
    user = row.user
    role = Role(user.role)
    return Principal(
        tenant_id=user.tenant_id, user_id=user.id, subject_id=user.subject_id, role=role,
        permissions=ROLE_PERMISSIONS[role], via="session", session_id=row.id, client_ref=client_ref,
        locale=user.locale,
    )


def end_session(session: Session, row: StaffSession, actor: Actor) -> None:
    """Log out: the session stops working at once."""
    row.revoked_at = utcnow()
    audit.record(session, row.tenant_id, "auth.logout", actor, target_type="session", target_id=row.id)


def list_sessions(session: Session, user: User) -> list[StaffSession]:
    """A user's live sessions, newest first."""
    return list(
        session.scalars(
            select(StaffSession)
            .where(StaffSession.tenant_id == user.tenant_id, StaffSession.user_id == user.id,
                   StaffSession.revoked_at.is_(None), StaffSession.expires_at > utcnow())
            .order_by(StaffSession.created_at.desc())
        )
    )


def revoke_session(session: Session, user: User, session_id: uuid.UUID, actor: Actor) -> None:
    """Revoke one of one's own sessions."""
    row = session.get(StaffSession, (user.tenant_id, session_id))
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise NotFound(Msg("No such session."))
    row.revoked_at = utcnow()
    audit.record(session, user.tenant_id, "auth.session_revoked", actor, target_type="session", target_id=row.id)


def revoke_all_sessions(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """End every session of a user (disabling an account, changing a role)."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.tenant_id == tenant_id, StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# -- API tokens -------------------------------------------------------------------------------------
def create_token(
    session: Session, user: User, label: str, scopes: list[str], actor: Actor, expires_days: int | None = None
) -> tuple[str, ApiToken]:
    """A new API token limited to `scopes` (within the user's role); the secret is returned once."""
    label = " ".join(label.split())
    errors: dict[str, str] = {}
    if not label or len(label) > 80:
        errors["label"] = Msg("Give the token a name of at most {n} characters.", n=80)
    allowed = ROLE_PERMISSIONS[Role(user.role)]
    try:
        wanted = {Perm(s) for s in scopes} if scopes else set(allowed)
    except ValueError:
        wanted = set()
        errors["scopes"] = Msg("Unknown permission in the token's scopes.")
    if wanted - allowed:
        errors["scopes"] = Msg("A token cannot have permissions your role does not have.")
    if expires_days is not None and not 1 <= expires_days <= 730:
        errors["expires_days"] = Msg("Choose between 1 and 730 days.")
    if errors:
        raise ValidationFailed(errors)
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(
        tenant_id=user.tenant_id, user_id=user.id, label=label, prefix=prefix, token_hash=token_digest(secret),
        scopes=sorted(p.value for p in wanted),
        expires_at=utcnow() + timedelta(days=expires_days) if expires_days else None,
    )
    session.add(row)
    session.flush()
    audit.record(session, user.tenant_id, "token.created", actor, target_type="api_token", target_id=row.id,
                 details={"scopes": row.scopes})
    return secret, row


def resolve_token(session: Session, secret: str | None, client_ref: str | None) -> Principal | None:
    """The principal for a bearer token, or None when unknown, revoked, expired or its user is disabled."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(secret)))
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        return None
    user = row.user
    if user is None or user.status != "active":
        return None
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        row.last_used_at = now
    role = Role(user.role)
    perms = ROLE_PERMISSIONS[role] & {Perm(s) for s in row.scopes}
    return Principal(
        tenant_id=user.tenant_id, user_id=user.id, subject_id=user.subject_id, role=role, permissions=perms,
        via="token", token_id=row.id, client_ref=client_ref, locale=user.locale,
    )


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    """A user's tokens that are not revoked."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.tenant_id == user.tenant_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc())
        )
    )


def revoke_token(session: Session, user: User, token_id: uuid.UUID, actor: Actor) -> None:
    """Revoke one of one's own tokens."""
    row = session.get(ApiToken, (user.tenant_id, token_id))
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise NotFound(Msg("No such token."))
    row.revoked_at = utcnow()
    audit.record(session, user.tenant_id, "token.revoked", actor, target_type="api_token", target_id=row.id)


# -- second factor ----------------------------------------------------------------------------------
def new_totp_secret() -> str:
    """A fresh base32 TOTP secret."""
    return pyotp.random_base32()


def totp_uri(secret: str, account: str, issuer: str = "niaga") -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def valid_totp_secret(secret: str) -> bool:
    """True for a secret of the shape `new_totp_secret` makes."""
    return bool(re.fullmatch(r"[A-Z2-7]{32}", secret or ""))


def enable_totp(session: Session, user: User, secret: str, code: str, actor: Actor) -> None:
    """Turn on the second factor after the user proves their app produces valid codes."""
    if not valid_totp_secret(secret):
        raise ValidationFailed({"code": Msg("The setup expired. Start the two-step verification setup again.")})
    if not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
        raise ValidationFailed({"code": Msg("The code is not correct. Use the current code from your app.")})
    user.totp_secret = secret
    audit.record(session, user.tenant_id, "user.second_factor_enabled", actor, target_type="user", target_id=user.id)


def disable_totp(session: Session, user: User, password: str, passwords: Passwords, actor: Actor) -> None:
    """Turn off the second factor (needs the password)."""
    if not passwords.verify(user.password_hash, password):
        raise ValidationFailed({"password": Msg("The password is not correct.")})
    user.totp_secret = None
    audit.record(session, user.tenant_id, "user.second_factor_disabled", actor, target_type="user", target_id=user.id)
