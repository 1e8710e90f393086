"""The composition root (myna.wiring): every service is built there once, with the root's
own instances as its collaborators, and nowhere else in the domain code.

A service that built another inside a method (``RevocationService(self.platform)`` per
call, as the registry once did) would still work, so nothing else would notice: these
tests do. The first walks the built root; the second reads the source."""

from __future__ import annotations

import ast
import datetime as dt
from functools import cached_property
from pathlib import Path

from myna.authority.issuance import IssuanceService
from myna.mobile.issuance import CappedIssuance
from myna.wiring import Services, build

SRC = Path(__file__).resolve().parent.parent / "src" / "myna"
WIRING = SRC / "wiring.py"

# Entry points ask the root for their services, so a construction there is theirs to
# remove, not a service building another: the web app and the CLI (both moving onto
# ``wiring.build``) may still build services directly.
ENTRY_POINTS: tuple[str, ...] = ()
# Known exceptions, each with the change that removes it: none left.
KNOWN: set[tuple[str, str]] = set()


def _properties() -> list[str]:
    return [name for name, value in vars(Services).items() if isinstance(value, cached_property)]


def _built_classes() -> set[str]:
    """The class names the root builds: every call by plain name inside ``Services``."""
    tree = ast.parse(WIRING.read_text(encoding="utf-8"))
    services = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Services")
    return {c.func.id for c in ast.walk(services) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id[0].isupper()}


def test_every_property_builds_once_and_collaborators_are_the_roots_own(platform):
    s = build(platform)
    built = {name: getattr(s, name) for name in _properties()}
    assert len(built) >= 20, sorted(built)
    for name, service in built.items():
        assert getattr(s, name) is service, f"Services.{name} is built again on a second access"
        assert service.platform is platform, f"Services.{name} runs over another platform"
    # Every attribute of a service that is a service of the root is the root's own instance.
    by_type = {type(v): v for v in built.values()}
    assert len(by_type) == len(built), "two properties build the same class: which one is a collaborator meant to get?"
    for name, service in built.items():
        for attr, value in vars(service).items():
            if type(value) in by_type:
                assert value is by_type[type(value)], f"Services.{name}.{attr} is a {type(value).__name__} of its own, not the root's"

    # The collaborators by name, so a new constructor argument left unset shows too.
    assert s.registry.revocation is s.revocation
    assert s.chips.issuance is s.issuance
    assert s.card_management.cards is s.chips
    assert s.card_management.applications is s.applications
    assert s.card_management.revocation is s.revocation
    assert s.production.cards is s.chips
    assert s.counter.cards is s.chips
    assert s.counter.revocation is s.revocation
    assert s.credentials.verifiers is s.verifiers
    assert s.credentials.tokens is s.tokens
    assert s.verifier_ca.verifiers is s.verifiers
    assert s.provision.crls is s.crls
    assert s.mobile.revocation is s.revocation
    assert s.feed.crls is s.crls
    assert s.feed.operations is s.operations


def test_the_mobile_issuance_is_capped_per_call_over_the_same_platform(platform):
    s = build(platform)
    cap = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    capped = s.mobile.capped_issuance(cap)
    assert isinstance(capped, CappedIssuance) and isinstance(capped, IssuanceService)
    assert capped.platform is platform and capped.cap == cap


def test_keygen_reaches_the_chips_and_each_build_is_its_own(platform):
    def keygen():
        raise AssertionError("not called here")

    s = build(platform, keygen=keygen)
    assert s.chips.keygen is keygen
    assert s.production.cards.keygen is keygen
    other = build(platform)
    assert other.chips is not s.chips and other.chips.keygen is None


def _constructions(path: Path, names: set[str]) -> list[tuple[int, str]]:
    """Calls of those class names, by plain name or as ``module.Name(...)``; a table row of
    the same name (``mv.VerifierCa(...)``, a myna.store model) is not a service."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tables = {
        a.asname or a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("myna.store")
        for a in n.names
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name):
            name = f.id
        elif isinstance(f, ast.Attribute) and not (isinstance(f.value, ast.Name) and f.value.id in tables):
            name = f.attr
        else:
            continue
        if name in names:
            found.append((node.lineno, name))
    return sorted(found)


def test_no_service_is_built_outside_the_root_and_the_entry_points():
    names = _built_classes()
    assert {"IssuanceService", "RevocationService", "ChipService", "CardManagement", "Registry", "DbFeed"} <= names, names
    offences = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if path == WIRING or rel.startswith(ENTRY_POINTS):
            continue
        for line, name in _constructions(path, names):
            if (rel, name) in KNOWN:
                continue
            offences.append(f"src/myna/{rel}:{line} builds {name}")
    assert not offences, "services are built in myna.wiring only; pass them in instead:\n" + "\n".join(offences)


def test_the_scan_finds_a_construction_inside_a_method(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from myna.store import models_verifiers as mv\n"
        "import myna.authority.revoking as revoking\n"
        "class Registry:\n"
        "    def _revoke(self):\n"
        "        RevocationService(self.platform).revoke_for_resident()\n"
        "        revoking.RevocationService(self.platform)\n"
        "        return mv.VerifierCa(cert_der=b'')\n"
    )
    assert _constructions(sample, _built_classes()) == [(5, "RevocationService"), (6, "RevocationService")]


def test_myna_serve_has_one_root_for_the_app_and_its_centre(platform):
    """``myna serve``'s web app and its in-process centre's feed come from the same
    services, not one root each."""
    from myna.web.server import platform_app

    services = build(platform)
    app = platform_app(platform, schedule=False, services=services)
    assert app.fallback.state.services is services
