"""Security around every page: headers, HTTPS, CSRF on every form, request size limit."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from niaga.app import create_app
from niaga.identity.models import StaffSession, Tenant, User
from niaga.privacy.audit import AuditEvent
from niaga.web.deps import CSRF_COOKIE, SESSION_COOKIE
from tests.conftest import PASSWORD, browser_login, make_settings
from tests.web.helpers import SIGNUP, form_token, post_form, rows

CSRF_MESSAGE = "Formulir sudah kedaluwarsa atau dikirim dari situs lain. Muat ulang halaman, lalu coba lagi."


# -- headers -----------------------------------------------------------------------------------------
def _assert_security_headers(response) -> None:  # noqa: ANN001
    csp = response.headers["content-security-policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'self'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
    assert response.headers["x-frame-options"] == "DENY"


def test_pages_errors_and_static_files_carry_the_security_headers(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    for path in ("/login", "/signup", "/no-such-page", "/static/niaga.css", "/lang/en?next=/login"):
        _assert_security_headers(client.get(path, follow_redirects=False))
    browser_login(client, session, tenant_a.owner, settings)
    for path in ("/dashboard", "/staff", "/account", "/settings"):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_security_headers(response)
        assert "strict-transport-security" not in response.headers  # plain HTTP in development


def test_with_require_https_http_is_redirected_and_https_gets_hsts(tmp_path, database) -> None:  # noqa: ANN001
    app = create_app(make_settings(tmp_path, require_https=True, base_url="https://testserver"), database)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as plain:
        redirect = plain.get("/login?next=/staff", follow_redirects=False)
        assert redirect.status_code == 308
        assert redirect.headers["location"] == "https://testserver/login?next=/staff"
        posted = plain.post("/login", data={"email": "x@example.com"}, follow_redirects=False)
        assert posted.status_code == 308  # 308 keeps the method: the browser re-sends the form over HTTPS
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as secure:
        page = secure.get("/login")
        assert page.status_code == 200
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert int(page.headers["strict-transport-security"].split("=")[1].split(";")[0]) >= 15552000
        assert "secure" in page.headers["set-cookie"].lower()  # the CSRF cookie
        signed_up = secure.post("/signup", data={**SIGNUP, "csrf_token": form_token(page.text)},
                                follow_redirects=False)
        assert signed_up.status_code == 303
        cookie = next(c for c in signed_up.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
        assert "secure" in cookie.lower() and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


# -- CSRF ----------------------------------------------------------------------------------------------
def test_sign_up_with_a_forged_or_missing_token_creates_nothing(client, session) -> None:  # noqa: ANN001
    before = (rows(session, Tenant), rows(session, User))
    client.get("/signup")  # the visitor has a CSRF cookie, the attacker's page does not know its token
    for token in ("forged-token", "", None):
        data = dict(SIGNUP) if token is None else {**SIGNUP, "csrf_token": token}
        response = client.post("/signup", data=data, follow_redirects=False)
        assert response.status_code == 403
        assert CSRF_MESSAGE in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert (rows(session, Tenant), rows(session, User)) == before
    refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "security.csrf-failed")).all()
    assert len(refused) >= 3 and all(e.outcome == "denied" for e in refused)


def test_a_token_minted_for_another_visitor_is_refused(client, session) -> None:  # noqa: ANN001
    other = client.get("/signup")
    stolen = form_token(other.text)
    client.cookies.set(CSRF_COOKIE, "another-visitors-cookie-value")
    before = rows(session, Tenant)
    response = client.post("/signup", data={**SIGNUP, "csrf_token": stolen}, follow_redirects=False)
    assert response.status_code == 403
    assert rows(session, Tenant) == before


def test_a_post_without_any_csrf_cookie_is_refused(client, session) -> None:  # noqa: ANN001
    page = client.get("/signup")
    token = form_token(page.text)
    client.cookies.delete(CSRF_COOKIE)
    response = client.post("/signup", data={**SIGNUP, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 403


def test_logout_without_the_token_keeps_the_session(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    token = browser_login(client, session, tenant_a.owner, settings)
    refused = client.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert CSRF_MESSAGE in refused.text
    assert client.get("/dashboard").status_code == 200  # still signed in
    live = session.scalars(select(StaffSession).where(StaffSession.user_id == tenant_a.owner.id,
                                                      StaffSession.revoked_at.is_(None))).all()
    assert live

    done = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    after = client.get("/dashboard", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/login")


def test_signed_in_forms_refuse_a_forged_token_and_change_nothing(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    browser_login(client, session, tenant_a.owner, settings)
    response = client.post("/settings", data={"csrf_token": "x" * 64, "name": "Dibajak", "industry": "other",
                                              "timezone": "Asia/Jayapura", "locale": "en"}, follow_redirects=False)
    assert response.status_code == 403
    session.expire_all()
    assert session.get(Tenant, tenant_a.id).name == "Toko Sinar Abadi"
    invite = client.post("/staff/invite", data={"email": "penyusup@example.com", "role": "admin"},
                         follow_redirects=False)
    assert invite.status_code == 403
    assert "penyusup" not in client.get("/staff").text


def test_a_header_token_works_for_scripts(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    token = browser_login(client, session, tenant_a.owner, settings)
    response = client.post("/logout", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert response.status_code == 303


# -- size limit ------------------------------------------------------------------------------------
def test_a_body_over_the_limit_gets_413_and_nothing_is_written(client, session, settings) -> None:  # noqa: ANN001
    page = client.get("/signup")
    before = rows(session, Tenant)
    padding = "x" * (settings.max_body_bytes + 1)
    response = client.post("/signup", data={**SIGNUP, "csrf_token": form_token(page.text), "position": padding})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 413 and str(settings.max_body_bytes) in problem["detail"]
    assert rows(session, Tenant) == before


def test_a_streamed_body_over_the_limit_is_cut_off(client, session, settings) -> None:  # noqa: ANN001
    def chunks():  # noqa: ANN202 - no Content-Length: the server counts as it reads
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"a" * 65536

    response = client.post("/login", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_a_form_under_the_limit_still_works(client, session) -> None:  # noqa: ANN001
    response = post_form(client, "/login", {"email": "rina@sinarabadi.example", "password": PASSWORD + "-salah"})
    assert response.status_code == 401
