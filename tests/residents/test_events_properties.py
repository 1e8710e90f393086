"""The resident state machine (``myna.residents.events.apply``) as properties, without a
database: random sequences of change events, most of them plausible for the resident's
state, some not (wrong state, missing fields, dates backwards or far ahead, another
municipality reporting), each applied to the outcome of the last accepted one.

What must hold after every step (SPEC §4, R-RA-4/5, R-REV-2/3/3a/8; the states are those of
the module's docstring):

- an event either yields an outcome or is refused with a domain error (InvalidInput,
  InvalidTransition, OutOfOrder), never anything else, and only from a state the
  transition table below allows; its resulting status is the table's;
- ``deleted`` is final; an event dated before the last applied one is refused (R-RA-4);
- only a move-in changes the municipality, to the reporter's (moves keep it consistent);
- R-REV-2: a change of the basic 4 information revokes the card signature certificate
  unless it is a minor correction; R-REV-8: name and address changes never revoke the
  user-auth certificate; R-REV-3: the user-auth certificate is revoked by a deletion other
  than by move-out, and by a move-in or withdrawal more than 30 days after the planned
  move-out (once per episode), never by anything else;
- R-REV-3a: a withdrawn planned move-out restores the record as it was (active, same
  municipality and basic 4, no planned date).

The table and the rules are written from the SPEC and the docstring, not from the code;
tests/residents/test_property.py checks the same rules through the store, much more slowly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from myna.errors import InvalidInput
from myna.pki.basic4 import Basic4, Sex
from myna.residents.events import (
    MOVE_IN_DEADLINE_DAYS,
    ChangeEvent,
    EventType,
    InvalidTransition,
    Outcome,
    OutOfOrder,
    Resident,
    Revoke,
    Status,
    apply,
    move_in_deadline_passed,
)

T = EventType
S = Status
CODE = "20000000001"
MUNIS = ["131016", "131041", "271276"]
NAMES = ["山田 花子", "佐藤 花子", "山田 はな子"]
ADDRESSES = ["東京都千代田区千代田1-1", "東京都新宿区西新宿2-8-1", "大阪府大阪市北区中之島1-3-20"]
DOB = dt.date(1990, 6, 15)
START = dt.date(2026, 1, 5)

# Which states each event may be applied to (None: no record yet), and the state it leaves.
# ``None`` as the result: the state is unchanged (a change to the record itself).
FROM: dict[EventType, set[Status | None]] = {
    T.BIRTH: {None},
    T.MOVE_IN: {None, S.MOVING_OUT, S.MOVED_OUT},
    T.PLANNED_MOVE_OUT: {S.ACTIVE},
    T.PLANNED_MOVE_OUT_WITHDRAWN: {S.MOVING_OUT, S.MOVED_OUT},
    T.MOVE_OUT: {S.ACTIVE, S.MOVING_OUT},
    T.NAME_CHANGE: {S.ACTIVE, S.MOVING_OUT},
    T.ADDRESS_CHANGE: {S.ACTIVE},
    T.CORRECTION: {S.ACTIVE, S.MOVING_OUT},
    T.DEATH: {S.ACTIVE, S.MOVING_OUT, S.MOVED_OUT},
    T.DELETION: {S.ACTIVE, S.MOVING_OUT, S.MOVED_OUT},
}
TO: dict[EventType, Status | None] = {
    T.BIRTH: S.ACTIVE,
    T.MOVE_IN: S.ACTIVE,
    T.PLANNED_MOVE_OUT: S.MOVING_OUT,
    T.PLANNED_MOVE_OUT_WITHDRAWN: S.ACTIVE,
    T.MOVE_OUT: S.MOVED_OUT,
    T.NAME_CHANGE: None,
    T.ADDRESS_CHANGE: None,
    T.CORRECTION: None,
    T.DEATH: S.DELETED,
    T.DELETION: S.DELETED,
}
REFUSALS = (InvalidInput, InvalidTransition, OutOfOrder)  # OutOfOrder and InvalidTransition are Conflicts


@st.composite
def event_for(draw, state: Resident | None, n: int) -> ChangeEvent:
    """A change event for the resident in ``state``: mostly a type the state allows, with its
    fields, dated on or after the last applied event; sometimes anything."""
    plausible = [t for t, allowed in FROM.items() if (state.status if state else None) in allowed]
    lasting = [t for t in plausible if TO[t] is not S.DELETED]
    # Mostly a plausible type; a deletion (final) seldom, so that sequences go on; one in ten anything.
    if not plausible or draw(st.integers(0, 9)) == 0:
        t = draw(st.sampled_from(list(T)))
    else:
        t = draw(st.sampled_from(lasting if lasting and draw(st.integers(0, 5)) else plausible))
    last = state.last_effective if state and state.last_effective else START
    # Mostly forward, by days or past the 30-day rule; sometimes far, sometimes backwards (R-RA-4).
    kind = draw(st.integers(0, 9))
    lo, hi = (-5, -1) if kind == 0 else (25, 40) if kind <= 3 else (0, 400) if kind == 4 else (0, 3)
    effective = last + dt.timedelta(days=draw(st.integers(lo, hi)))
    # The resident's own municipality reports, mostly; a move-in mostly comes from another one.
    here = state.municipality_code if state else MUNIS[0]
    elsewhere = [m for m in MUNIS if m != here]
    usual = draw(st.sampled_from(elsewhere)) if t is T.MOVE_IN else here
    municipality = usual if draw(st.integers(0, 4)) else draw(st.sampled_from(MUNIS))
    missing = draw(st.integers(0, 14)) == 0  # a required field left out
    fields: dict = {}
    if t is T.BIRTH:
        effective = DOB if state is None and draw(st.booleans()) else effective
        fields["basic4"] = (
            None if missing else Basic4(draw(st.sampled_from(NAMES)), effective, Sex.FEMALE, draw(st.sampled_from(ADDRESSES)))
        )
    elif t is T.MOVE_IN:
        address = draw(st.sampled_from(ADDRESSES))
        fields["address"] = None if missing else address
        if state is None:
            fields["basic4"] = Basic4(draw(st.sampled_from(NAMES)), DOB, Sex.FEMALE, address)
    elif t is T.PLANNED_MOVE_OUT:
        # Within the year R-RA-5 allows, and sometimes past it.
        fields["planned_date"] = (
            None if missing else effective + dt.timedelta(days=draw(st.one_of(st.integers(0, 60), st.integers(0, 400))))
        )
    elif t is T.NAME_CHANGE:
        fields["name"] = None if missing else draw(st.sampled_from(NAMES))
    elif t is T.ADDRESS_CHANGE:
        fields["address"] = None if missing else draw(st.sampled_from(ADDRESSES))
    elif t is T.CORRECTION:
        if not missing:
            fields.update(
                draw(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "name": st.sampled_from(NAMES),
                            "address": st.sampled_from(ADDRESSES),
                            "date_of_birth": st.sampled_from([DOB, DOB - dt.timedelta(days=1)]),
                            "sex": st.sampled_from(list(Sex)),
                        },
                    )
                )
            )
        fields["minor"] = draw(st.booleans())
    elif t is T.DELETION:
        fields["reason"] = None if missing else "職権消除"
    return ChangeEvent(f"e{n}", t, CODE, municipality, effective, **fields)


def check_step(state: Resident | None, event: ChangeEvent) -> Resident | None:
    """Apply ``event`` and check every property of one step; the state after it."""
    try:
        out = apply(state, event)
    except REFUSALS as refused:
        # An out-of-order refusal is given only for an event dated before the last one (R-RA-4).
        if isinstance(refused, OutOfOrder):
            assert state is not None and event.effective_date < state.last_effective
        return state
    assert isinstance(out, Outcome)
    before = state.status if state else None
    assert before in FROM[event.type], f"{event.type.value} applied to a {before} record"
    assert before is not S.DELETED, "deleted is final"
    after = out.resident
    assert after.status is (TO[event.type] or before)
    assert after.resident_code == CODE
    assert after.last_effective == event.effective_date
    if state is not None:
        assert event.effective_date >= state.last_effective, "R-RA-4: applied in effective-date order"
    assert out.new_record == (state is None)

    # Moves keep the municipality consistent: only a move-in (or a first record) sets it.
    if event.type in (T.MOVE_IN, T.BIRTH):
        assert after.municipality_code == event.municipality_code
    else:
        assert after.municipality_code == state.municipality_code

    revoked = set(out.revoke)
    if state is None:
        assert not revoked, "a new record has no certificates yet"
        return after
    changed = after.basic4 != state.basic4
    # R-REV-2: a change of the basic 4 information (other than a minor correction) or the
    # deletion of the record revokes the signature certificate; nothing else does.
    minor = event.type is T.CORRECTION and event.minor
    deleted = after.status in (S.MOVED_OUT, S.DELETED)
    if (changed and not minor) or deleted:
        assert Revoke.SIGNATURE in revoked, f"R-REV-2: {event.type.value} changed {state.basic4} -> {after.basic4}"
    if Revoke.SIGNATURE in revoked:
        assert (changed and not minor) or deleted or event.type is T.MOVE_IN
    if minor:
        assert not revoked, "a minor correction revokes nothing"
    # R-REV-8, R-REV-3: the user-auth certificate.
    if event.type in (T.NAME_CHANGE, T.ADDRESS_CHANGE, T.CORRECTION):
        assert Revoke.USER_AUTH not in revoked, "R-REV-8"
    late = (
        state.status in (S.MOVING_OUT, S.MOVED_OUT)
        and not state.ua_lapsed
        and state.planned_move_out is not None
        and event.effective_date > state.planned_move_out + dt.timedelta(days=MOVE_IN_DEADLINE_DAYS)
    )
    expect_ua = after.status is S.DELETED or (event.type in (T.MOVE_IN, T.PLANNED_MOVE_OUT_WITHDRAWN) and late)
    assert (Revoke.USER_AUTH in revoked) == expect_ua, f"R-REV-3: {event.type.value} late={late}"
    if event.type is T.MOVE_OUT:
        assert after.planned_move_out == (state.planned_move_out or event.effective_date)
    # R-REV-3a: a withdrawal restores the record; the 30-day clock stops.
    if event.type is T.PLANNED_MOVE_OUT_WITHDRAWN:
        assert (after.municipality_code, after.basic4, after.planned_move_out) == (state.municipality_code, state.basic4, None)
        assert not move_in_deadline_passed(after, event.effective_date + dt.timedelta(days=1000))
    return after


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_r_rev_2_3_3a_8_random_event_sequences_keep_the_state_machine_and_its_revocations(data):
    state: Resident | None = None
    for n in range(data.draw(st.integers(1, 20))):
        event = data.draw(event_for(state, n))
        state = check_step(state, event)


@settings(max_examples=200, deadline=None)
@given(
    planned_in=st.integers(0, 300),
    late_by=st.integers(-40, 40),
    how=st.sampled_from([T.MOVE_IN, T.PLANNED_MOVE_OUT_WITHDRAWN]),
    moved_out=st.booleans(),
)
def test_r_rev_3_3a_the_30_days_pass_on_planned_plus_31(planned_in, late_by, how, moved_out):
    """(choice, R-REV-3a) the 30 days have passed on planned+31: a move-in or a withdrawal on
    that day or later revokes the user-auth certificate, one up to planned+30 does not."""
    active = Resident(CODE, MUNIS[0], Basic4(NAMES[0], DOB, Sex.FEMALE, ADDRESSES[0]), S.ACTIVE, last_effective=START)
    notice = START + dt.timedelta(days=1)
    planned = notice + dt.timedelta(days=planned_in % 360)
    state = apply(active, ChangeEvent("p", T.PLANNED_MOVE_OUT, CODE, MUNIS[0], notice, planned_date=planned)).resident
    if moved_out:
        state = apply(state, ChangeEvent("o", T.MOVE_OUT, CODE, MUNIS[0], max(notice, planned))).resident
    day = max(planned + dt.timedelta(days=MOVE_IN_DEADLINE_DAYS + late_by), state.last_effective)
    other = MUNIS[1]
    event = ChangeEvent("m", how, CODE, other if how is T.MOVE_IN else MUNIS[0], day, address=ADDRESSES[1])
    out = apply(state, event)
    passed = (day - planned).days > MOVE_IN_DEADLINE_DAYS
    assert (Revoke.USER_AUTH in out.revoke) == passed
    assert move_in_deadline_passed(state, day) == passed
    assert out.resident.status is S.ACTIVE and out.resident.planned_move_out is None and not out.resident.ua_lapsed
    assert out.resident.municipality_code == (other if how is T.MOVE_IN else MUNIS[0])


@settings(max_examples=100, deadline=None)
@given(t=st.sampled_from(list(T)), days=st.integers(-3, 3))
def test_deleted_is_final(t, days):
    state = Resident(CODE, MUNIS[0], Basic4(NAMES[0], DOB, Sex.FEMALE, ADDRESSES[0]), S.DELETED, last_effective=START)
    fields = dict(address=ADDRESSES[1], name=NAMES[1], planned_date=START + dt.timedelta(days=10), reason="r", basic4=state.basic4)
    event = ChangeEvent("x", t, CODE, MUNIS[0], START + dt.timedelta(days=days), **fields)
    try:
        apply(state, event)
    except REFUSALS:
        return
    raise AssertionError(f"{t.value} was applied to a deleted record")


def test_the_transition_table_is_the_modules():
    """Guard for the generator: every event type has a row, and the docstring's four states
    are the module's."""
    assert set(FROM) == set(TO) == set(T)
    assert {s for s in S} == {S.ACTIVE, S.MOVING_OUT, S.MOVED_OUT, S.DELETED}
    assert dataclasses.is_dataclass(Resident) and Resident.__dataclass_params__.frozen
