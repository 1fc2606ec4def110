"""Tenant A's privacy requests for the route matrix (tests/test_route_matrix.py), and the forms and bodies that
would change them if authorization or tenancy failed."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.kit.mail import SmtpServer
from niaga.privacy.requests import staff
from niaga.privacy.requests.models import PrivacyRequest
from niaga.privacy.requests.notices import Mailer
from tests.privacy.requests.conftest import add_contact

SECRET_NAME = "Pemohon Rahasia Sinar"
API_BODIES = {
    ("POST", "/api/v1/privacy/requests"): {"contact_id": "00000000-0000-7000-8000-000000000001", "kind": "access",
                                           "channel": "email", "identity_verified": True},
    ("POST", "/api/v1/privacy/requests/{request_id}/assign"): {"handler_id": "00000000-0000-7000-8000-000000000001"},
    ("POST", "/api/v1/privacy/requests/{request_id}/decision"): {"decision": "deny", "ground": "others_data"},
}
PAGE_FORMS = {
    "/privacy/requests/new": {"customer": "orang.lain@luar.example", "kind": "restrict", "channel": "letter",
                              "identity_verified": "on"},
    "/privacy/requests/{request_id}/deny": {"ground": "others_data"},
    "/privacy/requests/{request_id}/notes": {"note": "Catatan penyusup"},
}


def records(session: Session, tenant, outbox) -> tuple[dict[str, str], list[str]]:  # noqa: ANN001
    """A verified request of tenant A; returns (path parameters, texts that must not leak)."""
    contact = add_contact(session, tenant, SECRET_NAME, email="pemohon@sinarabadi.example", phone="081255507777")
    mailer = Mailer(SmtpServer(host="", outbox_dir=outbox), "niaga <no-reply@niaga.example>", "http://testserver")
    logged = staff.log_request(session, tenant.principal(), contact_id=contact.id, kind="restrict", channel="letter",
                               details="Rincian rahasia Sinar", identity_verified=True, language="id", mailer=mailer)
    session.commit()
    return ({"request_id": str(logged.request.id), "tenant_slug": tenant.tenant.slug},
            [SECRET_NAME, "pemohon@sinarabadi.example", "Rincian rahasia Sinar"])


def fingerprint(session: Session, tenant_id: uuid.UUID) -> tuple:
    """What tenant A's requests look like."""
    rows = session.scalars(select(PrivacyRequest).where(PrivacyRequest.tenant_id == tenant_id)
                           .order_by(PrivacyRequest.number))
    count = session.scalar(select(func.count()).select_from(PrivacyRequest)
                           .where(PrivacyRequest.tenant_id == tenant_id))
    return count, [(r.status, r.handler_id, r.decision_ground) for r in rows]
