"""JSON API for CRM sales (routes are added by the sales work)."""

from __future__ import annotations

from fastapi import APIRouter

from niaga.web.deps import TransactionalRoute

router = APIRouter(tags=["crm"], route_class=TransactionalRoute)
