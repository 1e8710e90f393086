"""A card's status (R-CARD-7) and what each change does to its certificates. Pure.

::

    manufacturing -> produced -> shipped -> active
    active    -> suspended (一時利用停止, call centre 24/7) -> active (lifted)
    active | suspended -> lost (紛失届) -> (a reissue application replaces it)
    produced | shipped | active | suspended | lost -> returned (返納) | abolished (廃止)

Suspension revokes both card certificates at once (R-REV-1, reason ``request``):
a lost card's certificates must stop validating the moment the holder calls, and
revocation is the only state the validity centres and CRLs know (there is no
certificate hold). Lifting the suspension makes the card usable again as an identity
card; its certificates stay revoked and are re-issued at the counter (new keys on the
card, free of charge). See docs/card-management.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from myna.errors import Conflict


class CardStatus(str, enum.Enum):
    MANUFACTURING = "manufacturing"  # 製造中: the chip made, certificates not yet written
    PRODUCED = "produced"  # 製造済
    SHIPPED = "shipped"  # 発送済 (at the municipality)
    ACTIVE = "active"  # 交付済: handed over, PINs set
    SUSPENDED = "suspended"  # 一時利用停止
    LOST = "lost"  # 紛失
    RETURNED = "returned"  # 返納
    ABOLISHED = "abolished"  # 廃止 (replaced, expired, holder deleted from the register)


class Action(str, enum.Enum):
    SHIP = "ship"
    HAND_OVER = "hand-over"
    SUSPEND = "suspend"
    LIFT = "lift"
    LOSE = "lose"
    RETURN = "return"
    ABOLISH = "abolish"


@dataclass(frozen=True)
class Rule:
    to: CardStatus
    revokes: bool  # revoke the card's unexpired, unrevoked certificates (R-REV-1)


_S = CardStatus
TRANSITIONS: dict[tuple[CardStatus, Action], Rule] = {
    (_S.PRODUCED, Action.SHIP): Rule(_S.SHIPPED, False),
    (_S.SHIPPED, Action.HAND_OVER): Rule(_S.ACTIVE, False),
    (_S.ACTIVE, Action.SUSPEND): Rule(_S.SUSPENDED, True),
    (_S.SUSPENDED, Action.LIFT): Rule(_S.ACTIVE, False),
    (_S.ACTIVE, Action.LOSE): Rule(_S.LOST, True),
    (_S.SUSPENDED, Action.LOSE): Rule(_S.LOST, True),
    **{(s, Action.RETURN): Rule(_S.RETURNED, True) for s in (_S.PRODUCED, _S.SHIPPED, _S.ACTIVE, _S.SUSPENDED, _S.LOST)},
    **{(s, Action.ABOLISH): Rule(_S.ABOLISHED, True) for s in (_S.PRODUCED, _S.SHIPPED, _S.ACTIVE, _S.SUSPENDED, _S.LOST, _S.RETURNED)},
}

# A card in one of these states still stands in for its holder: a new one is a duplicate (R-CARD-2).
LIVE = frozenset({_S.PRODUCED.value, _S.SHIPPED.value, _S.ACTIVE.value})
# The cards a reissue may replace (R-CARD-7): lost, suspended, returned, or damaged (active).
REISSUABLE = frozenset({_S.LOST.value, _S.SUSPENDED.value, _S.RETURNED.value, _S.ACTIVE.value})
# The holder is without a usable card: its reissue may be express (R-CARD-4).
UNUSABLE = frozenset({_S.LOST.value, _S.SUSPENDED.value})


class IllegalTransition(Conflict):
    code = "illegal-transition"


_WHY = {
    Action.HAND_OVER: "only a card shipped to the municipality can be handed over",
    Action.SHIP: "only a produced card can be shipped",
    Action.SUSPEND: "only an active card can be suspended",
    Action.LIFT: "only a suspended card can be lifted",
    Action.LOSE: "only an active or suspended card can be reported lost",
}


def next_status(current: str, action: Action, card_id: str) -> Rule:
    try:
        status = CardStatus(current)
    except ValueError:
        raise IllegalTransition(f"card {card_id} is in an unknown status {current!r}") from None
    rule = TRANSITIONS.get((status, action))
    if rule is None:
        why = _WHY.get(action, f"a card that is {status.value} cannot be {action.value}ed")
        raise IllegalTransition(f"card {card_id} is {status.value}: {why}", card_id=card_id, status=status.value, action=action.value)
    return rule
