"""The public download of an access package: the link a person received, checked, counted and audited.

The path holds the token, so it must never reach a log: the request log writes the route template
(`/privacy-center/{tenant_slug}/download/{token}`), never the raw path, and uvicorn's access log is
off (`niaga.kit.logging`). Responses are not cached and send no referrer.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from niaga.privacy import files
from niaga.privacy.rights.package import open_download
from niaga.web.deps import PUBLIC, TransactionalRoute, db, request_client_ref
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


@router.get("/privacy-center/{tenant_slug}/download/{token}", dependencies=[Depends(PUBLIC)])
def download_package(tenant_slug: str, token: str, request: Request, session: Session = Depends(db)) -> Response:
    """Serve a person's access package once the link checks out; a clear 404 or 410 page otherwise."""
    store = files.FileStore.from_settings(request.app.state.settings)
    outcome = open_download(session, tenant_slug, token, client_ref=request_client_ref(request, session),
                            store=store)
    if outcome.status != 200:
        # A page, not an exception: the refusal's audit event commits with the request.
        response = render(request, "access_report/link_error.html", {"reason": outcome.reason},
                          status_code=outcome.status)
        response.headers.update(NO_STORE)
        return response
    return Response(outcome.data, media_type="application/zip", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="{outcome.filename}"'})
