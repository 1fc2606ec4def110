"""UI language: gettext catalogs (.po, read with Babel) for Bahasa Indonesia (default) and English.

Message ids are the English text, so English needs no translations and a missing Indonesian entry
shows English rather than an empty string (a test keeps the Indonesian catalog complete).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = ("id", "en")
LOCALE_DIR = Path(__file__).parent / "locales"


@lru_cache(maxsize=None)
def catalog(locale: str) -> dict[str, str]:
    """msgid → translation for one locale (empty translations are left out)."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        po = read_po(fh, locale=locale)
    return {m.id: m.string for m in po if m.id and isinstance(m.id, str) and m.string}


def gettext_for(locale: str) -> Callable[[str], str]:
    """A gettext function for a locale; unknown ids fall back to the English id."""
    table = catalog(locale if locale in LOCALES else "id")

    def _(message: str, **params: object) -> str:
        text = table.get(message, message)
        return text.format(**params) if params else text

    return _


def pick_locale(requested: str | None, user_locale: str | None, default: str) -> str:
    """The language to show: explicit choice, then the staff member's setting, then the default."""
    for candidate in (requested, user_locale, default):
        if candidate in LOCALES:
            return candidate
    return "id"
