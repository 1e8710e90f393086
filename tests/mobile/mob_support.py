"""Helpers for the smartphone certificate tests: the phone's side of R-CERT-5."""

from __future__ import annotations

from myna.mobile.issuance import application_document, proof_message
from myna.mobile.secure_element import SoftwareSecureElement
from myna.pki.keys import KeyAlgorithm
from myna.wiring import build


def phone_apply_and_issue(platform, holder, kind="mobile-sign", se=None, algorithm=KeyAlgorithm.EC_P256):
    """Apply with the card, make the key in the secure element, get the certificate."""
    se = se or SoftwareSecureElement()
    service = build(platform).mobile
    doc = application_document(kind, holder.basic4)
    app = service.apply(doc, holder.sign(doc))
    public = se.generate(app.id, algorithm)
    issued = service.issue(app.id, public, se.sign(app.id, proof_message(app.id, app.challenge)))
    return app, issued, se
