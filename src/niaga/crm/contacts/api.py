"""JSON API for contacts and companies under /api/v1.

Searches are POSTed (`/contacts/search`) so that emails, phone numbers and names never travel in a URL,
where proxies and browser histories would keep them. A duplicate email, phone or card number is a 409
problem that names the existing contact (`existing_id`) when the caller may see it.
"""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from niaga.crm.contacts import companies, exporter, importer, repository as repo, service
from niaga.crm.contacts.merge import merge_contacts
from niaga.crm.contacts.schemas import (
    CompanyCreate,
    CompanyPageRead,
    CompanyRead,
    CompanyUpdate,
    ContactCreate,
    ContactListItem,
    ContactPageRead,
    ContactRead,
    ContactSearch,
    ContactUpdate,
    ImportRead,
    MergeRequest,
    RowProblem,
)
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict
from niaga.kit.messages import translate
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.errors import PROBLEM, problem
from niaga.web.i18n import gettext_for
from niaga.web.templating import request_locale

router = APIRouter(tags=["crm"], route_class=TransactionalRoute)


def _conflict(request: Request, exc: Conflict) -> JSONResponse:
    """A 409 problem with the existing record's id (when the caller may see it)."""
    detail = translate(exc.message, gettext_for(request_locale(request)))
    body = json.loads(problem(request, 409, detail, code=exc.code).body)
    body["field"] = exc.field
    body["existing_id"] = str(exc.existing_id) if getattr(exc, "existing_id", None) else None
    return JSONResponse(body, status_code=409, media_type=PROBLEM)


def _page(session: Session, principal: Principal, flt: repo.ContactFilter) -> ContactPageRead:
    page = service.list_contacts(session, principal, flt)
    items = []
    for contact in page.contacts:
        company = page.companies.get(contact.company_id)
        summary = service.contact_summary(contact)
        items.append(ContactListItem(
            id=contact.id, full_name=contact.full_name, email=summary["email"], phone=summary["phone"],
            company_id=contact.company_id, company_name=company.name if company else None,
            owner_id=contact.owner_id, tags=list(contact.tags or []), created_at=contact.created_at))
    return ContactPageRead(items=items, next_cursor=page.next_after)


@router.get("/contacts", response_model=ContactPageRead)
def list_contacts(
    p: Principal = Depends(Require(Perm.CONTACTS_READ)),
    session: Session = Depends(db),
    tag: str = Query("", max_length=40),
    owner_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
    after: uuid.UUID | None = Query(None, description="`next_cursor` of the previous page"),
    limit: int = Query(50, ge=1, le=200),
) -> ContactPageRead:
    """Contacts the caller may see, newest first; filter by tag, owner or company. Search with POST /search."""
    flt = repo.ContactFilter(tag=tag.strip().casefold(), owner_id=owner_id, company_id=company_id, after=after,
                             limit=limit)
    return _page(session, p, flt)


@router.post("/contacts/search", response_model=ContactPageRead)
def search_contacts(body: ContactSearch, p: Principal = Depends(Require(Perm.CONTACTS_READ)),
                    session: Session = Depends(db)) -> ContactPageRead:
    """Exact search by email, phone (0812…, +62…, 62…), loyalty card number or name words, with filters."""
    flt = repo.ContactFilter(query=body.q, tag=body.tag.strip().casefold(), owner_id=body.owner_id,
                             company_id=body.company_id, after=body.after, limit=body.limit)
    return _page(session, p, flt)


@router.post("/contacts", response_model=ContactRead, status_code=201,
             responses={409: {"description": "The email, phone or card number belongs to `existing_id`"}})
def create_contact(body: ContactCreate, request: Request, p: Principal = Depends(Require(Perm.CONTACTS_WRITE)),
                   session: Session = Depends(db)) -> object:
    """Create a contact."""
    try:
        contact = service.create_contact(session, p, body.values())
    except service.DuplicateContact as exc:
        return _conflict(request, exc)
    return ContactRead.of(contact)


@router.get("/contacts/export", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with a byte-order mark"}})
def export_contacts(p: Principal = Depends(Require(Perm.CONTACTS_EXPORT)), session: Session = Depends(db)) -> Response:
    """Every contact the caller may see, as CSV (audited)."""
    export = exporter.export_contacts(session, p)
    return Response(export.content, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{export.filename}"',
                             "Cache-Control": "no-store"})


async def _csv_body(request: Request) -> bytes:
    return await request.body()


@router.post("/contacts/import", response_model=ImportRead,
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def import_contacts(request: Request, data: bytes = Depends(_csv_body),
                    mapping: str = Query("", max_length=2000, description="column=field pairs, comma separated"),
                    p: Principal = Depends(Require(Perm.CONTACTS_IMPORT)), session: Session = Depends(db)) -> ImportRead:
    """Import a CSV body (text/csv): created, updated, unchanged and one problem per refused row."""
    report = importer.import_contacts(session, p, data, mapping=mapping)
    gettext = gettext_for(request_locale(request))
    return ImportRead(
        rows=report.rows, created=report.created, updated=report.updated, unchanged=report.unchanged,
        failed=report.failed, encoding=report.encoding, columns=report.columns,
        ignored_columns=report.ignored_columns,
        problems=[RowProblem(row=x.row, field=x.field, message=translate(x.message, gettext))
                  for x in report.problems])


@router.get("/contacts/{contact_id}", response_model=ContactRead)
def read_contact(contact_id: uuid.UUID, p: Principal = Depends(Require(Perm.CONTACTS_READ)),
                 session: Session = Depends(db)) -> ContactRead:
    """One contact (a merged one shows `status: merged` and `merged_into_id`)."""
    return ContactRead.of(service.read_contact(session, p, contact_id))


@router.patch("/contacts/{contact_id}", response_model=ContactRead)
def update_contact(contact_id: uuid.UUID, body: ContactUpdate, request: Request,
                   p: Principal = Depends(Require(Perm.CONTACTS_WRITE)), session: Session = Depends(db)) -> object:
    """Change a contact; only the fields sent change (lists are replaced as a whole)."""
    try:
        contact = service.update_contact(session, p, contact_id, body.values())
    except service.DuplicateContact as exc:
        return _conflict(request, exc)
    return ContactRead.of(contact)


@router.post("/contacts/{contact_id}/merge", response_model=ContactRead)
def merge(contact_id: uuid.UUID, body: MergeRequest, p: Principal = Depends(Require(Perm.CONTACTS_MERGE)),
          session: Session = Depends(db)) -> ContactRead:
    """Merge `duplicate_id` into this contact: every linked record moves here; the duplicate is marked merged."""
    result = merge_contacts(session, p, contact_id, body.duplicate_id)
    return ContactRead.of(result.kept)


@router.get("/companies", response_model=CompanyPageRead)
def list_companies(
    p: Principal = Depends(Require(Perm.CONTACTS_READ)),
    session: Session = Depends(db),
    name: str = Query("", max_length=160, description="Part of the company name"),
    after: uuid.UUID | None = None,
    limit: int = Query(50, ge=1, le=200),
) -> CompanyPageRead:
    """Companies the caller may see, newest first."""
    rows, more = repo.list_companies(session, p, name, after, limit)
    return CompanyPageRead(items=[CompanyRead.of(c) for c in rows], next_cursor=rows[-1].id if more else None)


@router.post("/companies", response_model=CompanyRead, status_code=201)
def create_company(body: CompanyCreate, request: Request, p: Principal = Depends(Require(Perm.CONTACTS_WRITE)),
                   session: Session = Depends(db)) -> object:
    """Create a company (the NPWP is checked and stored encrypted)."""
    try:
        company = companies.create_company(session, p, body.values())
    except companies.DuplicateCompany as exc:
        return _conflict(request, exc)
    return CompanyRead.of(company)


@router.get("/companies/{company_id}", response_model=CompanyRead)
def read_company(company_id: uuid.UUID, p: Principal = Depends(Require(Perm.CONTACTS_READ)),
                 session: Session = Depends(db)) -> CompanyRead:
    """One company."""
    return CompanyRead.of(companies.get_company(session, p, company_id))


@router.patch("/companies/{company_id}", response_model=CompanyRead)
def update_company(company_id: uuid.UUID, body: CompanyUpdate, request: Request,
                   p: Principal = Depends(Require(Perm.CONTACTS_WRITE)), session: Session = Depends(db)) -> object:
    """Change a company; only the fields sent change."""
    try:
        company = companies.update_company(session, p, company_id, body.values())
    except companies.DuplicateCompany as exc:
        return _conflict(request, exc)
    return CompanyRead.of(company)
