"""The key ceremony: a documented hierarchy of a root and four issuing CAs (SPEC §3)."""

import json

from cryptography import x509
from sqlalchemy import select

from myna.authority.ceremony import run_ceremony
from myna.pki.kinds import AuthorityKind
from myna.store import models as m


def test_ceremony_creates_root_and_one_issuing_ca_per_kind(platform):
    root = platform.authority(AuthorityKind.ROOT).cert
    assert root.issuer == root.subject
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 1
    policies = set()
    for kind in AuthorityKind.issuing():
        ca = platform.authority(kind).cert
        ca.verify_directly_issued_by(root)
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        assert bc.ca and bc.path_length == 0
        ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
        policies.add(ca.extensions.get_extension_for_class(x509.CertificatePolicies).value[0].policy_identifier.dotted_string)
        assert ca.not_valid_after_utc <= root.not_valid_after_utc
        assert ca.public_key() != root.public_key()
    assert policies == {"1.2.392.200149.8.5.1.1.20", "1.2.392.200149.8.5.1.3.30"}


def test_ceremony_is_recorded_and_idempotent(platform):
    assert run_ceremony(platform, "someone else") == []
    with platform.db.session() as s:
        ceremonies = list(s.scalars(select(m.Ceremony)))
        ca_records = list(s.scalars(select(m.Certificate).where(m.Certificate.kind == "ca")))
    assert len(ceremonies) == 1 and ceremonies[0].performed_by == "test-operator" and ceremonies[0].purpose == "init"
    steps = json.loads(ceremonies[0].transcript)
    assert [s["kind"] for s in steps] == [k.value for k in AuthorityKind]
    assert all(len(s["sha256"]) == 64 and s["key_backend"] == "file" for s in steps)
    # The root's issuance records of the four CA certificates (so its CRL can revoke them).
    assert len(ca_records) == 4


def test_file_backend_keys_are_private_files(platform):
    keys = list(platform.settings.keys_dir.iterdir())
    assert len(keys) == len(AuthorityKind)
    assert all(k.stat().st_mode & 0o077 == 0 for k in keys)
