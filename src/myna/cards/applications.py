"""Number notices with application forms (R-CARD-1) and card applications (R-CARD-2):
the one service the API, the screens and the command line call. Each job is a module
of its own, and this class only hands over to it:

- :mod:`myna.cards.mailing`: number notices printed and mailed, returned mail;
- :mod:`myna.cards.receiving`: one application received, checked for defects
  (:mod:`myna.cards.defect_facts` gathers the facts, :mod:`myna.cards.defects` decides),
  given a receipt (:mod:`myna.cards.receipts`); the form itself is :mod:`myna.cards.forms`;
- :mod:`myna.cards.qr_forms`: the QR path, from a number notice's form or an expiry
  notice's renewal form (:mod:`myna.cards.renewal_forms`);
- :mod:`myna.cards.paper_import`: scanned paper forms, a file at a time;
- :mod:`myna.cards.application_lookup`: status by receipt number, the full record;
- :mod:`myna.cards.lead_time_alerts`: deadline alerts and lead-time reports (R-CARD-4).

Three ways in, one path: online (a municipality counter or the online service sends the
filled-in form), paper, and the QR code on the mailed form. Statuses:
:class:`myna.cards.application_status.ApplicationStatus`.
"""

from __future__ import annotations

from pathlib import Path

from myna.access.roles import Principal
from myna.authority.platform import Platform
from myna.authority.records import scope_of
from myna.cards import application_lookup, lead_time, lead_time_alerts, mailing, paper_import, qr_forms, receiving
from myna.cards.forms import ApplicationIn, decode_photo
from myna.cards.receipts import Receipt
from myna.cards.receiving import JLIS, requester_for
from myna.store.models_card_management import ExpiryNotice, MailedNotice

# The names callers take from here (the API, the screens, the command line).
__all__ = ["JLIS", "ApplicationIn", "Applications", "Receipt", "decode_photo", "requester_for"]


class Applications:
    def __init__(self, platform: Platform):
        self.platform = platform

    # -- number notices (R-CARD-1) ----------------------------------------------------

    def mail_notices(self, actor: str, municipality_code: str | None = None, limit: int = 1000) -> tuple[list[dict], bytes | None]:
        return mailing.mail_notices(self.platform, actor, municipality_code, limit)

    def mark_returned(self, notice_id: str, reason: str, actor: str) -> dict:
        return mailing.mark_returned(self.platform, notice_id, reason, actor)

    # -- receiving ------------------------------------------------------------------

    def submit(self, app: ApplicationIn, channel: str, actor: str, notice_id: str | None = None, requester: str = JLIS) -> Receipt:
        return receiving.submit(self.platform, app, channel, actor, notice_id, requester)

    def submit_as(self, who: Principal, app: ApplicationIn, channel: str) -> Receipt:
        """An application sent by a caller of the platform: a municipality's for its own
        residents only, its ``source_ref`` in its own scope; J-LIS's staff for anyone."""
        scope = scope_of(who)
        if scope is None:
            return receiving.submit(self.platform, app, channel, who.actor, requester=JLIS)
        return receiving.submit_for_municipality(self.platform, app, channel, who.actor, scope)

    def notice_prefill(self, qr_text: str) -> tuple[MailedNotice, dict]:
        return qr_forms.notice_prefill(self.platform, qr_text)

    def renewal_prefill(self, form_id: str, token: str) -> tuple[ExpiryNotice, dict]:
        return qr_forms.renewal_prefill(self.platform, form_id, token)

    def submit_qr(
        self, qr_text: str, photo: bytes | None, actor: str, express: str | None = None, source_ref: str | None = None
    ) -> Receipt:
        return qr_forms.submit_qr(self.platform, qr_text, photo, actor, express, source_ref)

    def import_paper(self, path: Path, actor: str) -> dict:
        return paper_import.import_paper(self.platform, path, actor)

    @staticmethod
    def parse_paper(path: Path) -> tuple[list[ApplicationIn], list[dict]]:
        return paper_import.parse_paper(path)

    # -- reading ------------------------------------------------------------------------

    def status(self, application_id: str) -> dict:
        return application_lookup.status(self.platform, application_id)

    def get(self, application_id: str, municipality_code: str | None = None) -> dict:
        return application_lookup.get(self.platform, application_id, municipality_code)

    # -- lead time (R-CARD-4) -------------------------------------------------------------

    def alerts(self, within: int = lead_time.ALERT_DAYS) -> list[dict]:
        return lead_time_alerts.alerts(self.platform, within)

    def lead_time_report(self, by: str = "day") -> list[dict]:
        return lead_time_alerts.lead_time_report(self.platform, by)
