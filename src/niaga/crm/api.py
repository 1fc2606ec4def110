"""The CRM's JSON routes under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from niaga.crm.contacts.api import router as contacts
from niaga.crm.sales.api import router as sales
from niaga.crm.service_desk.api import router as service_desk
from niaga.web.deps import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute)
router.include_router(contacts)
router.include_router(sales)
router.include_router(service_desk)
