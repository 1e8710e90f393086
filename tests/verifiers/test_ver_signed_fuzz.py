"""A card-signed document with any byte of its signature changed is refused with a
specific 4xx error — never accepted, never an unexpected exception (a 500)."""

from __future__ import annotations

import random

from ver_support import make_holder

from myna.errors import MynaError
from myna.verifiers import card_signed
from myna.verifiers.consent import DOC_TYPE, consent_document
from myna.web.errors import http_status


def test_mutated_signatures_are_refused_specifically(platform, cards):
    h = make_holder(platform, cards)
    doc = consent_document("grant", "SIG1")
    sig = h.sign(doc)
    now = platform.clock.now()
    with platform.db.session() as s:
        assert card_signed.verify(s, doc, sig, now, DOC_TYPE).resident_code == h.resident_code  # the original is good
    rng = random.Random(7)
    outcomes: dict[str, int] = {}
    for i in range(400):
        data = bytearray(sig)
        if i % 4 == 0:
            data = data[: rng.randrange(1, len(data))]  # truncated
        else:
            for _ in range(rng.choice((1, 1, 2, 8))):
                data[rng.randrange(len(data))] = rng.randrange(256)
        if bytes(data) == sig:
            continue
        with platform.db.session() as s:
            try:
                card_signed.verify(s, doc, bytes(data), now, DOC_TYPE)
            except MynaError as exc:
                assert 400 <= http_status(exc) < 500
                outcomes[exc.code] = outcomes.get(exc.code, 0) + 1
                continue
        # Accepted only if the change left the signer, its certificate and the signature
        # as they were (e.g. it hit the CA certificate carried along, which is not used).
        assert _signed_parts(bytes(data)) == _signed_parts(sig)
        outcomes["accepted"] = outcomes.get("accepted", 0) + 1
    assert outcomes.get("invalid-signature", 0) > 300


def _signed_parts(der: bytes) -> tuple[bytes, bytes]:
    from asn1crypto import cms

    sd = cms.ContentInfo.load(der)["content"]
    si = sd["signer_infos"][0]
    serial = si["sid"].chosen["serial_number"].native
    signer = [c.chosen.dump() for c in sd["certificates"] if c.chosen.serial_number == serial]
    return si.dump(), signer
