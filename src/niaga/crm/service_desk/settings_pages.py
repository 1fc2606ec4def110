"""The SLA settings page (/settings/sla): opening hours per weekday, holidays, targets per priority and per
customer. Each section is its own form; a refused form is shown again with its messages and what was typed."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from niaga.crm.service_desk import labels, lookup, service, sla_settings
from niaga.crm.service_desk.models import PRIORITIES
from niaga.identity.accounts import TIMEZONES
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import DomainError, ValidationFailed
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)


def _saved_values(session: Session, tenant_id: uuid.UUID) -> dict[str, str]:
    """The form values of what is stored."""
    values: dict[str, str] = {}
    for weekday, (opens, closes) in sla_settings.week(session, tenant_id).items():
        values[f"open_{weekday}"] = "on"
        values[f"opens_{weekday}"] = sla_settings.format_clock(opens)
        values[f"closes_{weekday}"] = sla_settings.format_clock(closes)
    for priority, row in sla_settings.default_policies(session, tenant_id).items():
        for key, minutes in (("first_response", row.first_response_minutes), ("resolution", row.resolution_minutes)):
            values[f"{priority}_{key}"] = "" if minutes is None else str(minutes)
    return values


def _page(request: Request, session: Session, p: Principal, *, errors: dict | None = None,
          typed: dict | None = None, status_code: int = 200) -> Response:
    zone = sla_settings.tenant_zone(session, p.tenant_id)
    overrides = sla_settings.contact_policies(session, p.tenant_id)
    return render(request, "crm/service_desk/sla_settings.html", {
        "labels": labels.all_labels(), "priorities": PRIORITIES, "zone": zone, "zone_name": TIMEZONES.get(zone, zone),
        "values": {**_saved_values(session, p.tenant_id), **(typed or {})}, "errors": errors or {},
        "holidays": sla_settings.list_holidays(session, p.tenant_id), "overrides": overrides,
        "override_contacts": service.contacts_of(session, p.tenant_id, overrides),
    }, status_code=status_code)


def _refused(request: Request, session: Session, p: Principal, exc: DomainError, typed: dict) -> Response:
    errors = exc.errors if isinstance(exc, ValidationFailed) else {"form": exc.message}
    return _page(request, session, p, errors=errors, typed=typed, status_code=exc.status)


def _done() -> Response:
    return RedirectResponse("/settings/sla?saved=1", status_code=303)


@router.get("/settings/sla")
def sla_settings_page(request: Request, p: Principal = Depends(Require(Perm.SLA_MANAGE)),
                      session: Session = Depends(db)) -> Response:
    """Opening hours, holidays and targets the SLA clocks count by."""
    return _page(request, session, p)


@router.post("/settings/sla/hours")
def save_hours(request: Request, form: dict = Depends(form_data), p: Principal = Depends(Require(Perm.SLA_MANAGE)),
               session: Session = Depends(db)) -> Response:
    """Save the opening hours of the week (unticked days are closed)."""
    days: dict[int, Any] = {d: (form.get(f"opens_{d}", ""), form.get(f"closes_{d}", ""))
                            for d in range(7) if form.get(f"open_{d}")}
    typed = {f"open_{d}": form.get(f"open_{d}", "") for d in range(7)}
    typed |= {k: v for k, v in form.items() if k.startswith(("opens_", "closes_"))}
    try:
        with session.begin_nested():
            sla_settings.save_week(session, p, days)
    except ValidationFailed as exc:
        return _refused(request, session, p, exc, typed)
    return _done()


@router.post("/settings/sla/policies")
def save_policies(request: Request, form: dict = Depends(form_data),
                  p: Principal = Depends(Require(Perm.SLA_MANAGE)), session: Session = Depends(db)) -> Response:
    """Save the targets of every priority."""
    values = {priority: (form.get(f"{priority}_first_response", ""), form.get(f"{priority}_resolution", ""))
              for priority in PRIORITIES}
    try:
        with session.begin_nested():
            sla_settings.save_default_policies(session, p, values)
    except ValidationFailed as exc:
        return _refused(request, session, p, exc, {k: v for k, v in form.items() if k.endswith(
            ("_first_response", "_resolution"))})
    return _done()


@router.post("/settings/sla/contact-policies")
def save_contact_policy(request: Request, form: dict = Depends(form_data),
                        p: Principal = Depends(Require(Perm.SLA_MANAGE)), session: Session = Depends(db)) -> Response:
    """Give one customer their own targets for a priority."""
    errors: dict[str, str] = {}
    contact = lookup.resolve_contact(session, p, form.get("contact_id"), form.get("customer", ""), errors,
                                     "override_customer")
    typed = {f"override_{k}": form.get(k, "") for k in ("customer", "priority", "first_response", "resolution")}
    try:
        if errors:
            raise ValidationFailed(errors)
        with session.begin_nested():
            sla_settings.save_contact_policy(session, p, contact, form.get("priority"), form.get("first_response"),
                                             form.get("resolution"))
    except ValidationFailed as exc:
        errors = {(k if k.startswith("override_") else f"override_{k}"): v for k, v in exc.errors.items()}
        return _refused(request, session, p, ValidationFailed(errors), typed)
    return _done()


@router.post("/settings/sla/policies/{policy_id}/delete")
def delete_policy(policy_id: uuid.UUID, p: Principal = Depends(Require(Perm.SLA_MANAGE)),
                  session: Session = Depends(db)) -> Response:
    """Remove a customer's own targets."""
    sla_settings.remove_policy(session, p, policy_id)
    return _done()


@router.post("/settings/sla/holidays")
def add_holiday(request: Request, form: dict = Depends(form_data), p: Principal = Depends(Require(Perm.SLA_MANAGE)),
                session: Session = Depends(db)) -> Response:
    """Add a closed date."""
    try:
        with session.begin_nested():
            sla_settings.add_holiday(session, p, form.get("day", ""), form.get("name", ""))
    except DomainError as exc:
        if not isinstance(exc, ValidationFailed):
            exc = ValidationFailed({"day": exc.message})
        errors = {f"holiday_{k}": v for k, v in exc.errors.items()}
        return _refused(request, session, p, ValidationFailed(errors),
                        {"holiday_day": form.get("day", ""), "holiday_name": form.get("name", "")})
    return _done()


@router.post("/settings/sla/holidays/{holiday_id}/delete")
def delete_holiday(holiday_id: uuid.UUID, p: Principal = Depends(Require(Perm.SLA_MANAGE)),
                   session: Session = Depends(db)) -> Response:
    """Open again on a former holiday."""
    sla_settings.remove_holiday(session, p, holiday_id)
    return _done()
