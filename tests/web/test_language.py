"""UI language: Bahasa Indonesia by default, English on request, remembered; a staff member's own choice."""

from __future__ import annotations

from niaga.web.deps import LANG_COOKIE
from tests.conftest import browser_login


def test_pages_are_in_indonesian_by_default(client) -> None:  # noqa: ANN001
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="id">' in page.text
    assert "<h1>Masuk</h1>" in page.text
    assert "Kata sandi" in page.text and "Password" not in page.text
    signup = client.get("/signup")
    assert "Buat akun bisnis Anda" in signup.text
    assert ">Makanan &amp; minuman<" in signup.text  # keyed industry names are translated too


def test_switching_to_english_is_remembered_and_can_be_undone(client) -> None:  # noqa: ANN001
    switch = client.get("/lang/en?next=/login", follow_redirects=False)
    assert switch.status_code == 303
    assert switch.headers["location"] == "/login"
    assert client.cookies.get(LANG_COOKIE) == "en"
    page = client.get("/login")
    assert '<html lang="en">' in page.text
    assert "<h1>Sign in</h1>" in page.text and "Masuk" not in page.text
    assert "Create your business account" in client.get("/signup").text  # still English on the next page

    back = client.get("/lang/id?next=/login")
    assert "<h1>Masuk</h1>" in back.text
    assert client.cookies.get(LANG_COOKIE) == "id"


def test_language_switch_ignores_unknown_languages_and_foreign_targets(client) -> None:  # noqa: ANN001
    unknown = client.get("/lang/fr?next=/login", follow_redirects=False)
    assert unknown.status_code == 303
    assert LANG_COOKIE not in unknown.headers.get("set-cookie", "")
    assert "<h1>Masuk</h1>" in client.get("/login").text
    for target in ("https://evil.example/phish", "//evil.example", "javascript:alert(1)"):
        away = client.get(f"/lang/en?next={target}", follow_redirects=False)
        assert away.status_code == 303
        assert "evil" not in away.headers["location"] and away.headers["location"].startswith("/")


def test_a_signed_in_user_sees_their_own_language_unless_they_switch(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    tenant_a.owner.locale = "en"
    session.commit()
    browser_login(client, session, tenant_a.owner, settings)
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "Welcome, Rina Kusuma" in page.text
    assert "Owner" in page.text and "Sign out" in page.text

    client.get("/lang/id?next=/dashboard")
    page = client.get("/dashboard")
    assert "Selamat datang, Rina Kusuma" in page.text
    assert "Pemilik" in page.text and "Keluar" in page.text


def test_error_pages_speak_the_visitors_language(client) -> None:  # noqa: ANN001
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "Halaman ini tidak ada." in missing.text
    client.cookies.set(LANG_COOKIE, "en")
    assert "This page does not exist." in client.get("/no-such-page").text


def test_api_problems_are_translated_too(client) -> None:  # noqa: ANN001
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["title"] == "Tidak ditemukan"
    client.cookies.set(LANG_COOKIE, "en")
    assert client.get("/api/v1/no-such-thing").json()["title"] == "Not found"


def test_switching_language_keeps_the_page_and_its_query(client) -> None:  # noqa: ANN001
    page = client.get("/login?next=/staff")
    assert 'href="/lang/en?next=/login%3Fnext%3D/staff"' in page.text
    switched = client.get("/lang/en?next=/login%3Fnext%3D/staff", follow_redirects=False)
    assert switched.headers["location"] == "/login?next=/staff"
    assert 'name="next" value="/staff"' in client.get(switched.headers["location"]).text


def test_api_clients_get_their_accept_language(client, session, tenant_a):
    from niaga.web.i18n import accepted_locale

    assert accepted_locale("en-US,en;q=0.9,id;q=0.8") == "en"
    assert accepted_locale("fr-FR, id;q=0.5, en;q=0.4") == "id"
    assert accepted_locale("de, fr") is None and accepted_locale("en;q=0") is None
    resp = client.get("/api/v1/me", headers={"Accept-Language": "en-GB"})
    assert resp.status_code == 401 and "sign in" in resp.json()["detail"].lower()
    resp = client.get("/api/v1/me", headers={"Accept-Language": "id-ID"})
    assert "masuk" in resp.json()["detail"].lower()
