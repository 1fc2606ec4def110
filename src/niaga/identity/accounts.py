"""Sign-up (a tenant and its owner), staff profiles and passwords."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.db.base import utcnow
from niaga.identity.models import Tenant, User
from niaga.identity.passwords import Passwords, password_problem
from niaga.identity.permissions import Role
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.kit.phone import normalize_phone
from niaga.privacy import audit, blind_index
from niaga.privacy.audit import Actor
from niaga.privacy.fields import registered_fields
from niaga.privacy.policy import CURRENT_POLICY_VERSION
from niaga.privacy.vault import get_vault

TIMEZONES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
INDUSTRIES = ("retail", "food", "fashion", "services", "health", "education", "technology", "other")
MAX_NAME = 120


@dataclass
class SignUpForm:
    """What a new business owner enters."""

    full_name: str
    company_name: str
    position: str
    email: str
    phone: str
    birth_date: str
    password: str
    accept_terms: bool
    industry: str = "retail"
    timezone: str = "Asia/Jakarta"
    locale: str = "id"


def clean_email(raw: str) -> str | None:
    """The normalised, lower-cased address, or None when it is not a valid email."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def age_on(birth: date, today: date) -> int:
    """Whole years between a birth date and a day."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _clean_full_name(full_name: str, errors: dict[str, str]) -> str:
    name = " ".join(full_name.split())
    if not name:
        errors["full_name"] = Msg("Enter your full name.")
    elif len(name) > MAX_NAME:
        errors["full_name"] = Msg("Use at most {n} characters.", n=MAX_NAME)
    return name


def check_person(
    errors: dict[str, str], *, full_name: str, phone: str, birth_date: str, min_age: int
) -> tuple[str, str | None, date | None]:
    """Validate the person fields shared by sign-up and invitation acceptance."""
    name = _clean_full_name(full_name, errors)
    e164 = normalize_phone(phone) if phone.strip() else None
    if e164 is None:
        errors["phone"] = Msg("Enter a valid Indonesian phone number, for example 0812-3456-7890.")
    born: date | None = None
    try:
        born = date.fromisoformat(birth_date.strip())
    except ValueError:
        errors["birth_date"] = Msg("Enter your date of birth as YYYY-MM-DD.")
    if born is not None:
        today = utcnow().date()
        if born > today or born.year < 1900:
            errors["birth_date"] = Msg("Enter a real date of birth.")
            born = None
        elif age_on(born, today) < min_age:
            errors["birth_date"] = Msg("You must be at least {age} years old to use niaga.", age=min_age)
            born = None
    return name, e164, born


def email_taken(session: Session, email: str) -> bool:
    """True when a staff account already uses this email (any tenant)."""
    spec = user_field("email")
    return bool(blind_index.find_platform_rows(session, spec, email))


def user_field(name: str):  # noqa: ANN201
    """The declared personal field `name` of User (for blind-index lookups)."""
    return next(f for f in registered_fields(User) if f.column == name)


def _slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:40] or "usaha"


def unique_slug(session: Session, name: str) -> str:
    """A URL slug for a tenant's public pages, unique on the platform."""
    base = _slugify(name)
    slug = base
    while session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def sign_up(session: Session, form: SignUpForm, settings: Settings, passwords: Passwords, actor: Actor) -> User:
    """Create a tenant and its owner; refuses with field messages and writes nothing on any error."""
    errors: dict[str, str] = {}
    name, e164, born = check_person(
        errors, full_name=form.full_name, phone=form.phone, birth_date=form.birth_date, min_age=settings.min_age
    )
    company = " ".join(form.company_name.split())
    if not company:
        errors["company_name"] = Msg("Enter your business name.")
    elif len(company) > MAX_NAME:
        errors["company_name"] = Msg("Use at most {n} characters.", n=MAX_NAME)
    position = " ".join(form.position.split())[:MAX_NAME]
    email = clean_email(form.email)
    if email is None:
        errors["email"] = Msg("Enter a valid email address.")
    elif email_taken(session, email):
        errors["email"] = Msg("This email is already registered. Sign in instead.")
    problem = password_problem(form.password, [name, email or "", company])
    if problem:
        errors["password"] = problem
    if not form.accept_terms:
        errors["accept_terms"] = Msg("Please accept the terms and the privacy policy.")
    if form.timezone not in TIMEZONES:
        errors["timezone"] = Msg("Choose WIB, WITA or WIT.")
    if form.industry not in INDUSTRIES:
        errors["industry"] = Msg("Choose an industry from the list.")
    if errors:
        raise ValidationFailed(errors)

    tenant = Tenant(
        slug=unique_slug(session, company),
        name=company,
        industry=form.industry,
        timezone=form.timezone,
        locale=form.locale if form.locale in ("id", "en") else "id",
    )
    session.add(tenant)
    session.flush()
    vault = get_vault()
    vault.create_tenant_keys(session, tenant.id)
    subject = vault.new_subject(session, tenant.id, "staff")
    user = User(
        tenant_id=tenant.id,
        subject=subject,
        email=email,
        full_name=name,
        position=position,
        phone=e164,
        birth_date=born,
        role=Role.OWNER.value,
        password_hash=passwords.hash(form.password),
        locale=tenant.locale,
        accepted_policy_version=CURRENT_POLICY_VERSION,
        accepted_policy_at=utcnow(),
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValidationFailed({"email": Msg("This email is already registered. Sign in instead.")}) from None
    audit.record(session, tenant.id, "tenant.created", actor, target_type="tenant", target_id=tenant.id)
    audit.record(
        session, tenant.id, "user.signed_up", Actor(actor.type, user.id, actor.client_ref),
        target_type="user", target_id=user.id, subject_id=subject.id, purpose="U1",
        details={"role": user.role, "policy_version": CURRENT_POLICY_VERSION},
    )
    return user


def get_user(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """A staff member of this tenant, or NotFound (also for other tenants' users)."""
    user = session.get(User, (tenant_id, user_id))
    if user is None:
        raise NotFound(Msg("No such staff member."))
    return user


def update_profile(
    session: Session, user: User, *, full_name: str, position: str, phone: str, locale: str, actor: Actor
) -> User:
    """Change one's own name, position, phone and language."""
    errors: dict[str, str] = {}
    name = _clean_full_name(full_name, errors)
    e164 = normalize_phone(phone)
    if e164 is None:
        errors["phone"] = Msg("Enter a valid Indonesian phone number, for example 0812-3456-7890.")
    if locale not in ("id", "en"):
        errors["locale"] = Msg("Choose Bahasa Indonesia or English.")
    if errors:
        raise ValidationFailed(errors)
    changed = [
        f for f, old, new in (("full_name", user.full_name, name), ("position", user.position, position[:MAX_NAME]),
                              ("phone", user.phone, e164), ("locale", user.locale, locale)) if old != new
    ]
    user.full_name, user.position, user.phone, user.locale = name, position[:MAX_NAME], e164, locale
    audit.record(
        session, user.tenant_id, "user.profile_changed", actor, target_type="user", target_id=user.id,
        subject_id=user.subject_id, purpose="U1", details={"fields": changed},
    )
    return user


def change_password(
    session: Session, user: User, current: str, new: str, passwords: Passwords, actor: Actor
) -> None:
    """Replace one's password after checking the current one."""
    if not passwords.verify(user.password_hash, current):
        audit.record(session, user.tenant_id, "user.password_change", actor, outcome="denied",
                     target_type="user", target_id=user.id)
        raise ValidationFailed({"current_password": Msg("The current password is not correct.")})
    problem = password_problem(new, [str(user.full_name), str(user.email)])
    if problem:
        raise ValidationFailed({"new_password": problem})
    user.password_hash = passwords.hash(new)
    audit.record(session, user.tenant_id, "user.password_changed", actor, target_type="user", target_id=user.id)


def update_tenant(session: Session, tenant: Tenant, changes: dict, actor: Actor) -> Tenant:
    """Change the business's settings (name, industry, address, zone, PKP, privacy contact)."""
    errors: dict[str, str] = {}
    allowed = {"name", "industry", "address", "timezone", "is_pkp", "privacy_contact_email", "dpo_name", "locale"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed({k: Msg("This setting does not exist.") for k in sorted(unknown)})
    if "name" in changes:
        changes["name"] = " ".join(str(changes["name"]).split())
        if not changes["name"] or len(changes["name"]) > MAX_NAME:
            errors["name"] = Msg("Enter the business name (at most {n} characters).", n=MAX_NAME)
    if "industry" in changes and changes["industry"] not in INDUSTRIES:
        errors["industry"] = Msg("Choose an industry from the list.")
    if "timezone" in changes and changes["timezone"] not in TIMEZONES:
        errors["timezone"] = Msg("Choose WIB, WITA or WIT.")
    if "locale" in changes and changes["locale"] not in ("id", "en"):
        errors["locale"] = Msg("Choose Bahasa Indonesia or English.")
    if "address" in changes and len(str(changes["address"])) > 300:
        errors["address"] = Msg("Use at most {n} characters.", n=300)
    if "dpo_name" in changes and len(str(changes["dpo_name"])) > MAX_NAME:
        errors["dpo_name"] = Msg("Use at most {n} characters.", n=MAX_NAME)
    if changes.get("privacy_contact_email"):
        cleaned = clean_email(str(changes["privacy_contact_email"]))
        if cleaned is None:
            errors["privacy_contact_email"] = Msg("Enter a valid email address.")
        changes["privacy_contact_email"] = cleaned
    if "is_pkp" in changes and not isinstance(changes["is_pkp"], bool):
        errors["is_pkp"] = Msg("Choose yes or no.")
    if errors:
        raise ValidationFailed(errors)
    for key, value in changes.items():
        setattr(tenant, key, value)
    audit.record(session, tenant.id, "tenant.updated", actor, target_type="tenant", target_id=tenant.id,
                 details={"fields": sorted(changes)})
    return tenant

