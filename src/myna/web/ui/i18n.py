"""Interface text in Japanese and English, from gettext catalogues.

The message ids are the screens' keys ("nav.console"); the text is in
``web/locale/<lang>/LC_MESSAGES/messages.po``, made and kept with Babel (``pybabel extract``,
``update``: docs/screens.md). The .po files are read once per process, at import, with Babel's
reader (the catalogues are compiled at load time, so there is no .mo in the tree to go stale
or to merge by hand). They are kept as plain dicts rather than gettext ``Translations`` because
a screen asks whether a key has a translation at all (``text_or``, ``has``), which gettext's
API hides behind returning the id.

tests/web/test_i18n.py extracts every id the code and the templates use and fails on any
without a Japanese and an English text; should one slip through, ``text`` logs it once and
shows the id.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from babel.messages.pofile import read_po

from myna import logs

LANGS = ("ja", "en")
DEFAULT = "ja"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

log = logs.get(__name__)


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(lang: str) -> dict[str, str]:
    """A language's translations by id: what ``pybabel compile`` would compile (fuzzy
    entries, which compile skips, and empty ones are left out)."""
    with catalogue_path(lang).open("rb") as fp:
        catalogue = read_po(fp, locale=lang, domain=DOMAIN)
    return {m.id: m.string for m in catalogue if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


_BY_LANG = {lang: read_catalogue(lang) for lang in LANGS}
# Each id's (ja, en) pair, as the screens' tests and ``known`` read it; "" where a language has none.
TEXT: Mapping[str, tuple[str, str]] = MappingProxyType(
    {key: (_BY_LANG["ja"].get(key, ""), _BY_LANG["en"].get(key, "")) for key in sorted(_BY_LANG["ja"].keys() | _BY_LANG["en"].keys())}
)

# Missing ids are logged once each. Some ids carry a value from the request (``?consent=``),
# so the set is bounded and only id-shaped text is written to the log.
_WARN_AT_MOST = 100
_warned: set[str] = set()
_LOGGABLE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._- ")


def _missing(key: object, lang: str) -> None:
    if key in _warned or len(_warned) > _WARN_AT_MOST:
        return
    _warned.add(key)
    if len(_warned) > _WARN_AT_MOST:
        log.warning("untranslated", note=f"more than {_WARN_AT_MOST} ids without a translation: no more are logged")
        return
    if not isinstance(key, str):
        shown = f"<{type(key).__name__}, not an id>"
    else:
        shown = key if len(key) <= 80 and set(key) <= _LOGGABLE else f"<{len(key)} characters, not an id>"
    log.warning("untranslated", msgid=shown, lang=lang)


def has(key: object) -> bool:
    """Whether ``key`` is a catalogue id (with its translations)."""
    return isinstance(key, str) and key in TEXT


def text(key: str, lang: str) -> str:
    """``key``'s text in ``lang`` (English for any language but Japanese); the key itself,
    logged once, if the catalogue has no text for it."""
    found = _BY_LANG["ja" if lang == "ja" else "en"].get(key)
    if found is None:
        _missing(key, lang)
        return key
    return found


def text_or(key: str, lang: str, fallback: str) -> str:
    """The translation of ``key`` if the catalogue has one, else ``fallback`` (a raw value
    from the store that has no translation yet is shown as it is, not as a key)."""
    return text(key, lang) if key in TEXT else fallback


def pick(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language asked for by ``?lang=``, then the cookie, then the browser's first choice."""
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("ja"):
            return "ja"
        if tag.startswith("en"):
            return "en"
    return DEFAULT
