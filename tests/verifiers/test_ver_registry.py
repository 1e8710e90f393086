"""The verifier registry over HTTP and the CLI: registration, entrusting businesses,
agreements, client certificates, bad input answered with specific errors and no record."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from myna_testing import issue_registered, legacy_verifier_token, table_counts
from typer.testing import CliRunner
from ver_support import bearer

from myna.access.roles import Role
from myna.access.tokens import Tokens
from myna.cli import app
from myna.errors import Conflict, InvalidInput, NotFound
from myna.verifiers.registry import VerifierRegistry
from myna.wiring import build


def test_registry_rules(platform):
    reg = VerifierRegistry(platform)
    reg.register("PF1", "Platform One", "platform-operator", "t")
    reg.register("SIG1", "Sig", "signature", "t")
    reg.register("BIZ1", "Business", "entrusting-business", "t", operator="PF1")
    before = table_counts(platform)
    cases = [
        (lambda: reg.register("BIZ2", "B", "entrusting-business", "t"), InvalidInput, "names its platform operator"),
        (lambda: reg.register("BIZ2", "B", "entrusting-business", "t", operator="SIG1"), InvalidInput, "not a platform operator"),
        (lambda: reg.register("BIZ2", "B", "entrusting-business", "t", operator="NOPE"), NotFound, "NOPE"),
        (lambda: reg.register("X1", "B", "signature", "t", operator="PF1"), InvalidInput, "only it"),
        (lambda: reg.register("SIG1", "again", "signature", "t"), Conflict, "already registered"),
        (lambda: reg.register("bad code!", "x", "signature", "t"), InvalidInput, "verifier code"),
        (lambda: reg.register("V2", "", "signature", "t"), InvalidInput, "name"),
        (lambda: reg.register("V2", "x", "wizard", "t"), InvalidInput, "unknown verifier type"),
        (lambda: reg.set_status("SIG1", "sleeping", "t"), InvalidInput, "unknown verifier status"),
        (lambda: reg.set_status("SIG1", "active", "t"), Conflict, "already active"),
        (lambda: reg.record_agreement("SIG1", "AGR", "t"), InvalidInput, "R-VER-5"),
    ]
    for call, error, text in cases:
        with pytest.raises(error, match=text):
            call()
    assert table_counts(platform) == before
    assert [v.code for v in reg.entrusting("PF1")] == ["BIZ1"]


def test_registry_over_http(platform, http):
    op = Tokens(platform).create(Role.OPERATOR, "op")
    auditor = Tokens(platform).create(Role.AUDITOR, "aud")
    r = http.post("/api/v1/verifiers", json={"code": "SIG1", "name": "Sig One", "type": "signature"}, headers=bearer(op))
    assert r.status_code == 201 and r.json()["status"] == "active"
    assert (
        http.post("/api/v1/verifiers", json={"code": "SIG2", "name": "x", "type": "signature"}, headers=bearer(auditor)).status_code == 403
    )
    r = http.post("/api/v1/verifiers", json={"code": "SIG2", "name": "x", "type": "wizard"}, headers=bearer(op))
    assert r.status_code == 422 and r.json()["error"] == "invalid-input"
    assert http.get("/api/v1/verifiers", headers=bearer(auditor)).json()[0]["code"] == "SIG1"
    assert http.get("/api/v1/verifiers/NOPE", headers=bearer(auditor)).status_code == 404
    r = http.post("/api/v1/verifiers/SIG1/status", json={"status": "suspended", "note": "audit finding"}, headers=bearer(op))
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    key = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    r = http.post("/api/v1/verifiers/SIG1/client-certificates", json={"public_key": key.decode()}, headers=bearer(op))
    assert r.status_code == 403 and r.json()["error"] == "verifier-suspended"
    http.post("/api/v1/verifiers/SIG1/status", json={"status": "active"}, headers=bearer(op))
    r = http.post("/api/v1/verifiers/SIG1/client-certificates", json={"public_key": key.decode()}, headers=bearer(op))
    assert r.status_code == 201 and "BEGIN CERTIFICATE" in r.json()["pem"]
    r = http.post("/api/v1/verifiers/SIG1/client-certificates", json={"public_key": "junk"}, headers=bearer(op))
    assert r.status_code == 422
    assert b"BEGIN CERTIFICATE" in http.get("/verifier-ca.crt").content
    # a plain verifier-role token that belongs to no registered verifier is refused
    stray = legacy_verifier_token(platform, Role.VERIFIER_SIGN, "some-ocsp-client")
    r = http.get("/api/v1/verifier/whoami", headers=bearer(stray))
    assert r.status_code == 401 and "registered verifier" in r.json()["message"]
    assert http.get("/api/v1/verifier/whoami").status_code == 401


@pytest.fixture
def cli_env(platform, settings, monkeypatch):
    monkeypatch.setenv("MYNA_HOME", str(settings.home))
    monkeypatch.setenv("MYNA_DATABASE_URL", settings.database_url)
    return CliRunner()


def test_verifier_cli(platform, cli_env, tmp_path):
    run = lambda *a: cli_env.invoke(app, ["verifier", *a])  # noqa: E731
    r = run("register", "SUA1", "--name", "Specific UA Co.", "--type", "specific-user-auth")
    assert r.exit_code == 0, r.output
    assert run("agreement", "SUA1", "--reference", "AGR-7").exit_code == 0
    assert "AGR-7" in run("show", "SUA1").output
    assert "SUA1" in run("list").output
    key = tmp_path / "k.pem"
    key.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    r = run("client-cert", "SUA1", "--public-key", str(key), "--out", str(tmp_path / "c.pem"))
    assert r.exit_code == 0 and (tmp_path / "c.pem").read_text().startswith("-----BEGIN CERTIFICATE")
    token = run("token", "SUA1").output.strip()
    assert token.startswith("myna_")
    assert run("suspend", "SUA1", "--note", "x").exit_code == 0
    r = run("suspend", "SUA1")
    assert r.exit_code == 1 and "already suspended" in r.output
    r = run("register", "X", "--name", "n", "--type", "entrusting-business")
    assert r.exit_code == 1 and "platform operator" in r.output
    r = run("register", "X", "--name", "n", "--type", "wizard")
    assert r.exit_code == 2
    r = run("show", "NOPE")
    assert r.exit_code == 1 and "NOPE" in r.output
    assert run("ca").output.startswith("-----BEGIN CERTIFICATE")


def test_consent_through_the_cli(platform, cards, cli_env, tmp_path, clock):
    import datetime as dt

    from ver_support import make_holder

    from myna.verifiers.consent import Consents

    clock.set(dt.datetime.now(dt.timezone.utc))  # the CLI runs on the wall clock: the card too
    h = make_holder(platform, cards)
    VerifierRegistry(platform).register("SIG1", "Sig", "signature", "t")
    doc = tmp_path / "consent.json"
    r = cli_env.invoke(app, ["verifier", "consent-document", "SIG1", "--out", str(doc)])
    assert r.exit_code == 0, r.output
    (tmp_path / "consent.p7s").write_bytes(h.sign(doc.read_bytes()))
    r = cli_env.invoke(app, ["verifier", "consent", str(doc), str(tmp_path / "consent.p7s")])
    assert r.exit_code == 0 and '"granted"' in r.output
    assert Consents(platform).state(h.resident_code, "SIG1").consented
    r = cli_env.invoke(app, ["verifier", "consent", str(doc), str(tmp_path / "consent.p7s")])
    assert r.exit_code == 1 and "already submitted" in r.output
    (tmp_path / "junk.p7s").write_bytes(b"junk")
    r = cli_env.invoke(app, ["verifier", "consent", str(doc), str(tmp_path / "junk.p7s")])
    assert r.exit_code == 1 and "well-formed" in r.output


def _ocsp_outcome(centre, cert, issuer, token) -> str:
    """What an access-controlled validity centre answers this token about ``cert``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp

    der = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build().public_bytes(serialization.Encoding.DER)
    resp = ocsp.load_der_ocsp_response(centre.answer(der, token=token))
    if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return resp.response_status.name.lower()
    return resp.certificate_status.name.lower()


def test_r_ver_1_suspension_withdraws_the_token_from_the_api_and_the_centres(platform, clock, http, enrol, tmp_path):
    """R-VER-1: a suspended verifier's bearer token is refused by the verifier API and is
    absent from the credentials the validity centres receive (feed endpoint and in-process
    feed alike), so an access-controlled centre answers it ``unauthorized`` after its next
    sync; reinstatement restores it everywhere; termination is final (token disabled)."""
    import hashlib

    from myna_testing import issue_request

    from myna.errors import Unauthorised
    from myna.validation.centre import Centre, CentreConfig
    from myna.validation.provision import provision
    from myna.verifiers.credentials import verifier_credentials

    reg = VerifierRegistry(platform)
    sig, pf = enrol("SIG1", "signature"), enrol("PF1", "platform-operator")
    stray = legacy_verifier_token(platform, Role.VERIFIER_SIGN, "some-ocsp-client")  # bound to no verifier: never a credential
    centre_token = Tokens(platform).create(Role.CENTRE, "tokyo")
    digest = lambda t: hashlib.sha256(t.encode()).hexdigest()  # noqa: E731

    def pulled() -> dict[str, str]:
        r = http.get("/api/v1/feed/verifiers", headers=bearer(centre_token))
        assert r.status_code == 200
        assert r.json() == build(platform).feed.credentials() == verifier_credentials(platform)
        return r.json()

    cert = issue_registered(platform, issue_request("card-sign"), actor="test").certificate
    issuer = platform.authority("card-sign").cert
    c = Centre.from_bundle(
        provision(platform, "ver1", tmp_path / "bundle", actor="test"), CentreConfig(name="ver1", open_access=False), clock=clock
    )
    try:

        def state() -> tuple[int, bool, str]:
            c.sync_once(build(platform).feed)
            return (
                http.get("/api/v1/verifier/whoami", headers=bearer(sig)).status_code,
                digest(sig) in pulled(),
                _ocsp_outcome(c, cert, issuer, sig),
            )

        assert state() == (200, True, "good")
        assert pulled()[digest(sig)] == "verifier-sign" and pulled()[digest(pf)] == "verifier-both"

        reg.set_status("SIG1", "suspended", "t", note="audit finding")
        code, listed, answer = state()
        assert (code, listed, answer) == (403, False, "unauthorized")
        assert http.get("/api/v1/verifier/whoami", headers=bearer(sig)).json()["error"] == "verifier-suspended"
        # only that verifier's token is withdrawn
        assert digest(pf) in pulled() and digest(stray) not in pulled()
        assert _ocsp_outcome(c, cert, issuer, pf) == "good" and _ocsp_outcome(c, cert, issuer, stray) == "unauthorized"

        reg.set_status("SIG1", "active", "t")
        assert state() == (200, True, "good")

        reg.set_status("SIG1", "terminated", "t")
        assert state()[1:] == (False, "unauthorized")
        with pytest.raises(Unauthorised, match="disabled"):
            Tokens(platform).authenticate(sig)  # disabled at the token layer too
        with pytest.raises(Conflict, match="final"):
            reg.set_status("SIG1", "active", "t")
        assert state()[1:] == (False, "unauthorized")
        assert http.get("/api/v1/verifier/whoami", headers=bearer(sig)).status_code == 401
        # a platform operator's suspension withdraws its token as well
        reg.set_status("PF1", "suspended", "t")
        c.sync_once(build(platform).feed)
        assert digest(pf) not in pulled() and _ocsp_outcome(c, cert, issuer, pf) == "unauthorized"
    finally:
        c.replica.close()


def test_r_ver_1_a_bound_token_of_an_unknown_verifier_or_another_role_is_not_given_to_centres(platform, enrol):
    """R-VER-1: a token labelled ``verifier:CODE`` is listed for the centres only if CODE is
    an active registered verifier whose type gives that role."""
    import hashlib

    from myna.verifiers.credentials import verifier_credentials

    enrol("UA1", "user-auth")
    ghost = legacy_verifier_token(platform, Role.VERIFIER_BOTH, "verifier:NOPE")
    wrong_role = legacy_verifier_token(platform, Role.VERIFIER_BOTH, "verifier:UA1")
    listed = verifier_credentials(platform)
    assert hashlib.sha256(ghost.encode()).hexdigest() not in listed
    assert hashlib.sha256(wrong_role.encode()).hexdigest() not in listed
    assert sorted(listed.values()) == ["verifier-auth"]


def test_r_ver_1_verifier_tokens_are_made_only_for_a_registered_active_verifier_of_that_role(platform, enrol):
    """R-VER-1: ``myna token create --role verifier-sign`` made a token bound to no verifier,
    which a verifiers-only centre answered. Now a verifier-role token is made only bound to
    a registered, active verifier whose type gives the role (``myna verifier token``); a
    row left from before is not given to the centres."""
    import hashlib

    from myna.errors import InvalidInput, NotFound
    from myna.verifiers.credentials import verifier_credentials
    from myna.wiring import build

    tokens = build(platform).tokens  # with the registry's binding check (R-VER-1)
    with pytest.raises(InvalidInput, match="myna verifier token"):
        tokens.create(Role.VERIFIER_SIGN, "some-ocsp-client")
    with pytest.raises(NotFound):
        tokens.create(Role.VERIFIER_SIGN, "verifier:NOPE")
    enrol("UA2", "user-auth")
    with pytest.raises(InvalidInput, match="user-auth"):
        tokens.create(Role.VERIFIER_SIGN, "verifier:UA2")
    # Tokens without the registry's check make no verifier-role token, even a well-bound one.
    with pytest.raises(InvalidInput, match="myna verifier token"):
        Tokens(platform).create(Role.VERIFIER_AUTH, "verifier:UA2")
    VerifierRegistry(platform).set_status("UA2", "suspended", "t")
    with pytest.raises(Exception, match="suspended"):
        tokens.create(Role.VERIFIER_AUTH, "verifier:UA2")
    old = legacy_verifier_token(platform, Role.VERIFIER_SIGN, "made before tokens were bound")
    assert hashlib.sha256(old.encode()).hexdigest() not in verifier_credentials(platform)


def test_r_ver_1_the_cli_makes_no_verifier_token(platform, settings, monkeypatch):
    monkeypatch.setenv("MYNA_HOME", str(settings.home))
    monkeypatch.setenv("MYNA_DATABASE_URL", settings.database_url)
    r = CliRunner().invoke(app, ["token", "create", "--role", "verifier-sign", "--label", "x"])
    assert r.exit_code != 0 and "myna verifier token" in r.output
    r = CliRunner().invoke(app, ["token", "create", "--help"])
    assert "call-centre" in r.output and "centre" in r.output
