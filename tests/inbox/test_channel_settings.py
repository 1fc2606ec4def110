"""Channel settings for staff: the pages under /inbox/channels and the API under /api/v1/inbox/channels.

What staff see (webhook URL, verify token, which secrets are set, the web chat snippet and its identity
secret once), what they can change, and every refusal: bad kinds, missing and too-long values, unknown
settings, wrong roles, another tenant's channel. Secret values never appear in an answer.
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from niaga.config import get_settings
from niaga.identity.permissions import Role
from niaga.inbox import service
from niaga.inbox.channels import webchat
from niaga.inbox.models import Channel
from tests.conftest import api_token, bearer, browser_login
from tests.support.fake_meta import encode, sign, wa_delivery, wa_message
from tests.support.fake_telegram import FakeTelegram
from tests.web.helpers import form_token

WA = {"phone_number_id": "106540352242922", "waba_id": "102290129340398",
      "access_token": "EAAGrahasiaTokenAksesWhatsApp0123456789", "app_secret": "rahasia-aplikasi-meta-123"}
SECRET_VALUES = [WA["access_token"], WA["app_secret"]]
API = "/api/v1/inbox/channels"


def channel_count(session, tenant_id) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Channel).where(Channel.tenant_id == tenant_id))


@pytest.fixture
def owner_api(client, session, tenant_a):
    client.headers.update(bearer(api_token(session, tenant_a.owner)))
    return client


# -- API -------------------------------------------------------------------------------------------------
def test_api_connects_whatsapp_and_never_returns_secrets(owner_api, session, tenant_a, settings):
    resp = owner_api.post(API, json={"kind": "whatsapp", "name": "WhatsApp Toko", "settings": WA})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["account_ref"] == WA["phone_number_id"] and body["settings"]["waba_id"] == WA["waba_id"]
    assert body["secrets_set"] == {"access_token": True, "app_secret": True}
    channel = session.get(Channel, (tenant_a.id, uuid.UUID(body["id"])))
    assert body["webhook_url"] == settings.base_url.rstrip("/") + f"/webhooks/whatsapp/{channel.webhook_key}"
    assert body["verify_token"] == channel.verify_token
    for path in (API, f"{API}/{body['id']}"):
        text = owner_api.get(path).text
        assert all(value not in text for value in SECRET_VALUES)
    assert service.channel_secrets_of(session, channel)["app_secret"] == WA["app_secret"]


def test_api_update_and_secrets(owner_api, session, tenant_a):
    created = owner_api.post(API, json={"kind": "whatsapp", "name": "WhatsApp Toko", "settings": WA}).json()
    path = f"{API}/{created['id']}"
    resp = owner_api.patch(path, json={"name": "WA Cabang", "settings": {"waba_id": "99"}, "active": False})
    assert resp.status_code == 200 and resp.json()["name"] == "WA Cabang" and resp.json()["active"] is False
    assert resp.json()["settings"]["waba_id"] == "99" and resp.json()["account_ref"] == WA["phone_number_id"]
    resp = owner_api.put(f"{path}/secrets", json={"secrets": {"app_secret": "rahasia-baru-456"}})
    assert resp.status_code == 200 and "rahasia-baru-456" not in resp.text
    channel = session.get(Channel, (tenant_a.id, uuid.UUID(created["id"])))
    session.refresh(channel)
    stored = service.channel_secrets_of(session, channel)
    assert stored["app_secret"] == "rahasia-baru-456" and stored["access_token"] == WA["access_token"]


@pytest.mark.parametrize("body", [
    {"name": "Tanpa jenis"},
    {"kind": "fax", "name": "Faks"},
    {"kind": "whatsapp", "name": ""},
    {"kind": "whatsapp", "name": "x" * 81, "settings": WA},
    {"kind": "whatsapp", "name": "WA", "settings": {**WA, "phone_number_id": "bukan-angka"}},
    {"kind": "whatsapp", "name": "WA", "settings": {k: v for k, v in WA.items() if k != "access_token"}},
    {"kind": "whatsapp", "name": "WA", "settings": {**WA, "access_token": "a" * 2001}},
    {"kind": "whatsapp", "name": "WA", "settings": {**WA, "tidak_dikenal": "x"}},
    {"kind": "whatsapp", "name": "WA", "settings": {**WA, "app_secret": "baris\nkedua"}},
    {"kind": "whatsapp", "name": "WA", "settings": WA, "extra": 1},
    {"kind": "telegram", "name": "Bot", "settings": {"bot_token": "bukan-token"}},
    {"kind": "email", "name": "Email", "settings": {"address": "bukan-email"}},
    {"kind": "email", "name": "Email", "settings": {"address": "cs@toko.example", "imap_host": "imap.toko.example",
                                                   "imap_port": "99999", "imap_security": "tls",
                                                   "smtp_host": "smtp.toko.example", "smtp_port": "587",
                                                   "smtp_security": "kadang", "username": "cs", "password": "x"}},
    {"kind": "webchat", "name": "Chat", "settings": {"allowed_origins": ["javascript:alert(1)"]}},
    {"kind": "webchat", "name": "Chat", "settings": {"allowed_origins": "https://toko.example/path"}},
    {"kind": "webchat", "name": "Chat", "settings": {"allowed_origins": [f"https://t{n}.example" for n in range(21)]}},
    ["bukan", "objek"],
])
def test_api_refuses_bad_channels_and_creates_nothing(owner_api, session, tenant_a, body):
    resp = owner_api.post(API, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert channel_count(session, tenant_a.id) == 0


def test_api_refuses_a_second_channel_on_the_same_account(owner_api, session, tenant_a):
    assert owner_api.post(API, json={"kind": "whatsapp", "name": "WA 1", "settings": WA}).status_code == 201
    resp = owner_api.post(API, json={"kind": "whatsapp", "name": "WA 2", "settings": WA})
    assert resp.status_code == 422 and "phone_number_id" in resp.json()["errors"]
    assert channel_count(session, tenant_a.id) == 1


@pytest.mark.parametrize("body", [
    {}, {"name": ""}, {"active": "ya"}, {"settings": {"waba_id": "abc"}}, {"settings": {"bot_token": "x"}},
    {"name": "x" * 201},
])
def test_api_refuses_bad_updates(owner_api, session, tenant_a, body):
    created = owner_api.post(API, json={"kind": "whatsapp", "name": "WhatsApp Toko", "settings": WA}).json()
    resp = owner_api.patch(f"{API}/{created['id']}", json=body)
    assert resp.status_code == 422
    assert owner_api.get(f"{API}/{created['id']}").json()["name"] == "WhatsApp Toko"


@pytest.mark.parametrize("secrets", [{}, {"bot_token": "x"}, {"app_secret": ""}, {"app_secret": " spasi "}])
def test_api_refuses_bad_secrets(owner_api, secrets):
    created = owner_api.post(API, json={"kind": "whatsapp", "name": "WhatsApp Toko", "settings": WA}).json()
    assert owner_api.put(f"{API}/{created['id']}/secrets", json={"secrets": secrets}).status_code == 422


def test_api_roles_and_tenants(client, session, tenant_a, tenant_b):
    channel = service.create_channel(session, tenant_a.principal(), kind="webchat", name="Chat Rahasia")
    agent = tenant_a.add_staff(session, Role.AGENT)
    session.commit()
    agent_headers = bearer(api_token(session, agent))
    assert client.get(API, headers=agent_headers).status_code == 403
    assert client.post(API, headers=agent_headers, json={"kind": "webchat", "name": "Chat"}).status_code == 403
    outsider = bearer(api_token(session, tenant_b.owner))
    path = f"{API}/{channel.id}"
    assert client.get(path, headers=outsider).status_code == 404
    assert client.patch(path, headers=outsider, json={"name": "Diambil"}).status_code == 404
    assert client.put(f"{path}/secrets", headers=outsider, json={"secrets": {"identity_secret": "x"}}).status_code == 404
    assert "Chat Rahasia" not in client.get(API, headers=outsider).text
    assert client.get(f"{API}/bukan-uuid", headers=outsider).status_code == 422
    session.refresh(channel)
    assert channel.name == "Chat Rahasia"


# -- pages ------------------------------------------------------------------------------------------------
@pytest.fixture
def owner_page(client, session, tenant_a, settings):
    browser_login(client, session, tenant_a.owner, settings)
    return client


def _post(client, path: str, data: dict, form_page: str):
    page = client.get(form_page)
    assert page.status_code == 200, page.text[:300]
    return client.post(path, data={**data, "csrf_token": form_token(page.text)}, follow_redirects=False)


def test_page_connects_web_chat_and_shows_the_identity_secret_once(owner_page, session, tenant_a, settings):
    assert "Chat web" in owner_page.get("/inbox/channels").text
    resp = _post(owner_page, "/inbox/channels/new", {"kind": "webchat", "name": "Chat Toko",
                                                     "allowed_origins": "https://toko.example/\nhttps://www.toko.example"},
                 "/inbox/channels/new?kind=webchat")
    assert resp.status_code == 200, resp.text[:500]
    channel = session.scalars(select(Channel).where(Channel.tenant_id == tenant_a.id)).one()
    secret = service.channel_secrets_of(session, channel)["identity_secret"]
    assert secret in resp.text and f'data-channel="{channel.webhook_key}"' in resp.text.replace("&#34;", '"')
    assert channel.config["allowed_origins"] == ["https://toko.example", "https://www.toko.example"]
    later = owner_page.get(f"/inbox/channels/{channel.id}")
    assert later.status_code == 200 and secret not in later.text
    assert "/static/webchat/widget.js" in later.text

    rotated = _post(owner_page, f"/inbox/channels/{channel.id}/identity-secret", {}, f"/inbox/channels/{channel.id}")
    session.refresh(channel)
    fresh = service.channel_secrets_of(session, channel)["identity_secret"]
    assert fresh != secret and fresh in rotated.text
    user = {"id": "u-1", "email": "budi@pelanggan.example", "name": "Budi", "hash": webchat.identity_hash(secret, "u-1")}
    assert owner_page.post(f"/webchat/{channel.webhook_key}/sessions", json={"user": user}).status_code == 401
    user["hash"] = webchat.identity_hash(fresh, "u-1")
    assert owner_page.post(f"/webchat/{channel.webhook_key}/sessions", json={"user": user}).status_code == 201


def test_page_shows_webhook_url_verify_token_and_which_secrets_are_set(owner_page, session, tenant_a, settings):
    resp = _post(owner_page, "/inbox/channels/new", {"kind": "whatsapp", "name": "WhatsApp Toko", **WA},
                 "/inbox/channels/new?kind=whatsapp")
    assert resp.status_code == 303
    channel = session.scalars(select(Channel).where(Channel.tenant_id == tenant_a.id)).one()
    page = owner_page.get(resp.headers["location"]).text
    assert settings.base_url.rstrip("/") + f"/webhooks/whatsapp/{channel.webhook_key}" in page
    assert channel.verify_token in page
    assert all(value not in page for value in SECRET_VALUES)
    assert page.count("Sudah diatur — kosongkan untuk tetap memakainya.") == 2


def test_page_edit_keeps_secrets_left_empty_and_switches_off(owner_page, client, session, tenant_a):
    channel, _ = __import__("niaga.inbox.channel_settings", fromlist=["create"]).create(
        session, tenant_a.principal(), "whatsapp", "WhatsApp Toko", WA)
    session.commit()
    detail = f"/inbox/channels/{channel.id}"
    resp = _post(owner_page, detail, {"name": "WA Pusat", "phone_number_id": WA["phone_number_id"], "waba_id": "77",
                                      "access_token": "", "app_secret": "rahasia-baru-789"}, detail)
    assert resp.status_code == 303
    session.refresh(channel)
    stored = service.channel_secrets_of(session, channel)
    assert channel.name == "WA Pusat" and channel.config["waba_id"] == "77"
    assert stored == {"access_token": WA["access_token"], "app_secret": "rahasia-baru-789"}

    assert _post(owner_page, f"{detail}/active", {"active": "off"}, detail).status_code == 303
    session.refresh(channel)
    assert channel.active is False and "Nonaktif" in owner_page.get(detail).text
    assert client.get(f"/webhooks/whatsapp/{channel.webhook_key}?hub.mode=subscribe").status_code == 404
    assert _post(owner_page, f"{detail}/active", {"active": "on"}, detail).status_code == 303
    session.refresh(channel)
    assert channel.active is True


def test_a_new_app_secret_or_switching_off_applies_to_the_very_next_delivery(owner_page, client, session, tenant_a):
    channel, _ = __import__("niaga.inbox.channel_settings", fromlist=["create"]).create(
        session, tenant_a.principal(), "whatsapp", "WhatsApp Toko", WA)
    session.commit()
    detail, url = f"/inbox/channels/{channel.id}", f"/webhooks/whatsapp/{channel.webhook_key}"
    body = encode(wa_delivery(WA["phone_number_id"], messages=[wa_message("6281234567890", "text", {"body": "Halo"})]))
    assert client.post(url, content=body, headers=sign(body, WA["app_secret"])).status_code == 200  # now known

    assert _post(owner_page, detail, {"name": "WhatsApp Toko", "phone_number_id": WA["phone_number_id"], "waba_id": "77",
                                      "access_token": "", "app_secret": "rahasia-baru-789"}, detail).status_code == 303
    assert client.post(url, content=body, headers=sign(body, WA["app_secret"])).status_code == 401
    assert client.post(url, content=body, headers=sign(body, "rahasia-baru-789")).json()["duplicates"] == 1

    assert _post(owner_page, f"{detail}/active", {"active": "off"}, detail).status_code == 303
    assert client.post(url, content=body, headers=sign(body, "rahasia-baru-789")).status_code == 404


def test_page_refusals_show_the_form_again_without_secrets(owner_page, session, tenant_a):
    bad = {**WA, "name": "WhatsApp Toko", "kind": "whatsapp", "phone_number_id": "nomor-salah"}
    resp = _post(owner_page, "/inbox/channels/new", bad, "/inbox/channels/new?kind=whatsapp")
    assert resp.status_code == 422 and "Hanya angka." in resp.text
    assert 'value="nomor-salah"' in resp.text and WA["access_token"] not in resp.text
    resp = _post(owner_page, "/inbox/channels/new", {"kind": "fax", "name": "x"}, "/inbox/channels/new")
    assert resp.status_code == 422 and "Pilih jenis kanal." in resp.text
    assert channel_count(session, tenant_a.id) == 0
    created = _post(owner_page, "/inbox/channels/new", {**WA, "name": "WA", "kind": "whatsapp"},
                    "/inbox/channels/new?kind=whatsapp")
    detail = created.headers["location"].split("?")[0]
    resp = _post(owner_page, detail, {"name": "", "phone_number_id": WA["phone_number_id"], "waba_id": "1"}, detail)
    assert resp.status_code == 422
    resp = _post(owner_page, f"{detail}/active", {"active": "mungkin"}, detail)
    assert resp.status_code == 422
    assert _post(owner_page, f"{detail}/identity-secret", {}, detail).status_code == 409


def test_pages_roles_and_tenants(client, session, tenant_a, tenant_b, settings):
    channel = service.create_channel(session, tenant_a.principal(), kind="webchat", name="Chat Rahasia")
    agent = tenant_a.add_staff(session, Role.AGENT)
    session.commit()
    browser_login(client, session, agent, settings)
    assert client.get("/inbox/channels", follow_redirects=False).status_code == 403
    browser_login(client, session, tenant_b.owner, settings)
    assert client.get(f"/inbox/channels/{channel.id}").status_code == 404
    assert "Chat Rahasia" not in client.get("/inbox/channels").text
    token = form_token(client.get("/inbox/channels/new?kind=webchat").text)
    resp = client.post(f"/inbox/channels/{channel.id}", data={"name": "Diambil", "csrf_token": token})
    assert resp.status_code == 404
    session.refresh(channel)
    assert channel.name == "Chat Rahasia"


# -- Telegram -------------------------------------------------------------------------------------------------
@pytest.fixture
def fake_telegram(monkeypatch):
    with FakeTelegram() as server:
        monkeypatch.setenv("NIAGA_TELEGRAM_API_BASE", server.url)
        get_settings.cache_clear()
        yield server
    monkeypatch.undo()
    get_settings.cache_clear()


def test_telegram_webhook_is_registered_from_the_page(owner_page, session, tenant_a, settings, fake_telegram):
    resp = _post(owner_page, "/inbox/channels/new", {"kind": "telegram", "name": "Bot Toko",
                                                     "bot_token": fake_telegram.token}, "/inbox/channels/new?kind=telegram")
    assert resp.status_code == 303
    channel = session.scalars(select(Channel).where(Channel.tenant_id == tenant_a.id)).one()
    assert channel.account_ref == fake_telegram.token.split(":")[0]
    detail = resp.headers["location"].split("?")[0]
    page = owner_page.get(detail).text
    assert fake_telegram.token not in page and "Daftarkan webhook ke Telegram" in page
    done = _post(owner_page, f"{detail}/telegram-webhook", {}, detail)
    assert done.status_code == 200 and "Telegram sekarang mengirim pesan bot ini ke sini." in done.text
    call = [r for r in fake_telegram.requests if r.api_method == "setWebhook"][-1]
    assert call.body["url"] == settings.base_url.rstrip("/") + f"/webhooks/telegram/{channel.webhook_key}"
    assert call.body["secret_token"] == service.channel_secrets_of(session, channel)["webhook_secret"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", call.body["secret_token"])


def test_telegram_refusal_is_shown(owner_page, session, tenant_a, fake_telegram):
    from niaga.inbox import channel_settings

    channel, _ = channel_settings.create(session, tenant_a.principal(), "telegram", "Bot Lain",
                                         {"bot_token": "7009999999:AAHtokenYangTidakDikenalFakeServer_x"})
    session.commit()
    detail = f"/inbox/channels/{channel.id}"
    resp = _post(owner_page, f"{detail}/telegram-webhook", {}, detail)
    assert resp.status_code == 502 and "Telegram menolak" in resp.text
