"""Email channels: a business mailbox read by IMAP polling (inbox/mailbox.py) and answered over SMTP.

A channel's `account_ref` is the mailbox address. Its config (not secret): `imap_host`, `imap_port`,
`imap_security` (ssl | starttls | none), `imap_folder` (INBOX), `smtp_host`, `smtp_port`, `smtp_security`
(ssl | starttls | none), `from_address` (default: the mailbox address), `from_name`; the poller keeps its state
there too (`imap_uidvalidity`, `imap_last_uid`, `last_polled_at`, `last_error`). Secrets: `imap_username`,
`imap_password`, `smtp_username`, `smtp_password`, or one sign-in for both as the settings page stores it (config
`username`, secret `password`).

Each mail is one stored event whose id is its Message-ID, so the same mail is stored once per mailbox however
often it is read (a mail without a Message-ID gets a digest of its bytes). Parsing picks the sender, the
subject, the text (plain preferred, HTML turned into text), the new text apart from the quoted history (the
whole text is kept in the message's content), and the attachments; the raw mail is the event's payload, so
an attachment is "fetched" by decoding its part (MediaRef.ref names the part by index).

Threading (RFC 5322): a mail whose In-Reply-To or References names a message of this channel we stored (an
earlier mail, or a reply we sent, whose Message-ID we set) joins that message's conversation; otherwise the
thread's root id (first References entry, else In-Reply-To, else its own id) keys a new conversation.
A delivery report (bounce) for a mail we sent marks that message failed instead of starting a conversation.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import ssl
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import object_session

from niaga.crm.contacts.validation import clean_email
from niaga.inbox.adapters import (
    DeliveryEvent,
    InboundItem,
    InboundMessage,
    MalformedDelivery,
    MediaRef,
    OutboundRequest,
    PermanentFailure,
    SendResult,
    StatusUpdate,
    TemporaryFailure,
    Unsupported,
    register_adapter,
)
from niaga.inbox.models import Channel, Conversation, Message
from niaga.kit.mail import MailError, SmtpServer, send_email

log = logging.getLogger(__name__)

MAX_TEXT = 100_000  # characters of a mail's text kept (a pasted log or newsletter can be huge)
MAX_ATTACHMENTS = 20
MAX_REFERENCES = 30
SECURITIES = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"imap": {"ssl": 993, "starttls": 143, "none": 143}, "smtp": {"ssl": 465, "starttls": 587, "none": 25}}
_MSGID = re.compile(r"<[^<>\s]{1,246}>")
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|balas|bls)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_ADDRESS = re.compile(r"<?[^\s<>()\[\]:;,\"]+@[^\s<>()\[\]:;,\"]+>?")
_SIGNATURES = {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}


def credentials(config: Mapping[str, Any], secrets: Mapping[str, Any], service: str) -> tuple[str, str]:
    """(username, password) for 'imap' or 'smtp': the service's own secrets, else the channel's shared sign-in
    (config `username`, secret `password`, as the settings page stores them)."""
    username = secrets.get(f"{service}_username") or config.get("username") or ""
    password = secrets.get(f"{service}_password") or secrets.get("password") or ""
    return str(username), str(password)


def security_of(config: Mapping[str, Any], service: str) -> str:
    """The configured transport security of 'imap' or 'smtp' (ssl | starttls | none; 'tls' means ssl)."""
    value = str(config.get(f"{service}_security") or "ssl").lower()
    value = "ssl" if value == "tls" else value
    return value if value in SECURITIES else "ssl"


def port_of(config: Mapping[str, Any], service: str) -> int:
    """The configured port, or the usual one for the service and its security."""
    try:
        return int(config.get(f"{service}_port") or DEFAULT_PORTS[service][security_of(config, service)])
    except (TypeError, ValueError):
        return DEFAULT_PORTS[service][security_of(config, service)]


# -- ids ----------------------------------------------------------------------------------------------------
def _ids(value: object) -> list[str]:
    """The Message-IDs in a header value, in order, without repeats."""
    found: list[str] = []
    for item in _MSGID.findall(str(value or "")):
        if item not in found:
            found.append(item)
    return found


def _header(mail: EmailMessage, name: str) -> str:
    """A header's text ('' when missing or beyond repair)."""
    try:
        value = mail.get(name)
    except Exception:  # noqa: BLE001 - a header the parser chokes on is treated as absent
        return ""
    return str(value) if value is not None else ""


def message_id_of(raw: bytes) -> str:
    """A raw mail's id: its Message-ID, or a digest of its bytes when it has none (the event id too)."""
    try:
        headers = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        found = _ids(headers.get("Message-ID"))
    except Exception:  # noqa: BLE001 - garbage bytes still need a stable id
        found = []
    return found[0] if found else "sha256:" + hashlib.sha256(raw).hexdigest()


def _keep_root_and_latest(references: list[str]) -> list[str]:
    """A long References list cut as mail clients cut it: the thread's root and the latest ids."""
    if len(references) <= MAX_REFERENCES:
        return references
    return references[:1] + references[-(MAX_REFERENCES - 1):]


def thread_root(own_id: str, in_reply_to: str | None, references: list[str]) -> str:
    """The id a thread is keyed by: the first References entry, else In-Reply-To, else the mail's own id."""
    return references[0] if references else (in_reply_to or own_id)


# -- text -----------------------------------------------------------------------------------------------
class _HtmlText(HTMLParser):
    """HTML to plain text: no scripts or styles, blocks on their own lines, blockquotes as '> ' lines."""

    SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre",
                        "hr", "blockquote", "section", "article", "header", "footer"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skipping = 0
        self.quote_depth = 0
        self.line_depth = 0

    def _break(self) -> None:
        text = " ".join("".join(self.current).split())
        if text or (self.lines and self.lines[-1] != ""):
            self.lines.append(("> " * self.line_depth) + text if text else "")
        self.current = []
        self.line_depth = self.quote_depth

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self._break()
            if tag == "blockquote":
                self.quote_depth += 1
                self.line_depth = self.quote_depth

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self._break()
            if tag == "blockquote":
                self.quote_depth = max(0, self.quote_depth - 1)
                self.line_depth = self.quote_depth

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            if not self.current:
                self.line_depth = self.quote_depth
            self.current.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML mail body (markup, scripts and styles dropped)."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception as exc:  # noqa: BLE001 - html.parser is lenient; whatever was read so far is kept
        log.info("email: HTML body read partly (%s)", type(exc).__name__)
    parser._break()
    return "\n".join(parser.lines).strip()


_ATTRIBUTION = re.compile(r"^\s*(on|pada)\b.{0,400}\b(wrote|menulis)\s*:\s*$", re.IGNORECASE | re.DOTALL)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(original message|pesan asli|forwarded message|pesan terusan)\s*-{2,}\s*$",
                       re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^\s*(from|dari)\s*:\s*\S", re.IGNORECASE)


def _quote_follows(lines: list[str], start: int) -> bool:
    """True when the next non-blank line is quoted, or nothing follows."""
    for line in lines[start:]:
        if line.strip():
            return line.lstrip().startswith(">")
    return True


def split_quoted(text: str) -> str:
    """The new text of a reply: without '>' lines, 'On … wrote:' / 'Pada … menulis:' lines, forwarded history."""
    lines = text.splitlines()
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _ORIGINAL.match(line) or (set(line.strip()) == {"_"} and len(line.strip()) >= 10
                                     and i + 1 < len(lines) and _OUTLOOK_FROM.match(lines[i + 1])):
            break  # everything below is the previous mail
        if line.lstrip().startswith(">"):
            i += 1
            continue
        span = next((n for n in (1, 2, 3) if i + n <= len(lines)
                     and _ATTRIBUTION.match(" ".join(x.strip() for x in lines[i:i + n]))
                     and _quote_follows(lines, i + n)), 0)
        if span:
            i += span
            continue
        kept.append(line.rstrip())
        i += 1
    new = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return new


def _part_text(part: EmailMessage) -> str:
    """A text part decoded (its charset, else UTF-8 with replacement characters)."""
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except Exception as exc:  # noqa: BLE001 - unknown charset or broken transfer encoding: decoded below
        log.info("email: text part decoded leniently (%s)", type(exc).__name__)
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _body(mail: EmailMessage) -> tuple[EmailMessage | None, str, bool]:
    """(the body part, its text, whether it was HTML)."""
    try:
        part = mail.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001
        part = None
    if part is None:
        return None, "", False
    text = _part_text(part)
    is_html = part.get_content_type() == "text/html"
    if is_html:
        text = html_to_text(text)
    return part, text.replace("\x00", "").replace("\r\n", "\n").strip(), is_html


# -- attachments ---------------------------------------------------------------------------------------
def _attachment_parts(mail: EmailMessage, body: EmailMessage | None) -> list[EmailMessage]:
    """The parts of a mail that are files (attachments, inline images, forwarded mails), in order."""
    found: list[EmailMessage] = []

    def visit(part: EmailMessage) -> None:
        if part is body or len(found) >= MAX_ATTACHMENTS:
            return
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            found.append(part)
            return
        if part.is_multipart():
            for sub in part.iter_parts():
                visit(sub)
            return
        if ctype in _SIGNATURES:
            return
        if part.get_content_maintype() == "text" and part.get_content_disposition() != "attachment" \
                and not part.get_filename():
            return  # another rendering of the body (the HTML beside the plain text)
        found.append(part)

    visit(mail)
    return found


def _part_file(part: EmailMessage, index: int) -> tuple[bytes, str, str]:
    """(bytes, content type, file name) of an attachment part."""
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        data = inner.as_bytes() if hasattr(inner, "as_bytes") else b""
        default_name = f"mail-{index + 1}.eml"
    else:
        data = part.get_payload(decode=True) or b""
        default_name = f"file-{index + 1}"
    try:
        name = part.get_filename() or default_name
    except Exception:  # noqa: BLE001
        name = default_name
    return data, ctype, str(name)[:200]


class _Parsed(threading.local):
    """The files of the mail parsed last in this thread: the inbox fetches them right after parsing."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}


_PARSED = _Parsed()


# -- the adapter -----------------------------------------------------------------------------------------
class EmailAdapter:
    """IMAP in (polled, see inbox/mailbox.py), SMTP out."""

    kind = "email"

    def verify(self, channel: Channel, secrets: Mapping[str, Any], headers: Mapping[str, str], body: bytes) -> bool:
        """Email has no webhook: every delivery to /webhooks/email/… is refused."""
        return False

    def split(self, channel: Channel, body: bytes) -> list[DeliveryEvent]:
        """Email has no webhook deliveries."""
        raise MalformedDelivery("email is read by polling the mailbox, not by webhooks")

    def parse(self, channel: Channel, payload: bytes) -> list[InboundItem]:
        """One mail: a message from its sender, or Unsupported for our own mail or a mail with no usable sender."""
        try:
            item = self._read(channel, payload)
        except Exception as exc:  # noqa: BLE001 - one unreadable mail must not block the mailbox
            log.warning("email: unreadable mail skipped (%s)", type(exc).__name__)
            return [Unsupported("unreadable mail")]
        if not isinstance(item, InboundMessage):
            return [item]
        references = item.content["email"]["references"]
        item.thread_ref = self._thread_ref(channel, item.provider_message_id, item.reply_to_provider_id, references)
        item.content["email"]["thread_root"] = item.thread_ref  # what a later mail of the thread is matched on
        return [item]

    def _read(self, channel: Channel, payload: bytes) -> InboundMessage | StatusUpdate | Unsupported:
        mail = BytesParser(policy=policy.default).parsebytes(payload)
        if mail.get_content_type() == "multipart/report" and mail.get_param("report-type") == "delivery-status":
            return _bounce(mail)
        sender, name = _sender(mail)
        if sender is None:
            return Unsupported("mail without a usable sender address")
        own = {clean_email(a) for a in (channel.account_ref, (channel.config or {}).get("from_address")) if a}
        if sender in own:
            return Unsupported("our own mail")
        own_id = message_id_of(payload)
        in_reply_to = next(iter(_ids(_header(mail, "In-Reply-To"))), None)
        references = _keep_root_and_latest([r for r in _ids(_header(mail, "References")) if r != own_id])
        if in_reply_to == own_id:
            in_reply_to = None
        subject = " ".join(_header(mail, "Subject").split())[:300] or None
        body_part, full_text, is_html = _body(mail)
        full_text = full_text[:MAX_TEXT]
        new_text = split_quoted(full_text) or full_text
        media, files = [], {}
        key = hashlib.sha256(own_id.encode()).hexdigest()[:16]
        for index, part in enumerate(_attachment_parts(mail, body_part)):
            data, ctype, filename = _part_file(part, index)
            if not data:
                continue
            ref = f"{key}:{index}"
            files[ref] = (data, ctype, filename)
            media.append(MediaRef(ref=ref, content_type=ctype, filename=filename,
                                  sha256=hashlib.sha256(data).hexdigest()))
        _PARSED.files = files
        kind = "text"
        if not new_text and media:
            kind = {"image": "image", "video": "video", "audio": "audio"}.get(media[0].content_type.split("/")[0],
                                                                              "document")
        email_content = {"subject": subject, "message_id": own_id, "in_reply_to": in_reply_to,
                         "references": references, "thread_root": thread_root(own_id, in_reply_to, references),
                         "html": is_html}
        if new_text != full_text:
            email_content["full_text"] = full_text
        return InboundMessage(
            provider_message_id=own_id, sender_id=sender, at=_date(mail), kind=kind, text=new_text or None,
            content={"email": email_content}, media=media, sender_name=name, sender_email=sender,
            reply_to_provider_id=in_reply_to, thread_ref=email_content["thread_root"], subject=subject)

    def _thread_ref(self, channel: Channel, own_id: str, in_reply_to: str | None, references: list[str]
                    ) -> str | None:
        """The thread_ref that leads the inbox to the conversation of the message this mail answers."""
        from niaga.inbox.ingest import thread_key

        root = thread_root(own_id, in_reply_to, references)
        session = object_session(channel)
        parents = [p for p in dict.fromkeys([in_reply_to, *reversed(references)]) if p]
        if session is None or not parents:
            return root
        rows = session.execute(select(Message.provider_message_id, Message.conversation_id).where(
            Message.tenant_id == channel.tenant_id, Message.channel_id == channel.id,
            Message.provider_message_id.in_(parents))).all()
        by_id = dict(rows)
        found = next((by_id[p] for p in parents if p in by_id), None)
        if found is None:
            return root
        conversation = session.get(Conversation, (channel.tenant_id, found))
        if not conversation.thread_key:
            return None  # a conversation we started outside any thread (a broadcast): key ''
        for candidate in (root, *references, in_reply_to):
            if candidate and thread_key(candidate) == conversation.thread_key:
                return candidate
        # The conversation's root is one of its messages' ids, or the root its first mail named.
        for message in session.scalars(select(Message).where(
                Message.tenant_id == channel.tenant_id, Message.conversation_id == conversation.id)
                .order_by(Message.at).limit(200)):
            content = message.content
            named = (content.get("email") or {}).get("thread_root") if isinstance(content, dict) else None
            for candidate in (message.provider_message_id, named):
                if candidate and thread_key(candidate) == conversation.thread_key:
                    return candidate
        return root

    def fetch_media(self, channel: Channel, secrets: Mapping[str, Any], media: MediaRef) -> tuple[bytes, str, str]:
        """An attachment's bytes, decoded from the mail just parsed (the raw mail is the event's payload)."""
        found = _PARSED.files.get(media.ref)
        if found is None:  # parsed in another thread or process: the event is simply parsed again
            raise TemporaryFailure("the mail's parts are read again with the mail")
        data, _claimed_type, filename = found
        return data, "", filename  # no claimed type: the file store's detection from the bytes decides

    def send(self, channel: Channel, secrets: Mapping[str, Any], request: OutboundRequest) -> SendResult:
        """Send a reply over the channel's SMTP server; the Message-ID we set is the provider id."""
        config = channel.config or {}
        host = str(config.get("smtp_host") or "").strip()
        if not host:
            raise PermanentFailure("The channel has no SMTP server configured.", "config")
        try:
            message = build_message(channel, request)
            message.as_bytes()  # refuse a header that cannot be written before talking to the server
        except (ValueError, TypeError) as exc:
            raise PermanentFailure(f"The mail could not be written: {type(exc).__name__}", "compose") from None
        security = security_of(config, "smtp")
        server = SmtpServer(host=host, port=port_of(config, "smtp"), security="tls" if security == "ssl" else security,
                            username=credentials(config, secrets, "smtp")[0],
                            password=credentials(config, secrets, "smtp")[1],
                            timeout=float(config.get("smtp_timeout_seconds") or 20))
        try:
            send_email(server, message)
        except MailError as exc:
            # send_email hides the SMTP reply behind a sentence; the exception it replaced is its context.
            raise smtp_failure(exc.__context__) from None
        return SendResult(provider_message_id=str(message["Message-ID"]))


def _sender(mail: EmailMessage) -> tuple[str | None, str | None]:
    """(the sender's address, display name) from From, else Sender, else Reply-To."""
    for name in ("From", "Sender", "Reply-To"):
        try:
            header = mail.get(name)
            pairs = [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())] if header else []
        except Exception:  # noqa: BLE001 - a header the modern parser cannot read: the lenient one
            pairs = []
        if not pairs:
            pairs = getaddresses([_header(mail, name)])
        for display, address in pairs:
            cleaned = clean_email(address) if address and len(address) <= 254 else None
            if cleaned:
                display = " ".join((display or "").split())[:120]
                return cleaned, display or None
    return None, None


def _bounce(mail: EmailMessage) -> StatusUpdate | Unsupported:
    """A delivery report (RFC 3464): 'failed' for the mail of ours it returns; other reports change nothing."""
    original, fields = None, {}
    for part in mail.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in part.get_payload() if isinstance(part.get_payload(), list) else []:
                for name in ("Action", "Status", "Diagnostic-Code"):
                    if name not in fields and block.get(name):
                        fields[name] = " ".join(str(block.get(name)).split())
        elif ctype == "message/rfc822" and original is None:
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            original = next(iter(_ids(_header(inner, "Message-ID"))), None) if hasattr(inner, "get") else None
        elif ctype == "text/rfc822-headers" and original is None:
            headers = BytesParser(policy=policy.compat32).parsebytes(_part_text(part).encode(), headersonly=True)
            original = next(iter(_ids(headers.get("Message-ID"))), None)
    if original is None or fields.get("Action", "").lower() != "failed":
        return Unsupported("delivery report")
    status = fields.get("Status", "")[:20]
    return StatusUpdate(provider_message_id=original, status="failed", at=_date(mail), code=status,
                        reason=_scrub(f"The mail bounced: {status} {fields.get('Diagnostic-Code', '')}"))


def _date(mail: EmailMessage) -> datetime:
    """When the mail was written (its Date), never later than now; now when it has no readable date."""
    now = datetime.now(UTC)
    try:
        when = parsedate_to_datetime(_header(mail, "Date"))
    except (TypeError, ValueError, IndexError):
        return now
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(when.astimezone(UTC), now)


def reply_subject(subject: str | None, is_reply: bool) -> str:
    """'Re: <subject>' for a reply (never 'Re: Re:'), the subject itself otherwise."""
    base = _REPLY_PREFIX.sub("", " ".join((subject or "").split())).strip()
    if is_reply and base:
        return f"Re: {base}"
    return base


def build_message(channel: Channel, request: OutboundRequest) -> EmailMessage:
    """The outgoing mail: From the channel, To the customer, threaded on the conversation's Message-IDs."""
    config = channel.config or {}
    sender = str(config.get("from_address") or channel.account_ref or "").strip()
    local, _, domain = sender.rpartition("@")
    if not local or not domain:
        raise PermanentFailure("The channel has no sender address.", "config")
    references = [r for r in request.references if _MSGID.fullmatch(r)]
    in_reply_to = request.reply_to_provider_id if _MSGID.fullmatch(request.reply_to_provider_id or "") else None
    if in_reply_to and in_reply_to not in references:
        references.append(in_reply_to)
    references = _keep_root_and_latest(references)
    subject = request.extra.get("subject") or reply_subject(request.subject, bool(in_reply_to or references))
    message = EmailMessage(policy=policy.default)
    message["From"] = Address(display_name=str(config.get("from_name") or ""), addr_spec=sender)
    message["To"] = request.to
    message["Subject"] = " ".join(str(subject).split())
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{request.message_id}@{domain}>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    unsubscribe = request.extra.get("list_unsubscribe")
    if unsubscribe:
        link = str(unsubscribe).strip()
        if not re.fullmatch(r"(https?://|mailto:)[^\s<>\"]+", link):
            raise PermanentFailure("The unsubscribe link is not a valid URL.", "compose")
        message["List-Unsubscribe"] = f"<{link}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(request.text or "")
    for data, content_type, filename in request.media:
        maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return message


def _scrub(text: str) -> str:
    """An SMTP reply without the addresses servers like to echo."""
    return " ".join(_ADDRESS.sub("<address>", text).split())[:240]


def smtp_failure(cause: BaseException | None) -> TemporaryFailure | PermanentFailure:
    """What an SMTP error means for the outbox: 4xx, timeouts, refused connections retry; 5xx are final."""
    code, text = None, ""
    if isinstance(cause, smtplib.SMTPRecipientsRefused):
        replies = list(cause.recipients.values())
        if replies:
            code, raw = replies[0]
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    elif isinstance(cause, smtplib.SMTPResponseException):
        code = cause.smtp_code
        text = cause.smtp_error.decode(errors="replace") if isinstance(cause.smtp_error, bytes) else str(
            cause.smtp_error)
    if isinstance(code, int) and 500 <= code < 600:
        if isinstance(cause, smtplib.SMTPAuthenticationError):
            return PermanentFailure(f"The SMTP server refused the sign-in ({code} {_scrub(text)})", str(code))
        return PermanentFailure(f"SMTP {code}: {_scrub(text)}", str(code))
    if isinstance(code, int) and 400 <= code < 500:
        return TemporaryFailure(f"SMTP {code}: {_scrub(text)}")
    if isinstance(cause, ssl.SSLCertVerificationError):
        return PermanentFailure("The SMTP server's certificate is not trusted.", "tls")
    if isinstance(cause, smtplib.SMTPNotSupportedError):
        return PermanentFailure("The SMTP server does not offer what the channel's settings ask for "
                                "(STARTTLS or sign-in).", "config")
    name = type(cause).__name__ if cause is not None else "unknown error"
    return TemporaryFailure(f"The SMTP server could not be reached ({name}).")


ADAPTER = register_adapter(EmailAdapter())
