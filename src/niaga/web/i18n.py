"""UI language: gettext catalogs (.po, read with Babel) for Bahasa Indonesia (default) and English.

Message ids are the English text, so English needs no translations and a missing Indonesian entry
shows English rather than an empty string (tests/web/test_i18n.py keeps the Indonesian catalog complete).

Where the ids come from (the same extraction the test runs, mirrored in `babel.cfg` for pybabel):
- `_("…")` and `gettext("…")` in templates and Python;
- `Msg("…")` service messages (kit/messages.py), translated when rendered;
- `N_("…")` marks constants (problem titles) that are translated later;
- keyed ids built in templates, such as `_('role:' ~ user.role)`: every value of each family is listed in
  `keyed_message_ids()`, and the English catalog gives them their English text (`role:owner` → `Owner`);
- declared texts shown with `_(row.description)`: the descriptions and recipients of personal fields
  (`declared_message_ids()`).

After adding strings, run `python -m niaga.web.i18n` to add the new ids to both catalogs, then translate
the empty Indonesian entries.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

LOCALES = ("id", "en")
LOCALE_DIR = Path(__file__).parent / "locales"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "Msg": None, "N_": None}
# Relative to the package directory (src/niaga); babel.cfg says the same relative to the repository.
METHOD_MAP = [("**.py", "python"), ("web/templates/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a constant for extraction; it is translated where it is shown."""
    return message


def catalog_path(locale: str) -> Path:
    """Where a locale's catalog lives."""
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=None)
def catalog(locale: str) -> dict[str, str]:
    """msgid → translation for one locale (empty and fuzzy translations are left out)."""
    path = catalog_path(locale)
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        po = read_po(fh, locale=locale)
    return {m.id: m.string for m in po if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def gettext_for(locale: str) -> Callable[..., str]:
    """A gettext function for a locale; unknown ids fall back to the English id."""
    table = catalog(locale if locale in LOCALES else "id")

    def _(message: str, **params: object) -> str:
        text = table.get(message, message)
        return text.format(**params) if params else text

    return _


def accepted_locale(header: str | None) -> str | None:
    """The first of our languages named in an Accept-Language header (by q-value), if any."""
    if not header:
        return None
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = tag.strip().lower().split("-")[0]
        if language in LOCALES and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def pick_locale(requested: str | None, user_locale: str | None, default: str) -> str:
    """The language to show: explicit choice, then the staff member's setting, then the default."""
    for candidate in (requested, user_locale, default):
        if candidate in LOCALES:
            return candidate
    return "id"


# -- catalog maintenance (used by the completeness test and `python -m niaga.web.i18n`) --------------
def keyed_message_ids() -> dict[str, tuple[str, ...]]:
    """Families of ids that templates build from a stored value (`_('role:' ~ u.role)`), with every value."""
    from niaga.identity.accounts import INDUSTRIES
    from niaga.identity.permissions import Role

    return {
        "role": tuple(r.value for r in Role),
        "industry": tuple(INDUSTRIES),
        "status": ("active", "disabled"),  # identity.models User.status
        "outcome": ("ok", "denied", "failed"),  # privacy.audit AuditEvent.outcome
    }


def declared_message_ids() -> dict[str, str]:
    """Texts that live in declarations rather than calls and are shown through `_()`: the description and
    recipients of every personal field and file kind (the privacy inventory page). Text → where declared."""
    try:
        from niaga.privacy.inventory import build_inventory
    except ImportError:  # the inventory is not part of this build
        return {}
    found: dict[str, str] = {}
    for row in build_inventory():
        where = f"declared: {row.table}.{row.column}"
        for text in (row.description, *row.recipients):
            if text:
                found.setdefault(text, where)
    return found


def extract_messages(package_dir: Path = PACKAGE_DIR) -> dict[str, list[tuple[str, int]]]:
    """Every literal message id in the package, with where it is used."""
    found: dict[str, list[tuple[str, int]]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(package_dir), METHOD_MAP, {}, keywords=KEYWORDS, strip_comment_tags=True
    ):
        if isinstance(message, tuple):  # a plural or a call with more arguments: the id is the first
            message = message[0]
        if message:
            found.setdefault(message, []).append((filename, lineno))
    for family, values in keyed_message_ids().items():
        for value in values:
            found.setdefault(f"{family}:{value}", [])
    for text, where in declared_message_ids().items():
        found.setdefault(text, [(where, 0)])
    return found


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a message (format syntax; `{{` escapes are not fields)."""
    return set(PLACEHOLDER.findall(text.replace("{{", "").replace("}}", "")))


def iter_problems(locale: str = "id") -> Iterator[str]:
    """Human-readable problems of one catalog: missing translations and placeholder mismatches."""
    table = catalog(locale)
    for message, where in sorted(extract_messages().items()):
        place = f"{where[0][0]}:{where[0][1]}" if where else "(keyed id)"
        keyed = ":" in message and message.split(":", 1)[0] in keyed_message_ids() and " " not in message
        if locale == "id" or keyed:
            if message not in table:
                yield f"{place}: no {locale} translation for {message!r}"
                continue
        translated = table.get(message)
        if translated is not None and placeholders(translated) != placeholders(message):
            yield f"{place}: placeholders differ in {locale} for {message!r}: {translated!r}"


def update_catalogs() -> None:
    """Add newly extracted ids to both catalogs (keeping translations) and drop ids no longer used."""
    found = extract_messages()
    for locale in LOCALES:
        path = catalog_path(locale)
        if path.exists():
            with path.open("rb") as fh:
                old = read_po(fh, locale=locale)
        else:
            old = Catalog(locale=locale)
        new = Catalog(locale=locale, project="niaga", version="1", charset="utf-8", fuzzy=False,
                      header_comment=f"# niaga UI messages ({locale}). Ids are the English text; "
                                     "update with `python -m niaga.web.i18n`.",
                      creation_date=old.creation_date, revision_date=old.creation_date,
                      last_translator="niaga team", language_team="niaga team")
        for message, where in sorted(found.items(), key=lambda item: (item[1][0] if item[1] else ("~", 0), item[0])):
            previous = old.get(message)
            new.add(message, previous.string if previous else "",
                    locations=[(f, n) for f, n in where[:3] if n],
                    auto_comments=[f for f, n in where[:1] if not n],
                    flags=previous.flags if previous else ())
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, new, width=110, sort_output=False, include_previous=False, include_lineno=False)
    catalog.cache_clear()


if __name__ == "__main__":
    update_catalogs()
    missing = list(iter_problems("id")) + list(iter_problems("en"))
    for line in missing:
        print(line, file=sys.stderr)
    sys.exit(1 if missing else 0)
