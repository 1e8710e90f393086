"""The pure rules of card management: the lead-time calendar (R-CARD-4), the status
machine (R-CARD-7), expiry windows (R-CARD-8, R-CERT-2), defect checks (R-CARD-2), fees
(R-CARD-9), and the QR payload on the forms (R-CARD-1)."""

from __future__ import annotations

import datetime as dt

import pytest
from cm_support import photo
from hypothesis import given
from hypothesis import strategies as st

from myna.cards import card_status, defects, expiry, fees, lead_time
from myna.cards.card_status import Action, CardStatus, IllegalTransition, next_status
from myna.cards.notices import parse_qr, qr_payload
from myna.clock import UTC
from myna.errors import InvalidInput

days = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2040, 12, 31))


def brute_days_between(a: dt.date, b: dt.date) -> int:
    return sum(1 for i in range(1, (b - a).days + 1) if not lead_time.is_holiday(a + dt.timedelta(days=i)))


def test_r_card_4_new_year_holidays_are_not_counted():
    assert [lead_time.is_holiday(dt.date(2026, 12, d)) for d in (28, 29, 31)] == [False, True, True]
    assert [lead_time.is_holiday(dt.date(2027, 1, d)) for d in (1, 3, 4)] == [True, True, False]
    # Received 24 Dec: 14 counted days skip 29 Dec - 3 Jan, so the deadline is 13 Jan, not 7 Jan.
    assert lead_time.due_on(dt.date(2026, 12, 24), express=False) == dt.date(2027, 1, 13)
    assert lead_time.due_on(dt.date(2026, 12, 27), express=True) == dt.date(2027, 1, 7)  # 28 Dec, then 4-7 Jan
    assert lead_time.due_on(dt.date(2026, 4, 1), express=False) == dt.date(2026, 4, 15)
    assert lead_time.days_between(dt.date(2026, 12, 28), dt.date(2027, 1, 4)) == 1  # only 4 Jan counts


@given(days, st.integers(min_value=0, max_value=400))
def test_r_card_4_calendar_agrees_with_counting_day_by_day(start, n):
    end = start + dt.timedelta(days=n)
    assert lead_time.days_between(start, end) == brute_days_between(start, end)
    due = lead_time.add_days(start, n)
    assert lead_time.days_between(start, due) == n and not lead_time.is_holiday(due) or n == 0
    assert lead_time.days_left(start, due) == n and lead_time.days_left(due, start) == -n


def test_r_card_4_report_max_mean_and_over_deadline_per_day_and_month():
    rows = [
        (dt.date(2026, 4, 10), 9, False),
        (dt.date(2026, 4, 10), 15, False),
        (dt.date(2026, 4, 11), 6, True),
        (dt.date(2026, 5, 1), 13, False),
    ]
    by_day = [s.to_json() for s in lead_time.report(rows, "day")]
    assert by_day[0] == {"period": "2026-04-10", "shipped": 2, "max_days": 15, "mean_days": 12.0, "over_deadline": 1}
    assert by_day[1]["over_deadline"] == 1  # express: 6 > 5
    by_month = [s.to_json() for s in lead_time.report(rows, "month")]
    assert by_month == [
        {"period": "2026-04", "shipped": 3, "max_days": 15, "mean_days": 10.0, "over_deadline": 2},
        {"period": "2026-05", "shipped": 1, "max_days": 13, "mean_days": 13.0, "over_deadline": 0},
    ]


def test_r_card_7_status_machine_allows_exactly_the_listed_transitions():
    allowed = {(s, a) for (s, a) in card_status.TRANSITIONS}
    for s in CardStatus:
        for a in Action:
            if (s, a) in allowed:
                assert next_status(s.value, a, "C").to is card_status.TRANSITIONS[(s, a)].to
            else:
                with pytest.raises(IllegalTransition):
                    next_status(s.value, a, "C")
    with pytest.raises(IllegalTransition, match="only a card shipped to the municipality can be handed over"):
        next_status("produced", Action.HAND_OVER, "C")
    with pytest.raises(IllegalTransition, match="unknown status"):
        next_status("melted", Action.SUSPEND, "C")
    # Suspension, loss, return and abolition stop the certificates; lifting does not bring them back.
    assert next_status("active", Action.SUSPEND, "C").revokes and not next_status("suspended", Action.LIFT, "C").revokes
    assert not next_status("shipped", Action.HAND_OVER, "C").revokes


def test_r_card_8_expiry_windows_say_what_to_renew():
    card = dt.datetime(2035, 6, 15, 14, 59, 59, tzinfo=UTC)
    certs = dt.datetime(2031, 6, 15, 14, 59, 59, tzinfo=UTC)
    assert expiry.what_to_renew(card, certs, dt.datetime(2031, 3, 1, tzinfo=UTC)) is None
    assert expiry.what_to_renew(card, certs, dt.datetime(2031, 3, 16, tzinfo=UTC)) == "certificates"
    assert expiry.what_to_renew(card, card, dt.datetime(2035, 4, 1, tzinfo=UTC)) == "both"
    assert expiry.what_to_renew(card, None, dt.datetime(2035, 4, 1, tzinfo=UTC)) == "card"
    assert expiry.add_months(dt.datetime(2031, 5, 31, tzinfo=UTC), -3) == dt.datetime(2031, 2, 28, tzinfo=UTC)


def test_r_card_2_defect_rules():
    rec = defects.Record("山田 花子", dt.date(1990, 6, 15), "2", "東京都千代田区千代田1-1", True)
    ok = defects.Context(0, 0, None, False)
    good = defects.Applied("山田　花子", dt.date(1990, 6, 15), "2", "東京都千代田区千代田１－１", photo())  # full-width forms
    assert defects.check(good, rec, ok, dt.date(2026, 4, 1)) == []
    codes = lambda a, r=rec, c=ok: [x.code for x in defects.check(a, r, c, dt.date(2026, 4, 1))]  # noqa: E731
    assert codes(good, None) == ["not-resident"]
    assert codes(good, defects.Record(**{**rec.__dict__, "on_register": False})) == ["not-resident"]
    assert codes(defects.Applied(**{**good.__dict__, "reason": "reissue", "replaces_card_id": "X"})) == ["nothing-to-reissue"]
    assert codes(defects.Applied(**{**good.__dict__, "reason": "renewal"})) == ["renewal-not-due"]
    assert codes(good, rec, defects.Context(0, 1, None, False)) == ["duplicate"]
    assert codes(defects.Applied(**{**good.__dict__, "express": "loss"})) == ["express-not-eligible"]
    assert codes(defects.Applied(**{**good.__dict__, "express": "newborn"})) == ["express-not-eligible"]
    lost = defects.Applied(**{**good.__dict__, "reason": "reissue", "replaces_card_id": "X", "express": "loss"})
    assert codes(lost, rec, defects.Context(0, 0, "lost", False)) == []
    assert defects.check_photo(photo(299, 400)).message == "photograph is 299x400 pixels; at least 300x400 needed"
    assert defects.check_photo(photo(fmt="BMP")).message == "photograph must be JPEG or PNG, not BMP"
    assert defects.check_photo(photo(fmt="JPEG")) is None


def test_r_card_9_fee_schedule():
    assert [(f.item, f.amount_yen) for f in fees.for_application("new")] == [("card-new", 0)]
    assert sum(f.amount_yen for f in fees.for_application("reissue")) == 1000
    assert fees.SCHEDULE["certificates-renewal"].amount_yen == 0
    # A fee is collected, waived (not collected and its application cancelled) or outstanding.
    assert [fees.status(True, "cancelled"), fees.status(False, "cancelled"), fees.status(False, "accepted"), fees.status(False, None)] == [
        "collected",
        "waived",
        "outstanding",
        "outstanding",
    ]


def test_r_card_1_qr_payload_round_trip_and_refusals():
    text = qr_payload("N0123456789ABCDEF", "ab" * 16)
    assert parse_qr(text) == ("N0123456789ABCDEF", "ab" * 16)
    for bad in (
        "",
        "MYNA-APPLY/1/N0123/xx",
        text + "/more",
        text.replace("/1/", "/2/"),
        text.replace("/N", "/X"),
        text.replace("/N", "/r"),
    ):
        with pytest.raises(InvalidInput):
            parse_qr(bad)
    # R-CARD-8: the renewal form below an expiry notice uses the same payload with an R form id.
    from myna.cards.renewal_forms import renewal_form_id

    assert renewal_form_id(1) == "R0000000000000001" and renewal_form_id(2**40) == "R0000010000000000"
    assert parse_qr(qr_payload(renewal_form_id(42), "cd" * 16)) == ("R000000000000002A", "cd" * 16)
