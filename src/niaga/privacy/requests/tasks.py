"""Worker sweep for data-subject requests: close requests left unverified for a day.

An unknown person's request is sealed under a throw-away requester key; closing it erases that key, so
what a stranger typed does not outlive the day even when nobody opens the link again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.db.base import utcnow
from niaga.privacy.requests import otp, service
from niaga.privacy.requests.models import PrivacyRequest, RequestStatus
from niaga.worker import register_sweeper

BATCH = 500


def expire_unverified(session: Session, now: datetime | None = None, limit: int = BATCH) -> int:
    """Close up to `limit` requests received more than a day ago and never verified; returns how many."""
    now = now or utcnow()
    stale = session.scalars(select(PrivacyRequest).where(
        PrivacyRequest.status == RequestStatus.AWAITING_VERIFICATION.value,
        PrivacyRequest.received_at < now - otp.UNVERIFIED_TTL).order_by(PrivacyRequest.received_at).limit(limit))
    closed = 0
    for request in stale:
        closed += service.expire_if_stale(session, request, now)
    return closed


@register_sweeper
def sweep_privacy_requests(db) -> None:  # noqa: ANN001
    """Every minute in the worker: close stale unverified requests."""
    with db.transaction() as session:
        expire_unverified(session)
