"""Staff pages for contacts: list and search, create, detail with the timeline, edit, merge, import, export.

Searching is a POST (`/contacts/search`): an email, a phone number or a name typed in the search box must not
end up in a URL. Browsing with filters that are not personal (a tag, an owner's id, the page cursor) is a GET,
so those pages can be bookmarked.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from niaga.crm.contacts import exporter, importer, options, repository as repo, service
from niaga.crm.contacts.company_pages import router as company_router
from niaga.crm.contacts.merge import merge_contacts
from niaga.crm.contacts.validation import parse_uuid
from niaga.crm.models import ADDRESS_KINDS, Contact
from niaga.crm.timeline import timeline
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import DomainError, ValidationFailed
from niaga.kit.messages import Msg
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.forms import MAX_FIELD, form_data
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)
router.include_router(company_router)
ADDRESS_PARTS = ("street", "city", "province", "postal_code")


def _filter_from(values: dict[str, Any], query: str = "") -> repo.ContactFilter:
    """The list filter from query parameters or a search form; malformed ids are ignored, not errors."""
    return repo.ContactFilter(query=query[:repo.MAX_QUERY], tag=str(values.get("tag") or "").strip().casefold()[:40],
                              owner_id=parse_uuid(values.get("owner") or None),
                              after=parse_uuid(values.get("after") or None))


def _rows(page: service.ContactPage) -> list[dict[str, Any]]:
    rows = []
    for contact in page.contacts:
        company = page.companies.get(contact.company_id)
        owner = page.owners.get(contact.owner_id)
        rows.append({"id": contact.id, "name": contact.full_name, **service.contact_summary(contact),
                     "company": company.name if company else "", "owner": owner.full_name if owner else "",
                     "tags": contact.tags or []})
    return rows


def _list_page(request: Request, session: Session, p: Principal, flt: repo.ContactFilter) -> Response:
    page = service.list_contacts(session, p, flt)
    return render(request, "crm/contacts/list.html", {
        "rows": _rows(page), "next_after": page.next_after, "flt": flt, "searched": bool(flt.query.strip()),
        "tags": repo.tags_in_use(session, p), "owners": options.owner_choices(session, p),
        "can_write": p.can(Perm.CONTACTS_WRITE), "can_import": p.can(Perm.CONTACTS_IMPORT),
        "can_export": p.can(Perm.CONTACTS_EXPORT),
    })


@router.get("/contacts")
def contact_list(request: Request, p: Principal = Depends(Require(Perm.CONTACTS_READ)),
                 session: Session = Depends(db)) -> Response:
    """Contacts the staff member may see, 50 per page, filtered by tag or owner."""
    return _list_page(request, session, p, _filter_from(dict(request.query_params)))


@router.post("/contacts/search")
def contact_search(request: Request, form: dict = Depends(form_data),
                   p: Principal = Depends(Require(Perm.CONTACTS_READ)), session: Session = Depends(db)) -> Response:
    """The search box: an email, a phone number in any format, a card number or name words."""
    return _list_page(request, session, p, _filter_from(form, form.get("q", "")))


def _form_values(contact: Contact) -> dict[str, Any]:
    """What the edit form shows for a contact."""
    values: dict[str, Any] = {
        "full_name": contact.full_name, "emails": "\n".join(str(r.email) for r in contact.emails),
        "phones": "\n".join(str(r.phone) for r in contact.phones),
        "birth_date": contact.birth_date.isoformat() if contact.birth_date else "",
        "gender": contact.gender or "", "position": contact.position or "", "notes": contact.notes or "",
        "tags": ", ".join(contact.tags or []), "loyalty_card_number": contact.loyalty_card_number or "",
        "company_id": str(contact.company_id or ""), "owner_id": str(contact.owner_id or ""),
        "team_id": str(contact.team_id or ""),
    }
    for kind, address in service.first_addresses(contact).items():
        for part in ADDRESS_PARTS:
            values[f"address_{kind}_{part}"] = address.get(part, "") if isinstance(address, dict) else ""
    return values


def _contact_input(form: dict[str, str]) -> dict[str, Any]:
    """The service's input from the contact form."""
    data: dict[str, Any] = {key: form.get(key, "") for key in (
        "full_name", "emails", "phones", "birth_date", "gender", "company_id", "position", "notes", "tags",
        "owner_id", "team_id", "loyalty_card_number")}
    data["addresses"] = {kind: {part: form.get(f"address_{kind}_{part}", "") for part in ADDRESS_PARTS}
                         for kind in ADDRESS_KINDS}
    return data


def _form_page(request: Request, session: Session, p: Principal, *, contact: Contact | None, values: dict,
               errors: dict, status_code: int = 200, existing_id: uuid.UUID | None = None) -> Response:
    return render(request, "crm/contacts/form.html", {
        "contact": contact, "values": values, "errors": errors, "existing_id": existing_id,
        **options.form_choices(session, p, contact),
    }, status_code=status_code)


@router.get("/contacts/new")
def contact_new(request: Request, p: Principal = Depends(Require(Perm.CONTACTS_WRITE)),
                session: Session = Depends(db)) -> Response:
    """The form for a new contact."""
    return _form_page(request, session, p, contact=None, values={"owner_id": str(p.user_id)}, errors={})


@router.post("/contacts/new")
def contact_create(request: Request, form: dict = Depends(form_data),
                   p: Principal = Depends(Require(Perm.CONTACTS_WRITE)), session: Session = Depends(db)) -> Response:
    """Create a contact; on a duplicate email or phone, show a link to the contact that has it."""
    try:
        contact = service.create_contact(session, p, _contact_input(form))
    except ValidationFailed as exc:
        return _form_page(request, session, p, contact=None, values=form, errors=exc.errors, status_code=422)
    except service.DuplicateContact as exc:
        return _form_page(request, session, p, contact=None, values=form, errors={exc.field: exc.message},
                          status_code=409, existing_id=exc.existing_id)
    return RedirectResponse(f"/contacts/{contact.id}?saved=1", status_code=303)


@router.get("/contacts/import")
def contact_import_form(request: Request, p: Principal = Depends(Require(Perm.CONTACTS_IMPORT))) -> Response:
    """The upload form for a CSV file of contacts."""
    return render(request, "crm/contacts/import.html", {"report": None, "error": None, "mapping": "",
                                                        "fields": importer.IMPORT_FIELDS, "labels": options.LABELS,
                                                        **_limits(request)})


def _limits(request: Request) -> dict[str, Any]:
    """What the upload form accepts: the importer's limits, or the server's request size limit if smaller."""
    max_bytes = min(importer.MAX_IMPORT_BYTES, request.app.state.settings.max_body_bytes)
    return {"limit_mb": max(1, round(max_bytes / (1024 * 1024))), "limit_rows": f"{importer.MAX_IMPORT_ROWS:,}".replace(
        ",", ".")}


async def _upload(request: Request) -> tuple[dict[str, str], bytes | None]:
    """Text fields and the uploaded file's bytes from a multipart form (None when no file was sent)."""
    form = await request.form()
    fields = {key: value[:MAX_FIELD] for key, value in form.items() if isinstance(value, str)}
    upload = form.get("file")
    data = await upload.read() if isinstance(upload, UploadFile) else None
    return fields, data


@router.post("/contacts/import")
def contact_import(request: Request, upload: tuple = Depends(_upload),
                   p: Principal = Depends(Require(Perm.CONTACTS_IMPORT)), session: Session = Depends(db)) -> Response:
    """Import the uploaded CSV and show what happened, row by row."""
    fields, data = upload
    mapping = fields.get("mapping", "")[:2000]
    context = {"report": None, "error": None, "mapping": mapping, "fields": importer.IMPORT_FIELDS,
               "labels": options.LABELS, **_limits(request)}
    if not data:
        context["error"] = Msg("Choose a CSV file to import.")
        return render(request, "crm/contacts/import.html", context, status_code=422)
    try:
        context["report"] = importer.import_contacts(session, p, data, mapping=mapping,
                                                     max_bytes=min(importer.MAX_IMPORT_BYTES,
                                                                   request.app.state.settings.max_body_bytes))
    except importer.ImportRefused as exc:
        context["error"] = exc.message
        return render(request, "crm/contacts/import.html", context, status_code=exc.status)
    return render(request, "crm/contacts/import.html", context)


@router.get("/contacts/export")
def contact_export(p: Principal = Depends(Require(Perm.CONTACTS_EXPORT)), session: Session = Depends(db)) -> Response:
    """Download the visible contacts as CSV (audited)."""
    export = exporter.export_contacts(session, p)
    return Response(export.content, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{export.filename}"',
                             "Cache-Control": "no-store"})


def _detail(request: Request, session: Session, p: Principal, contact_id: uuid.UUID, *,
            candidates: list | None = None, merge_query: str = "", errors: dict | None = None,
            status_code: int = 200) -> Response:
    contact = service.read_contact(session, p, contact_id)
    if contact.status == "merged" and contact.merged_into_id is not None:
        return RedirectResponse(f"/contacts/{contact.merged_into_id}", status_code=303)
    company = repo.get_company(session, p, contact.company_id) if contact.company_id else None
    owners = repo.owners_of(session, p.tenant_id, [contact])
    team = repo.team(session, p.tenant_id, contact.team_id) if contact.team_id else None
    return render(request, "crm/contacts/detail.html", {
        "contact": contact, "company": company, "owner": owners.get(contact.owner_id), "team": team,
        "timeline": timeline(session, p, contact, limit=50), "can_write": p.can(Perm.CONTACTS_WRITE),
        "can_merge": p.can(Perm.CONTACTS_MERGE), "candidates": candidates, "merge_query": merge_query,
        "errors": errors or {}, "labels": options.LABELS,
    }, status_code=status_code)


@router.get("/contacts/{contact_id}")
def contact_detail(contact_id: uuid.UUID, request: Request, p: Principal = Depends(Require(Perm.CONTACTS_READ)),
                   session: Session = Depends(db)) -> Response:
    """One contact with everything known about them and their timeline."""
    return _detail(request, session, p, contact_id)


@router.get("/contacts/{contact_id}/edit")
def contact_edit_form(contact_id: uuid.UUID, request: Request, p: Principal = Depends(Require(Perm.CONTACTS_WRITE)),
                      session: Session = Depends(db)) -> Response:
    """The form to change a contact."""
    contact = service.get_contact(session, p, contact_id)
    if contact.status == "merged" and contact.merged_into_id is not None:
        return RedirectResponse(f"/contacts/{contact.merged_into_id}/edit", status_code=303)
    return _form_page(request, session, p, contact=contact, values=_form_values(contact), errors={})


@router.post("/contacts/{contact_id}/edit")
def contact_edit(contact_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                 p: Principal = Depends(Require(Perm.CONTACTS_WRITE)), session: Session = Depends(db)) -> Response:
    """Save a changed contact."""
    contact = service.get_contact(session, p, contact_id)
    try:
        service.update_contact(session, p, contact_id, _contact_input(form), partial=False)
    except ValidationFailed as exc:
        return _form_page(request, session, p, contact=contact, values=form, errors=exc.errors, status_code=422)
    except service.DuplicateContact as exc:
        return _form_page(request, session, p, contact=contact, values=form, errors={exc.field: exc.message},
                          status_code=409, existing_id=exc.existing_id)
    return RedirectResponse(f"/contacts/{contact_id}?saved=1", status_code=303)


@router.post("/contacts/{contact_id}/merge-candidates")
def contact_merge_candidates(contact_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                             p: Principal = Depends(Require(Perm.CONTACTS_MERGE)),
                             session: Session = Depends(db)) -> Response:
    """Find the duplicate to merge into this contact (by email, phone or name)."""
    query = form.get("q", "")[:repo.MAX_QUERY]
    if not query.strip():
        return _detail(request, session, p, contact_id, candidates=[], merge_query=query,
                       errors={"q": Msg("Type an email, a phone number or a name to find the duplicate.")},
                       status_code=422)
    page = service.list_contacts(session, p, repo.ContactFilter(query=query, limit=20))
    page.contacts = [c for c in page.contacts if c.id != contact_id]
    return _detail(request, session, p, contact_id, candidates=_rows(page), merge_query=query)


@router.post("/contacts/{contact_id}/merge")
def contact_merge(contact_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                  p: Principal = Depends(Require(Perm.CONTACTS_MERGE)), session: Session = Depends(db)) -> Response:
    """Merge the chosen duplicate into this contact."""
    duplicate_id = parse_uuid(form.get("duplicate_id"))
    if duplicate_id is None:
        return _detail(request, session, p, contact_id, candidates=[],
                       errors={"q": Msg("Choose the duplicate from the search results.")}, status_code=422)
    try:
        with session.begin_nested():
            merge_contacts(session, p, contact_id, duplicate_id)
    except ValidationFailed as exc:
        return _detail(request, session, p, contact_id, candidates=[], errors={"q": next(iter(exc.errors.values()))},
                       status_code=422)
    except DomainError as exc:
        if exc.status == 404 and repo.get_contact(session, p, contact_id) is None:
            raise
        return _detail(request, session, p, contact_id, candidates=[], errors={"q": exc.message},
                       status_code=exc.status)
    return RedirectResponse(f"/contacts/{contact_id}?saved=1", status_code=303)
