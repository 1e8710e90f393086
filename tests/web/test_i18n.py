"""The screens' catalogues: every id the code and the templates use has a Japanese and an
English text, the two catalogues hold the same ids, and nothing in them is dead.

The extraction is babel's, in-process, with the project's babel.cfg: the same one
``pybabel extract`` runs (docs/screens.md), so what passes here is what the documented
update keeps.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import tomllib
from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from structlog.testing import capture_logs

from myna.web.ui import i18n, i18n_extract

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src" / "myna" / "web"


@cache
def extracted() -> dict[str, set[str]]:
    """Every id babel extracts from src/myna/web, with the files it is in."""
    with (ROOT / "babel.cfg").open() as fp:
        method_map, options_map = parse_mapping_cfg(fp, "babel.cfg")
    found: dict[str, set[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(str(WEB), method_map, options_map):
        assert isinstance(message, str), (filename, message)  # no plural or context forms in use
        found.setdefault(message, set()).add(filename)
    return found


def entries(lang: str):
    with i18n.catalogue_path(lang).open("rb") as fp:
        return read_po(fp, locale=lang)


def untranslated(ids) -> dict[str, list[str]]:
    catalogues = {lang: i18n.read_catalogue(lang) for lang in i18n.LANGS}
    return {
        key: [lang for lang in i18n.LANGS if not catalogues[lang].get(key)]
        for key in sorted(ids)
        if not all(catalogues[lang].get(key) for lang in i18n.LANGS)
    }


def test_extraction_finds_the_screens_ids():
    ids = extracted()
    # one of each way an id is used: a template's t("…"), a loop over a literal list in a
    # template, text() in code, a literal held in a form's errors, a call inside an
    # f-string, an enum-valued family, a map of notes
    for key, where in {
        "nav.console": "templates/",
        "counter.auth_pin": "templates/counter_card.html",
        "counter.entered_by.proxy": "templates/counter_card.html",
        "counter.error.no_card": "ui/counter.py",
        "form.error.required": "ui/console.py",
        "counter.note.replaced_by": "ui/counter.py",
        "error.forbidden": "ui/frame.py",
        "reason.linked-card-revoked": "ui/i18n_extract.py",
        "counter.note.shipment": "ui/",
    }.items():
        assert key in ids and any(f.startswith(where) for f in ids[key]), (key, ids.get(key))
    # template names are not ids, nor are module names
    assert not [key for key in ids if key.endswith(".html") or key.startswith("myna.")]


def test_every_extracted_id_has_a_japanese_and_an_english_text():
    missing = untranslated(extracted())
    assert not missing, f"untranslated ids (add them to web/locale/*/LC_MESSAGES/messages.po): {missing}"


def test_every_id_built_from_a_value_has_a_japanese_and_an_english_text():
    """tv(prefix, value) and t(prefix + value): every value the domain's enums and the
    screens' maps can give, joined with its prefix."""
    from myna.cards.card_status import CardStatus
    from myna.pki.revocation import RevocationReason
    from myna.web.ui.counter import PRODUCTION_NOTES, SYSTEM_NOTES

    ids = i18n_extract.dynamic_ids()
    assert {f"reason.{r.value}" for r in RevocationReason} <= ids
    assert {f"card.{c.value}" for c in CardStatus} <= ids
    assert set(SYSTEM_NOTES.values()) | set(PRODUCTION_NOTES.values()) <= ids
    missing = untranslated(ids)
    assert not missing, f"untranslated ids: {missing}"
    assert ids <= set(extracted())  # and babel.cfg still hands them to the template catalogue


def test_defect_codes_are_the_ones_the_domain_writes():
    """The defect family is listed (no enum); every code written by ``Defect(…)`` is in the list."""
    codes, patterns = set(), []
    for path in (ROOT / "src" / "myna").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Defect" and node.args:
                code = node.args[0]
                if isinstance(code, ast.Constant):
                    codes.add(code.value)
                elif isinstance(code, ast.JoinedStr):  # f"{field}-mismatch"
                    patterns.append("".join(re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z0-9-]+" for v in code.values))
    assert len(codes) > 5 and codes <= set(i18n_extract.DEFECT_CODES), codes - set(i18n_extract.DEFECT_CODES)
    for pattern in patterns:
        assert any(re.fullmatch(pattern, c) for c in i18n_extract.DEFECT_CODES), pattern


def test_both_catalogues_hold_exactly_the_same_ids():
    ids = {lang: {m.id for m in entries(lang) if m.id} for lang in i18n.LANGS}
    assert ids["ja"] == ids["en"], {"only ja": ids["ja"] - ids["en"], "only en": ids["en"] - ids["ja"]}


def test_catalogues_hold_no_dead_fuzzy_or_retired_entries():
    """Every id in the catalogues is one a screen uses (``pybabel update`` would retire the
    others), and none is fuzzy (compile skips those: the screen would show the id)."""
    used = set(extracted())
    for lang in i18n.LANGS:
        catalogue = entries(lang)
        ids = {m.id for m in catalogue if m.id}
        assert ids <= used, (lang, ids - used)
        assert not [m.id for m in catalogue if m.id and m.fuzzy], lang
        assert not catalogue.obsolete, (lang, list(catalogue.obsolete))


def test_the_screens_read_what_the_catalogues_say():
    assert len(i18n.TEXT) > 250
    for key, (ja, en) in i18n.TEXT.items():
        assert (i18n.text(key, "ja"), i18n.text(key, "en")) == (ja, en)
    assert i18n.text("nav.console", "ja") == "運用コンソール" and i18n.text("nav.console", "en") == "Operations console"
    assert i18n.text("counter.done.handed over", "fr") == "Handed over: the card is in use."  # any language but ja reads English
    assert i18n.has("nav.console") and not i18n.has("nav.nowhere") and not i18n.has(None)
    assert i18n.text_or("card.melted", "en", "melted") == "melted"


def test_a_missing_translation_is_logged_once_and_shows_the_id(monkeypatch):
    monkeypatch.setattr(i18n, "_warned", set())
    with capture_logs() as logged:
        assert i18n.text("portal.consent.nonsense", "en") == "portal.consent.nonsense"
        assert i18n.text("portal.consent.nonsense", "ja") == "portal.consent.nonsense"
        assert i18n.text("portal.consent.山田太郎 <x>", "ja") == "portal.consent.山田太郎 <x>"
        assert i18n.text(None, "ja") is None  # as before: what is not a key comes back as it is
    assert [e.get("msgid") for e in logged] == ["portal.consent.nonsense", "<23 characters, not an id>", "<NoneType, not an id>"]
    assert all(e["log_level"] == "warning" and e["event"] == "untranslated" for e in logged)


def test_missing_translations_logged_are_bounded(monkeypatch):
    """An id can carry a value from the request: the log and the memory stay bounded."""
    monkeypatch.setattr(i18n, "_warned", set())
    with capture_logs() as logged:
        for n in range(i18n._WARN_AT_MOST + 50):
            i18n.text(f"portal.consent.x{n}", "en")
    assert len(logged) == i18n._WARN_AT_MOST + 1 and "no more are logged" in logged[-1]["note"]
    assert len(i18n._warned) == i18n._WARN_AT_MOST + 1


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_the_catalogues_are_packaged(lang):
    """A non-editable install (the fresh-run check) carries the catalogues as package data."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["myna"]
    relative = i18n.catalogue_path(lang).relative_to(ROOT / "src" / "myna").as_posix()
    assert any(fnmatch.fnmatch(relative, p) for p in patterns), (relative, patterns)
    assert "babel" in " ".join(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
