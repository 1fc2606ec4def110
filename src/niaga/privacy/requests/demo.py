"""Demo privacy requests for 'Toko Maju Jaya': one logged from WhatsApp, one overdue, so the queue shows both."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.crm.models import ContactEmail
from niaga.identity.principal import Principal
from niaga.kit.mail import SmtpServer
from niaga.privacy.requests import staff
from niaga.privacy.requests.notices import Mailer


def seed(session: Session, settings: Settings, owner: Principal) -> None:
    """Log two requests of demo customers who have an email (their notices go to the local outbox)."""
    contact_ids = list(session.scalars(
        select(ContactEmail.contact_id).where(ContactEmail.tenant_id == owner.tenant_id)
        .order_by(ContactEmail.contact_id).limit(2)))
    if len(contact_ids) < 2:
        return
    # Demo notices never leave the machine, whatever mail server is configured.
    mailer = Mailer(SmtpServer(host="", outbox_dir=settings.data_dir / "outbox"), settings.mail_from,
                    settings.base_url.rstrip("/"))
    staff.log_request(session, owner, contact_id=contact_ids[0], kind="withdraw_consent", channel="whatsapp",
                      details="Minta berhenti dikirimi promo lewat WhatsApp.", identity_verified=True, language="id",
                      mailer=mailer)
    late = staff.log_request(session, owner, contact_id=contact_ids[1], kind="access", channel="letter",
                             details="Surat permintaan salinan data pribadi.", identity_verified=True, language="id",
                             mailer=mailer).request
    # Received four days ago and still open: the queue marks it overdue.
    shift = timedelta(days=4)
    late.received_at -= shift
    late.verified_at -= shift
    late.due_at -= shift
    for event in staff.trail(session, late):
        event.at -= shift
    session.flush()
