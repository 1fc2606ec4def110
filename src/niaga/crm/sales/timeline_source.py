"""The contact's deals on their timeline (crm/timeline.py): one entry per deal, at its close or creation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.sales.models import Deal, Stage
from niaga.crm.timeline import TimelineItem, register_source
from niaga.crm.visibility import visible
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.messages import Msg
from niaga.kit.money import format_rupiah
from niaga.web.i18n import N_

# English msgids; the stage name and value are business data, never personal.
TITLES = {
    "open": N_("Deal in {stage}: {value}"),
    "won": N_("Deal won: {value}"),
    "lost": N_("Deal lost: {value}"),
}


def deal_items(session: Session, p: Principal, contact: Any, limit: int) -> Iterator[TimelineItem]:
    """The contact's deals that the principal may see (none without the deals permission)."""
    if not p.can(Perm.DEALS_READ):
        return
    rows = session.execute(
        select(Deal, Stage.name)
        .join(Stage, (Stage.tenant_id == Deal.tenant_id) & (Stage.id == Deal.stage_id))
        .where(visible(p, Deal), Deal.contact_id == contact.id)
        .order_by(Deal.id.desc()).limit(limit)
    ).all()
    for deal, stage_name in rows:
        # The detail is the deal's title, a personal value (or the erased marker): render it with pv().
        yield TimelineItem(
            at=deal.closed_at or deal.created_at,
            kind="deal",
            title=Msg(TITLES[deal.status], stage=stage_name, value=format_rupiah(deal.value)),
            detail=deal.title,
            link=f"/deals/{deal.id}",
        )


def register() -> None:
    """Add the deals source to the contact timeline (idempotent)."""
    register_source("deals", deal_items)
