"""Canned responses: saved replies an agent inserts by typing `/shortcut`.

With JavaScript the reply box offers a picker as soon as "/" is typed; without it, a reply that is exactly
"/shortcut" is expanded by the server before it is queued (`expand`). A shortcut is one lowercase word
(letters, digits, "-" and "_") so it can never be mistaken for a sentence.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.identity.principal import Principal
from niaga.inbox.agent_models import (
    MAX_CANNED_BODY,
    MAX_CANNED_TITLE,
    MAX_SHORTCUT,
    CannedResponse,
)
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit

SHORTCUT = re.compile(rf"^[a-z0-9][a-z0-9_-]{{0,{MAX_SHORTCUT - 1}}}$")
SHORTCUT_MESSAGE = Msg("A shortcut is one word of lowercase letters, digits, '-' or '_' (at most {n}).",
                       n=MAX_SHORTCUT)
TAKEN = Msg("Another saved reply already uses this shortcut.")


def list_canned(session: Session, tenant_id: uuid.UUID) -> list[CannedResponse]:
    """The business's saved replies, by shortcut."""
    return list(session.scalars(select(CannedResponse).where(CannedResponse.tenant_id == tenant_id)
                                .order_by(CannedResponse.shortcut)))


def get_canned(session: Session, tenant_id: uuid.UUID, canned_id: uuid.UUID) -> CannedResponse:
    """One saved reply of the business; 404 otherwise."""
    row = session.get(CannedResponse, (tenant_id, canned_id))
    if row is None:
        raise NotFound(Msg("No such saved reply."))
    return row


def _clean(data: dict[str, Any]) -> tuple[str, str, str]:
    errors: dict[str, str] = {}
    shortcut = str(data.get("shortcut") or "").strip().lstrip("/").lower()
    title = " ".join(str(data.get("title") or "").split())
    body = str(data.get("body") or "").strip()
    if not SHORTCUT.match(shortcut):
        errors["shortcut"] = SHORTCUT_MESSAGE
    if len(title) > MAX_CANNED_TITLE:
        errors["title"] = Msg("Use at most {n} characters.", n=MAX_CANNED_TITLE)
    if not body:
        errors["body"] = Msg("Write the reply's text.")
    elif len(body) > MAX_CANNED_BODY:
        errors["body"] = Msg("A message has at most {n} characters.", n=MAX_CANNED_BODY)
    if errors:
        raise ValidationFailed(errors)
    return shortcut, title, body


def _flush_unique(session: Session) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValidationFailed({"shortcut": TAKEN}) from None


def create_canned(session: Session, principal: Principal, data: dict[str, Any]) -> CannedResponse:
    """Save a reply under a new shortcut."""
    shortcut, title, body = _clean(data)
    if find_shortcut(session, principal.tenant_id, shortcut) is not None:
        raise ValidationFailed({"shortcut": TAKEN})
    row = CannedResponse(tenant_id=principal.tenant_id, shortcut=shortcut, title=title, body=body,
                         created_by=principal.user_id)
    session.add(row)
    _flush_unique(session)
    audit.record(session, principal.tenant_id, "inbox.canned_created", principal.actor, target_type="canned_response",
                 target_id=row.id, details={"shortcut": shortcut})
    return row


def update_canned(session: Session, principal: Principal, row: CannedResponse, data: dict[str, Any]
                  ) -> CannedResponse:
    """Change a saved reply (every field is given again)."""
    shortcut, title, body = _clean(data)
    other = find_shortcut(session, principal.tenant_id, shortcut)
    if other is not None and other.id != row.id:
        raise ValidationFailed({"shortcut": TAKEN})
    row.shortcut, row.title, row.body = shortcut, title, body
    _flush_unique(session)
    audit.record(session, principal.tenant_id, "inbox.canned_changed", principal.actor, target_type="canned_response",
                 target_id=row.id, details={"shortcut": shortcut})
    return row


def delete_canned(session: Session, principal: Principal, row: CannedResponse) -> None:
    """Remove a saved reply."""
    session.delete(row)
    session.flush()
    audit.record(session, principal.tenant_id, "inbox.canned_deleted", principal.actor, target_type="canned_response",
                 target_id=row.id, details={"shortcut": row.shortcut})


def find_shortcut(session: Session, tenant_id: uuid.UUID, shortcut: str) -> CannedResponse | None:
    """The saved reply with this shortcut, if any."""
    return session.scalar(select(CannedResponse).where(CannedResponse.tenant_id == tenant_id,
                                                       CannedResponse.shortcut == shortcut.lower()))


def expand(session: Session, tenant_id: uuid.UUID, text: str | None) -> str | None:
    """A reply that is exactly '/shortcut' becomes the saved text; an unknown shortcut is refused.

    Anything else (a sentence that merely starts with '/', a URL path) is returned unchanged.
    """
    stripped = (text or "").strip()
    if not stripped.startswith("/") or " " in stripped or "\n" in stripped:
        return text
    word = stripped[1:].lower()
    if not SHORTCUT.match(word):
        return text
    found = find_shortcut(session, tenant_id, word)
    if found is None:
        raise ValidationFailed({"body": Msg("No saved reply has the shortcut /{shortcut}.", shortcut=word)})
    return found.body

