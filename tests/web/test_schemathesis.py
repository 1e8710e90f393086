"""The OpenAPI schema describes the server: Schemathesis over every operation, with a
token of every role, all of its checks (server errors, statuses, content types, response
schemas and headers, schema-valid input accepted and schema-invalid input refused, wrong
methods answered 405 with a true ``Allow``).

A live server (uvicorn in a thread) over a platform with demo residents, their cards and
certificates, verifiers of each kind and municipalities, so that the operations reach
their real code: the schema the test feeds Schemathesis is the server's own, with the ids
of that data added as parameter examples. Deterministic (fixed seed) and bounded
(examples per operation: MYNA_SCHEMA_MAX_EXAMPLES). Run alone:

    python -m pytest -m schema tests/web/test_schemathesis.py

Where JSON Schema cannot state a rule (a check digit, a signature, a comparison of two
fields) ``schemathesis.toml`` says so, operation by operation.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from myna import demo
from myna.access.entitlements import VerifierType
from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.authority.ceremony import run_ceremony
from myna.authority.platform import Platform
from myna.settings import Settings
from myna.verifiers.registry import VerifierRegistry
from myna.web.app import create_app
from myna.wiring import build

pytestmark = pytest.mark.schema

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = int(os.environ.get("MYNA_SCHEMA_MAX_EXAMPLES", "5"))
SEED = 20261202
# The roles acting on most of the API run every phase; the others, mostly refused (401,
# 403, which the checks verify too), run the examples and fuzzing phases.
FULL_ROLES = {Role.OPERATOR, Role.MUNICIPALITY}
VERIFIER_OF_ROLE = {
    Role.VERIFIER_SIGN: VerifierType.SIGNATURE,
    Role.VERIFIER_AUTH: VerifierType.SPECIFIC_USER_AUTH,
    Role.VERIFIER_BOTH: VerifierType.PLATFORM_OPERATOR,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    home = tmp_path_factory.mktemp("schema-home")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'myna.db'}", public_url=base, signing_processes=0)
    p = Platform.open(settings)
    run_ceremony(p, "schema-test")
    demo.run(p, 8)
    resident = demo.residents(8)[0]
    tokens = Tokens(p)
    token = {Role.OPERATOR: tokens.create(Role.OPERATOR, "schema operator")}
    token[Role.MUNICIPALITY] = tokens.create(Role.MUNICIPALITY, "schema clerk", resident.municipality_code)
    for role in (Role.AUDITOR, Role.CENTRE, Role.CALL_CENTRE):
        token[role] = tokens.create(role, f"schema {role.value}")
    registry = VerifierRegistry(p)
    for role, vtype in VERIFIER_OF_ROLE.items():
        code = f"schema-{role.value}"
        registry.register(code, f"Schema {vtype.value}", vtype, "schema-test")
        token[role] = build(p).credentials.create_token(code, "schema-test")
    assert set(token) == set(Role), "a token of every role"

    server = uvicorn.Server(uvicorn.Config(create_app(p, schedule=False), host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.1)

    schema = httpx.get(f"{base}/openapi.json", timeout=120).json()
    with_examples = _add_examples(schema, _fixture_ids(p, resident))
    schema_file = home / "openapi.json"
    schema_file.write_text(json.dumps(with_examples))
    yield {"base": base, "schema": schema_file, "token": token, "home": home}
    server.should_exit = True
    thread.join(timeout=10)
    p.close()


def _fixture_ids(p: Platform, resident) -> dict[str, str]:
    from myna.chip.chips import demo_card_id
    from myna.store import models as m

    with p.db.session() as s:
        serial = s.query(m.Certificate.serial).filter(m.Certificate.kind == "card-sign").first()[0]
    return {
        "serial": serial.lstrip("0"),
        "card_id": demo_card_id(resident.resident_code),
        "resident_code": resident.resident_code,
        "code": "schema-verifier-sign",
        "purpose": "sign",
        "pair": "sign-auth",
        "slug": "card-sign",
        "name": "card-sign.crl",
        "year": "2026",
    }


def _add_examples(schema: dict, ids: dict[str, str]) -> dict:
    """Real ids of the fixture as examples of the path parameters that name them."""
    for path, item in schema["paths"].items():
        for operation in item.values():
            for param in operation.get("parameters", []):
                if param.get("in") == "path" and param["name"] in ids:
                    value = ids[param["name"]]
                    if param["name"] == "name" and path.startswith("/ca/"):
                        value = "card-sign.crt"
                    param["example"] = int(value) if param.get("schema", {}).get("type") == "integer" else value
    return schema


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    if found is None:
        pytest.fail("Schemathesis is not installed (pip install schemathesis: it is in the test extra)", pytrace=False)
    return found


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_schema_describes_the_server_for_every_role(server, role, tmp_path):
    """R-RA: the schema is the contract every client is checked against; for this role's
    token every operation answers what the schema says, and never a 500."""
    phases = "examples,coverage,fuzzing" if role in FULL_ROLES else "examples,fuzzing"
    cmd = [
        _st(),
        "--config-file",
        str(CONFIG),
        "run",
        str(server["schema"]),
        "--url",
        server["base"],
        "--checks",
        "all",
        "--phases",
        phases,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--no-shrink",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {server['token'][role]}",
        "--output-truncate",
        "true",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    out = done.stdout + done.stderr
    summary = out[out.find("= SUMMARY =") - 40 :] if "= SUMMARY =" in out else out[-4000:]
    print(summary)
    assert done.returncode == 0, f"Schemathesis found failures for role {role.value}:\n{out[-20000:]}"
    assert "Tested: " in out and "0 passed" not in summary.split("Test cases:")[-1][:40]
