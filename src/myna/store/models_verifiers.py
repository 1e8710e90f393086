"""Tables of the verifier services (myna.verifiers) and smartphone certificates
(myna.mobile): verifier registry, consents, provision log, card-mobile links (SPEC §5)."""

from __future__ import annotations
