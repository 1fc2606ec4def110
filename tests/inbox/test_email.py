"""The email channel against real mail servers: Dovecot (IMAP, polled) in, aiosmtpd (SMTP) out.

Mails are delivered into a fresh Dovecot folder by IMAP APPEND, polled with `mailbox.poll_channel`, processed
with the inbox's job function, answered through the outbox, and the answer is read back from the SMTP server.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlalchemy import func, select

from niaga.crm.contacts import service as contacts
from niaga.crm.models import Contact
from niaga.db.base import utcnow
from niaga.inbox import mailbox, outbox, service, tasks
from niaga.inbox.adapters import PermanentFailure, TemporaryFailure
from niaga.inbox.channels.email import reply_subject, smtp_failure, split_quoted
from niaga.inbox.models import Attachment, Conversation, InboundEvent, Message
from niaga.privacy import files
from niaga.privacy.audit import Actor
from niaga.worker import queue
from tests.support.imap import Mailbox, dovecot, imap_mailbox  # noqa: F401
from tests.support.smtp import LocalSmtp, free_port, smtp_factory  # noqa: F401

# The local SMTP server asks for AUTH without TLS (loopback only); aiosmtpd warns about that on each connection.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

SHOP = "cs@tokosinar.example"
BUDI = "budi@pelanggan.example"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def mail(text: str = "Halo, stok kopi masih ada?", *, sender: str = f"Budi Santoso <{BUDI}>",
         subject: str = "Pesanan kopi", msgid: str | None = "<m1@pelanggan.example>", in_reply_to: str | None = None,
         references: str | None = None, files_: tuple[tuple[bytes, str, str], ...] = (),
         date: datetime | None = None) -> EmailMessage:
    """A customer's mail as a mail client writes it."""
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["To"] = f"Toko Sinar <{SHOP}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    if msgid:
        message["Message-ID"] = msgid
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    message.set_content(text)
    for data, ctype, name in files_:
        maintype, subtype = ctype.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


@pytest.fixture
def smtp(smtp_factory, imap_mailbox: Mailbox) -> LocalSmtp:  # noqa: F811
    """The shop's outgoing server: it demands the same sign-in as the mailbox (AUTH PLAIN/LOGIN)."""
    return smtp_factory(auth=(imap_mailbox.secrets["imap_username"], imap_mailbox.secrets["imap_password"]))


@pytest.fixture
def channel(session, tenant_a, imap_mailbox: Mailbox, smtp: LocalSmtp):  # noqa: F811
    # As the settings page stores it: one sign-in (config username, secret password) for IMAP and SMTP.
    config = {**imap_mailbox.config, "smtp_host": smtp.config.host, "smtp_port": smtp.config.port,
              "smtp_security": "none", "from_name": "Toko Sinar", "username": imap_mailbox.secrets["imap_username"]}
    made = service.create_channel(session, tenant_a.principal(), kind="email", name="Email toko", account_ref=SHOP,
                                  config=config, secrets={"password": imap_mailbox.secrets["imap_password"]})
    session.commit()
    return made


def poll(database, channel) -> mailbox.PollResult:
    """One poll of the channel's mailbox, then the processing jobs of what it stored."""
    result = mailbox.poll_channel(database, channel.tenant_id, channel.id)
    with database.transaction() as s:
        pending = list(s.scalars(select(InboundEvent.id).where(InboundEvent.tenant_id == channel.tenant_id,
                                                               InboundEvent.status == "pending")
                                 .order_by(InboundEvent.received_at)))
    result.processed = [tasks.run_inbound(database, channel.tenant_id, event_id) for event_id in pending]
    return result


def count(session, model, tenant_id, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_id, *where))


def messages(session, channel) -> list[Message]:
    session.expire_all()
    return list(session.scalars(select(Message).where(Message.tenant_id == channel.tenant_id)
                                .order_by(Message.at, Message.direction)))


# -- inbound -----------------------------------------------------------------------------------------------
def test_a_mail_becomes_a_contact_conversation_and_message_and_a_known_sender_finds_their_contact(
        session, database, tenant_a, channel, imap_mailbox):  # noqa: F811
    known = contacts.create_channel_contact(session, tenant_a.id, name="Sari Dewi", source="manual",
                                            email="sari@pelanggan.example")
    session.commit()
    imap_mailbox.append(mail(date=datetime(2026, 3, 2, 9, 30, tzinfo=UTC)))
    imap_mailbox.append(mail("Saya mau pesan 2 kg.", sender="Sari <Sari@Pelanggan.example>", subject="Order",
                             msgid="<s1@pelanggan.example>"))
    result = poll(database, channel)
    assert (result.fetched, result.stored, result.error, result.processed) == (2, 2, None, ["done", "done"])

    first, second = messages(session, channel)
    assert (first.body, first.direction, first.status, first.provider_message_id) == (
        "Halo, stok kopi masih ada?", "in", "received", "<m1@pelanggan.example>")
    assert first.at.replace(tzinfo=None) == datetime(2026, 3, 2, 9, 30)  # the mail's Date
    conversation = session.get(Conversation, (channel.tenant_id, first.conversation_id))
    budi = session.get(Contact, (channel.tenant_id, conversation.contact_id))
    assert (budi.full_name, budi.source, [e.email for e in budi.emails]) == ("Budi Santoso", "email", [BUDI])
    assert (conversation.topic, conversation.status, conversation.unread_count) == ("Pesanan kopi", "open", 1)
    sari_conversation = session.get(Conversation, (channel.tenant_id, second.conversation_id))
    assert sari_conversation.contact_id == known.id  # the existing contact, found by address (any case)
    assert count(session, Contact, tenant_a.id) == 2


def test_polling_again_or_after_the_folder_is_renumbered_stores_nothing_twice(
        session, database, channel, imap_mailbox):  # noqa: F811
    imap_mailbox.append(mail())
    imap_mailbox.append(mail("Kedua", msgid=None, subject="Tanpa id"))  # no Message-ID: a digest id
    assert poll(database, channel).stored == 2
    [(polled, again)] = mailbox.poll_all(database)  # what `niaga inbox poll-email` runs
    assert (polled, again.fetched, again.stored) == (channel.id, 0, 0)
    queued = len(queue)
    mailbox.sweep_mailboxes(database)  # the worker's every-minute sweep: one poll job per email channel
    assert len(queue) == queued + 1

    old_validity = imap_mailbox.uidvalidity()
    imap_mailbox.recreate()  # UIDVALIDITY changes and UIDs restart: the folder is read again
    assert imap_mailbox.uidvalidity() != old_validity
    renumbered = poll(database, channel)
    assert (renumbered.fetched, renumbered.stored, renumbered.duplicates) == (2, 0, 2)
    imap_mailbox.append(mail("Ketiga", msgid="<m3@pelanggan.example>", subject="Baru"))
    assert poll(database, channel).stored == 1
    assert len(messages(session, channel)) == 3
    session.refresh(channel)
    assert channel.config["imap_uidvalidity"] == imap_mailbox.uidvalidity() and channel.config["last_error"] == ""


def test_quoted_history_is_separated_and_the_full_text_kept(session, database, channel, imap_mailbox):  # noqa: F811
    reply = ("Jadi kirim besok ya.\n\nPada tanggal Sen, 2 Mar 2026 pukul 09.30 Toko Sinar <cs@tokosinar.example>\n"
             "menulis:\n> Stok masih ada, kak.\n> Mau dikirim kapan?\n")
    imap_mailbox.append(mail(reply, msgid="<m2@pelanggan.example>"))
    html = EmailMessage()
    html["From"] = f"Budi <{BUDI}>"
    html["Subject"] = "Foto"
    html["Message-ID"] = "<h1@pelanggan.example>"
    html.set_content("<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
                     "<p>Terima&nbsp;kasih <b>banyak</b>!</p><div>On Mon, 2 Mar 2026, Toko wrote:</div>"
                     "<blockquote><p>Sudah kami kirim.</p></blockquote></body></html>", subtype="html")
    imap_mailbox.append(html)
    poll(database, channel)
    plain, from_html = messages(session, channel)
    assert plain.body == "Jadi kirim besok ya."
    assert "Mau dikirim kapan?" in plain.content["email"]["full_text"]
    assert from_html.body == "Terima kasih banyak!"
    assert "alert" not in from_html.content["email"]["full_text"]
    assert "> Sudah kami kirim." in from_html.content["email"]["full_text"]


def test_attachments_are_stored_encrypted(session, database, settings, tenant_a, channel, imap_mailbox):  # noqa: F811
    imap_mailbox.append(mail("Bukti transfer terlampir.", files_=((PNG, "image/png", "bukti.png"),
                                                                   (PDF, "application/pdf", "faktur.pdf"))))
    assert poll(database, channel).processed == ["done"]
    (message,) = messages(session, channel)
    attachments = sorted(session.scalars(select(Attachment).where(Attachment.tenant_id == tenant_a.id)),
                         key=lambda a: a.filename)
    assert [(a.status, a.filename, a.content_type, a.size) for a in attachments] == [
        ("stored", "bukti.png", "image/png", len(PNG)), ("stored", "faktur.pdf", "application/pdf", len(PDF))]
    store = files.FileStore.from_settings(settings)
    assert PNG not in store.read(tenant_a.id, attachments[0].file_id)  # the blob on disk is ciphertext
    read = files.read_file(session, Actor.system(), attachments[0].file_id, tenant_id=tenant_a.id)
    assert read.data == PNG and message.body == "Bukti transfer terlampir."


def test_malformed_mails_are_set_aside_without_losing_the_others(session, database, channel, imap_mailbox):  # noqa: F811
    imap_mailbox.append(b"\xff\xfe\x80 bukan email sama sekali \x81\r\n\r\n\xc3\x28")
    imap_mailbox.append(mail("Tanpa pengirim", sender="", msgid="<nofrom@x.example>"))
    imap_mailbox.append(mail("Pengirim rusak", sender="Budi <bukan alamat>", msgid="<bad@x.example>"))
    imap_mailbox.append(mail("Dari kami sendiri", sender=f"Toko <{SHOP}>", msgid="<own@tokosinar.example>"))
    broken = mail("Halo", msgid="<charset@pelanggan.example>").as_bytes().replace(
        b'charset="utf-8"', b'charset="x-unknown-charset"')
    imap_mailbox.append(broken)
    imap_mailbox.append(mail())
    result = poll(database, channel)
    assert (result.stored, result.processed) == (6, ["ignored"] * 4 + ["done", "done"])
    assert sorted(m.body for m in messages(session, channel)) == ["Halo", "Halo, stok kopi masih ada?"]


def test_an_oversized_mail_is_kept_as_its_headers_and_a_note(session, database, channel, imap_mailbox, monkeypatch):  # noqa: F811
    monkeypatch.setattr(mailbox, "MAX_MAIL_BYTES", 4000)
    imap_mailbox.append(mail("Video pesanan", files_=((bytes(20_000), "video/mp4", "video.mp4"),)))
    assert poll(database, channel).processed == ["done"]
    (message,) = messages(session, channel)
    assert message.provider_message_id == "<m1@pelanggan.example>" and "larger than" in message.body
    conversation = session.get(Conversation, (channel.tenant_id, message.conversation_id))
    assert conversation.topic == "Pesanan kopi" and count(session, Attachment, channel.tenant_id) == 0


def test_a_wrong_password_or_an_unreachable_server_is_recorded_on_the_channel(
        session, database, tenant_a, channel, imap_mailbox):  # noqa: F811
    imap_mailbox.append(mail())
    service.set_channel_secrets(session, tenant_a.principal(), channel, {"imap_password": "salah"})
    session.commit()
    assert mailbox.poll_channel(database, channel.tenant_id, channel.id).error == "sign-in"
    session.refresh(channel)
    assert channel.config["last_error"] == mailbox.ERRORS["sign-in"]
    assert "username and password" in channel.config["last_error"] and "imap_last_uid" not in channel.config

    service.set_channel_secrets(session, tenant_a.principal(), channel, {"imap_password": ""})  # shared again
    channel.config = {**channel.config, "imap_port": free_port()}
    session.commit()
    assert mailbox.poll_channel(database, channel.tenant_id, channel.id).error == "unreachable"
    channel.config = {**channel.config, **imap_mailbox.config, "imap_folder": "Tidak Ada"}
    session.commit()
    assert mailbox.poll_channel(database, channel.tenant_id, channel.id).error == "folder"

    channel.config = {**channel.config, **imap_mailbox.config}
    session.commit()
    assert poll(database, channel).stored == 1
    session.refresh(channel)
    assert channel.config["last_error"] == "" and channel.config["last_polled_at"]


# -- outbound and threading -------------------------------------------------------------------------------
def test_a_reply_carries_threading_headers_and_the_customers_answer_joins_the_conversation(
        session, database, tenant_a, channel, imap_mailbox, smtp):  # noqa: F811
    imap_mailbox.append(mail(subject="Re: Pesanan kopi", date=datetime.now(UTC) - timedelta(hours=1)))
    poll(database, channel)
    (first,) = messages(session, channel)
    conversation = session.get(Conversation, (channel.tenant_id, first.conversation_id))
    reply = outbox.queue_message(session, tenant_a.principal(), conversation, text="Masih ada, kak.")
    session.commit()
    assert tasks.run_delivery(database, channel.tenant_id, reply.id) == "sent"

    (sent,) = smtp.messages
    session.refresh(reply)
    assert (sent["From"], sent["To"], sent["Subject"]) == (f"Toko Sinar <{SHOP}>", BUDI, "Re: Pesanan kopi")
    assert sent["Message-ID"] == reply.provider_message_id == f"<{reply.id}@tokosinar.example>"
    assert (sent["In-Reply-To"], sent["References"]) == ("<m1@pelanggan.example>", "<m1@pelanggan.example>")
    assert sent.get_content().strip() == "Masih ada, kak." and smtp.received[0].recipients == [BUDI]

    # Budi's client sets only In-Reply-To (some do): our stored Message-ID leads to the conversation.
    later = reply.at + timedelta(seconds=1)  # answers come after the reply (Dates in the future count as now)
    imap_mailbox.append(mail("Oke, saya transfer.", subject="Re: Pesanan kopi", msgid="<m2@pelanggan.example>",
                             in_reply_to=reply.provider_message_id, date=later))
    # A client that keeps the whole chain in References.
    imap_mailbox.append(mail("Sudah transfer.", subject="Re: Pesanan kopi", msgid="<m3@pelanggan.example>",
                             in_reply_to="<m2@pelanggan.example>",
                             references=f"<m1@pelanggan.example> {reply.provider_message_id} <m2@pelanggan.example>",
                             date=later + timedelta(seconds=1)))
    # A new subject without references: a new conversation.
    imap_mailbox.append(mail("Mau tanya harga teh.", subject="Harga teh", msgid="<t1@pelanggan.example>"))
    assert poll(database, channel).processed == ["done", "done", "done"]
    by_id = {m.provider_message_id: m for m in messages(session, channel)}
    assert by_id["<m2@pelanggan.example>"].conversation_id == conversation.id
    assert by_id["<m3@pelanggan.example>"].conversation_id == conversation.id
    assert by_id["<m2@pelanggan.example>"].reply_to_id == reply.id
    assert by_id["<t1@pelanggan.example>"].conversation_id != conversation.id
    assert count(session, Conversation, tenant_a.id) == 2

    second = outbox.queue_message(session, tenant_a.principal(), conversation, text="Terima kasih!")
    session.commit()
    tasks.run_delivery(database, channel.tenant_id, second.id)
    latest = smtp.messages[-1]
    assert latest["Subject"] == "Re: Pesanan kopi" and latest["In-Reply-To"] == "<m3@pelanggan.example>"
    assert latest["References"].split() == ["<m1@pelanggan.example>", reply.provider_message_id,
                                            "<m2@pelanggan.example>", "<m3@pelanggan.example>"]


def test_a_refused_recipient_fails_with_the_servers_reason(
        session, database, tenant_a, channel, imap_mailbox, smtp_factory):  # noqa: F811
    refusing = smtp_factory(refuse=(BUDI,), auth=(imap_mailbox.secrets["imap_username"],
                                                  imap_mailbox.secrets["imap_password"]))
    channel.config = {**channel.config, "smtp_port": refusing.config.port}
    session.commit()
    imap_mailbox.append(mail())
    poll(database, channel)
    conversation = session.scalar(select(Conversation).where(Conversation.tenant_id == tenant_a.id))
    reply = outbox.queue_message(session, tenant_a.principal(), conversation, text="Halo")
    session.commit()
    assert tasks.run_delivery(database, channel.tenant_id, reply.id) == "failed"
    session.refresh(reply)
    assert reply.failure_code == "550" and "mailbox unavailable" in reply.failure_reason
    assert BUDI not in reply.failure_reason and refusing.messages == []


def test_a_bounce_marks_the_sent_reply_failed_and_starts_no_conversation(
        session, database, tenant_a, channel, imap_mailbox, smtp):  # noqa: F811
    imap_mailbox.append(mail())
    poll(database, channel)
    conversation = session.scalar(select(Conversation).where(Conversation.tenant_id == tenant_a.id))
    reply = outbox.queue_message(session, tenant_a.principal(), conversation, text="Halo")
    session.commit()
    assert tasks.run_delivery(database, channel.tenant_id, reply.id) == "sent"
    session.refresh(reply)
    report = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.pelanggan.example>\r\nTo: cs@tokosinar.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.pelanggan.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.pelanggan.example\r\n\r\n"
        f"Final-Recipient: rfc822; {BUDI}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{BUDI}>: Recipient address rejected: User unknown\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {SHOP}\r\nTo: {BUDI}\r\n"
        f"Subject: Re: Pesanan kopi\r\nMessage-ID: {reply.provider_message_id}\r\n\r\n--B--\r\n")
    imap_mailbox.append(report.encode())
    assert poll(database, channel).processed == ["done"]
    session.refresh(reply)
    assert (reply.status, reply.failure_code) == ("failed", "5.1.1") and "User unknown" in reply.failure_reason
    assert BUDI not in reply.failure_reason
    assert count(session, Conversation, tenant_a.id) == 1 and count(session, Contact, tenant_a.id) == 1


def test_an_unreachable_smtp_server_is_retried_later(session, database, tenant_a, channel, imap_mailbox):  # noqa: F811
    channel.config = {**channel.config, "smtp_port": free_port()}  # nothing listens there
    session.commit()
    imap_mailbox.append(mail())
    poll(database, channel)
    conversation = session.scalar(select(Conversation).where(Conversation.tenant_id == tenant_a.id))
    reply = outbox.queue_message(session, tenant_a.principal(), conversation, text="Halo")
    session.commit()
    assert tasks.run_delivery(database, channel.tenant_id, reply.id) == "queued"
    session.refresh(reply)
    assert reply.attempts == 1 and reply.next_attempt_at > utcnow() and "could not be reached" in reply.failure_reason


def test_a_broadcast_mail_carries_list_unsubscribe_and_a_reply_joins_its_conversation(
        session, database, tenant_a, channel, imap_mailbox, smtp):  # noqa: F811
    budi = contacts.create_channel_contact(session, tenant_a.id, name="Budi", source="manual", email=BUDI)
    conversation = Conversation(tenant_id=tenant_a.id, subject_id=budi.subject_id, channel_id=channel.id,
                                contact_id=budi.id, thread_key="", subject=None, status="open", labels=[])
    session.add(conversation)
    session.flush()
    link = "https://toko.example/u/abc123"
    promo = Message(tenant_id=tenant_a.id, subject_id=budi.subject_id, conversation_id=conversation.id,
                    channel_id=channel.id, direction="out", kind="text", body="Diskon 20% minggu ini!",
                    content={"extra": {"list_unsubscribe": link, "subject": "Promo Maret"}}, status="queued",
                    at=utcnow(), next_attempt_at=utcnow())
    session.add(promo)
    session.commit()
    assert tasks.run_delivery(database, tenant_a.id, promo.id) == "sent"
    (sent,) = smtp.messages
    assert (sent["Subject"], sent["List-Unsubscribe"], sent["List-Unsubscribe-Post"]) == (
        "Promo Maret", f"<{link}>", "List-Unsubscribe=One-Click")
    assert sent["In-Reply-To"] is None
    session.refresh(promo)
    imap_mailbox.append(mail("Masih berlaku?", subject="Re: Promo Maret", msgid="<p2@pelanggan.example>",
                             in_reply_to=promo.provider_message_id, references=promo.provider_message_id))
    assert poll(database, channel).processed == ["done"]
    answer = next(m for m in messages(session, channel) if m.direction == "in")
    assert answer.conversation_id == conversation.id


def test_nothing_can_be_posted_to_an_email_webhook(client, session, channel):
    response = client.post(service.webhook_path(channel), content=mail().as_bytes())
    assert response.status_code == 401
    assert count(session, InboundEvent, channel.tenant_id) == 0


# -- pure functions ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "new"), [
    ("Oke.\n\nOn Mon, 2 Mar 2026 at 09:30, Toko <cs@toko.example> wrote:\n> lama\n", "Oke."),
    ("Oke.\nOn Mon, 2 Mar 2026 at 09:30, Toko Sinar\n<cs@toko.example> wrote:\n\n> lama\n>> lebih lama", "Oke."),
    ("> pertanyaan\njawaban di bawah\n> pertanyaan dua\njawaban dua", "jawaban di bawah\njawaban dua"),
    ("Lihat bawah.\n\n-----Original Message-----\nFrom: Toko\nSubject: x\n\nisi lama", "Lihat bawah."),
    ("Lihat.\n________________________________\nDari: Toko Sinar\nisi lama", "Lihat."),
    ("Saya pada hari itu menulis: surat", "Saya pada hari itu menulis: surat"),
])
def test_the_new_text_of_a_reply_is_cut_from_its_quoted_history(text: str, new: str) -> None:
    assert split_quoted(text) == new


def test_reply_subjects_never_stack_re() -> None:
    assert reply_subject("RE: Balas: re: Pesanan", True) == "Re: Pesanan"
    assert reply_subject("Pesanan", False) == "Pesanan" and reply_subject(None, True) == ""


def test_smtp_errors_map_to_retry_or_failure_without_addresses() -> None:
    temporary = smtp_failure(smtplib.SMTPRecipientsRefused({BUDI: (451, f"4.3.0 <{BUDI}> try later".encode())}))
    final = smtp_failure(smtplib.SMTPDataError(554, b"5.7.1 message rejected as spam"))
    auth = smtp_failure(smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"))
    assert isinstance(temporary, TemporaryFailure) and BUDI not in temporary.reason
    assert isinstance(final, PermanentFailure) and final.code == "554" and "spam" in final.reason
    assert isinstance(auth, PermanentFailure) and "sign-in" in auth.reason
    assert isinstance(smtp_failure(TimeoutError()), TemporaryFailure)
