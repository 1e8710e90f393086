"""The architecture as written down stays the architecture in the tree.

- docs/architecture.md's layer table is the layers contract of pyproject.toml (the one
  `lint-imports` checks, scripts/test.sh's lint step), in the same order;
- every link of docs/architecture.md to the code names a file that exists and, when it names a
  function or class, one defined in that file (the flows stay linked to their code);
- the README's Layout section lists every package and top-level module of src/myna, and
  nothing that is not there;
- the contracts the architecture promises are declared (not merely some contracts);
- myna.access, the low package of who may do what, imports nothing above the store;
- R-VER-1 has one home: the verifier types, roles and tokens are defined once, in myna.access,
  and the token roles and the validity centres' entitlements are derived from its table.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "myna"
DOC = ROOT / "docs" / "architecture.md"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _contracts() -> dict[str, dict]:
    return {c["id"]: c for c in _pyproject()["tool"]["importlinter"]["contracts"]}


def _required(layer: str) -> list[str]:
    """The modules of one layer of the contract, without the optional ones (in parentheses)."""
    names = [name.strip() for name in re.split(r"[|:]", layer)]
    return [name for name in names if not name.startswith("(")]


def test_the_documented_layers_are_the_checked_ones():
    contract = _contracts()["layers"]
    assert contract["type"] == "layers" and contract["containers"] == ["myna"] and contract["exhaustive"] is True
    checked = [_required(layer) for layer in contract["layers"]]
    rows = re.findall(r"^\| (\d+) \| (.+?) \| .+ \|$", DOC.read_text(), re.M)
    documented = [(int(number), re.findall(r"`([a-z_]+)`", packages)) for number, packages in rows]
    assert [number for number, _ in documented] == list(range(len(checked), 0, -1)), "one row per layer, numbered top to bottom"
    assert [names for _, names in documented] == checked


def _symbols(path: Path) -> set[str]:
    """Names defined in a module: top-level functions, classes, assignments, and Class.method."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                names |= {f"{node.name}.{m.name}" for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_every_code_link_of_the_architecture_page_names_real_code():
    links = re.findall(r"\[`?([^\]`]+)`?\]\(\.\./(src/[^)#]+)\)", DOC.read_text())
    assert len(links) >= 30, "the flows are linked to the code that implements them"
    for text, target in links:
        path = ROOT / target
        assert path.is_file(), f"docs/architecture.md links {target}, which does not exist"
        symbol = text.strip()
        if symbol.startswith("myna.") or symbol == path.stem:  # a module named by itself
            continue
        assert symbol in _symbols(path), f"docs/architecture.md links `{symbol}` to {target}, which does not define it"


def _layout_entries() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("## Layout") :]
    block = block[block.index("```\n") + 4 :]
    block = block[: block.index("```")]
    lines = [line for line in block.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    entries: list[str] = []
    for line in lines:
        for word in line.split():  # the names (a package/ or a module.py) before the description
            if not word.endswith(("/", ".py")):
                break
            entries.append(word)
    return entries


def test_the_readme_layout_matches_the_tree():
    entries = _layout_entries()
    listed = {e.rstrip("/").removesuffix(".py") for e in entries}
    for entry in entries:
        name = entry.rstrip("/").removesuffix(".py")
        # A component is a package or a module: cli/ is listed as the package it is becoming.
        assert (SRC / name).is_dir() or (SRC / f"{name}.py").is_file(), f"README layout lists {entry}, not in src/myna"
    for path in SRC.iterdir():
        if path.name.startswith(("_", ".")) or path.name == "__pycache__" or (path.is_file() and path.suffix != ".py"):
            continue
        stem = path.stem
        # cli_card.py and the like are parts of the component named by their prefix.
        covered = stem in listed or stem.split("_")[0] in listed
        assert covered, f"src/myna/{path.name} is missing from the README's Layout section"
    for sub in ("web/routers", "web/ui"):
        assert sub in listed


def test_the_promised_contracts_are_declared():
    contracts = _contracts()
    no_store = contracts["web-cli-no-store"]
    assert set(no_store["source_modules"]) == {"myna.web", "myna.cli"}
    assert {"sqlalchemy", "myna.store"} <= set(no_store["forbidden_modules"])
    pure = contracts["pure-rules"]
    assert {"sqlalchemy", "fastapi", "myna.store"} <= set(pure["forbidden_modules"])
    assert not pure.get("allow_indirect_imports"), "a rule module is impure through what it imports too"
    rule_modules = ["myna.pki", "myna.numbering", "myna.residents.events", "myna.access.entitlements", "myna.operations.availability"]
    rule_modules += [f"myna.cards.{name}" for name in ("defects", "card_status", "lead_time", "expiry", "fees")]
    assert set(rule_modules) <= set(pure["source_modules"])
    web_only = contracts["web-only-under-cli"]
    assert "myna.web" in web_only["forbidden_modules"] and "myna.cli" not in web_only["source_modules"]
    assert _pyproject()["tool"]["importlinter"]["include_external_packages"] is True
    extras = " ".join(_pyproject()["project"]["optional-dependencies"]["test"])
    assert "import-linter" in extras and "hypothesis" in extras and "ruff" in extras
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert "lint-imports" in script and "ruff check src tests bench" in script
    assert script.index("\nlint_step\n") < script.index('run_step "fast / SQLite"'), "the lint step runs before the tests"


def _imports(path: Path) -> list[str]:
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def test_access_imports_nothing_above_the_store():
    allowed = ("myna.access", "myna.store", "myna.pki", "myna.numbering", "myna.clock", "myna.errors", "myna.settings", "myna.logs")
    for path in (SRC / "access").glob("*.py"):
        for module in _imports(path):
            if module == "myna" or module.startswith("myna."):
                assert module.startswith(allowed), f"{path.relative_to(ROOT)} imports {module}, above myna.access"


def test_r_ver_1_has_one_home_and_everything_else_derives_from_it():
    defined: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            names = [node.name] if isinstance(node, ast.ClassDef) else []
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
            for name in names:
                defined.setdefault(name, []).append(str(path.relative_to(SRC)))
    for name in ("Role", "Principal", "Tokens", "VerifierType", "Operation", "TOKEN_ROLE", "VERIFIER_ROLES", "RECEIVES"):
        assert len(defined.get(name, [])) == 1 and defined[name][0].startswith("access/"), f"{name} defined in {defined.get(name)}"
    assert not (SRC / "authority" / "tokens.py").exists() and not (SRC / "authority" / "access.py").exists()
    assert not (SRC / "verifiers" / "entitlements.py").exists()

    from myna.access.entitlements import RECEIVES, ROLE_KINDS, TOKEN_ROLE, VERIFIER_ROLES, VerifierType
    from myna.access.roles import Role
    from myna.validation.centre import ENTITLED

    assert VERIFIER_ROLES == {r for r in Role if r.value.startswith("verifier-")}
    assert set(RECEIVES) == set(VerifierType)
    # The law's table as the SPEC states it (R-VER-1), pinned here: a change to the one table shows.
    assert {t.value: r.value for t, r in TOKEN_ROLE.items()} == {
        "signature": "verifier-sign",
        "group-signature": "verifier-sign",
        "user-auth": "verifier-auth",
        "specific-user-auth": "verifier-auth",
        "signature-and-user-auth": "verifier-both",
        "platform-operator": "verifier-both",
    }
    assert ENTITLED == {
        "verifier-sign": {"card-sign", "mobile-sign"},
        "verifier-auth": {"card-auth", "mobile-auth"},
        "verifier-both": {"card-sign", "mobile-sign", "card-auth", "mobile-auth"},
    }
    for vtype, role in TOKEN_ROLE.items():
        signature, user_auth = RECEIVES[vtype]
        assert (vtype.signature, vtype.user_auth) == (signature, user_auth)
        assert {k.is_signature for k in ROLE_KINDS[role]} == {
            flag for flag, receives in ((True, signature), (False, user_auth)) if receives
        }
