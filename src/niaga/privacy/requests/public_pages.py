"""The public privacy center of a business: no sign-in, one page per business slug (UU PDP Pasal 5-13).

    GET/POST /privacy-center/{slug}                          choose the request, give the email or phone on file
    GET      /privacy-center/{slug}/requests/{token}         the private status page (asks for the code first)
    POST     /privacy-center/{slug}/requests/{token}/verify  the 6-digit code
    POST     /privacy-center/{slug}/requests/{token}/resend  a new code

The answers are the same whether or not the address belongs to anyone (service.py). Messages are sent
after the response has left (a background task), so how long a page takes does not depend on whether a
message went out. Refusals are rendered (not raised) so that the used attempt and its audit are committed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session, object_session
from starlette.background import BackgroundTask

from niaga.db.base import utcnow
from niaga.identity.models import Tenant
from niaga.kit.errors import DomainError, TooManyRequests, ValidationFailed
from niaga.privacy.audit import Actor
from niaga.privacy.requests import notices, otp, service
from niaga.privacy.requests.models import PrivacyRequest, RequestKind
from niaga.privacy.requests.notices import Mailer
from niaga.web.deps import PUBLIC, TransactionalRoute, db, request_client_ref
from niaga.web.forms import form_data
from niaga.web.templating import render, request_locale

router = APIRouter(route_class=TransactionalRoute)


def status_path(tenant: Tenant, token: str) -> str:
    """The private status page of a request."""
    return f"/privacy-center/{tenant.slug}/requests/{token}"


def mailer(request: Request) -> Mailer:
    """The app's mailer (tests replace `app.state.privacy_mailer` to reach their local SMTP server)."""
    custom = getattr(request.app.state, "privacy_mailer", None)
    return custom or Mailer.from_settings(request.app.state.settings)


def _context(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    return {"tenant": tenant, "kinds": [(k.value, notices.KIND_LABELS[k.value]) for k in RequestKind],
            "kind_labels": notices.KIND_LABELS, "status_labels": notices.STATUS_LABELS,
            "ground_labels": notices.GROUND_LABELS, "authority": notices.AUTHORITY,
            "whatsapp": otp.whatsapp_available(object_session(tenant), tenant.id), **extra}


def _unknown_business(request: Request) -> Response:
    return render(request, "privacy_center/unknown.html", {"tenant": None, "reason": "business"}, status_code=404)


def _unknown_link(request: Request, session: Session, tenant: Tenant) -> Response:
    """A token this business does not know (mistyped, or another business's): said plainly, and audited."""
    from niaga.privacy import audit

    audit.record(session, tenant.id, "privacy_request.unknown_link", Actor("anonymous", None,
                 request_client_ref(request, session)), outcome="denied", target_type="privacy_request")
    return render(request, "privacy_center/unknown.html", {"tenant": tenant, "reason": "link"}, status_code=404)


def _after(response: Response, send: Any) -> Response:
    if send is not None:
        response.background = BackgroundTask(service.run_after_response, send)
    return response


@router.get("/privacy-center/{tenant_slug}", dependencies=[Depends(PUBLIC)])
def center(tenant_slug: str, request: Request, session: Session = Depends(db)) -> Response:
    """The privacy center's front page: what you can ask for, and the form."""
    tenant = service.tenant_by_slug(session, tenant_slug)
    if tenant is None:
        return _unknown_business(request)
    return render(request, "privacy_center/form.html", _context(tenant, values={"kind": "access"}, errors={}))


@router.post("/privacy-center/{tenant_slug}", dependencies=[Depends(PUBLIC)])
def submit(tenant_slug: str, request: Request, form: dict = Depends(form_data),
           session: Session = Depends(db)) -> Response:
    """Record the request and (for someone on file) send the code; then the code page, the same for all."""
    tenant = service.tenant_by_slug(session, tenant_slug)
    if tenant is None:
        return _unknown_business(request)
    ref = request_client_ref(request, session)
    values = {"kind": form.get("kind", ""), "address": form.get("address", "")[:254],
              "details": form.get("details", "")[:service.MAX_DETAILS + 1]}
    try:
        with session.begin_nested():
            submission = service.submit(session, tenant, kind=values["kind"], address=values["address"],
                                        details=values["details"], language=request_locale(request), client=ref,
                                        mailer=mailer(request))
    except ValidationFailed as exc:
        return render(request, "privacy_center/form.html", _context(tenant, values=values, errors=exc.errors),
                      status_code=422)
    except TooManyRequests as exc:
        from niaga.privacy import audit

        audit.record(session, tenant.id, "privacy_request.rate_limited", Actor("anonymous", None, ref),
                     outcome="denied", target_type="privacy_request", details={"step": "submit"})
        response = render(request, "privacy_center/form.html",
                          _context(tenant, values=values, errors={"form": exc.message}), status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after or 60)
        return response
    response = RedirectResponse(status_path(tenant, submission.token), status_code=303)
    return _after(response, submission.delivery.send)


def _status_page(request: Request, tenant: Tenant, req: PrivacyRequest, token: str, *, error: Any = None,
                 notice: Any = None, status_code: int = 200) -> Response:
    from niaga.privacy.requests.staff import clock

    link = req.download_link if isinstance(req.download_link, str) else None
    return render(request, "privacy_center/request.html", _context(
        tenant, req=req, token=token, action=status_path(tenant, token), error=error, notice=notice,
        clock=clock(req, utcnow()), download_link=link, attempts_left=req.attempts_left,
        can_resend=req.codes_sent < otp.MAX_CODES), status_code=status_code)


def _find(request: Request, session: Session, tenant_slug: str, token: str) -> tuple[Tenant, PrivacyRequest] | Response:
    """The business and its request behind a private link, or the page saying which one is unknown."""
    tenant = service.tenant_by_slug(session, tenant_slug)
    if tenant is None:
        return _unknown_business(request)
    req = service.by_token(session, tenant.id, token)
    if req is None:
        return _unknown_link(request, session, tenant)
    return tenant, req


@router.get("/privacy-center/{tenant_slug}/requests/{token}", dependencies=[Depends(PUBLIC)])
def status(tenant_slug: str, token: str, request: Request, session: Session = Depends(db)) -> Response:
    """The private status page: the code form while unverified, then where the request stands."""
    found = _find(request, session, tenant_slug, token)
    if isinstance(found, Response):
        return found
    tenant, req = found
    service.expire_if_stale(session, req)
    return _status_page(request, tenant, req, token)


def _code_step(tenant_slug: str, token: str, request: Request, session: Session, step: str,
               form: dict) -> Response:
    found = _find(request, session, tenant_slug, token)
    if isinstance(found, Response):
        return found
    tenant, req = found
    ref = request_client_ref(request, session)
    try:
        with session.begin_nested():
            if step == "verify":
                outcome = service.verify(session, tenant, req, form.get("code", "")[:20], client=ref,
                                         mailer=mailer(request),
                                         status_link=mailer(request).link(status_path(tenant, token)))
            else:
                outcome = service.resend(session, tenant, req, client=ref, mailer=mailer(request))
    except TooManyRequests as exc:
        service.audit_request(session, req, "rate_limited", Actor("anonymous", None, ref), outcome="denied",
                              step=step)
        response = _status_page(request, tenant, req, token, error=exc.message, status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after or 60)
        return response
    except DomainError as exc:
        return _status_page(request, tenant, req, token, error=exc.message, status_code=exc.status)
    if outcome.error is not None:
        return _status_page(request, tenant, req, token, error=outcome.error, status_code=422)
    if step == "verify":
        return _after(RedirectResponse(status_path(tenant, token) + "?verified=1", status_code=303), outcome.send)
    return _after(_status_page(request, tenant, req, token, notice=outcome.notice), outcome.send)


@router.post("/privacy-center/{tenant_slug}/requests/{token}/verify", dependencies=[Depends(PUBLIC)])
def verify(tenant_slug: str, token: str, request: Request, form: dict = Depends(form_data),
           session: Session = Depends(db)) -> Response:
    """Check the code; a right code starts the 72-hour clock."""
    return _code_step(tenant_slug, token, request, session, "verify", form)


@router.post("/privacy-center/{tenant_slug}/requests/{token}/resend", dependencies=[Depends(PUBLIC)])
def resend(tenant_slug: str, token: str, request: Request, form: dict = Depends(form_data),
           session: Session = Depends(db)) -> Response:
    """Send a new code (within the limits)."""
    return _code_step(tenant_slug, token, request, session, "resend", form)
