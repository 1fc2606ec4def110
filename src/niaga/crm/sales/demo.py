"""Demo records for CRM sales (added by the sales work)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.identity.principal import Principal


def seed(session: Session, settings: Settings, owner: Principal) -> None:
    """Add demo sales records to the demo business."""
