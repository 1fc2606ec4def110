"""Staff pages for companies: list, create, detail with their contacts, edit."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from niaga.crm.contacts import companies, options, repository as repo, service
from niaga.crm.contacts.validation import format_npwp, parse_uuid
from niaga.crm.models import Company
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import ValidationFailed
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)
ADDRESS_PARTS = ("street", "city", "province", "postal_code")


@router.get("/companies")
def company_list(request: Request, p: Principal = Depends(Require(Perm.CONTACTS_READ)),
                 session: Session = Depends(db)) -> Response:
    """Companies the staff member may see, 50 per page, filtered by part of the name."""
    name = request.query_params.get("name", "")[:repo.MAX_QUERY]
    after = parse_uuid(request.query_params.get("after") or None)
    rows, more = repo.list_companies(session, p, name, after)
    return render(request, "crm/companies/list.html", {
        "rows": rows, "name": name, "next_after": rows[-1].id if more and rows else None,
        "can_write": p.can(Perm.CONTACTS_WRITE),
    })


def _values(company: Company) -> dict[str, Any]:
    values: dict[str, Any] = {"name": company.name, "industry": company.industry, "website": company.website,
                              "npwp": format_npwp(company.npwp) or "", "owner_id": str(company.owner_id or ""),
                              "team_id": str(company.team_id or "")}
    address = company.address if isinstance(company.address, dict) else {}
    for part in ADDRESS_PARTS:
        values[f"address_{part}"] = address.get(part, "")
    return values


def _input(form: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {k: form.get(k, "") for k in ("name", "industry", "website", "npwp", "owner_id",
                                                          "team_id")}
    data["address"] = {part: form.get(f"address_{part}", "") for part in ADDRESS_PARTS}
    return data


def _form(request: Request, session: Session, p: Principal, *, company: Company | None, values: dict,
          errors: dict, status_code: int = 200, existing_id: uuid.UUID | None = None) -> Response:
    return render(request, "crm/companies/form.html", {
        "company": company, "values": values, "errors": errors, "existing_id": existing_id,
        **options.form_choices(session, p, company)}, status_code=status_code)


@router.get("/companies/new")
def company_new(request: Request, p: Principal = Depends(Require(Perm.CONTACTS_WRITE)),
                session: Session = Depends(db)) -> Response:
    """The form for a new company."""
    return _form(request, session, p, company=None, values={"owner_id": str(p.user_id)}, errors={})


@router.post("/companies/new")
def company_create(request: Request, form: dict = Depends(form_data),
                   p: Principal = Depends(Require(Perm.CONTACTS_WRITE)), session: Session = Depends(db)) -> Response:
    """Create a company."""
    try:
        company = companies.create_company(session, p, _input(form))
    except ValidationFailed as exc:
        return _form(request, session, p, company=None, values=form, errors=exc.errors, status_code=422)
    except companies.DuplicateCompany as exc:
        return _form(request, session, p, company=None, values=form, errors={"npwp": exc.message},
                     status_code=409, existing_id=exc.existing_id)
    return RedirectResponse(f"/companies/{company.id}?saved=1", status_code=303)


@router.get("/companies/{company_id}")
def company_detail(company_id: uuid.UUID, request: Request, p: Principal = Depends(Require(Perm.CONTACTS_READ)),
                   session: Session = Depends(db)) -> Response:
    """A company with its contacts (those the staff member may see)."""
    company = companies.get_company(session, p, company_id)
    page = service.list_contacts(session, p, repo.ContactFilter(company_id=company.id, limit=200))
    owners = repo.owners_of(session, p.tenant_id, [company])
    team = repo.team(session, p.tenant_id, company.team_id) if company.team_id else None
    return render(request, "crm/companies/detail.html", {
        "company": company, "npwp": format_npwp(company.npwp), "contacts": page.contacts, "more": page.has_more,
        "owner": owners.get(company.owner_id), "team": team, "can_write": p.can(Perm.CONTACTS_WRITE),
        "summary": service.contact_summary,
    })


@router.get("/companies/{company_id}/edit")
def company_edit_form(company_id: uuid.UUID, request: Request, p: Principal = Depends(Require(Perm.CONTACTS_WRITE)),
                      session: Session = Depends(db)) -> Response:
    """The form to change a company."""
    company = companies.get_company(session, p, company_id)
    return _form(request, session, p, company=company, values=_values(company), errors={})


@router.post("/companies/{company_id}/edit")
def company_edit(company_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                 p: Principal = Depends(Require(Perm.CONTACTS_WRITE)), session: Session = Depends(db)) -> Response:
    """Save a changed company."""
    company = companies.get_company(session, p, company_id)
    try:
        companies.update_company(session, p, company_id, _input(form), partial=False)
    except ValidationFailed as exc:
        return _form(request, session, p, company=company, values=form, errors=exc.errors, status_code=422)
    except companies.DuplicateCompany as exc:
        return _form(request, session, p, company=company, values=form, errors={"npwp": exc.message},
                     status_code=409, existing_id=exc.existing_id)
    return RedirectResponse(f"/companies/{company_id}?saved=1", status_code=303)
