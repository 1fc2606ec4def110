"""JSON API for CRM service_desk (routes are added by the service_desk work)."""

from __future__ import annotations

from fastapi import APIRouter

from niaga.web.deps import TransactionalRoute

router = APIRouter(tags=["crm"], route_class=TransactionalRoute)
