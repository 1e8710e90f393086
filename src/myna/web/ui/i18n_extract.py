"""What ``pybabel extract`` cannot read off the sources by itself: the message ids the screens
build from a value (``tv("card", status)``, ``t("reason." + r)``) or keep in a variable
(``errors["x"] = "form.error.required"``). Babel's mapping (babel.cfg) names the three
extractors below, so the template catalogue holds every id in use and ``pybabel update`` never
retires one that a screen still shows; tests/web/test_i18n.py runs the same extraction.

Each family of ids is taken from the enum or map its values come from, not copied, so a new
card status or revocation reason shows up here as an untranslated id instead of as a raw value
on a screen. The domain imports are local: this module is build tooling, not a screen's import.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from babel.messages.extract import extract_python
from jinja2 import Environment, nodes
from jinja2.ext import babel_extract

# An id as the catalogue spells them: dotted lower-case segments (one holds a space,
# "counter.done.handed over": the value the card service writes).
_ID = re.compile(r"^[a-z][a-z_]*(?:\.[a-z0-9_-]+(?: [a-z]+)*)+$")
# Literals in the screens' modules that look like ids but name a template.
_NOT_IDS = (".html",)

# Defect codes (cards/defects.py ``Defect(code, …)``); tests/web/test_i18n.py checks this
# list against every code the domain writes.
DEFECT_CODES = (
    "photo-missing",
    "photo-unusable",
    "not-resident",
    "name-mismatch",
    "address-mismatch",
    "date-of-birth-mismatch",
    "sex-mismatch",
    "duplicate",
    "nothing-to-reissue",
    "renewal-not-due",
    "express-not-eligible",
)
# What verifiers/provision.py records as a provision's outcome.
PROVISION_OUTCOMES = ("provided", "refused")


def families() -> dict[str, tuple[str, ...]]:
    """Each prefix a screen joins with a value, and every value it can be joined with."""
    from myna.authority.records import STATUSES
    from myna.cards.application_status import ApplicationStatus
    from myna.cards.card_status import CardStatus
    from myna.cards.defects import EXPRESS_REASONS, REASONS
    from myna.cards.handover import IDENTITY_DOCUMENTS
    from myna.pki.basic4 import Sex
    from myna.pki.kinds import CertKind
    from myna.pki.revocation import RevocationReason
    from myna.residents.events import EventType
    from myna.residents.events import Status as ResidentStatus
    from myna.verifiers.consent import ACTIONS as CONSENT_ACTIONS
    from myna.web.ui.counter import CARD_ACTIONS, EVENT_FIELDS
    from myna.web.ui.session import SCREEN_URLS

    def values(enum) -> tuple[str, ...]:
        return tuple(member.value for member in enum)

    return {
        "kind": (*values(CertKind), "ca"),  # the console counts the CAs' own certificates as "ca"
        "reason": values(RevocationReason),
        "status": STATUSES,
        "col": STATUSES,
        "card": values(CardStatus),
        "application": values(ApplicationStatus),
        "resident": values(ResidentStatus),
        "event": values(EventType),
        "document": IDENTITY_DOCUMENTS,
        "defect": DEFECT_CODES,
        "sex": values(Sex),
        "nav": tuple(SCREEN_URLS),
        "counter.reason": REASONS,
        "counter.express": EXPRESS_REASONS,
        "counter.action": CARD_ACTIONS,
        "counter.done": (*CARD_ACTIONS, "handed over"),  # a handover redirects with done=handed over
        "counter.field": tuple(sorted(set().union(*EVENT_FIELDS.values()) - {"sex"})),  # sex is field.sex
        "portal.consent": CONSENT_ACTIONS,
        "portal.outcome": PROVISION_OUTCOMES,
    }


def notes() -> tuple[str, ...]:
    """The ids the counter's card history shows for the notes the platform writes itself."""
    from myna.web.ui.counter import PRODUCTION_NOTES, SYSTEM_NOTES

    return (*SYSTEM_NOTES.values(), *PRODUCTION_NOTES.values())


def dynamic_ids() -> set[str]:
    return {f"{prefix}.{value}" for prefix, vals in families().items() for value in vals} | set(notes())


def extract_dynamic(fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]) -> Iterator:
    """Babel extractor (mapped to this file): the ids of ``dynamic_ids``."""
    for message in sorted(dynamic_ids()):
        yield 0, None, message, []


def held_ids(source: str) -> Iterator[tuple[int, str]]:
    """String literals shaped like ids anywhere in a module (an error put into a form's
    errors, a default argument, a call inside an f-string): with the line they are on."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _ID.match(node.value) and not node.value.endswith(_NOT_IDS):
            yield node.lineno, node.value


def extract_ui_python(fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]) -> Iterator:
    """Babel extractor for the screens' modules: babel's own (the ``t``/``text`` calls) and
    every id-shaped literal besides."""
    source = fileobj.read()
    seen = set()
    for lineno, funcname, messages, comments in extract_python(io.BytesIO(source), keywords, comment_tags, options):
        seen.add((lineno, messages))
        yield lineno, funcname, messages, comments
    for lineno, message in held_ids(source.decode(options.get("encoding", "utf-8"))):
        if (lineno, message) not in seen:
            yield lineno, None, message, []


def _literal_rows(loop: nodes.For) -> list[dict[str, str]] | None:
    """``{% for a, b in [("x", "y"), …] %}`` as one binding per row; None unless every row is literal."""
    target = loop.target
    names = [target.name] if isinstance(target, nodes.Name) else [n.name for n in target.items] if isinstance(target, nodes.Tuple) else []
    if not names or not isinstance(loop.iter, (nodes.List, nodes.Tuple)):
        return None
    rows = []
    for item in loop.iter.items:
        cells = item.items if isinstance(item, nodes.Tuple) else [item]
        if len(cells) != len(names) or not all(isinstance(c, nodes.Const) and isinstance(c.value, str) for c in cells):
            return None
        rows.append(dict(zip(names, (c.value for c in cells))))
    return rows


def template_loop_ids(source: str, keywords: Collection[str]) -> Iterator[tuple[int, str]]:
    """Ids a template builds inside a loop over a literal list: ``t(label)`` and
    ``t("prefix." + name)`` with ``label``/``name`` bound by the loop."""
    for loop in Environment().parse(source).find_all(nodes.For):
        rows = _literal_rows(loop)
        if not rows:
            continue
        for call in loop.find_all(nodes.Call):
            if not (isinstance(call.node, nodes.Name) and call.node.name in keywords and call.args):
                continue
            arg = call.args[0]
            if isinstance(arg, nodes.Name) and arg.name in rows[0]:
                ids = [row[arg.name] for row in rows]
            elif (
                isinstance(arg, nodes.Add)
                and isinstance(arg.left, nodes.Const)
                and isinstance(arg.right, nodes.Name)
                and arg.right.name in rows[0]
            ):
                ids = [arg.left.value + row[arg.right.name] for row in rows]
            else:
                continue
            for message in ids:
                yield call.lineno, message


def extract_templates(fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]) -> Iterator:
    """Babel extractor for the templates: Jinja's own (literal ``t("…")`` calls) and the ids
    built in loops over literal lists."""
    source = fileobj.read()
    yield from babel_extract(io.BytesIO(source), keywords, comment_tags, options)
    for lineno, message in template_loop_ids(source.decode(options.get("encoding", "utf-8")), keywords):
        yield lineno, None, message, []
