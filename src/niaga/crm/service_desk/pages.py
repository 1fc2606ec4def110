"""Staff pages for CRM service_desk (routes are added by the service_desk work)."""

from __future__ import annotations

from fastapi import APIRouter

from niaga.web.deps import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute)
