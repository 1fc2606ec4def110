"""One timeline per customer. Domains register a source; the CRM needs no change to show a new kind."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from niaga.identity.principal import Principal


@dataclass(frozen=True)
class TimelineItem:
    """One entry on a contact's timeline."""

    at: datetime
    kind: str  # e.g. "deal", "ticket", "note", "message", "sale", "invoice"
    title: str  # English msgid or a Msg; pages translate it
    detail: Any = None  # personal values allowed: shown only on the contact's page
    link: str | None = None
    source: str = ""


TimelineSource = Callable[[Session, Principal, Any, int], Iterable[TimelineItem]]
SOURCES: dict[str, TimelineSource] = {}


def register_source(name: str, source: TimelineSource) -> None:
    """Add a source: fn(session, principal, contact, limit) yielding the contact's items of that kind."""
    SOURCES[name] = source


def timeline(session: Session, principal: Principal, contact: Any, limit: int = 100) -> list[TimelineItem]:
    """Every source's items for a contact, newest first."""
    items: list[TimelineItem] = []
    for name, source in SOURCES.items():
        items.extend(TimelineItem(i.at, i.kind, i.title, i.detail, i.link, name) for i in source(session, principal,
                                                                                                   contact, limit))
    items.sort(key=lambda i: i.at, reverse=True)
    return items[:limit]
