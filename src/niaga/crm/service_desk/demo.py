"""Demo records for CRM service_desk (added by the service_desk work)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.identity.principal import Principal


def seed(session: Session, settings: Settings, owner: Principal) -> None:
    """Add demo service_desk records to the demo business."""
