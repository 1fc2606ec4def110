"""Staff pages for sales: the kanban board, the deal list, new deal, deal detail with lines, the forecast.

Every form works without JavaScript (the kanban's move form is a select and a button; kanban.js only adds
drag and drop on top of it). Filters put ids in the query string, never names, emails or phones.
Pipeline settings for managers are in settings_pages.py.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from babel.dates import format_date
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from niaga.crm.sales import forms, service
from niaga.crm.sales.settings_pages import router as settings_router
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import DomainError, ValidationFailed
from niaga.kit.messages import Msg
from niaga.kit.money import format_rupiah
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.i18n import N_
from niaga.web.templating import render, request_locale

router = APIRouter(route_class=TransactionalRoute)
router.include_router(settings_router)
READ, WRITE = Require(Perm.DEALS_READ), Require(Perm.DEALS_WRITE)
STATUS_LABELS = {"open": N_("Open"), "won": N_("Won"), "lost": N_("Lost")}
DEAL_FIELDS = ("title", "value", "expected_close_date", "contact_id", "contact_lookup", "company_id", "owner_id",
               "team_id", "stage_id")


def _render(request: Request, name: str, ctx: dict, status_code: int = 200) -> Response:
    """Render a sales page; `day(d)` shows a calendar date in the page's language ("15 Des 2026")."""
    locale = request_locale(request)
    return render(request, name, {"day": lambda d: format_date(d, "d MMM y", locale=locale) if d else "", **ctx},
                  status_code=status_code)


def _errors(exc: DomainError) -> dict[str, str]:
    return exc.errors if isinstance(exc, ValidationFailed) else {"form": exc.message}


def _pipeline_from_query(session: Session, p: Principal, raw: str | None) -> service.Pipeline:
    """The pipeline named in the query string, or the default one (an unknown id shows the default)."""
    wanted = forms.query_id(raw)
    pipelines = service.list_pipelines(session, p)
    return next((pl for pl in pipelines if pl.id == wanted), next(pl for pl in pipelines if pl.is_default))


# -- kanban ------------------------------------------------------------------------------------------
def _board_context(session: Session, p: Principal, pipeline: service.Pipeline, **extra: Any) -> dict:
    columns = service.board(session, p, pipeline)
    deals = [d for c in columns for d in c.deals]
    ctx = {
        "pipeline": pipeline,
        "pipelines": service.list_pipelines(session, p),
        "columns": columns,
        "rel": service.related(session, p, deals),
        # A lost stage needs a reason: losing is done on the deal's page, where the reason is asked for.
        "move_targets": [s for s in pipeline.stages if s.kind != "lost"],
        "can_write": p.can(Perm.DEALS_WRITE),
        "can_manage": p.can(Perm.PIPELINES_MANAGE),
        "errors": {},
        "moved": None,
    }
    ctx.update(extra)
    return ctx


@router.get("/deals")
def kanban(request: Request, p: Principal = Depends(READ), session: Session = Depends(db)) -> Response:
    """The pipeline as a board: one column per stage, one card per deal."""
    pipeline = _pipeline_from_query(session, p, request.query_params.get("pipeline_id"))
    moved = forms.query_id(request.query_params.get("moved"))
    return _render(request, "crm/sales/kanban.html", _board_context(session, p, pipeline, moved=moved))


@router.post("/deals/{deal_id}/move")
def move(deal_id: uuid.UUID, request: Request, form: dict = Depends(form_data), p: Principal = Depends(WRITE),
         session: Session = Depends(db)) -> Response:
    """Move a deal to the chosen stage of its pipeline, then show the board (or the deal) again."""
    deal = service.get_deal(session, p, deal_id)
    errors: dict[str, str] = {}
    stage_id = forms.ident(form.get("stage_id"), "stage_id", errors)
    back_to_deal = form.get("back") == "deal"
    try:
        if errors or stage_id is None:
            raise ValidationFailed(errors or {"stage_id": Msg("Choose a stage.")})
        with session.begin_nested():
            service.move_deal(session, p, deal, stage_id)
    except ValidationFailed as exc:
        if back_to_deal:
            return _render(request, "crm/sales/deal.html", _deal_context(session, p, deal, errors=exc.errors),
                          status_code=422)
        pipeline = service.get_pipeline(session, p, deal.pipeline_id)
        return _render(request, "crm/sales/kanban.html",
                      _board_context(session, p, pipeline, errors={f"move-{deal.id}": exc.errors.get(
                          "stage_id") or next(iter(exc.errors.values()))}), status_code=422)
    if back_to_deal:
        return RedirectResponse(f"/deals/{deal.id}?saved=1", status_code=303)
    return RedirectResponse(f"/deals?pipeline_id={deal.pipeline_id}&moved={deal.id}#deal-{deal.id}", status_code=303)


# -- list --------------------------------------------------------------------------------------------
@router.get("/deals/list")
def deal_list(request: Request, p: Principal = Depends(READ), session: Session = Depends(db)) -> Response:
    """Deals in a table, filtered by pipeline, stage, owner, status or contact, newest first."""
    q = request.query_params
    status = q.get("status") if q.get("status") in service.DEAL_STATUSES else None
    filters = {
        "pipeline_id": forms.query_id(q.get("pipeline_id")),
        "stage_id": forms.query_id(q.get("stage_id")),
        "owner_id": forms.query_id(q.get("owner_id")),
        "contact_id": forms.query_id(q.get("contact_id")),
        "company_id": forms.query_id(q.get("company_id")),
        "status": status,
    }
    deals, next_id = service.list_deals(session, p, **filters, after=forms.query_id(q.get("after")), limit=50)
    rel = service.related(session, p, deals)
    shown = {k: str(v) for k, v in filters.items() if v is not None}
    next_query = "&".join(f"{k}={v}" for k, v in {**shown, "after": next_id}.items()) if next_id else None
    return _render(request, "crm/sales/list.html", {
        "deals": deals, "rel": rel, "filters": shown, "next_query": next_query,
        "pipelines": service.list_pipelines(session, p), "staff": service.staff_choices(session, p),
        "statuses": STATUS_LABELS,
        "filtered_contact": service.contact_name(session, p, filters["contact_id"]) if filters["contact_id"] else None,
    })


# -- forecast ----------------------------------------------------------------------------------------
def month_label(key: str, locale: str) -> str:
    """'2026-12' → 'Desember 2026' (in the page's language)."""
    year, month = (int(part) for part in key.split("-"))
    return format_date(date(year, month, 1), "MMMM y", locale=locale)


@router.get("/deals/forecast")
def forecast(request: Request, p: Principal = Depends(READ), session: Session = Depends(db)) -> Response:
    """Weighted value of the open deals you can see: per stage, per expected close month, in total."""
    pipeline = _pipeline_from_query(session, p, request.query_params.get("pipeline_id"))
    report = service.forecast(session, p, pipeline)
    locale = request_locale(request)
    months = [(month_label(m.key, locale) if m.key else None, m) for m in report.months]
    return _render(request, "crm/sales/forecast.html", {
        "pipeline": pipeline, "pipelines": service.list_pipelines(session, p), "report": report, "months": months,
    })


# -- new deal and deal detail ------------------------------------------------------------------------
def _form_choices(session: Session, p: Principal, deal: service.Deal | None = None,
                  contact_id: uuid.UUID | None = None, company_id: uuid.UUID | None = None) -> dict:
    """Contacts, companies, staff, teams and open stages for the deal form (the deal's own always listed)."""
    if deal is not None:
        contacts = service.contact_choices(session, p, include=deal.contact_id, current=True)
        companies = service.company_choices(session, p, include=deal.company_id, current=True)
    else:
        contacts = service.contact_choices(session, p, include=contact_id)
        companies = service.company_choices(session, p, include=company_id)
    return {
        "contacts": contacts,
        "companies": companies,
        "staff": service.staff_choices(session, p),
        "teams": service.team_choices(session, p),
        "pipelines": service.list_pipelines(session, p),
    }


def _deal_values(form: dict, p: Principal) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values of the deal form, and messages for what could not be read."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"title": form.get("title", "")}
    if "value" in form:
        values["value"] = forms.rupiah(form.get("value"), "value", errors, blank=0)
    values["expected_close_date"] = forms.day(form.get("expected_close_date"), "expected_close_date", errors)
    for key in ("contact_id", "company_id", "team_id", "stage_id"):
        values[key] = forms.ident(form.get(key), key, errors)
    values["owner_id"] = forms.ident(form.get("owner_id"), "owner_id", errors) or p.user_id
    return values, errors


def _resolve_contact(session: Session, p: Principal, form: dict, values: dict, errors: dict[str, str]) -> None:
    """An email or phone typed in "find contact" picks the contact (blind index; never in a URL)."""
    lookup = (form.get("contact_lookup") or "").strip()[:254]
    if not lookup:
        return
    found = service.find_contact(session, p, lookup)
    if found is None:
        errors["contact_lookup"] = Msg("No contact you can see has this email or phone.")
    else:
        values["contact_id"] = found.id


def _with_pipeline(session: Session, p: Principal, values: dict) -> None:
    """The stage select lists every pipeline's stages: the pipeline is the chosen stage's."""
    stage_id = values.get("stage_id")
    if stage_id is None:
        values.pop("stage_id", None)
        return
    stage = session.get(service.Stage, (p.tenant_id, stage_id))
    if stage is not None:
        values["pipeline_id"] = stage.pipeline_id


@router.get("/deals/new")
def new_deal(request: Request, p: Principal = Depends(WRITE), session: Session = Depends(db)) -> Response:
    """The new-deal form (a contact or company id in the query string preselects it)."""
    q = request.query_params
    contact_id, company_id = forms.query_id(q.get("contact_id")), forms.query_id(q.get("company_id"))
    pipeline = _pipeline_from_query(session, p, q.get("pipeline_id"))
    values = {"contact_id": str(contact_id or ""), "company_id": str(company_id or ""),
              "owner_id": str(p.user_id), "stage_id": str(service.first_stage(pipeline).id)}
    return _render(request, "crm/sales/new.html",
                  {"values": values, "errors": {},
                   **_form_choices(session, p, contact_id=contact_id, company_id=company_id)})


@router.post("/deals/new")
def create(request: Request, form: dict = Depends(form_data), p: Principal = Depends(WRITE),
           session: Session = Depends(db)) -> Response:
    """Record the deal and open it."""
    values, errors = _deal_values(form, p)
    _resolve_contact(session, p, form, values, errors)
    _with_pipeline(session, p, values)
    try:
        if errors:
            raise ValidationFailed(errors)
        with session.begin_nested():
            deal = service.create_deal(session, p, **values)
    except DomainError as exc:
        shown = forms.kept(form, *DEAL_FIELDS)
        return _render(request, "crm/sales/new.html",
                      {"values": shown, "errors": _errors(exc),
                       **_form_choices(session, p, contact_id=values.get("contact_id"),
                                       company_id=values.get("company_id"))}, status_code=422)
    return RedirectResponse(f"/deals/{deal.id}?saved=1", status_code=303)


def _deal_context(session: Session, p: Principal, deal: service.Deal, **extra: Any) -> dict:
    rel = service.related(session, p, [deal])
    values = {
        "title": "" if not isinstance(deal.title, str) else deal.title,
        "value": format_rupiah(deal.value).removeprefix("Rp "),  # "15.000.000", as people type it
        "expected_close_date": deal.expected_close_date.isoformat() if deal.expected_close_date else "",
        "contact_id": str(deal.contact_id or ""), "company_id": str(deal.company_id or ""),
        "owner_id": str(deal.owner_id or ""), "team_id": str(deal.team_id or ""), "stage_id": str(deal.stage_id),
    }
    ctx = {
        "deal": deal, "rel": rel, "values": values, "errors": {}, "line_values": {}, "line_errors": {},
        "pipeline": service.get_pipeline(session, p, deal.pipeline_id),
        "status_label": STATUS_LABELS[deal.status],
        "can_write": p.can(Perm.DEALS_WRITE),
        **_form_choices(session, p, deal),
    }
    ctx.update(extra)
    if "form_values" in extra:
        ctx["values"] = {**values, **extra["form_values"]}
    return ctx


@router.get("/deals/{deal_id}")
def deal_page(deal_id: uuid.UUID, request: Request, p: Principal = Depends(READ),
              session: Session = Depends(db)) -> Response:
    """A deal with its product lines; edit, win, lose and reopen for those who may write."""
    deal = service.get_deal(session, p, deal_id)
    return _render(request, "crm/sales/deal.html", _deal_context(session, p, deal))


@router.post("/deals/{deal_id}")
def update(deal_id: uuid.UUID, request: Request, form: dict = Depends(form_data), p: Principal = Depends(WRITE),
           session: Session = Depends(db)) -> Response:
    """Save the deal form."""
    deal = service.get_deal(session, p, deal_id)
    values, errors = _deal_values(form, p)
    _resolve_contact(session, p, form, values, errors)
    _with_pipeline(session, p, values)
    if deal.lines:
        values.pop("value", None)  # the value comes from the lines; the field is shown read-only
    if not isinstance(deal.title, str) and not values["title"].strip():
        values.pop("title")  # an erased title is not asked for again
    try:
        if errors:
            raise ValidationFailed(errors)
        with session.begin_nested():
            service.update_deal(session, p, deal, values)
    except DomainError as exc:
        session.refresh(deal)
        return _render(request, "crm/sales/deal.html",
                      _deal_context(session, p, deal, errors=_errors(exc),
                                    form_values=forms.kept(form, *DEAL_FIELDS)), status_code=422)
    return RedirectResponse(f"/deals/{deal.id}?saved=1", status_code=303)


def _deal_action(request: Request, session: Session, p: Principal, deal_id: uuid.UUID, action) -> Response:  # noqa: ANN001
    """Run one change on a deal; show the deal again with the message when it is refused."""
    deal = service.get_deal(session, p, deal_id)
    try:
        with session.begin_nested():
            target = action(deal)
    except DomainError as exc:
        session.refresh(deal)
        return _render(request, "crm/sales/deal.html", _deal_context(session, p, deal, errors=_errors(exc)),
                      status_code=exc.status)
    return RedirectResponse(target or f"/deals/{deal.id}?saved=1", status_code=303)


@router.post("/deals/{deal_id}/win")
def win(deal_id: uuid.UUID, request: Request, p: Principal = Depends(WRITE),
        session: Session = Depends(db)) -> Response:
    """Mark the deal won."""

    def won(deal: service.Deal) -> None:
        service.win_deal(session, p, deal)

    return _deal_action(request, session, p, deal_id, won)


@router.post("/deals/{deal_id}/lose")
def lose(deal_id: uuid.UUID, request: Request, form: dict = Depends(form_data), p: Principal = Depends(WRITE),
         session: Session = Depends(db)) -> Response:
    """Mark the deal lost with the reason given."""

    def lost(deal: service.Deal) -> None:
        service.lose_deal(session, p, deal, form.get("reason", ""))

    return _deal_action(request, session, p, deal_id, lost)


@router.post("/deals/{deal_id}/reopen")
def reopen(deal_id: uuid.UUID, request: Request, p: Principal = Depends(WRITE),
           session: Session = Depends(db)) -> Response:
    """Open a won or lost deal again, in the pipeline's first open stage."""

    def reopened(deal: service.Deal) -> None:
        service.reopen_deal(session, p, deal)

    return _deal_action(request, session, p, deal_id, reopened)


@router.post("/deals/{deal_id}/delete")
def delete(deal_id: uuid.UUID, request: Request, p: Principal = Depends(WRITE),
           session: Session = Depends(db)) -> Response:
    """Delete the deal and go back to its pipeline's board."""

    def remove(deal: service.Deal) -> str:
        pipeline_id = deal.pipeline_id
        service.delete_deal(session, p, deal)
        return f"/deals?pipeline_id={pipeline_id}&saved=1"

    return _deal_action(request, session, p, deal_id, remove)


@router.post("/deals/{deal_id}/lines")
def add_line(deal_id: uuid.UUID, request: Request, form: dict = Depends(form_data), p: Principal = Depends(WRITE),
             session: Session = Depends(db)) -> Response:
    """Add a product line; the deal's value becomes the sum of its lines."""
    deal = service.get_deal(session, p, deal_id)
    errors: dict[str, str] = {}
    quantity = forms.whole(form.get("quantity"), "quantity", errors,
                           Msg("The quantity is a whole number from 1 to {max}.", max=1_000_000))
    price = forms.rupiah(form.get("unit_price"), "unit_price", errors)
    try:
        if errors:
            raise ValidationFailed(errors)
        with session.begin_nested():
            service.add_line(session, p, deal, form.get("product_name", ""), quantity, price)
    except ValidationFailed as exc:
        session.refresh(deal)
        return _render(request, "crm/sales/deal.html",
                      _deal_context(session, p, deal, line_errors=exc.errors,
                                    line_values=forms.kept(form, "product_name", "quantity", "unit_price")),
                      status_code=422)
    return RedirectResponse(f"/deals/{deal.id}?saved=1#lines", status_code=303)


@router.post("/deals/{deal_id}/lines/{line_id}/delete")
def delete_line(deal_id: uuid.UUID, line_id: uuid.UUID, p: Principal = Depends(WRITE),
                session: Session = Depends(db)) -> Response:
    """Remove a product line."""
    deal = service.get_deal(session, p, deal_id)
    service.delete_line(session, p, deal, service.get_line(deal, line_id))
    return RedirectResponse(f"/deals/{deal.id}?saved=1#lines", status_code=303)
