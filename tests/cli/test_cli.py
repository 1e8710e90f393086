"""The `myna` command: the interface outside checks rely on (issue #2)."""

import json

import pytest
from cryptography import x509
from typer.testing import CliRunner

from myna.cli import app


@pytest.fixture
def cli(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("MYNA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MYNA_DATABASE_URL", database_url)
    monkeypatch.setenv("MYNA_PUBLIC_URL", "http://127.0.0.1:8123")
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    run("init")
    return run


def test_init_is_idempotent_and_demo_issues_two_certificates_per_resident(cli):
    assert "nothing to do" in cli("init").output
    cli("demo", "--residents", "2")
    cli("demo", "--residents", "2")  # idempotent
    listed = json.loads(cli("cert", "list", "--json").stdout)
    assert sorted(c["kind"] for c in listed) == ["card-auth", "card-auth", "card-sign", "card-sign"]
    assert all(c["status"] == "valid" and c["not_after"] and c["serial"] for c in listed)


def test_cert_get_pem_revoke_and_crl_publish(cli):
    cli("demo", "--residents", "1")
    serial = json.loads(cli("cert", "list", "--json", "--kind", "card-sign").stdout)[0]["serial"]
    cert = x509.load_pem_x509_certificate(cli("cert", "get", serial, "--pem").stdout.encode())
    assert cert.serial_number == int(serial, 16)
    assert "R-REV-2/3" in cli("revoke", serial, "--reason", "resident-change").output
    assert json.loads(cli("cert", "get", serial).stdout)["status"] == "revoked"
    assert "already revoked" in cli("revoke", serial, "--reason", "request", code=1).output
    out = cli("crl", "publish", "--kind", "card-sign").output
    assert "card-sign" in out and "full" in out


def test_ca_get_pem_and_chain(cli):
    one = cli("ca", "get", "card-auth", "--pem").stdout
    chain = cli("ca", "get", "card-auth", "--chain").stdout
    certs = x509.load_pem_x509_certificates(chain.encode())
    assert len(certs) == 2 and certs[0] == x509.load_pem_x509_certificate(one.encode())
    certs[0].verify_directly_issued_by(certs[1])


@pytest.mark.parametrize(
    "args,code,text",
    [
        (("cert", "get", "not-hex"), 2, "not a hexadecimal"),
        (("cert", "get", "ABCDEF"), 1, "no certificate"),
        (("revoke", "ABCDEF", "--reason", "because"), 2, "because"),
        (("ca", "get", "gold"), 2, "gold"),
        (("cert", "list", "--status", "lost"), 1, "unknown status"),
        (("token", "create", "--role", "municipality", "--label", "x"), 1, "needs --municipality"),
    ],
)
def test_bad_input_gives_one_clear_error(cli, args, code, text):
    result = cli(*args, code=code)
    assert text in result.output
    assert "Traceback" not in result.output


def test_r_ra_1_cert_issue_is_for_a_resident_on_the_register_with_the_registers_basic4(cli, tmp_path):
    """`myna cert issue` (J-LIS's own path): R-CERT-4 and R-RA-1 hold there too."""
    from myna_testing import ec_public_pem, register_resident

    from myna.authority.platform import Platform
    from myna.pki.basic4 import Basic4

    platform = Platform.open()
    record = register_resident(platform, "22233344455", "131016", name="登録 太郎")
    platform.close()
    key = tmp_path / "k.pem"
    key.write_bytes(ec_public_pem())
    base = ("cert", "issue", "--kind", "card-sign", "--public-key", str(key))
    unknown = cli(*base, "--resident-code", "44455566677", code=1)
    assert "no resident 44455566677 on the resident register" in unknown.output
    invented = ("--name", "なりすまし 花子", "--sex", "2", "--address", "大阪府大阪市北区梅田1-1", "--date-of-birth", "1990-06-15")
    differs = cli(*base, "--resident-code", "22233344455", *invented, code=1)
    assert "differs from the resident register in basic4.name, basic4.address" in differs.output
    assert "なりすまし" not in differs.output
    issued = cli(*base, "--resident-code", "22233344455", "--pem")
    assert Basic4.from_certificate(x509.load_pem_x509_certificate(issued.stdout.encode())).name == record.name
