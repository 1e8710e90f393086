"""Fees (手数料, R-CARD-9): J-LIS sets them (minister-approved) and the municipality
collects them at the counter. The schedule follows the public one: the first card and
a renewal for expiry are free; a reissue for the holder's own reasons (loss, damage)
costs 800 yen for the card and 200 yen for its certificates; re-issuing certificates
for the holder's own reasons (e.g. after a lifted suspension) 200 yen."""

from __future__ import annotations

from dataclasses import dataclass

from myna.cards.application_status import ApplicationStatus


@dataclass(frozen=True)
class Fee:
    item: str
    amount_yen: int
    description: str


SCHEDULE: dict[str, Fee] = {
    f.item: f
    for f in (
        Fee("card-new", 0, "first card (交付): free"),
        Fee("card-renewal", 0, "new card at expiry (有効期限による再交付): free"),
        Fee("card-reissue", 800, "card reissued for the holder's reasons (loss, damage) (再交付手数料)"),
        Fee("certificates-reissue", 200, "card certificates reissued with a reissued card or after suspension"),
        Fee("certificates-renewal", 0, "certificate renewal at expiry (更新): free"),
    )
}


# A fee not collected whose application was cancelled is waived (免除): kept on record,
# no longer outstanding, not collectable.
WAIVED_WITH = (ApplicationStatus.CANCELLED.value,)


def status(collected: bool, application_status: str | None) -> str:
    """``collected``, ``waived`` (its application was cancelled) or ``outstanding``."""
    if collected:
        return "collected"
    if application_status in WAIVED_WITH:
        return "waived"
    return "outstanding"


def for_application(reason: str) -> list[Fee]:
    """The fees an application brings (zero-yen items are recorded too: a complete record)."""
    if reason == "reissue":
        return [SCHEDULE["card-reissue"], SCHEDULE["certificates-reissue"]]
    if reason == "renewal":
        return [SCHEDULE["card-renewal"]]
    return [SCHEDULE["card-new"]]
