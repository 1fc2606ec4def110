"""Logs carry no personal data: a sign-up and a failed login leave no email, phone or name in them."""

from __future__ import annotations

import logging

from niaga.kit.logging import scrub
from tests.identity.helpers import GOOD_SIGNUP, post_form


def test_signup_and_login_logs_have_no_personal_values(client, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    resp = post_form(client, "/signup", GOOD_SIGNUP)
    assert resp.status_code == 303
    post_form(client, "/login", {"email": GOOD_SIGNUP["email"], "password": "salah-kata-sandi-ini", "next": "/"})
    post_form(client, "/signup", {**GOOD_SIGNUP, "phone": "bukan"})
    out, err = capfd.readouterr()
    captured = out + err + caplog.text
    assert "request" in captured  # logging did happen
    for value in ("andi@tokobaru.example", "Andi Pratama", "0812-1111-2222", "6281211112222", "1990-02-03",
                  GOOD_SIGNUP["password"]):
        assert value not in captured, f"{value!r} leaked into the logs"


def test_scrub_masks_common_personal_patterns():
    text = "kirim ke budi@contoh.co.id atau 0812-3456-7890 / +6281234567890, NIK 3171011708450001, Bearer abc.def"
    cleaned = scrub(text)
    for value in ("budi@contoh.co.id", "0812-3456-7890", "+6281234567890", "3171011708450001", "abc.def"):
        assert value not in cleaned
