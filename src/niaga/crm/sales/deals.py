"""Deals: create, change, move between stages, win and lose, product lines, lists.

Every lookup goes through the CRM visibility rule (an agent sees own and team deals); a deal the
principal may not see is "not found", the same answer as a deal of another tenant. Each change is
audited in the request's transaction with ids only, never the title or the reason.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.models import Company, Contact
from niaga.crm.sales.models import DEAL_STATUSES, MAX_RUPIAH, Deal, DealLine, Stage
from niaga.crm.sales.pipelines import first_stage, get_pipeline
from niaga.crm.visibility import can_see, visible
from niaga.db.base import utcnow
from niaga.identity.models import Team, User
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.fields import is_readable

TITLE_MAX = 200
REASON_MAX = 500
PRODUCT_MAX = 160
MAX_QUANTITY = 1_000_000
MAX_LINES = 100
EARLIEST_CLOSE = date(2000, 1, 1)
LATEST_CLOSE = date(2100, 12, 31)
# Fields a caller may change with update_deal.
EDITABLE = ("title", "value", "expected_close_date", "owner_id", "team_id", "contact_id", "company_id",
            "pipeline_id", "stage_id", "lost_reason")
# References that are only checked when they change: a deal stays editable when, say, its contact is one
# the editor may not see or its owner's account was disabled since.
_REFERENCES = ("contact_id", "company_id", "owner_id", "team_id", "pipeline_id", "stage_id")


# -- checks ----------------------------------------------------------------------------------------
def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(raw: object, field: str, limit: int, errors: dict[str, str], missing: Msg) -> str:
    text = " ".join(str(raw or "").split())
    if not text:
        errors[field] = missing
    elif len(text) > limit:
        errors[field] = Msg("Use at most {max} characters.", max=limit)
    return text


def _rupiah(value: object, field: str, errors: dict[str, str]) -> int:
    if not _is_int(value):
        errors[field] = Msg("Give a whole number of rupiah, without decimals.")
        return 0
    if value < 0:  # type: ignore[operator]
        errors[field] = Msg("An amount cannot be negative.")
    elif value > MAX_RUPIAH:  # type: ignore[operator]
        errors[field] = Msg("This amount is too large.")
    return value  # type: ignore[return-value]


def _close_date(value: object, errors: dict[str, str]) -> date | None:
    if value is None:
        return None
    if not isinstance(value, date):
        errors["expected_close_date"] = Msg("Give a date like 2026-12-31.")
        return None
    if not EARLIEST_CLOSE <= value <= LATEST_CLOSE:
        errors["expected_close_date"] = Msg("Give a date between 2000 and 2100.")
    return value


def _contact(session: Session, p: Principal, contact_id: object, errors: dict[str, str]) -> Contact | None:
    if contact_id is None:
        return None
    contact = session.get(Contact, (p.tenant_id, contact_id)) if isinstance(contact_id, uuid.UUID) else None
    if contact is None or not can_see(session, p, contact):
        errors["contact_id"] = Msg("No such contact.")
        return None
    if contact.status == "merged":
        errors["contact_id"] = Msg("This contact was merged into another one; choose that contact.")
    elif contact.subject is None or contact.subject.is_erased:
        errors["contact_id"] = Msg("This contact's data was erased; a deal cannot be recorded for them.")
    return contact


def _company(session: Session, p: Principal, company_id: object, errors: dict[str, str]) -> Company | None:
    if company_id is None:
        return None
    company = session.get(Company, (p.tenant_id, company_id)) if isinstance(company_id, uuid.UUID) else None
    if company is None or not can_see(session, p, company):
        errors["company_id"] = Msg("No such company.")
        return None
    return company


def _owner(session: Session, p: Principal, owner_id: object, errors: dict[str, str]) -> User | None:
    user = session.get(User, (p.tenant_id, owner_id)) if isinstance(owner_id, uuid.UUID) else None
    if user is None:
        errors["owner_id"] = Msg("No such staff member.")
    elif user.status != "active":
        errors["owner_id"] = Msg("This staff member's account is disabled.")
    return user


def _team(session: Session, p: Principal, team_id: object, errors: dict[str, str]) -> Team | None:
    if team_id is None:
        return None
    team = session.get(Team, (p.tenant_id, team_id)) if isinstance(team_id, uuid.UUID) else None
    if team is None:
        errors["team_id"] = Msg("No such team.")
    return team


def _subject_id(contact: Contact | None, company: Company | None, errors: dict[str, str]) -> uuid.UUID | None:
    """The key the deal is sealed under: the contact's, else the company's (erasing them shreds the deal)."""
    if contact is not None:
        return contact.subject_id
    if company is not None:
        if company.subject_id is None or company.subject is None or company.subject.is_erased:
            errors["company_id"] = Msg("This company's data was erased; a deal cannot be recorded for it.")
            return None
        return company.subject_id
    errors["contact_id"] = Msg("A deal needs a contact or a company.")
    return None


def _stage_for(session: Session, p: Principal, pipeline_id: object, stage_id: object,
               errors: dict[str, str]) -> Stage | None:
    """The stage a deal goes to: the given one, checked against the given pipeline, or its first open stage."""
    stage = None
    if stage_id is not None:
        stage = session.get(Stage, (p.tenant_id, stage_id)) if isinstance(stage_id, uuid.UUID) else None
        if stage is None:
            errors["stage_id"] = Msg("No such stage.")
            return None
    if pipeline_id is None:
        return stage if stage is not None else first_stage(get_pipeline(session, p, None))
    try:
        pipeline = get_pipeline(session, p, pipeline_id) if isinstance(pipeline_id, uuid.UUID) else None
    except NotFound:
        pipeline = None
    if pipeline is None:
        errors["pipeline_id"] = Msg("No such pipeline.")
        return None
    if stage is None:
        return first_stage(pipeline)
    if stage.pipeline_id != pipeline.id:
        errors["stage_id"] = Msg("This stage belongs to another pipeline.")
        return None
    return stage


def _check_sealable(deal: Deal) -> None:
    """Personal fields of a deal whose customer was erased cannot be written again (there is no key)."""
    if deal.subject_id is not None and (deal.subject is None or deal.subject.is_erased):
        raise Conflict(Msg("This customer's data was erased; the deal's title and reason can no longer be changed."))


def _reason_for(stage: Stage, raw: object, errors: dict[str, str], deal: Deal | None = None) -> str | None:
    """The cleaned lost reason when the stage is a lost stage (required there), else None."""
    if stage.kind != "lost":
        return None
    if deal is not None:
        _check_sealable(deal)
    return _text(raw, "lost_reason", REASON_MAX, errors, Msg("Say why the deal was lost."))


def _enter_stage(deal: Deal, stage: Stage, reason: str | None) -> None:
    """Put a deal in a stage: its status follows the stage's kind (checked values only)."""
    closing = stage.kind != "open"
    if deal.status != stage.kind or not closing:
        deal.closed_at = utcnow() if closing else None
    deal.pipeline_id, deal.stage_id, deal.status = stage.pipeline_id, stage.id, stage.kind
    if stage.kind == "lost":
        deal.lost_reason = reason
    elif deal.lost_reason_sealed is not None or reason is not None:
        deal.lost_reason = None


def _clean_line(product_name: object, quantity: object, unit_price: object, errors: dict[str, str],
                prefix: str = "") -> tuple[str, int, int]:
    name = _text(product_name, f"{prefix}product_name", PRODUCT_MAX, errors, Msg("Name the product."))
    if not _is_int(quantity) or not 1 <= quantity <= MAX_QUANTITY:  # type: ignore[operator]
        errors[f"{prefix}quantity"] = Msg("The quantity is a whole number from 1 to {max}.", max=MAX_QUANTITY)
    price = _rupiah(unit_price, f"{prefix}unit_price", errors)
    return name, quantity if _is_int(quantity) else 0, price  # type: ignore[return-value]


def _audit(session: Session, p: Principal, action: str, deal: Deal, **details: object) -> None:
    audit.record(session, p.tenant_id, action, p.actor, target_type="deal", target_id=deal.id,
                 subject_id=deal.subject_id, purpose="U1", details=details)


def _set_value_from_lines(deal: Deal, errors: dict[str, str]) -> None:
    total = sum(line.quantity * line.unit_price for line in deal.lines)
    if total > MAX_RUPIAH:
        errors["value"] = Msg("The deal's total is too large.")
    else:
        deal.value = total


# -- reading ---------------------------------------------------------------------------------------
def get_deal(session: Session, p: Principal, deal_id: uuid.UUID) -> Deal:
    """A deal the principal may see; any other id, of this tenant or another, is not found."""
    deal = session.get(Deal, (p.tenant_id, deal_id))
    if deal is None or not can_see(session, p, deal):
        raise NotFound(Msg("No such deal."))
    return deal


def list_deals(session: Session, p: Principal, *, pipeline_id: uuid.UUID | None = None,
               stage_id: uuid.UUID | None = None, owner_id: uuid.UUID | None = None, status: str | None = None,
               contact_id: uuid.UUID | None = None, company_id: uuid.UUID | None = None,
               after: uuid.UUID | None = None, limit: int = 50) -> tuple[list[Deal], uuid.UUID | None]:
    """Visible deals, newest first, with filters; returns the page and the id to continue after."""
    if status is not None and status not in DEAL_STATUSES:
        raise ValidationFailed({"status": Msg("The status is open, won or lost.")})
    limit = max(1, min(limit, 200))
    query = select(Deal).where(visible(p, Deal))
    for column, wanted in ((Deal.pipeline_id, pipeline_id), (Deal.stage_id, stage_id), (Deal.owner_id, owner_id),
                           (Deal.status, status), (Deal.contact_id, contact_id), (Deal.company_id, company_id)):
        if wanted is not None:
            query = query.where(column == wanted)
    if after is not None:
        query = query.where(Deal.id < after)  # ids are time-ordered: newest first by id
    rows = list(session.scalars(query.order_by(Deal.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


# -- changes ---------------------------------------------------------------------------------------
def create_deal(session: Session, p: Principal, *, title: object, contact_id: object = None,
                company_id: object = None, pipeline_id: object = None, stage_id: object = None, value: object = 0,
                expected_close_date: object = None, owner_id: object = None, team_id: object = None,
                lost_reason: object = None, lines: list[dict] | None = None) -> Deal:
    """Record a deal for a contact or a company; nothing is written unless every field is valid."""
    errors: dict[str, str] = {}
    title = _text(title, "title", TITLE_MAX, errors, Msg("Give the deal a title."))
    value = _rupiah(value, "value", errors)
    close = _close_date(expected_close_date, errors)
    contact = _contact(session, p, contact_id, errors)
    company = _company(session, p, company_id, errors)
    subject_id = _subject_id(contact, company, errors) if not {"contact_id", "company_id"} & set(errors) else None
    owner = _owner(session, p, p.user_id if owner_id is None else owner_id, errors)
    team = _team(session, p, team_id, errors)
    stage = _stage_for(session, p, pipeline_id, stage_id, errors)
    cleaned = []
    if lines:
        if len(lines) > MAX_LINES:
            errors["lines"] = Msg("A deal has at most {max} product lines.", max=MAX_LINES)
        for i, line in enumerate(lines[:MAX_LINES]):
            cleaned.append(_clean_line(line.get("product_name"), line.get("quantity"), line.get("unit_price"),
                                       errors, f"lines.{i}."))
    reason = _reason_for(stage, lost_reason, errors) if stage is not None else None
    if errors:
        raise ValidationFailed(errors)
    deal = Deal(tenant_id=p.tenant_id, subject_id=subject_id, title=title, value=value,
                expected_close_date=close, owner_id=owner.id, team_id=team.id if team else None,
                contact_id=contact.id if contact else None, company_id=company.id if company else None,
                status="open")
    _enter_stage(deal, stage, reason)
    for i, (name, quantity, price) in enumerate(cleaned):
        deal.lines.append(DealLine(tenant_id=p.tenant_id, product_name=name, quantity=quantity, unit_price=price,
                                   position=i))
    if cleaned:
        _set_value_from_lines(deal, errors)
        if errors:
            raise ValidationFailed(errors)
    session.add(deal)
    session.flush()
    _audit(session, p, "crm.deal_created", deal, pipeline_id=deal.pipeline_id, stage_id=deal.stage_id,
           status=deal.status, value=deal.value)
    return deal


def _reseal_under(session: Session, deal: Deal, subject_id: uuid.UUID) -> None:
    """Move a deal to another customer's key: read the sealed fields, switch subject, write them again."""
    if subject_id == deal.subject_id:
        return
    plain = {name: getattr(deal, name) for name in ("title", "lost_reason")}
    from niaga.privacy.models import DataSubject

    deal.subject = session.get(DataSubject, (deal.tenant_id, subject_id))
    deal.subject_id = subject_id
    for name, value in plain.items():
        # An erased value stays erased: nothing readable moves to the new customer.
        setattr(deal, name, value if is_readable(value) else None)


def update_deal(session: Session, p: Principal, deal: Deal, changes: dict[str, Any]) -> Deal:
    """Change some fields of a deal (keys of EDITABLE); a stage change is audited as a move."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed({key: Msg("This field cannot be changed.") for key in sorted(unknown)})
    changes = {k: v for k, v in changes.items() if not (k in _REFERENCES and v == getattr(deal, k))}
    if "title" in changes or "lost_reason" in changes:
        _check_sealable(deal)
    errors: dict[str, str] = {}
    title = (_text(changes["title"], "title", TITLE_MAX, errors, Msg("Give the deal a title."))
             if "title" in changes else None)
    if "value" in changes:
        _rupiah(changes["value"], "value", errors)
        if deal.lines and changes["value"] != deal.value:
            errors["value"] = Msg("This deal's value comes from its product lines; change the lines instead.")
    close = _close_date(changes.get("expected_close_date"), errors)
    contact_id = changes.get("contact_id", deal.contact_id)
    company_id = changes.get("company_id", deal.company_id)
    contact = _contact(session, p, contact_id, errors) if "contact_id" in changes else None
    company = _company(session, p, company_id, errors) if "company_id" in changes else None
    subject_id = deal.subject_id
    if ("contact_id" in changes or "company_id" in changes) and not {"contact_id", "company_id"} & set(errors):
        if contact is None and contact_id is not None:
            contact = session.get(Contact, (p.tenant_id, contact_id))
        if company is None and company_id is not None:
            company = session.get(Company, (p.tenant_id, company_id))
        subject_id = _subject_id(contact, company, errors)
    if "owner_id" in changes:
        if changes["owner_id"] is None:
            errors["owner_id"] = Msg("Choose who owns the deal.")
        else:
            _owner(session, p, changes["owner_id"], errors)
    if "team_id" in changes:
        _team(session, p, changes["team_id"], errors)
    stage = None
    if "pipeline_id" in changes or "stage_id" in changes:
        pipeline_id = changes.get("pipeline_id", deal.pipeline_id)
        stage_id = changes.get("stage_id")
        if pipeline_id == deal.pipeline_id and stage_id is None:
            stage_id = deal.stage_id
        stage = _stage_for(session, p, pipeline_id, stage_id, errors)
        if stage is not None and stage.id == deal.stage_id:
            stage = None  # not a move
    reason = None
    if stage is not None:
        reason = _reason_for(stage, changes.get("lost_reason"), errors, deal)
    elif "lost_reason" in changes:
        if deal.status != "lost":
            errors["lost_reason"] = Msg("Only a lost deal has a reason.")
        else:
            reason = _text(changes["lost_reason"], "lost_reason", REASON_MAX, errors, Msg("Say why the deal was lost."))
    if errors:
        raise ValidationFailed(errors)
    before = (deal.pipeline_id, deal.stage_id)
    if title is not None:
        deal.title = title
    if "value" in changes:
        deal.value = changes["value"]
    if "expected_close_date" in changes:
        deal.expected_close_date = close
    for key in ("owner_id", "team_id", "contact_id", "company_id"):
        if key in changes:
            setattr(deal, key, changes[key])
    if subject_id is not None and subject_id != deal.subject_id:
        _reseal_under(session, deal, subject_id)
    if stage is not None:
        _enter_stage(deal, stage, reason)
    elif reason is not None:
        deal.lost_reason = reason
    session.flush()
    _audit(session, p, "crm.deal_updated", deal, fields=sorted(changes))
    if (deal.pipeline_id, deal.stage_id) != before:
        _audit(session, p, "crm.deal_moved", deal, from_stage_id=before[1], to_stage_id=deal.stage_id,
               pipeline_id=deal.pipeline_id, status=deal.status)
    return deal


def move_deal(session: Session, p: Principal, deal: Deal, stage_id: object, lost_reason: object = None,
              action: str = "crm.deal_moved") -> Deal:
    """Move a deal to another stage of its own pipeline (a won or lost stage closes it)."""
    errors: dict[str, str] = {}
    stage = _stage_for(session, p, deal.pipeline_id, stage_id, errors)
    reason = _reason_for(stage, lost_reason, errors, deal) if stage is not None else None
    if errors:
        raise ValidationFailed(errors)
    before = deal.stage_id
    _enter_stage(deal, stage, reason)
    session.flush()
    _audit(session, p, action, deal, from_stage_id=before, to_stage_id=deal.stage_id, pipeline_id=deal.pipeline_id,
           status=deal.status)
    return deal


def win_deal(session: Session, p: Principal, deal: Deal) -> Deal:
    """Mark a deal won: it goes to its pipeline's won stage."""
    if deal.status == "won":
        raise Conflict(Msg("This deal is already won."))
    return move_deal(session, p, deal, first_stage(get_pipeline(session, p, deal.pipeline_id), "won").id,
                     action="crm.deal_won")


def lose_deal(session: Session, p: Principal, deal: Deal, reason: object) -> Deal:
    """Mark a deal lost with the reason: it goes to its pipeline's lost stage."""
    if deal.status == "lost":
        raise Conflict(Msg("This deal is already lost."))
    return move_deal(session, p, deal, first_stage(get_pipeline(session, p, deal.pipeline_id), "lost").id,
                     lost_reason=reason, action="crm.deal_lost")


def reopen_deal(session: Session, p: Principal, deal: Deal, stage_id: object = None) -> Deal:
    """Open a won or lost deal again, in the given open stage or the pipeline's first one."""
    if deal.status == "open":
        raise Conflict(Msg("This deal is already open."))
    pipeline = get_pipeline(session, p, deal.pipeline_id)
    target = stage_id if stage_id is not None else first_stage(pipeline).id
    stage = session.get(Stage, (p.tenant_id, target)) if isinstance(target, uuid.UUID) else None
    if stage is not None and stage.pipeline_id == deal.pipeline_id and stage.kind != "open":
        raise ValidationFailed({"stage_id": Msg("Choose an open stage to reopen the deal in.")})
    return move_deal(session, p, deal, target, action="crm.deal_reopened")


def delete_deal(session: Session, p: Principal, deal: Deal) -> None:
    """Remove a deal and its lines."""
    _audit(session, p, "crm.deal_deleted", deal, pipeline_id=deal.pipeline_id)
    session.delete(deal)
    session.flush()


def get_line(deal: Deal, line_id: uuid.UUID) -> DealLine:
    """One product line of a deal."""
    for line in deal.lines:
        if line.id == line_id:
            return line
    raise NotFound(Msg("No such product line."))


def add_line(session: Session, p: Principal, deal: Deal, product_name: object, quantity: object,
             unit_price: object) -> DealLine:
    """Add a product line; the deal's value becomes the sum of its lines."""
    errors: dict[str, str] = {}
    name, quantity, price = _clean_line(product_name, quantity, unit_price, errors)
    if len(deal.lines) >= MAX_LINES:
        errors["product_name"] = Msg("A deal has at most {max} product lines.", max=MAX_LINES)
    if errors:
        raise ValidationFailed(errors)
    line = DealLine(tenant_id=p.tenant_id, product_name=name, quantity=quantity, unit_price=price,
                    position=max((ln.position for ln in deal.lines), default=-1) + 1)
    deal.lines.append(line)
    _set_value_from_lines(deal, errors)
    if errors:
        deal.lines.remove(line)
        raise ValidationFailed({"unit_price": errors["value"]})
    session.flush()
    _audit(session, p, "crm.deal_line_added", deal, line_id=line.id, value=deal.value)
    return line


def update_line(session: Session, p: Principal, deal: Deal, line: DealLine, changes: dict[str, Any]) -> DealLine:
    """Change a line's product, quantity or unit price; the deal's value follows."""
    errors: dict[str, str] = {}
    name, quantity, price = _clean_line(changes.get("product_name", line.product_name),
                                        changes.get("quantity", line.quantity),
                                        changes.get("unit_price", line.unit_price), errors)
    if errors:
        raise ValidationFailed(errors)
    old = (line.product_name, line.quantity, line.unit_price)
    line.product_name, line.quantity, line.unit_price = name, quantity, price
    _set_value_from_lines(deal, errors)
    if errors:
        line.product_name, line.quantity, line.unit_price = old
        raise ValidationFailed({"unit_price": errors["value"]})
    session.flush()
    _audit(session, p, "crm.deal_line_updated", deal, line_id=line.id, value=deal.value)
    return line


def delete_line(session: Session, p: Principal, deal: Deal, line: DealLine) -> None:
    """Remove a line; the deal's value becomes the sum of the remaining lines (0 when none remain)."""
    deal.lines.remove(line)
    _set_value_from_lines(deal, {})
    session.flush()
    _audit(session, p, "crm.deal_line_deleted", deal, line_id=line.id, value=deal.value)
