"""Staff pages for CRM sales (routes are added by the sales work)."""

from __future__ import annotations

from fastapi import APIRouter

from niaga.web.deps import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute)
