"""The web chat widget on a business's own site, in a real browser.

A second local server plays the business's site (another origin, allowed in the channel's settings) and
embeds the widget from the niaga test server. A visitor opens the chat and writes; the worker's step runs;
an agent answers; the answer appears in the widget, and is still there after a reload.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from niaga.identity.passwords import Passwords
from niaga.inbox import outbox, service, tasks
from niaga.inbox.models import Conversation, InboundEvent, Message
from tests.conftest import make_tenant

pytestmark = pytest.mark.browser


class SiteServer:
    """A tiny site on its own port: every path serves `html` (set once the port is known)."""

    def __init__(self) -> None:
        self.html = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Toko Sepatu Melati</title></head>
<body><h1>Toko Sepatu Melati</h1><p>Sepatu kulit buatan Bandung.</p>
<script src="{niaga}/static/webchat/widget.js" data-channel="{key}" async></script>
</body></html>"""


@pytest.fixture
def shop(live_server) -> Iterator[tuple[SiteServer, object, object]]:
    """The business (tenant and web chat channel) and its site, which embeds the widget."""
    db = live_server.database
    # The site's port is known only once it is bound: bind first, then write the page and the channel.
    site = SiteServer()
    with db.transaction() as session:
        world = make_tenant(session, live_server.settings, Passwords(live_server.settings.argon2_time_cost, live_server.settings.argon2_memory_kib), "Toko Sepatu Melati",
                            f"owner-{site.server.server_address[1]}@melati.example")
        channel = service.create_channel(session, world.principal(), kind="webchat", name="Toko Sepatu Melati",
                                         config={"allowed_origins": [site.url]})
        session.expunge_all()
    site.html = PAGE.format(niaga=live_server.url, key=channel.webhook_key)
    with site:
        yield site, world, channel


def process_inbound(db, channel) -> None:
    """What the worker does with the visitor's stored messages."""
    with db.transaction() as session:
        pending = session.scalars(select(InboundEvent.id).where(
            InboundEvent.channel_id == channel.id, InboundEvent.status == "pending")).all()
    assert pending, "the widget's message was not stored"
    for event_id in pending:
        assert tasks.run_inbound(db, channel.tenant_id, event_id) == "done"


def agent_replies(db, world, channel, text: str) -> None:
    """An agent answers in the visitor's conversation; the outbox delivers it."""
    with db.transaction() as session:
        conversation = session.scalars(select(Conversation).where(Conversation.channel_id == channel.id)).one()
        message = outbox.queue_message(session, world.principal(), conversation, text=text)
        message_id = message.id
    assert tasks.run_delivery(db, channel.tenant_id, message_id) == "sent"


def test_visitor_chats_on_the_business_site_and_sees_the_agents_reply(page, live_server, shop):
    site, world, channel = shop
    page.goto(site.url)
    expect(page.get_by_role("heading", name="Toko Sepatu Melati", exact=True).first).to_be_visible()
    launcher = page.get_by_role("button", name="Chat dengan kami")
    expect(launcher).to_be_visible()
    launcher.click()
    dialog = page.get_by_role("dialog", name="Toko Sepatu Melati")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Tanyakan apa saja.", exact=False)).to_be_visible()

    dialog.get_by_label("Tulis pesan Anda…").fill("Halo, apakah sepatu ukuran 42 ada?")
    dialog.get_by_role("button", name="Kirim").click()
    sent = dialog.locator("li[data-from=visitor]")
    expect(sent).to_have_text("AndaHalo, apakah sepatu ukuran 42 ada?")
    expect(dialog.locator("li.wc-pending")).to_have_count(0)  # the server accepted it

    process_inbound(live_server.database, channel)
    agent_replies(live_server.database, world, channel, "Ada kak, warna hitam dan cokelat.")
    reply = dialog.locator("li[data-from=agent]")
    expect(reply).to_contain_text("Ada kak, warna hitam dan cokelat.", timeout=15_000)
    expect(dialog.locator("li[data-from=visitor]")).to_have_count(1)  # its own message is not repeated

    # A reload keeps the visitor (the token is in the site's localStorage) and shows the conversation again.
    page.reload()
    page.get_by_role("button", name="Chat dengan kami").click()
    dialog = page.get_by_role("dialog", name="Toko Sepatu Melati")
    expect(dialog.locator("li[data-from=agent]")).to_contain_text("Ada kak, warna hitam dan cokelat.")
    expect(dialog.locator("li[data-from=visitor]")).to_contain_text("Halo, apakah sepatu ukuran 42 ada?")

    with live_server.database.transaction() as session:
        messages = session.scalars(select(Message).where(Message.channel_id == channel.id)).all()
        assert sorted(m.direction for m in messages) == ["in", "out"]


IDENTIFIED = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shoe shop</title></head>
<body><h1>Shoe shop</h1>
<script src="{niaga}/static/webchat/widget.js" data-channel="{key}" data-user-id="{user_id}"
  data-user-email="budi@pelanggan.example" data-user-name="Budi Santoso" data-user-hash="{hash}" async></script>
</body></html>"""


def test_signed_in_user_of_the_site_is_linked_to_their_contact(browser, live_server, shop):
    from niaga.crm.contacts import service as contacts
    from niaga.inbox import channel_settings
    from niaga.inbox.channels import webchat

    site, world, channel = shop
    with live_server.database.transaction() as session:
        session.add(channel)
        secret = channel_settings.rotate_identity_secret(session, world.principal(), channel)
        known = contacts.create_contact(session, world.principal(), {"full_name": "Budi Santoso",
                                                                     "emails": ["budi@pelanggan.example"]})
        known_id = known.id
        session.expunge_all()

    def visit(user_hash: str, text: str) -> None:
        site.html = IDENTIFIED.format(niaga=live_server.url, key=channel.webhook_key, user_id="pelanggan-77",
                                      hash=user_hash)
        context = browser.new_context(locale="en-US")
        context.set_default_timeout(10_000)
        try:
            page = context.new_page()
            page.goto(site.url)
            page.get_by_role("button", name="Chat with us").click()  # the page's lang picks English
            dialog = page.get_by_role("dialog", name="Toko Sepatu Melati")
            dialog.get_by_label("Type your message…").fill(text)
            dialog.get_by_role("button", name="Send").click()
            expect(dialog.locator("li[data-from=visitor]")).to_contain_text(text)
            expect(dialog.locator("li.wc-pending")).to_have_count(0)
        finally:
            context.close()

    visit(webchat.identity_hash(secret, "pelanggan-77"), "Where is my order?")
    # A wrong hash: the identity is refused and ignored, and the chat still works, anonymously.
    visit("0" * 64, "Hello from someone else")
    process_inbound(live_server.database, channel)
    with live_server.database.transaction() as session:
        rows = session.execute(select(Message, Conversation.contact_id).join(
            Conversation, (Conversation.tenant_id == Message.tenant_id) & (Conversation.id == Message.conversation_id))
            .where(Message.channel_id == channel.id)).all()
        by_text = {message.body: contact_id for message, contact_id in rows}
    assert by_text["Where is my order?"] == known_id
    assert by_text["Hello from someone else"] != known_id
