"""The inbox pages and JSON API as staff use them: the three panes, replying, notes, templates, saved replies,
assignment, labels, retries, attachments, live refresh, agent tools, the report; wrong roles and tenants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import select

from niaga.db.base import utcnow
from niaga.identity.permissions import Role
from niaga.inbox import canned, conversations, outbox
from niaga.inbox.adapters import PermanentFailure
from niaga.inbox.agent_models import (
    AgentState,
    CannedResponse,
    ConversationLabel,
    InboxSettings,
)
from niaga.inbox.models import Attachment, Message
from niaga.privacy import files
from niaga.privacy.audit import Actor, AuditEvent
from niaga.web.i18n import gettext_for
from tests.conftest import api_token, bearer, browser_login
from tests.inbox.agent_helpers import (
    arrive,
    conversation_of,
    count,
    new_channel,
    providers,  # noqa: F401 - a fixture
)
from tests.web.helpers import form_token, page_problems

ID = gettext_for("id")
TEMPLATES = [{"name": "pesanan_siap", "language": "id", "body_params": 1}]


@pytest.fixture
def inbox(client, session, tenant_a, settings, providers):  # noqa: ANN001, ANN201, F811
    chat = new_channel(session, tenant_a, "webchat", "Chat Situs")
    wa = new_channel(session, tenant_a, "whatsapp", "WhatsApp Toko", config={"templates": TEMPLATES})
    message = arrive(session, chat, "pengunjung-1", "Apakah sepatu ukuran 42 ada?", name="Yohana Manurung")
    conversation = conversation_of(session, message)
    canned.create_canned(session, tenant_a.principal(), {"shortcut": "stok", "body": "Stok ada, Kak, silakan order."})
    conversations.create_label(session, tenant_a.principal(), "tanya-stok")
    session.commit()
    token = browser_login(client, session, tenant_a.owner, settings)
    return {"chat": chat, "wa": wa, "conversation": conversation, "csrf": token}


def _post(client, path, data, csrf):  # noqa: ANN001, ANN202
    return client.post(path, data={**data, "csrf_token": csrf}, follow_redirects=False)


def test_the_inbox_shows_the_list_thread_and_customer_card_and_reading_marks_read(client, session, inbox):  # noqa: ANN001
    page = client.get("/inbox")
    assert page.status_code == 200 and "Yohana Manurung" in page.text and "Chat Situs" in page.text
    assert 'data-testid="unread-all"' in page.text and "WIB" in page.text
    assert page_problems(page.text) == []
    conversation = inbox["conversation"]
    opened = client.get(f"/inbox/conversations/{conversation.id}")
    assert opened.status_code == 200 and "Apakah sepatu ukuran 42 ada?" in opened.text
    assert 'data-testid="contact-card"' in opened.text and 'data-testid="reply-form"' in opened.text
    assert page_problems(opened.text) == []
    session.refresh(conversation)
    assert conversation.unread_count == 0
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "inbox.conversation_read")).all()
    assert len(audit) == 1 and "Yohana" not in str(audit[0].details)


def test_a_reply_from_the_page_is_queued_then_shown_sent(client, session, inbox, providers):  # noqa: ANN001, F811
    conversation = inbox["conversation"]
    resp = _post(client, f"/inbox/conversations/{conversation.id}/reply", {"body": "Ada, Kak!"}, inbox["csrf"])
    assert resp.status_code == 303 and resp.headers["location"].startswith(f"/inbox/conversations/{conversation.id}")
    message = session.scalar(select(Message).where(Message.direction == "out"))
    assert message.status == "queued" and message.body == "Ada, Kak!"
    assert outbox.send_now(session, message.tenant_id, message.id) == "sent"
    session.commit()
    page = client.get(resp.headers["location"])
    assert "Ada, Kak!" in page.text and escape(ID("Sent")) in page.text
    assert providers["webchat"].sent[0].text == "Ada, Kak!"


def test_a_note_is_shown_as_a_note_and_never_sent(client, session, inbox, providers):  # noqa: ANN001, F811
    conversation = inbox["conversation"]
    _post(client, f"/inbox/conversations/{conversation.id}/reply", {"body": "Cek gudang dulu", "note": "1"},
          inbox["csrf"])
    note = session.scalar(select(Message).where(Message.private.is_(True)))
    assert note is not None and note.status == "sent"
    assert outbox.send_now(session, note.tenant_id, note.id) == "sent" and providers["webchat"].sent == []
    assert 'data-testid="message-note"' in client.get(f"/inbox/conversations/{conversation.id}").text


def test_a_shortcut_alone_is_expanded_without_javascript(client, session, inbox):  # noqa: ANN001
    conversation = inbox["conversation"]
    _post(client, f"/inbox/conversations/{conversation.id}/reply", {"body": "/stok"}, inbox["csrf"])
    assert session.scalar(select(Message).where(Message.direction == "out")).body == "Stok ada, Kak, silakan order."


@pytest.mark.parametrize("form, message", [
    ({"body": ""}, "Write a message first."),
    ({"body": "x" * 5000}, "A message has at most {n} characters."),
    ({"body": "/tidakada"}, "No saved reply has the shortcut /{shortcut}."),
])
def test_a_refused_reply_shows_why_and_keeps_the_text(client, session, inbox, form, message):  # noqa: ANN001
    conversation = inbox["conversation"]
    resp = _post(client, f"/inbox/conversations/{conversation.id}/reply", form, inbox["csrf"])
    assert resp.status_code == 422
    assert escape(ID(message).format(n=4096, shortcut="tidakada")) in resp.text
    assert count(session, Message, direction="out") == 0


def test_whatsapp_after_24_hours_shows_the_notice_and_sends_a_template(client, session, tenant_a, inbox, providers):  # noqa: ANN001, F811
    old = utcnow() - timedelta(hours=30)
    conversation = conversation_of(session, arrive(session, inbox["wa"], "6281234500077", "Pesanan?", at=old))
    session.commit()
    page = client.get(f"/inbox/conversations/{conversation.id}")
    assert 'data-testid="window-closed"' in page.text and "pesanan_siap" in page.text
    refused = _post(client, f"/inbox/conversations/{conversation.id}/reply", {"body": "Halo"}, inbox["csrf"])
    assert refused.status_code == 409 and count(session, Message, direction="out") == 0
    sent = _post(client, f"/inbox/conversations/{conversation.id}/reply",
                 {"template": "pesanan_siap|id", "param_1": "INV-77"}, inbox["csrf"])
    assert sent.status_code == 303
    message = session.scalar(select(Message).where(Message.direction == "out"))
    assert outbox.send_now(session, message.tenant_id, message.id) == "sent"
    assert providers["whatsapp"].sent[0].template["parameters"] == ["INV-77"]


def test_a_failed_message_shows_the_reason_and_can_be_retried(client, session, inbox, providers):  # noqa: ANN001, F811
    conversation = inbox["conversation"]
    _post(client, f"/inbox/conversations/{conversation.id}/reply", {"body": "Halo"}, inbox["csrf"])
    message = session.scalar(select(Message).where(Message.direction == "out"))
    providers["webchat"].outcomes.append(PermanentFailure("Nomor tidak terdaftar di penyedia", code="131026"))
    assert outbox.send_now(session, message.tenant_id, message.id) == "failed"
    session.commit()
    page = client.get(f"/inbox/conversations/{conversation.id}")
    assert "Nomor tidak terdaftar di penyedia" in page.text and 'data-testid="retry"' in page.text
    resp = _post(client, f"/inbox/messages/{message.id}/retry", {}, inbox["csrf"])
    assert resp.status_code == 303
    session.refresh(message)
    assert message.status == "queued"


def test_assign_labels_and_status_from_the_page(client, session, tenant_a, inbox):  # noqa: ANN001
    conversation = inbox["conversation"]
    agent = tenant_a.add_staff(session, Role.AGENT, name="Agen Halaman")
    session.commit()
    path = f"/inbox/conversations/{conversation.id}"
    assert _post(client, f"{path}/assign", {"assignee_id": str(agent.id)}, inbox["csrf"]).status_code == 303
    assert _post(client, f"{path}/labels", {"labels": "tanya-stok"}, inbox["csrf"]).status_code == 303
    assert _post(client, f"{path}/status", {"status": "resolved"}, inbox["csrf"]).status_code == 303
    session.refresh(conversation)
    assert (conversation.assignee_id, conversation.labels, conversation.status) == (agent.id, ["tanya-stok"],
                                                                                    "resolved")
    assert _post(client, f"{path}/labels", {"labels": "tidak-ada"}, inbox["csrf"]).status_code == 422
    assert _post(client, f"{path}/status", {"status": "hapus"}, inbox["csrf"]).status_code == 422
    session.refresh(conversation)
    assert conversation.labels == ["tanya-stok"] and conversation.status == "resolved"


def test_labels_show_in_their_colours_through_a_stylesheet_of_the_business(client, session, tenant_a, tenant_b,
                                                                          settings, inbox):  # noqa: ANN001
    conversations.create_label(session, tenant_a.principal(), "vip", "#1F7A4D")
    conversations.create_label(session, tenant_a.principal(), "retur", "#ffd54f")
    conversations.create_label(session, tenant_b.principal(), "rahasia-b", "#123456")
    conversations.set_labels(session, tenant_a.principal(), inbox["conversation"], ["vip"])
    session.commit()
    page = client.get("/inbox")
    assert '<link rel="stylesheet" href="/inbox/labels.css">' in page.text
    assert 'class="ib-label" data-label="vip"' in page.text
    assert "style=" not in page.text and "unsafe-inline" not in page.headers["content-security-policy"]
    css = client.get("/inbox/labels.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert '.ib-label[data-label="vip"]{background:#1f7a4d;color:#ffffff}' in css.text  # light text on dark
    assert '.ib-label[data-label="retur"]{background:#ffd54f;color:#1b1b1b}' in css.text  # dark text on light
    assert "rahasia-b" not in css.text and "#123456" not in css.text  # another business's labels
    client.cookies.clear()
    assert client.get("/inbox/labels.css", follow_redirects=False).status_code in (302, 303, 401)


def test_assigning_to_another_businesss_staff_is_refused(client, session, tenant_b, inbox):  # noqa: ANN001
    conversation = inbox["conversation"]
    resp = _post(client, f"/inbox/conversations/{conversation.id}/assign", {"assignee_id": str(tenant_b.owner.id)},
                 inbox["csrf"])
    assert resp.status_code == 422
    session.refresh(conversation)
    assert conversation.assignee_id is None


def test_an_attachment_downloads_decrypted_and_the_read_is_audited(client, session, tenant_a, inbox, settings,
                                                                   monkeypatch):  # noqa: ANN001
    monkeypatch.setattr(files, "get_settings", lambda: settings)
    conversation = inbox["conversation"]
    message = session.scalar(select(Message).where(Message.conversation_id == conversation.id))
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    stored = files.store_file(session, Actor.system(), message.subject_id, png, "foto-sepatu.png", kind="attachment",
                              tenant_id=tenant_a.id)
    attachment = Attachment(tenant_id=tenant_a.id, subject_id=message.subject_id, message_id=message.id,
                            file_id=stored.id, filename="foto-sepatu.png", content_type="image/png", size=len(png),
                            status="stored")
    session.add(attachment)
    session.commit()
    assert f"/inbox/attachments/{attachment.id}" in client.get(f"/inbox/conversations/{conversation.id}").text
    resp = client.get(f"/inbox/attachments/{attachment.id}")
    assert resp.status_code == 200 and resp.content == png and "attachment" in resp.headers["content-disposition"]
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "file.downloaded")) is not None


def test_live_refresh_sends_html_only_when_something_changed(client, session, inbox):  # noqa: ANN001
    conversation = inbox["conversation"]
    first = client.get(f"/inbox/live?conversation_id={conversation.id}").json()
    assert "Yohana Manurung" in first["list_html"] and "ukuran 42" in first["thread_html"]
    same = client.get(f"/inbox/live?conversation_id={conversation.id}&list_stamp={first['list_stamp']}"
                      f"&thread_stamp={first['thread_stamp']}").json()
    assert "thread_html" not in same
    arrive(session, inbox["chat"], "pengunjung-1", "Warna hitam ya")
    session.commit()
    later = client.get(f"/inbox/live?conversation_id={conversation.id}&list_stamp={first['list_stamp']}"
                       f"&thread_stamp={first['thread_stamp']}").json()
    assert "Warna hitam ya" in later["thread_html"] and later["thread_stamp"] != first["thread_stamp"]
    assert client.get("/inbox/live?view=semua").status_code == 422


def test_agent_tools_save_replies_labels_limits_and_automatic_assignment(client, session, tenant_a, inbox):  # noqa: ANN001
    agent = tenant_a.add_staff(session, Role.AGENT, name="Agen Alat")
    session.commit()
    page = client.get("/inbox/tools")
    assert page.status_code == 200 and page_problems(page.text) == []
    csrf = form_token(page.text)
    assert _post(client, "/inbox/tools/canned", {"shortcut": "salam", "body": "Halo Kak!"}, csrf).status_code == 303
    assert _post(client, "/inbox/tools/canned", {"shortcut": "salam", "body": "Lagi"}, csrf).status_code == 422
    assert _post(client, "/inbox/tools/labels", {"label_name": "Retur"}, csrf).status_code == 303
    assert _post(client, f"/inbox/tools/agents/{agent.id}", {"available": "1", "max_open": "3"}, csrf).status_code \
        == 303
    assert _post(client, f"/inbox/tools/agents/{agent.id}", {"max_open": "nol"}, csrf).status_code == 422
    assert _post(client, "/inbox/tools/assignment", {"auto_assign": "1"}, csrf).status_code == 303
    assert count(session, CannedResponse, shortcut="salam") == 1
    assert count(session, ConversationLabel, name="retur") == 1
    state = session.scalar(select(AgentState).where(AgentState.user_id == agent.id))
    assert state.available and state.max_open == 3
    assert session.scalar(select(InboxSettings.auto_assign).where(InboxSettings.tenant_id == tenant_a.id))
    canned_row = session.scalar(select(CannedResponse).where(CannedResponse.shortcut == "salam"))
    assert _post(client, f"/inbox/tools/canned/{canned_row.id}", {"action": "delete"}, csrf).status_code == 303
    assert count(session, CannedResponse, shortcut="salam") == 0


def test_the_report_page_and_api(client, session, tenant_a, inbox):  # noqa: ANN001
    page = client.get("/inbox/reports")
    assert page.status_code == 200 and 'data-testid="total-conversations"' in page.text
    assert page_problems(page.text) == []
    assert client.get("/inbox/reports?since=2026-99-01").status_code == 422
    token = api_token(session, tenant_a.owner)
    data = client.get("/api/v1/inbox/reports", headers=bearer(token)).json()
    assert data["total"]["conversations"] == 1
    assert client.get("/api/v1/inbox/reports?since=bukan", headers=bearer(token)).status_code == 422


def test_roles_cashier_none_auditor_read_only_agent_not_a_colleagues(client, session, tenant_a, settings, inbox):  # noqa: ANN001
    conversation = inbox["conversation"]
    cashier = tenant_a.add_staff(session, Role.CASHIER, name="Kasir")
    auditor = tenant_a.add_staff(session, Role.AUDITOR, name="Auditor")
    agent = tenant_a.add_staff(session, Role.AGENT, name="Agen Satu")
    colleague = tenant_a.add_staff(session, Role.AGENT, name="Agen Dua")
    session.commit()
    csrf = browser_login(client, session, cashier, settings)
    assert client.get("/inbox").status_code == 403
    assert _post(client, f"/inbox/conversations/{conversation.id}/reply", {"body": "Halo"}, csrf).status_code == 403
    csrf = browser_login(client, session, auditor, settings)
    page = client.get(f"/inbox/conversations/{conversation.id}")
    assert page.status_code == 200 and 'data-testid="reply-form"' not in page.text
    assert _post(client, f"/inbox/conversations/{conversation.id}/reply", {"body": "Halo"}, csrf).status_code == 403
    conversation.assignee_id = colleague.id
    session.commit()
    browser_login(client, session, agent, settings)
    assert client.get(f"/inbox/conversations/{conversation.id}").status_code == 404
    assert "Yohana" not in client.get("/inbox").text
    assert count(session, Message, direction="out") == 0


def test_another_tenant_gets_404_everywhere(client, session, tenant_b, settings, inbox):  # noqa: ANN001
    conversation = inbox["conversation"]
    message = session.scalar(select(Message).where(Message.conversation_id == conversation.id))
    csrf = browser_login(client, session, tenant_b.owner, settings)
    for path in (f"/inbox/conversations/{conversation.id}", f"/api/v1/inbox/conversations/{conversation.id}"):
        assert client.get(path).status_code == 404
    for path, data in ((f"/inbox/conversations/{conversation.id}/reply", {"body": "Halo"}),
                       (f"/inbox/conversations/{conversation.id}/assign", {"assignee_id": "me"}),
                       (f"/inbox/conversations/{conversation.id}/status", {"status": "resolved"}),
                       (f"/inbox/messages/{message.id}/retry", {})):
        assert _post(client, path, data, csrf).status_code == 404
    assert "Yohana" not in client.get("/inbox").text
    assert count(session, Message, direction="out") == 0


def test_the_api_lists_reads_and_replies(client, session, tenant_a, inbox):  # noqa: ANN001
    token = api_token(session, tenant_a.owner)
    headers = bearer(token)
    listed = client.get("/api/v1/inbox/conversations?view=all", headers=headers).json()
    assert listed["items"][0]["contact_name"] == "Yohana Manurung" and listed["unread"]["all"] == 1
    conversation_id = listed["items"][0]["id"]
    messages = client.get(f"/api/v1/inbox/conversations/{conversation_id}/messages", headers=headers).json()
    assert messages[0]["body"] == "Apakah sepatu ukuran 42 ada?"
    sent = client.post(f"/api/v1/inbox/conversations/{conversation_id}/messages", json={"body": "/stok"},
                       headers=headers)
    assert sent.status_code == 201 and sent.json()["body"] == "Stok ada, Kak, silakan order."
    for body in ({"body": ""}, {"body": "x" * 4097}, {"body": "a", "unknown": 1}, {"template": "tidak_ada"}):
        resp = client.post(f"/api/v1/inbox/conversations/{conversation_id}/messages", json=body, headers=headers)
        assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
    assert client.put(f"/api/v1/inbox/conversations/{conversation_id}/labels", json={"labels": ["x"]},
                      headers=headers).status_code == 422
    assert client.post(f"/api/v1/inbox/conversations/{conversation_id}/assign", json={"assignee": "me"},
                       headers=headers).json()["assignee_id"] == str(tenant_a.owner.id)
    assert client.get("/api/v1/inbox/conversations?status=tutup", headers=headers).status_code == 422
    assert count(session, Message, direction="out") == 1


def test_the_demo_inbox_is_seeded_sealed(session, settings):  # noqa: ANN001
    from sqlalchemy import text

    from niaga.demo import seed_demo
    from niaga.inbox.models import ChannelIdentity, Conversation

    assert seed_demo(session, settings, force=True) is not None
    session.flush()
    assert count(session, Conversation) == 3 and count(session, CannedResponse) == 3
    assert {m.body for m in session.scalars(select(Message))} >= {"Bisa kirim ke Kupang?", "Sudah 3 hari."}
    raw = [row[0] for row in session.execute(text("SELECT body FROM messages"))]
    raw += [row[0] for row in session.execute(text("SELECT address FROM channel_identities"))]
    assert raw and all(isinstance(v, bytes | memoryview) for v in raw)
    assert not any(b"Kupang" in bytes(v) or b"kunjungan-" in bytes(v) for v in raw)
    assert count(session, ChannelIdentity) == 3
