"""A birth or a first registration names a resident code that is already in use (R-RA-2).

The answer must not tell a municipality where the code is in use, or anything of that
resident's record: one refusal for every resident registered elsewhere, active, moved in
elsewhere or deleted, after the event is checked exactly as for an unused code (so a
malformed event answers the same 422 either way, and nothing about the record, e.g. its
last event date, shows through). (That a code is in use at all cannot be hidden from the
one who would create a second record with it: resident codes are unique. A municipality's
own residents keep their specific answers: it knows them.)
"""

from __future__ import annotations

from myna.errors import Conflict
from myna.residents.events import ChangeEvent, EventType, Resident, Status, apply


class CodeInUse(Conflict):
    code = "resident-code-in-use"


def creates_a_record(state: Resident | None, event: ChangeEvent) -> bool:
    """Whether ``event`` would need a new record: a birth, or a move-in of someone who is not
    moving out of (or moved out of) a municipality."""
    if event.type is EventType.BIRTH:
        return True
    return event.type is EventType.MOVE_IN and (state is None or state.status not in (Status.MOVING_OUT, Status.MOVED_OUT))


def refuse_code_in_use(event: ChangeEvent) -> None:
    apply(None, event)  # the checks an unused code gets: a bad event answers alike
    raise CodeInUse(f"resident code {event.resident_code} cannot be given to a new record: it is already in use")
