"""The JSON API under /api/v1: every domain's router, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from niaga.crm.api import router as crm_router
from niaga.identity.api import router as identity_router
from niaga.inbox.channel_api import router as inbox_channels_router
from niaga.inbox.broadcast_api import router as inbox_broadcasts_router
from niaga.privacy.requests.api import router as privacy_requests_router
from niaga.inbox.api import router as inbox_router
from niaga.web.deps import TransactionalRoute

api_router = APIRouter(prefix="/api/v1", route_class=TransactionalRoute)
api_router.include_router(identity_router)
api_router.include_router(crm_router)
api_router.include_router(inbox_broadcasts_router)
api_router.include_router(privacy_requests_router)
api_router.include_router(inbox_router)
api_router.include_router(inbox_channels_router)
