"""JSON API for CRM contacts (routes are added by the contacts work)."""

from __future__ import annotations

from fastapi import APIRouter

from niaga.web.deps import TransactionalRoute

router = APIRouter(tags=["crm"], route_class=TransactionalRoute)
