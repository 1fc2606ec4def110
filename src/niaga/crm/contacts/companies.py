"""Companies: a customer's business, with its NPWP checked (stdnum) and sealed under the company's own key.

A company is a data subject of its own because a sole proprietor's NPWP is their NIK: erasing the company
shreds its tax number and address, and its contacts stay (they are people with their own keys).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.crm.contacts import repository as repo
from niaga.crm.contacts.service import check_references
from niaga.crm.contacts.validation import CompanyFields, check_company
from niaga.crm.models import Company
from niaga.crm.visibility import can_see
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.vault import get_vault

SUBJECT_KIND = "company"
FIELDS = ("name", "industry", "website", "npwp", "address", "owner_id", "team_id")


class DuplicateCompany(Conflict):
    """The NPWP already belongs to a company of the tenant (the id is given when the caller may see it)."""

    code = "duplicate-company"

    def __init__(self, message: str, *, existing_id: uuid.UUID | None) -> None:
        super().__init__(message, field="npwp")
        self.existing_id = existing_id


def _refuse_duplicate_npwp(session: Session, principal: Principal, values: CompanyFields,
                           exclude: uuid.UUID | None = None) -> None:
    if "npwp" not in values.given or not values.npwp:
        return
    for company_id in repo.companies_with_npwp(session, principal.tenant_id, values.npwp):
        if company_id == exclude:
            continue
        existing = session.get(Company, (principal.tenant_id, company_id))
        shown = existing is not None and can_see(session, principal, existing)
        raise DuplicateCompany(Msg("A company with this NPWP already exists."),
                               existing_id=company_id if shown else None)


def _apply(company: Company, values: CompanyFields) -> list[str]:
    changed = []
    for name in FIELDS:
        if name in values.given and getattr(company, name) != getattr(values, name):
            setattr(company, name, getattr(values, name))
            changed.append(name)
    return changed


def _flush(session: Session, principal: Principal, values: CompanyFields, exclude: uuid.UUID | None) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        with session.no_autoflush:
            _refuse_duplicate_npwp(session, principal, values, exclude)
        raise Conflict(Msg("This company was changed by someone else at the same time. Try again.")) from None


def create_company(session: Session, principal: Principal, data: dict[str, Any]) -> Company:
    """Create a company; refuses a bad or already used NPWP and other bad input, writing nothing."""
    values, errors = check_company(data)
    if values.owner_id is None:
        values.owner_id = principal.user_id
    check_references(session, principal, values, errors)
    if errors:
        raise ValidationFailed(errors)
    _refuse_duplicate_npwp(session, principal, values)
    with session.begin_nested():
        subject = get_vault().new_subject(session, principal.tenant_id, SUBJECT_KIND)
        company = Company(tenant_id=principal.tenant_id, subject=subject, name=values.name)
        session.add(company)
        _apply(company, values)
        _flush(session, principal, values, None)
    audit.record(session, principal.tenant_id, "crm.company_created", principal.actor, target_type="company",
                 target_id=company.id, subject_id=subject.id, purpose="U1")
    return company


def get_company(session: Session, principal: Principal, company_id: uuid.UUID) -> Company:
    """A company the principal may see; 404 otherwise."""
    company = repo.get_company(session, principal, company_id)
    if company is None:
        raise NotFound(Msg("No such company."))
    return company


def update_company(session: Session, principal: Principal, company_id: uuid.UUID, data: dict[str, Any],
                   *, partial: bool = True) -> Company:
    """Change a visible company; only the fields given change."""
    company = get_company(session, principal, company_id)
    values, errors = check_company({k: v for k, v in data.items() if k in FIELDS}, partial=partial)
    if company.subject is None or company.subject.is_erased:
        if "npwp" in values.given or "address" in values.given:
            errors["npwp"] = Msg("This company's tax data has been erased and cannot be changed.")
    check_references(session, principal, values, errors, record=company)
    if errors:
        raise ValidationFailed(errors)
    _refuse_duplicate_npwp(session, principal, values, exclude=company.id)
    with session.begin_nested():
        changed = _apply(company, values)
        _flush(session, principal, values, company.id)
    if changed:
        audit.record(session, principal.tenant_id, "crm.company_updated", principal.actor, target_type="company",
                     target_id=company.id, subject_id=company.subject_id, purpose="U1",
                     details={"fields": sorted(changed)})
    return company


def find_or_create_by_name(session: Session, principal: Principal, name: str) -> Company:
    """The visible company with this name, or a new one (imports name companies rather than ids)."""
    existing = repo.company_named(session, principal, " ".join(name.split()))
    if existing is not None:
        return existing
    return create_company(session, principal, {"name": name})
