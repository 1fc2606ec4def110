"""Templates and static files obey the CSP (no inline code or styles) and need no CDN."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "src" / "niaga" / "web"
TEMPLATES = sorted((WEB / "templates").rglob("*.html"))
JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
TAG = re.compile(r"<([a-zA-Z][\w-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.S)
ATTRIBUTE = re.compile(r"""([^\s=/>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
# Documents that leave niaga (the access report a person opens from their downloaded zip) are never served
# under niaga's CSP and must be readable offline on their own, so their styles travel inside them. They still
# carry no code and no external URL.
SELF_CONTAINED = ("access_report/",)
URL_ATTRIBUTES = {"src", "href", "action", "formaction", "poster", "data", "srcset", "manifest"}


def _attributes(markup: str) -> list[tuple[str, str, str]]:
    """(tag, attribute, value) of every tag, Jinja blocks removed."""
    found = []
    for tag in TAG.finditer(JINJA.sub(" ", markup)):
        for name, value in ATTRIBUTE.findall(tag.group(2)):
            found.append((tag.group(1).lower(), name.lower(), value.strip("\"'")))
    return found


def test_there_are_templates() -> None:
    assert len(TEMPLATES) >= 8


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(WEB / "templates")))
def test_template_has_no_inline_code_or_style_and_no_external_url(path: Path) -> None:
    markup = path.read_text(encoding="utf-8")
    for match in re.finditer(r"<script\b([^>]*)>(.*?)</script>", markup, re.S | re.I):
        assert "src=" in match.group(1), f"inline <script> in {path.name}"
        assert not match.group(2).strip(), f"<script src> with a body in {path.name}"
    self_contained = str(path.relative_to(WEB / "templates")).startswith(SELF_CONTAINED)
    assert self_contained or not re.search(r"<style\b", markup, re.I), f"<style> block in {path.name}"
    for tag, name, value in _attributes(markup):
        assert name != "style", f"style= on <{tag}> in {path.name}"
        assert not name.startswith("on"), f"{name}= handler on <{tag}> in {path.name}"
        if name in URL_ATTRIBUTES:
            lowered = value.strip().lower()
            assert not lowered.startswith(("http:", "https:", "//", "javascript:")), (
                f"{name}={value!r} on <{tag}> in {path.name}: pages must work offline (no CDN)"
            )


def test_the_scanner_catches_what_it_forbids() -> None:
    bad = '<a href="https://cdn.example/x.js" onclick="go()" style="color:red">x</a>'
    names = {name for _, name, _ in _attributes(bad)}
    assert {"href", "onclick", "style"} <= names


@pytest.mark.parametrize("path", sorted((WEB / "static").rglob("*.*")), ids=lambda p: p.name)
def test_static_files_load_nothing_from_elsewhere(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"""(url\(|@import|fetch\(|import\s)\s*['"]?(https?:)?//""", text), path.name
    assert "eval(" not in text and "innerHTML" not in text, path.name
