"""`make run`, step by step as the Makefile does it: migrate, seed the demo, serve; then sign in over HTTP.

The server is a real `niaga serve` child process on a free loopback port with a fresh data dir and no
master key configured, exactly like a first `make run` on a new checkout.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from niaga.demo import DEMO_OWNER, DEMO_STAFF
from tests.ops.server import Niaga

DEMO_PASSWORD = "Demo-niaga-2026!"  # the documented default of NIAGA_DEMO_PASSWORD


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Niaga]:
    niaga = Niaga(tmp_path_factory.mktemp("make-run") / "var")
    upgrade = niaga.cli("db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    demo = niaga.cli("demo")
    assert demo.returncode == 0, demo.stderr
    niaga.demo_output = demo.stdout  # type: ignore[attr-defined]
    niaga.start()
    yield niaga
    niaga.stop()


def _login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    form = client.get("/login")
    assert form.status_code == 200
    assert client.cookies.get("niaga_csrf"), "the sign-in page must set the CSRF cookie"
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "the sign-in form must carry a csrf_token field"
    return client.post("/login", data={"csrf_token": token.group(1), "email": email, "password": password,
                                       "next": "/dashboard"})


def test_demo_prints_every_login_with_the_password(served: Niaga) -> None:
    out = served.demo_output  # type: ignore[attr-defined]
    assert "Toko Maju Jaya" in out
    for email in [DEMO_OWNER, *(row[1] for row in DEMO_STAFF)]:
        assert email in out
    assert DEMO_PASSWORD in out


def test_first_run_creates_a_private_master_key_file(served: Niaga) -> None:
    key_file = served.data_dir / "master.key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_healthz_reports_a_current_database(served: Niaga) -> None:
    resp = httpx.get(f"{served.base_url}/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "database": "reachable", "migrations": "current", "engine": "sqlite"}


def test_demo_owner_signs_in_and_sees_the_dashboard(served: Niaga) -> None:
    with httpx.Client(base_url=served.base_url, follow_redirects=True) as client:
        resp = _login(client, DEMO_OWNER, DEMO_PASSWORD)
        assert resp.status_code == 200
        assert resp.url.path == "/dashboard"
        assert "Rina Kusuma" in resp.text
        assert "Toko Maju Jaya" in resp.text
        session_cookie = next(c for c in client.cookies.jar if c.name == "niaga_session")
        assert session_cookie.has_nonstandard_attr("HttpOnly")


def test_a_wrong_password_is_refused_with_the_form_shown_again(served: Niaga) -> None:
    with httpx.Client(base_url=served.base_url, follow_redirects=False) as client:
        resp = _login(client, DEMO_STAFF[0][1], "not-the-demo-password")
        assert resp.status_code == 401
        assert 'name="csrf_token"' in resp.text
        assert client.get("/dashboard").status_code in (303, 401)


def test_a_login_without_the_csrf_token_is_refused(served: Niaga) -> None:
    with httpx.Client(base_url=served.base_url) as client:
        client.get("/login")
        resp = client.post("/login", data={"email": DEMO_OWNER, "password": DEMO_PASSWORD})
        assert resp.status_code == 403
        assert "niaga_session" not in client.cookies


def test_the_server_log_holds_no_personal_data(served: Niaga) -> None:
    with httpx.Client(base_url=served.base_url, follow_redirects=True) as client:
        assert _login(client, DEMO_OWNER, DEMO_PASSWORD).status_code == 200
    log = served.log_text()
    assert '"route": "/login"' in log  # requests are logged …
    for personal in [DEMO_OWNER, "Rina Kusuma", DEMO_PASSWORD, "081298765432", "+6281298765432"]:
        assert personal not in log  # … but never who made them


def test_the_raw_database_holds_no_demo_personal_data(served: Niaga) -> None:
    raw = b"".join(p.read_bytes() for p in Path(served.data_dir).glob("niaga.db*"))
    assert raw, "the SQLite database should be in the data dir"
    # The owner's name also appears as the tenant's published data protection officer (a public
    # contact in the privacy policy), so the staff members' names stand for "names" here.
    for personal in [DEMO_OWNER, "Siti Rahmawati", "Budi Santoso", "6281298765432", "1988-06-15", "1990-04-12"]:
        assert personal.encode() not in raw


def test_ctrl_c_stops_the_server_cleanly(tmp_path: Path) -> None:
    niaga = Niaga(tmp_path / "var")
    niaga.start()
    assert niaga.stop() == 0
    assert "Traceback" not in niaga.log_text()
