"""The catalogs are complete: every string a user can see has Bahasa Indonesia, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.frontend import parse_mapping_cfg

from niaga.web import i18n
from niaga.web.i18n import (
    declared_message_ids, extract_messages, gettext_for, iter_problems, keyed_message_ids, placeholders,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "src" / "niaga" / "web" / "templates"
LITERAL_CALL = re.compile(r"""(?<![\w.])_\(\s*(['"])((?:(?!\1).)+)\1\s*[,)]""")
KEYED_CALL = re.compile(r"""(?<![\w.])_\(\s*(['"])([a-z_]+):\1\s*~""")


def test_every_message_has_an_indonesian_translation_with_the_same_placeholders() -> None:
    problems = list(iter_problems("id"))
    assert not problems, "fix the Indonesian catalog (python -m niaga.web.i18n adds new ids):\n" + "\n".join(problems)


def test_keyed_ids_have_english_text() -> None:
    problems = list(iter_problems("en"))
    assert not problems, "fix the English catalog:\n" + "\n".join(problems)


def test_extraction_sees_templates_services_web_helpers_and_marked_constants() -> None:
    found = extract_messages()
    assert "Sign in" in found  # template _()
    assert "The email or password is not correct." in found  # service Msg()
    assert "You must be at least {age} years old to use niaga." in found  # Msg() with a parameter
    assert "erased" in found  # gettext() in templating.py
    assert "Request too large" in found  # N_() problem title in errors.py
    assert "role:cashier" in found and "industry:food" in found  # keyed ids


def test_descriptions_of_personal_fields_are_in_the_catalog_too() -> None:
    """The privacy inventory shows each declared field's description through `_()`."""
    declared = declared_message_ids()
    assert declared, "no personal field declarations found"
    assert set(declared) <= set(extract_messages())


def test_every_literal_in_templates_is_extracted() -> None:
    """A second, plain reading of the templates: nothing the Jinja extractor skipped."""
    found = extract_messages()
    missing = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for match in LITERAL_CALL.finditer(path.read_text(encoding="utf-8")):
            text = match.group(2)
            if text.endswith(":"):
                continue  # a keyed family prefix, checked below
            if text not in found:
                missing.append(f"{path.relative_to(TEMPLATES)}: {text!r}")
    assert not missing, missing


def test_templates_build_keyed_ids_only_from_known_families() -> None:
    """`_('family:' ~ value)` needs every value of the family in keyed_message_ids(), else it shows raw."""
    families = keyed_message_ids()
    unknown = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for match in KEYED_CALL.finditer(path.read_text(encoding="utf-8")):
            if match.group(2) not in families:
                unknown.append(f"{path.relative_to(TEMPLATES)}: {match.group(2)}:")
    assert not unknown, f"register these families in niaga.web.i18n.keyed_message_ids(): {unknown}"


def test_babel_cfg_extracts_the_same_files() -> None:
    with (ROOT / "babel.cfg").open() as fh:
        method_map, _ = parse_mapping_cfg(fh)
    assert method_map == [(f"src/niaga/{pattern}", method) for pattern, method in i18n.METHOD_MAP]


def test_placeholders_are_compared_by_name() -> None:
    assert placeholders("Tunggu {seconds} detik") == {"seconds"}
    assert placeholders("{a} dan {b:>3}") == {"a", "b"}
    assert placeholders("kurung {{literal}}") == set()
    assert placeholders("Tunggu {detik} detik") != placeholders("Wait {seconds} seconds.")


def test_translation_fills_parameters_and_falls_back_to_english() -> None:
    indonesian, english = gettext_for("id"), gettext_for("en")
    assert indonesian("Welcome, {name}", name="Rina") == "Selamat datang, Rina"
    assert english("Welcome, {name}", name="Rina") == "Welcome, Rina"
    assert english("role:owner") == "Owner" and indonesian("role:owner") == "Pemilik"
    assert indonesian("A sentence nobody translated.") == "A sentence nobody translated."
    assert gettext_for("fr")("Sign in") == "Masuk"  # unknown locales get the default language
