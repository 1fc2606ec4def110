"""Server-rendered pages: every domain's page router, the language switch, CSRF on every form."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse

from niaga.crm.pages import router as crm_pages
from niaga.identity.console import router as console_router
from niaga.identity.pages import router as identity_pages, safe_next
from niaga.inbox.broadcast_pages import router as inbox_broadcast_pages
from niaga.inbox.channel_pages import router as inbox_channel_pages
from niaga.inbox.pages import router as inbox_pages
from niaga.privacy.pages import router as privacy_pages
from niaga.privacy.requests.public_pages import router as privacy_center_pages
from niaga.privacy.requests.staff_pages import router as privacy_request_pages
from niaga.privacy.rights.pages import router as privacy_rights_pages
from niaga.web.deps import LANG_COOKIE, PUBLIC, TransactionalRoute, check_csrf
from niaga.web.i18n import LOCALES

page_router = APIRouter(route_class=TransactionalRoute, dependencies=[Depends(check_csrf)], include_in_schema=False)
page_router.include_router(identity_pages)
page_router.include_router(console_router)
page_router.include_router(crm_pages)
page_router.include_router(inbox_broadcast_pages)
page_router.include_router(inbox_channel_pages)
page_router.include_router(inbox_pages)
page_router.include_router(privacy_pages)
page_router.include_router(privacy_center_pages)
page_router.include_router(privacy_request_pages)
page_router.include_router(privacy_rights_pages)


@page_router.get("/lang/{code}", dependencies=[Depends(PUBLIC)])
def switch_language(code: str, next: str | None = None) -> RedirectResponse:  # noqa: A002
    """Remember the chosen UI language and go back."""
    response = RedirectResponse(safe_next(next or "/"), status_code=303)
    if code in LOCALES:
        response.set_cookie(LANG_COOKIE, code, samesite="lax", path="/", max_age=365 * 24 * 3600)
    return response
