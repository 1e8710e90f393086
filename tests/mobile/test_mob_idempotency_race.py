"""R-RA-3 for smartphone certificates, under concurrency, against a live server.

The key step's idempotency key is the application (its issuance request is
``mobile:<application id>``): phones sending different keys for one application at the
same moment get a certificate of their own key or 409, never a certificate of a key they
did not send, and one certificate is issued and linked. The same key from many callers:
one certificate, the same for all. One signed application document sent many times at
once: one application (with its challenge), every other caller 409, never a 500.
Several trials each, on SQLite and (with MYNA_TEST_DATABASE_URL) on PostgreSQL.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from race_support import live_server, together
from sqlalchemy import func, select
from ver_support import b64, make_holder

from myna.mobile.issuance import application_document, proof_message
from myna.mobile.secure_element import SoftwareSecureElement
from myna.pki.keys import KeyAlgorithm
from myna.store import models as m
from myna.store import models_mobile as mm
from myna.wiring import build

TRIALS = 3
THREADS = 8


def _spki(pem: bytes | str) -> bytes:
    data = pem.encode() if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data) if b"BEGIN PUBLIC KEY" in data else x509.load_pem_x509_certificate(data).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _issued_for(platform, application_id: str) -> list[m.Certificate]:
    with platform.db.session() as s:
        return list(s.scalars(select(m.Certificate).where(m.Certificate.request_id == f"mobile:{application_id}")))


def test_r_ra_3_mobile_different_keys_for_one_application_own_certificate_or_409(platform, cards):
    holder = make_holder(platform, cards)
    service = build(platform).mobile
    with live_server(platform) as url:
        for _trial in range(TRIALS):
            doc = application_document("mobile-sign", holder.basic4)  # a fresh nonce: a new application each trial
            app = service.apply(doc, holder.sign(doc))
            se = SoftwareSecureElement()
            keys = [se.generate(f"phone-{i}", KeyAlgorithm.EC_P256) for i in range(THREADS)]
            bodies = [
                {"public_key": k.decode(), "proof": b64(se.sign(f"phone-{i}", proof_message(app.id, app.challenge)))}
                for i, k in enumerate(keys)
            ]
            got = together(url, [lambda c, b=b: c.post(f"/api/v1/mobile/applications/{app.id}/certificate", json=b) for b in bodies])
            winners = set()
            for key, r in zip(keys, got, strict=True):
                if r.status_code == 409:
                    assert r.json()["error"] == "request-id-reused", r.text
                    continue
                assert r.status_code == 201, r.text
                assert _spki(r.json()["pem"]) == _spki(key), "a certificate for a key this caller never sent"
                winners.add(r.json()["serial"])
            [row] = _issued_for(platform, app.id)
            assert len(winners) <= 1
            with platform.db.session() as s:
                stored = s.get(mm.MobileApplication, app.id)
                assert stored.status == "issued" and stored.issued_serial == row.serial
                assert s.scalar(select(func.count()).select_from(mm.MobileLink).where(mm.MobileLink.application_id == app.id)) == 1


def test_r_ra_3_mobile_same_key_from_many_callers_one_certificate(platform, cards):
    holder = make_holder(platform, cards)
    service = build(platform).mobile
    with live_server(platform) as url:
        for trial in range(TRIALS):
            doc = application_document("mobile-sign" if trial % 2 == 0 else "mobile-auth", holder.basic4)
            app = service.apply(doc, holder.sign(doc))
            se = SoftwareSecureElement()
            key = se.generate("phone", KeyAlgorithm.EC_P256)
            body = {"public_key": key.decode(), "proof": b64(se.sign("phone", proof_message(app.id, app.challenge)))}
            got = together(url, [lambda c: c.post(f"/api/v1/mobile/applications/{app.id}/certificate", json=body) for _ in range(THREADS)])
            assert {r.status_code for r in got} == {201}, [r.text for r in got if r.status_code != 201]
            assert len({r.json()["serial"] for r in got}) == 1
            assert [r.json()["created"] for r in got].count(True) == 1
            assert len(_issued_for(platform, app.id)) == 1
            with platform.db.session() as s:
                assert s.scalar(select(func.count()).select_from(mm.MobileLink).where(mm.MobileLink.application_id == app.id)) == 1


def test_r_ra_3_mobile_one_application_document_sent_at_once_is_one_application(platform, cards):
    holder = make_holder(platform, cards)
    with live_server(platform) as url:
        for _ in range(TRIALS):
            doc = application_document("mobile-sign", holder.basic4)
            body = {"document": b64(doc), "signature": b64(holder.sign(doc))}
            got = together(url, [lambda c: c.post("/api/v1/mobile/applications", json=body) for _ in range(THREADS)])
            codes = sorted(r.status_code for r in got)
            assert codes == [201] + [409] * (THREADS - 1), [r.text for r in got]
