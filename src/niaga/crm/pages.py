"""The CRM's staff pages."""

from __future__ import annotations

from fastapi import APIRouter

from niaga.crm.contacts.pages import router as contacts
from niaga.crm.sales.pages import router as sales
from niaga.crm.service_desk.pages import router as service_desk
from niaga.web.deps import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute)
router.include_router(contacts)
router.include_router(sales)
router.include_router(service_desk)
