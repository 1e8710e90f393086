"""The card through real middleware: pcscd + vsmartcard-vpcd, OpenSC's jpki driver and
PKCS#11 module, pkcs11-tool, pyscard and OpenSSL (SPEC §7, issue 6's "done means")."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager

import pytest
from chip_support import AUTH_PIN, FACE_PIN, SIGN_PIN
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from myna.chip.client import JpkiClient
from myna.chip.engine import Card
from myna.chip.pins import PinRef
from myna.chip.vpcd import VpcdBridge, reader_port
from myna.cli import app

pytestmark = pytest.mark.interop

AUTH_TOKEN = "JPKI (User Authentication PIN)"
SIGN_TOKEN = "JPKI (Digital Signature PIN)"


def _reader_name(slot: int) -> str:
    return f"Virtual PCD 00 {slot:02d}"


def _wait_for(slot: int, present: bool, timeout: float = 15.0) -> None:
    """Until pcscd reports the card in (or out of) the reader."""
    from smartcard.scard import (
        SCARD_SCOPE_USER,
        SCARD_STATE_PRESENT,
        SCARD_STATE_UNAWARE,
        SCardEstablishContext,
        SCardGetStatusChange,
        SCardReleaseContext,
    )

    hresult, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hresult, states = SCardGetStatusChange(ctx, 200, [(_reader_name(slot), SCARD_STATE_UNAWARE)])
            if hresult == 0 and bool(states[0][1] & SCARD_STATE_PRESENT) == present:
                return
            time.sleep(0.05)
    finally:
        SCardReleaseContext(ctx)
    raise AssertionError(f"reader {slot}: card {'not inserted' if present else 'not removed'} after {timeout}s")


@contextmanager
def inserted(pcsc, card: Card, slot: int = 0):
    """The card in vpcd reader ``slot``, served from a thread of this test."""
    bridge = VpcdBridge(card, port=reader_port(slot, pcsc.base_port))
    bridge.connect(timeout=10)
    stop = threading.Event()
    thread = threading.Thread(target=bridge.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        _wait_for(slot, present=True)
        yield bridge
    finally:
        stop.set()
        thread.join(timeout=10)
        _wait_for(slot, present=False)


def _pem_pubkey(der: bytes, tmp_path, name: str):
    from cryptography import x509

    path = tmp_path / f"{name}.pub.pem"
    path.write_bytes(
        x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


def _pyscard_client(slot: int = 0):
    from myna.chip.pcsc import connect

    conn = connect(_reader_name(slot))
    return conn, JpkiClient(conn.transmit)


def test_opensc_names_the_card_jpki_lists_both_certificates_and_keys_and_signs_with_each_pin(pcsc, cards, person, demo_pins, tmp_path):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    image = cards.load_image(info.card_id)
    with inserted(pcsc, cards.open_card(info.card_id)):
        assert pcsc.run(pcsc.opensc_tool, "-n").stdout.strip().splitlines()[-1] == "jpki"
        slots = pcsc.pkcs11("-L").stdout
        assert AUTH_TOKEN in slots and SIGN_TOKEN in slots and "4/4" in slots and "6/16" in slots

        public = pcsc.pkcs11("--token-label", AUTH_TOKEN, "-O").stdout
        assert "User Authentication Certificate" in public and "User Authentication Certificate CA" in public
        assert "Digital Signature Certificate CA" in public
        assert "label:      Digital Signature Certificate\n" not in public  # private: needs the signature PIN

        auth_objects = pcsc.pkcs11("--token-label", AUTH_TOKEN, "--login", "--pin", AUTH_PIN, "-O").stdout
        assert "Private Key Object; RSA" in auth_objects and "User Authentication Key" in auth_objects
        sign_objects = pcsc.pkcs11("--token-label", SIGN_TOKEN, "--login", "--pin", SIGN_PIN, "-O").stdout
        assert "Digital Signature Key" in sign_objects and "label:      Digital Signature Certificate\n" in sign_objects

        got = tmp_path / "auth.der"
        pcsc.pkcs11("--token-label", AUTH_TOKEN, "--read-object", "--type", "cert", "--id", "01", "-o", str(got))
        assert got.read_bytes() == image.auth_cert  # the certificate myna issued, read through OpenSC
        got = tmp_path / "sign.der"
        pcsc.pkcs11(
            "--token-label", SIGN_TOKEN, "--login", "--pin", SIGN_PIN, "--read-object", "--type", "cert", "--id", "02", "-o", str(got)
        )
        assert got.read_bytes() == image.sign_cert

        message = tmp_path / "message.txt"
        message.write_text("署名のテスト: signed through OpenSC\n")
        for token, pin, key_id, cert, name in (
            (AUTH_TOKEN, AUTH_PIN, "01", image.auth_cert, "auth"),
            (SIGN_TOKEN, SIGN_PIN, "02", image.sign_cert, "sign"),
        ):
            sig = tmp_path / f"{name}.sig"
            pcsc.pkcs11(
                "--token-label",
                token,
                "--login",
                "--pin",
                pin,
                "--sign",
                "-m",
                "SHA256-RSA-PKCS",
                "--id",
                key_id,
                "-i",
                str(message),
                "-o",
                str(sig),
            )
            assert len(sig.read_bytes()) == 256
            ok = pcsc.run(
                pcsc.openssl, "dgst", "-sha256", "-verify", str(_pem_pubkey(cert, tmp_path, name)), "-signature", str(sig), str(message)
            )
            assert "Verified OK" in ok.stdout


def _flags(pcsc, token: str) -> str:
    out = pcsc.pkcs11("-L").stdout
    block = out[out.index(token) :]
    return block[block.index("token flags") : block.index("\n", block.index("token flags"))]


def _login(pcsc, token: str, pin: str) -> str:
    proc = pcsc.pkcs11("--token-label", token, "--login", "--pin", pin, "-O", check=False)
    return "OK" if proc.returncode == 0 else (proc.stdout + proc.stderr)


def test_wrong_pins_lower_the_counter_block_it_and_it_stays_blocked_until_the_counter_resets_it(pcsc, cards, person, demo_pins):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    with inserted(pcsc, cards.open_card(info.card_id)):
        # user-authentication PIN: 3 tries
        assert "CKR_PIN_INCORRECT" in _login(pcsc, AUTH_TOKEN, "0000")
        assert "user PIN count low" in _flags(pcsc, AUTH_TOKEN)
        conn, client = _pyscard_client()
        with conn:
            assert client.tries_left(PinRef.AUTH) == 2  # VERIFY without data: 63 C2
        assert "CKR_PIN_INCORRECT" in _login(pcsc, AUTH_TOKEN, "0000")
        assert "final user PIN try" in _flags(pcsc, AUTH_TOKEN)
        assert "CKR_PIN_INCORRECT" in _login(pcsc, AUTH_TOKEN, "0000")  # the 3rd wrong PIN blocks it
        assert "user PIN locked" in _flags(pcsc, AUTH_TOKEN)
        assert "CKR_PIN_LOCKED" in _login(pcsc, AUTH_TOKEN, AUTH_PIN)
        # signature PIN: 5 tries
        for _ in range(4):
            assert "CKR_PIN_INCORRECT" in _login(pcsc, SIGN_TOKEN, "WRONG00")
        assert "final user PIN try" in _flags(pcsc, SIGN_TOKEN)
        assert "CKR_PIN_INCORRECT" in _login(pcsc, SIGN_TOKEN, "WRONG00")  # the 5th
        assert "user PIN locked" in _flags(pcsc, SIGN_TOKEN)
        assert "CKR_PIN_LOCKED" in _login(pcsc, SIGN_TOKEN, SIGN_PIN)

    with inserted(pcsc, cards.open_card(info.card_id)):  # removed and inserted again
        assert "user PIN locked" in _flags(pcsc, AUTH_TOKEN) and "user PIN locked" in _flags(pcsc, SIGN_TOKEN)
        assert "CKR_PIN_LOCKED" in _login(pcsc, AUTH_TOKEN, AUTH_PIN)
        conn, client = _pyscard_client()
        with conn:
            client.select_jpki()
            client.select_ef(0x001B)
            assert client.command(0x00, 0x20, 0x00, 0x80, SIGN_PIN.encode()).sw == 0x6983
        # the counter flow, while the card sits in the reader
        cards.reset_pin(info.card_id, "auth", "4321", actor="counter:test")
        cards.reset_pin(info.card_id, "sign", None, actor="counter:test")
        assert "locked" not in _flags(pcsc, AUTH_TOKEN) and "locked" not in _flags(pcsc, SIGN_TOKEN)
        assert "CKR_PIN_INCORRECT" in _login(pcsc, AUTH_TOKEN, AUTH_PIN)  # the old PIN is gone
        assert _login(pcsc, AUTH_TOKEN, "4321") == "OK"
        assert _login(pcsc, SIGN_TOKEN, SIGN_PIN) == "OK"


def test_cms_signature_made_with_the_card_verifies_with_openssl_and_chains_to_the_signature_ca(
    pcsc, platform, cards, person, demo_pins, tmp_path, monkeypatch
):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    chain = tmp_path / "sign-chain.pem"
    chain.write_bytes(b"".join(platform.authority(k).cert.public_bytes(serialization.Encoding.PEM) for k in ("card-sign", "root")))
    document = tmp_path / "申請書.txt"
    document.write_bytes("転出届 — signed with the card's signature key\n".encode() * 50)
    signature = tmp_path / "申請書.txt.p7s"
    monkeypatch.setenv("MYNA_HOME", str(platform.settings.home))
    runner = CliRunner()
    with inserted(pcsc, cards.open_card(info.card_id)):
        result = runner.invoke(app, ["chip", "sign", str(document), "--out", str(signature), "--pin", SIGN_PIN], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        result = runner.invoke(app, ["chip", "login-challenge", "--pin", AUTH_PIN, "--challenge", "00" * 31 + "01"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        answer = json.loads(result.stdout)
        assert answer["verified"] and answer["checks"] == {"signature": True, "issued_by_card_auth_ca": True}
        assert int(answer["certificate_serial"], 16) == info.auth_serial
        result = runner.invoke(
            app, ["chip", "read-certs", "--sign-pin", SIGN_PIN, "--out", str(tmp_path / "certs")], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
    verify = [
        pcsc.openssl,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        str(signature),
        "-content",
        str(document),
        "-out",
        "/dev/null",
    ]
    ok = pcsc.run(*verify, "-CAfile", str(chain))
    assert "Verification successful" in ok.stderr
    signer = tmp_path / "signer.pem"
    pcsc.run(*verify, "-CAfile", str(chain), "-signer", str(signer))
    for kind, ok_expected in (("card-sign", True), ("card-auth", False), ("mobile-sign", False)):
        only = tmp_path / f"{kind}.pem"
        only.write_bytes(platform.authority(kind).cert.public_bytes(serialization.Encoding.PEM))
        proc = pcsc.run(pcsc.openssl, "verify", "-partial_chain", "-CAfile", str(only), str(signer), check=False)
        assert (proc.returncode == 0) is ok_expected, (kind, proc.stdout, proc.stderr)  # issued by the signature CA
    document.write_bytes(document.read_bytes() + b"x")
    assert pcsc.run(*verify, "-CAfile", str(chain), check=False).returncode != 0  # and covers the content
    signer = pcsc.run(pcsc.openssl, "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(signature)).stdout
    assert "signingTime" in signer and "messageDigest" in signer and "id-smime-aa-signingCertificateV2" in signer
    sign_pem = (tmp_path / "certs" / "sign.pem").read_bytes()
    assert pcsc.run(pcsc.openssl, "verify", "-CAfile", str(chain), str(tmp_path / "certs" / "sign.pem")).returncode == 0
    assert sign_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_cli_inserts_two_cards_into_two_readers_and_removes_them(pcsc, tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("MYNA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MYNA_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("MYNA_VPCD_PORT", str(pcsc.base_port))  # inherited by `myna chip insert --detach`
    runner = CliRunner()

    def cli(*args, code=0):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    cli("init")
    cli("demo", "--residents", "2")
    first, second = json.loads(cli("chip", "list", "--json").stdout)
    try:
        assert "is in reader 0" in cli("chip", "insert", first["card_id"], "--reader", "0", "--detach").stdout
        _wait_for(0, True, timeout=0.5)  # PC/SC shows the card as soon as --detach returns (pcscd powered it)
        assert "is in reader 1" in cli("chip", "insert", second["card_id"][:6], "--reader", "1", "--detach").stdout
        _wait_for(1, True, timeout=0.5)
        _wait_for(0, True)
        _wait_for(1, True)
        assert "already in reader 0" in cli("chip", "insert", first["card_id"], "--reader", "2", code=1).output
        readers = {c["card_id"]: c["reader"] for c in json.loads(cli("chip", "list", "--json").stdout)}
        assert readers == {first["card_id"]: 0, second["card_id"]: 1}
        listed = pcsc.run(pcsc.opensc_tool, "-l").stdout
        assert listed.count("Yes") >= 2
        assert pcsc.pkcs11("-L").stdout.count(AUTH_TOKEN) == 2
        pem = cli("chip", "read-certs", "--reader", _reader_name(1)).stdout
        assert f"serial {second['certificates']['auth']}" in pem
        conn, client = _pyscard_client(0)
        with conn:
            client.verify(PinRef.FACE, FACE_PIN)
            face = client.read_face()
        assert face["name"] == first["holder"] and len(face["number"]) == 12
    finally:
        out = cli("chip", "remove", "--all").stdout
    assert first["card_id"] in out and second["card_id"] in out
    _wait_for(0, False)
    _wait_for(1, False)
    assert all(c["reader"] is None for c in json.loads(cli("chip", "list", "--json").stdout))
