"""No token, PIN, key, basic 4 value, resident code or Individual Number in any log line,
on any path (issue: logs carried the operator's bearer token and residents' names).

The requests below carry known secrets in the Authorization header, cookies, query strings,
paths and bodies, and some of them hit a route made to fail with those secrets in its local
variables and its exception's message. Everything logged, structlog's lines in the process
and a live ``myna serve``'s stderr and stdout (uvicorn's error and access logs as that
command configures them), is then searched for every secret in every spelling a log could
use (as is, percent-encoded, JSON-escaped, as Python bytes).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from myna_testing import ec_public_pem
from typer.testing import CliRunner

import myna
from myna import logs
from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.web.app import create_app

NAME = "漏洩 太郎"
NAME_KANA = "ロウエイ タロウ"
ADDRESS = "東京都千代田区漏洩町9丁目9-9"
DATE_OF_BIRTH = "1961-07-23"
RESIDENT_CODE = "98765432109"
INDIVIDUAL_NUMBER = "123456789018"
SIGN_PIN = "Kp7xQ2mZw"  # a signature password: 6-16 letters and digits
AUTH_PIN = "7306"  # a user-authentication PIN: 4 digits (searched with digit boundaries)
SESSION = "myna_sessionNotAToken0123456789abcdefXYZ"

BASIC4 = {"name": NAME, "date_of_birth": DATE_OF_BIRTH, "sex": "1", "address": ADDRESS}


def _spellings(secret: str) -> set[str]:
    return {
        secret,
        quote(secret),
        quote(secret, safe=""),
        quote(secret).replace("%20", "+"),
        json.dumps(secret)[1:-1],
        repr(secret.encode())[2:-1],
    }


def _leaks(text: str, secrets: list[str]) -> list[str]:
    found = []
    for secret in secrets:
        if secret == AUTH_PIN:
            if re.search(rf"(?<![0-9]){AUTH_PIN}(?![0-9])", text):
                found.append(secret)
        elif any(s in text for s in _spellings(secret)):
            found.append(secret)
    return found


def _secrets(token: str) -> list[str]:
    # The token and its random part (a log could cut the prefix); each basic 4 value.
    return [
        token,
        token.removeprefix("myna_"),
        SESSION,
        NAME,
        NAME.split()[0],
        NAME_KANA,
        ADDRESS,
        DATE_OF_BIRTH,
        RESIDENT_CODE,
        INDIVIDUAL_NUMBER,
        SIGN_PIN,
        AUTH_PIN,
    ]


def _fuzz(send, token: str) -> list[int]:
    """The same requests in process and against the live server; answers' statuses."""
    auth = {"Authorization": f"Bearer {token}"}
    secret_query = {
        "name": NAME,
        "address": ADDRESS,
        "pin": SIGN_PIN,
        "auth_pin": AUTH_PIN,
        "number": INDIVIDUAL_NUMBER,
        "token": token,
        "error": f"{NAME} は見つかりません",
    }
    issue_body = {
        "request_id": "r-leak-1",
        "kind": "card-sign",
        "public_key_pem": ec_public_pem().decode(),
        "resident_code": RESIDENT_CODE,
        "date_of_birth": DATE_OF_BIRTH,
        "basic4": BASIC4,
        "municipality_code": "131016",
        "pin": SIGN_PIN,
        "individual_number": INDIVIDUAL_NUMBER,
    }
    deep = "[" * 100_000 + json.dumps({"name": NAME, "x": "\x00", "token": token}) + "]" * 100_000
    statuses = []
    for method, url, kw in [
        ("GET", f"/api/v1/residents/{RESIDENT_CODE}", {"headers": auth, "params": secret_query}),  # fails (patched)
        (
            "GET",
            f"/api/v1/residents/{RESIDENT_CODE}",
            {"headers": {**auth, "X-Pin": AUTH_PIN, "X-Number": INDIVIDUAL_NUMBER, "Cookie": f"myna_session={SESSION}"}},
        ),  # fails
        ("POST", "/api/v1/certificates", {"headers": auth, "json": issue_body}),  # fails (patched)
        ("POST", "/api/v1/certificates", {"headers": auth, "json": {**issue_body, "kind": "no-such-kind"}}),  # 422
        ("POST", "/api/v1/residents/events", {"headers": auth, "json": {"basic4": BASIC4, "resident_code": RESIDENT_CODE}}),
        ("POST", "/api/v1/certificates", {"headers": {**auth, "Content-Type": "application/json"}, "content": deep}),  # deep JSON with NUL
        ("POST", "/ui/login", {"data": {"token": token, "next": f"/ui/?name={NAME}"}}),
        (
            "GET",
            "/ui/portal/me",
            {
                "params": {"consent_error": f"{NAME} {ADDRESS}", "suspend_error": RESIDENT_CODE},
                "headers": {"Cookie": f"myna_portal={SESSION}"},
            },
        ),
        ("GET", "/healthz", {"params": {"token": token, "pin": SIGN_PIN, "code": RESIDENT_CODE}}),
        (
            "GET",
            "/api/v1/feed/status",
            {"headers": {"Authorization": f"Bearer {token}x"}, "params": {"after": "0"}},
        ),  # 401 with a token-like value
        ("POST", "/api/v1/card-applications", {"headers": auth, "data": {"name": NAME, "address": ADDRESS, "pin": SIGN_PIN}}),
    ]:
        statuses.append(send(method, url, **kw))
    return statuses


def _boom_get(self, resident_code, scope=None):
    basic4 = dict(BASIC4)  # noqa: F841 — held in the frame's locals on purpose
    pin, number = SIGN_PIN, INDIVIDUAL_NUMBER  # noqa: F841
    raise RuntimeError(f"record {resident_code} of {basic4['name']} at {basic4['address']} is broken")


def _boom_issue(self, req, actor, *args, **kwargs):
    token_seen = os.environ.get("LEAK_TOKEN", "")  # noqa: F841
    raise KeyError(f"{req.basic4} {req.resident_code} {SIGN_PIN}")


def test_no_secret_or_personal_data_in_logs_in_process(platform, capsys, monkeypatch):
    """R-RA-1's data in structlog's console and JSON lines: unhandled errors with the
    secrets in headers, locals and messages; none of them in the output."""
    from myna.authority.issuance import IssuanceService
    from myna.residents.registry import Registry

    monkeypatch.setattr(Registry, "get", _boom_get)
    monkeypatch.setattr(IssuanceService, "issue", _boom_issue)
    token = Tokens(platform).create(Role.OPERATOR, "op")
    client = TestClient(create_app(platform, schedule=False), raise_server_exceptions=False)
    for fmt in ("console", "json"):
        logs.configure(fmt)
        capsys.readouterr()
        statuses = _fuzz(lambda method, url, **kw: client.request(method, url, **kw).status_code, token)
        out = capsys.readouterr()
        logged = out.err + out.out
        assert statuses.count(500) >= 3, statuses  # the failing routes did fail, and were logged
        assert logged.count("unhandled error") >= 3, logged[-2000:]
        assert "RuntimeError" in logged and "KeyError" in logged and "_boom_get" in logged  # the stack still says where
        assert _leaks(logged, _secrets(token)) == [], f"{fmt}: secrets in the log"
    logs.configure("console")
    # The audit log (a table, not a line) names the token by its label, never the token.
    from sqlalchemy import select

    from myna.store import models as m

    with platform.db.session() as s:
        audited = " ".join(f"{e.actor} {e.action} {e.subject} {e.detail}" for e in s.scalars(select(m.AuditEvent)))
    assert "token.created" in audited and token not in audited and token.removeprefix("myna_") not in audited


def test_stdlib_records_are_masked_by_the_handler_filter():
    """uvicorn's access record keeps its argument tuple (its formatter reads it) but loses
    query values and identifier-shaped path parts; an error record's traceback loses its
    message and locals."""
    token = "myna_" + "A" * 43
    f = logs.RedactingFilter()
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/api/v1/residents/{RESIDENT_CODE}?name={quote(NAME)}&token={token}", "1.1", 200),
        None,
    )
    assert f.filter(access)
    assert access.args[2] == "/api/v1/residents/[redacted]?name=…&token=…" and access.getMessage().endswith('HTTP/1.1" 200')
    try:
        secret = NAME  # noqa: F841
        raise ValueError(f"bad {NAME} {token}")
    except ValueError:
        error = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application %s", (token,), sys.exc_info())
    assert f.filter(error)
    text = logging.Formatter().format(error)
    assert "ValueError" in text and "test_log_redaction.py" in text
    assert NAME not in text and token not in text and "[redacted]" in text


def test_a_command_dying_of_a_bug_prints_the_stack_without_the_message(tmp_path):
    """The CLI (``myna ...`` under cron or a daemon manager: its stderr is the log)."""
    token = "myna_" + "B" * 43
    code = f"from myna import logs\nlogs.configure()\nbasic4 = {BASIC4!r}\nraise ValueError({NAME!r} + {token!r} + {RESIDENT_CODE!r})\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(myna.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1 and "ValueError" in done.stderr, done.stderr
    assert _leaks(done.stderr + done.stdout, [token, NAME, ADDRESS, RESIDENT_CODE]) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The live server: `myna serve` itself, with two services made to fail inside requests.
_LAUNCHER = """
import sys
sys.path[:0] = [{tests!r}, {tests_root!r}]
from myna.authority.issuance import IssuanceService
from myna.residents.registry import Registry
import test_log_redaction as t
Registry.get = t._boom_get
IssuanceService.issue = t._boom_issue
from myna.cli import app
app(["serve", "--host", "127.0.0.1", "--port", sys.argv[1], "--no-schedule"])
"""


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_no_secret_or_personal_data_in_a_live_servers_logs(tmp_path, database_url, monkeypatch, fmt):
    """`myna serve` as an operator runs it: uvicorn's error log (its "Exception in ASGI
    application" traceback), its access log (request lines with query strings) and the
    application's lines, all searched for every secret the requests carried."""
    monkeypatch.setenv("MYNA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MYNA_DATABASE_URL", database_url)
    monkeypatch.setenv("MYNA_LOG_FORMAT", fmt)
    from myna.cli import app

    assert CliRunner().invoke(app, ["init"], catch_exceptions=False).exit_code == 0
    from myna.authority.platform import Platform
    from myna.settings import Settings

    p = Platform.open(Settings.from_env())
    token = Tokens(p).create(Role.OPERATOR, "op")
    p.close()
    port = _free_port()
    env = {
        **os.environ,
        "LEAK_TOKEN": token,
        "PYTHONPATH": os.pathsep.join([str(Path(myna.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
    }
    err_path, out_path = tmp_path / "stderr", tmp_path / "stdout"
    with open(err_path, "wb") as err, open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _LAUNCHER.format(tests=str(Path(__file__).parent), tests_root=str(Path(__file__).parents[1])),
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=err,
            cwd=tmp_path,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, err_path.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        # A connection of its own for each request: uvicorn closes one after an unhandled error.
        statuses = _fuzz(lambda method, url, **kw: httpx.request(method, base + url, timeout=60, **kw).status_code, token)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    logged = err_path.read_text(errors="replace") + out_path.read_text(errors="replace")
    assert statuses.count(500) >= 3, statuses
    assert "Exception in ASGI application" in logged and "RuntimeError" in logged  # uvicorn's error log ran
    assert "GET /healthz?" in logged  # and its access log
    assert _leaks(logged, _secrets(token)) == [], logged[-4000:]
