"""Emails to the person behind a request, in their language: the code, receipt, outcome, deletion notice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from niaga.config import Settings
from niaga.identity.accounts import TIMEZONES
from niaga.identity.models import Tenant
from niaga.kit.mail import SmtpServer, compose, platform_smtp, send_email
from niaga.kit.messages import Msg
from niaga.web.i18n import N_, gettext_for

KIND_LABELS = {
    "access": N_("See my data (access)"),
    "correction": N_("Correct my data"),
    "deletion": N_("Delete my data"),
    "withdraw_consent": N_("Withdraw my consent"),
    "restrict": N_("Restrict the processing of my data"),
    "portable_copy": N_("A copy of my data to take elsewhere"),
    "object_automated": N_("Object to automated decisions"),
    "guardian_removal": N_("Remove my child's data (parent or guardian)"),
}
STATUS_LABELS = {
    "awaiting_verification": N_("Waiting for the code"),
    "open": N_("Received, waiting to be handled"),
    "in_progress": N_("Being handled"),
    "completed": N_("Completed"),
    "denied": N_("Refused"),
    "expired": N_("Closed without verification"),
}
CHANNEL_LABELS = {
    "privacy_center": N_("Privacy center"),
    "email": N_("Email"),
    "whatsapp": N_("WhatsApp"),
    "letter": N_("Letter"),
    "phone": N_("Phone call"),
    "in_person": N_("In person"),
}
GROUND_LABELS = {
    "endangers_others": N_("Carrying it out would endanger the safety or health of another person (UU PDP Pasal 33)."),
    "others_data": N_("Carrying it out would disclose another person's personal data (UU PDP Pasal 33)."),
    "national_security": N_("It would harm national defence and security interests (UU PDP Pasal 33)."),
    "law_enforcement": N_("The data is part of an ongoing law-enforcement process (UU PDP Pasal 33)."),
    "identity_unverified": N_("We could not verify that the request comes from the person concerned."),
    "manifestly_unfounded": N_("The request is manifestly unfounded or repeats a request already answered."),
}
EVENT_LABELS = {
    "received": N_("Request received"),
    "code_resent": N_("New code asked for"),
    "verified": N_("Identity confirmed with the code"),
    "logged": N_("Logged by staff, identity confirmed"),
    "expired": N_("Closed without verification"),
    "assigned": N_("Handler assigned"),
    "note": N_("Note"),
    "approved": N_("Approved"),
    "completed": N_("Carried out"),
    "denied": N_("Refused"),
    "notice_sent": N_("Person told by email"),
    "notice_failed": N_("Email to the person failed"),
}
AUTHORITY = N_("the personal data protection authority (Lembaga Pelindungan Data Pribadi)")
TIME_FORMATS = {"id": "d MMMM y HH.mm", "en": "d MMMM y HH:mm"}


@dataclass(frozen=True)
class Mailer:
    """How notices leave: the mail server, the sender, and the public address links point at."""

    server: SmtpServer
    sender: str
    base_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "Mailer":
        """The platform's mail server and sender."""
        return cls(platform_smtp(settings), settings.mail_from, settings.base_url.rstrip("/"))

    def link(self, path: str) -> str:
        """An absolute link to a path of this server."""
        return self.base_url + path

    def prepare(self, tenant: Tenant, to: str, subject: str, text: str) -> Callable[[], None]:
        """A plain-text notice in the business's name, composed now and sent when called (raises MailError).

        Composed eagerly so the send can run after the transaction closed (no database access left)."""
        sender = self.sender
        name, _, address = sender.rpartition("<")
        if address:  # "niaga <no-reply@…>" becomes "Toko Maju via niaga <no-reply@…>"
            sender = f"{tenant.name.replace('<', '').replace('>', '')} via {name.strip() or 'niaga'} <{address}"
        message = compose(sender=sender, to=to, subject=subject, text=text,
                          reply_to=tenant.privacy_contact_email or None)
        server = self.server
        return lambda: send_email(server, message)

    def send(self, tenant: Tenant, to: str, subject: str, text: str) -> None:
        """Send a notice now; raises MailError."""
        self.prepare(tenant, to, subject, text)()


def local_time(value: datetime, tenant: Tenant, language: str) -> str:
    """A UTC time in the business's zone, e.g. '25 November 2026 10.05 WIB'."""
    zone = tenant.timezone if tenant.timezone in TIMEZONES else "Asia/Jakarta"
    text = format_datetime(value, TIME_FORMATS.get(language, TIME_FORMATS["id"]), tzinfo=ZoneInfo(zone),
                           locale=language)
    return f"{text} {TIMEZONES[zone]}"


def _footer(_, tenant: Tenant) -> str:  # noqa: ANN001
    contact = tenant.privacy_contact_email
    lines = ["", "--", tenant.name]
    if contact:
        lines.append(Msg("Questions about your data: {email}", email=contact).translate(_))
    return "\n".join(lines)


def code_email(tenant: Tenant, code: str, language: str) -> tuple[str, str]:
    """(subject, text) of the verification code message."""
    _ = gettext_for(language)
    subject = Msg("Your verification code for {business}", business=tenant.name).translate(_)
    text = "\n\n".join([
        Msg("Your code is {code}", code=code).translate(_),
        _("Enter it on the privacy center page within 10 minutes. Never share this code; staff will never ask "
          "for it."),
        Msg("If you did not ask {business} about your personal data, ignore this message.",
            business=tenant.name).translate(_),
    ]) + "\n" + _footer(_, tenant)
    return subject, text


def received_email(tenant: Tenant, kind: str, due_at: datetime, status_link: str, language: str) -> tuple[str, str]:
    """(subject, text) confirming a verified request, with its deadline and private status link."""
    _ = gettext_for(language)
    subject = Msg("We received your request to {business}", business=tenant.name).translate(_)
    text = "\n\n".join([
        Msg("Your request: {kind}", kind=_(KIND_LABELS[kind])).translate(_),
        Msg("We will answer by {due} at the latest.", due=local_time(due_at, tenant, language)).translate(_),
        _("Follow your request here (keep this link private):") + "\n" + status_link,
    ]) + "\n" + _footer(_, tenant)
    return subject, text


def completed_email(tenant: Tenant, kind: str, language: str, download_link: str | None = None,
                    link_hours: int | None = None) -> tuple[str, str]:
    """(subject, text) telling the person their request was carried out."""
    _ = gettext_for(language)
    subject = Msg("Your request to {business} is completed", business=tenant.name).translate(_)
    parts = [Msg("We have carried out your request: {kind}", kind=_(KIND_LABELS[kind])).translate(_)]
    if download_link:
        parts.append(_("Download your data here (keep this link private):") + "\n" + download_link)
        if link_hours:
            parts.append(Msg("The link works for {hours} hours.", hours=link_hours).translate(_))
    text = "\n\n".join(parts) + "\n" + _footer(_, tenant)
    return subject, text


def denied_email(tenant: Tenant, kind: str, ground: str, language: str) -> tuple[str, str]:
    """(subject, text) explaining a refusal, its ground, and where to complain (policies R7)."""
    _ = gettext_for(language)
    subject = Msg("About your request to {business}", business=tenant.name).translate(_)
    text = "\n\n".join([
        Msg("We cannot carry out your request: {kind}", kind=_(KIND_LABELS[kind])).translate(_),
        _("Reason:") + " " + _(GROUND_LABELS[ground]),
        Msg("If you disagree, reply to this message or complain to {authority}.", authority=_(AUTHORITY)).translate(_),
    ]) + "\n" + _footer(_, tenant)
    return subject, text


def deletion_email(tenant: Tenant, language: str) -> tuple[str, str]:
    """(subject, text) sent just before a person's data is deleted: the last message they get from us."""
    _ = gettext_for(language)
    subject = Msg("{business} is deleting your personal data", business=tenant.name).translate(_)
    text = "\n\n".join([
        Msg("As you asked, {business} is now deleting the personal data it holds about you.",
            business=tenant.name).translate(_),
        _("Records the law requires us to keep (such as tax invoices) stay without your name. After this we can "
          "no longer reach you, so this is our last message about your request."),
    ]) + "\n" + _footer(_, tenant)
    return subject, text
