"""The card status machine (``myna.cards.card_status.next_status``, R-CARD-7, R-REV-1) as
properties, without a database: random walks of actions from a produced card, and random
(status, action) pairs, against the machine as the SPEC and the module's docstring draw it:

    manufacturing -> produced -> shipped -> active
    active    -> suspended (一時利用停止) -> active (lifted)
    active | suspended -> lost (紛失届)
    produced | shipped | active | suspended | lost -> returned (返納) | abolished (廃止)

What must hold: exactly the drawn moves are allowed, each to its drawn status, everything
else is refused with IllegalTransition naming the card, its status and the action; a move
revokes the card's certificates exactly when it takes the card out of use (suspended, lost,
returned, abolished: R-REV-1, there is no certificate hold), never when it brings one in;
abolished is final and nothing leaves returned but abolition; a card is active only after
it was shipped and handed over, and a card once lost, returned or abolished is never
active again.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myna.cards.card_status import Action, CardStatus, IllegalTransition, next_status

S, A = CardStatus, Action
OUT_OF_USE = {S.SUSPENDED, S.LOST, S.RETURNED, S.ABOLISHED}
# The drawing above, written out: (from, action) -> to.
DRAWN: dict[tuple[CardStatus, Action], CardStatus] = {
    (S.PRODUCED, A.SHIP): S.SHIPPED,
    (S.SHIPPED, A.HAND_OVER): S.ACTIVE,
    (S.ACTIVE, A.SUSPEND): S.SUSPENDED,
    (S.SUSPENDED, A.LIFT): S.ACTIVE,
    (S.ACTIVE, A.LOSE): S.LOST,
    (S.SUSPENDED, A.LOSE): S.LOST,
    **{(s, A.RETURN): S.RETURNED for s in (S.PRODUCED, S.SHIPPED, S.ACTIVE, S.SUSPENDED, S.LOST)},
    **{(s, A.ABOLISH): S.ABOLISHED for s in (S.PRODUCED, S.SHIPPED, S.ACTIVE, S.SUSPENDED, S.LOST, S.RETURNED)},
}


def _step(status: CardStatus, action: Action, card_id: str) -> CardStatus:
    """One move, checked against the drawing; the status after it (unchanged if refused)."""
    want = DRAWN.get((status, action))
    if want is None:
        with pytest.raises(IllegalTransition) as refused:
            next_status(status.value, action, card_id)
        assert card_id in str(refused.value) and status.value in str(refused.value)
        assert refused.value.details.get("status") == status.value and refused.value.details.get("action") == action.value
        return status
    rule = next_status(status.value, action, card_id)
    assert rule.to is want, f"{status.value} --{action.value}--> {rule.to.value}, drawn {want.value}"
    # R-REV-1: out of use means its certificates stop validating at once; back in use
    # (handed over, lifted) never revokes — lifted certificates stay revoked, re-issued at the counter.
    assert rule.revokes == (want in OUT_OF_USE), f"{status.value} --{action.value}--> {want.value}: revokes={rule.revokes}"
    return rule.to


@settings(max_examples=200, deadline=None)
@given(actions=st.lists(st.sampled_from(list(Action)), max_size=30), card_id=st.from_regex(r"C[0-9A-F]{6}", fullmatch=True))
def test_r_card_7_random_walks_follow_the_drawn_machine(actions, card_id):
    status, seen = S.PRODUCED, [S.PRODUCED]
    for action in actions:
        before = status
        status = _step(status, action, card_id)
        if status is S.ACTIVE and before is not S.ACTIVE:
            assert before in (S.SHIPPED, S.SUSPENDED)  # handed over, or lifted
            assert S.SHIPPED in seen, "active only after shipping and hand-over"
        if before in (S.LOST, S.RETURNED, S.ABOLISHED):
            assert status is not S.ACTIVE, "a lost, returned or abolished card is never active again"
        if before is S.ABOLISHED:
            assert status is S.ABOLISHED, "abolished is final"
        if before is S.RETURNED:
            assert status in (S.RETURNED, S.ABOLISHED)
        seen.append(status)


@settings(max_examples=200, deadline=None)
@given(status=st.sampled_from(list(CardStatus)), action=st.sampled_from(list(Action)))
def test_r_card_7_every_pair_is_drawn_or_refused(status, action):
    _step(status, action, "C000001")


def test_r_card_7_terminal_and_unreachable_states():
    # Abolished: nothing leaves it. Manufacturing: no action moves a card still being made
    # (production marks it produced).
    for action in Action:
        for status in (S.ABOLISHED, S.MANUFACTURING):
            with pytest.raises(IllegalTransition):
                next_status(status.value, action, "C1")
    # Every drawn status but manufacturing is reachable from produced by some walk.
    reach, frontier = {S.PRODUCED}, [S.PRODUCED]
    while frontier:
        s = frontier.pop()
        for a in Action:
            try:
                nxt = next_status(s.value, a, "C1").to
            except IllegalTransition:
                continue
            if nxt not in reach:
                reach.add(nxt)
                frontier.append(nxt)
    assert reach == set(CardStatus) - {S.MANUFACTURING}


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=20).filter(lambda t: t not in {s.value for s in CardStatus}), action=st.sampled_from(list(Action)))
def test_an_unknown_stored_status_is_refused_not_guessed(text, action):
    with pytest.raises(IllegalTransition, match="unknown status"):
        next_status(text, action, "C1")
