"""Helpers for page tests: read a form's CSRF token, post a form the way a browser does, scan rendered HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import PASSWORD

SIGNUP = {
    "company_name": "Kedai Kopi Senja",
    "full_name": "Dewi Lestari",
    "position": "Pemilik",
    "email": "dewi@kopisenja.example",
    "phone": "0813-2222-3333",
    "birth_date": "1991-04-05",
    "password": PASSWORD,
    "accept_terms": "on",
    "industry": "food",
    "timezone": "Asia/Makassar",
}


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def post_form(client, path: str, data: dict, form_page: str | None = None):  # noqa: ANN001, ANN201
    """GET the form's page for its token, then POST the form (redirects not followed)."""
    page = client.get(form_page or path)
    assert page.status_code == 200, page.text[:500]
    return client.post(path, data={**data, "csrf_token": form_token(page.text)}, follow_redirects=False)


def rows(session: Session, model) -> int:  # noqa: ANN001
    """How many rows a table holds (as the test's transaction sees it)."""
    return session.scalar(select(func.count()).select_from(model))


class PageScan(HTMLParser):
    """Collects what the CSP forbids or what needs the internet, from a rendered page."""

    URL_ATTRIBUTES = {"src", "href", "action", "formaction", "poster", "srcset"}

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not names.get("src"):
                self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> block")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"{name}= on <{tag}>")
            if name in self.URL_ATTRIBUTES and value and value.strip().lower().startswith(
                ("http:", "https:", "//", "javascript:")
            ):
                self.problems.append(f"external {name}={value!r} on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("script body")


def page_problems(html: str) -> list[str]:
    """Inline code, inline styles and external URLs in a rendered page."""
    scan = PageScan()
    scan.feed(html)
    return scan.problems
