"""Helpers for identity tests: page forms with their CSRF token, counting rows."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.identity.models import Tenant, User
from tests.conftest import PASSWORD

GOOD_SIGNUP = {
    "company_name": "Toko Baru Jaya",
    "full_name": "Andi Pratama",
    "position": "Pemilik",
    "email": "andi@tokobaru.example",
    "phone": "0812-1111-2222",
    "birth_date": "1990-02-03",
    "password": PASSWORD,
    "accept_terms": "on",
    "industry": "retail",
    "timezone": "Asia/Jakarta",
}


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def post_form(client, path: str, data: dict, **kwargs):  # noqa: ANN001, ANN201
    """GET the page for its token, then POST the form as a browser would."""
    page = client.get(kwargs.pop("form_page", path))
    return client.post(path, data={**data, "csrf_token": form_token(page.text)}, follow_redirects=False, **kwargs)


def count(session: Session, model) -> int:  # noqa: ANN001
    """Rows of a model."""
    return session.scalar(select(func.count()).select_from(model))


def counts(session: Session) -> tuple[int, int]:
    """(tenants, users)."""
    return count(session, Tenant), count(session, User)
