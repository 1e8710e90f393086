"""CMS signatures with a key that never leaves the card (no PC/SC: the engine directly)."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess

import pytest
from asn1crypto import cms
from chip_support import SIGN_PIN
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from myna_testing import require_tool

from myna.chip.client import JpkiClient
from myna.chip.cms import detached_signature
from myna.chip.image import KeyRef
from myna.chip.pins import PinRef


@pytest.fixture
def signed(platform, cards, person, demo_pins, clock):
    info = cards.create_card(person.resident_code, demo_pins, actor="test")
    client = JpkiClient(cards.open_card(info.card_id).transmit)
    client.verify(PinRef.SIGN, SIGN_PIN)
    signer, ca = client.read_certificate("sign"), client.read_certificate("sign-ca")
    content = "確定申告書 2026\n".encode() * 100
    der = detached_signature(content, signer, [ca], lambda di: client.sign(KeyRef.SIGN, di), clock.now())
    return content, der, signer, ca


def test_signed_data_structure(signed, clock):
    content, der, signer, ca = signed
    info = cms.ContentInfo.load(der)
    sd = info["content"]
    assert info["content_type"].native == "signed_data" and sd["encap_content_info"]["content"].native is None  # detached
    si = sd["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in si["signed_attrs"]}
    assert attrs["message_digest"].native == hashlib.sha256(content).digest()
    assert attrs["content_type"].native == "data"
    assert attrs["signing_time"].native == clock.now()
    assert (
        attrs["signing_certificate_v2"]["certs"][0]["cert_hash"].native
        == hashlib.sha256(signer.public_bytes(serialization.Encoding.DER)).digest()
    )
    assert si["sid"].chosen["serial_number"].native == signer.serial_number
    # the signature is over the DER SET OF the signed attributes, made by the card's key
    signer.public_key().verify(si["signature"].native, si["signed_attrs"].untag().dump(), padding.PKCS1v15(), hashes.SHA256())
    assert {c.chosen.dump() for c in sd["certificates"]} == {x.public_bytes(serialization.Encoding.DER) for x in (signer, ca)}  # a SET OF


@pytest.mark.interop
def test_openssl_verifies_it_against_the_myna_signature_ca(signed, platform, tmp_path):
    openssl = require_tool("openssl")
    content, der, _, _ = signed
    (tmp_path / "doc").write_bytes(content)
    (tmp_path / "doc.p7s").write_bytes(der)
    (tmp_path / "root.pem").write_bytes(platform.authority("root").cert.public_bytes(serialization.Encoding.PEM))
    # the chain comes from the signature itself (it carries the signature CA); the root is the anchor.
    # signingTime is the test clock's, so verify at that time.
    at = str(int(dt.datetime(2026, 4, 2, tzinfo=dt.timezone.utc).timestamp()))
    args = [
        openssl,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        str(tmp_path / "doc.p7s"),
        "-content",
        str(tmp_path / "doc"),
        "-CAfile",
        str(tmp_path / "root.pem"),
        "-attime",
        at,
        "-out",
        "/dev/null",
    ]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0 and "Verification successful" in proc.stderr, proc.stderr
    (tmp_path / "doc").write_bytes(content[:-1])
    assert subprocess.run(args, capture_output=True).returncode != 0
