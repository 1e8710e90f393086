"""The card's PINs (暗証番号): policies, retry counters and where counters live.

Three PINs guard the card's secrets (SPEC §7; public facts about the real card):

| PIN | EF | format | tries |
| --- | --- | --- | --- |
| user-authentication PIN (利用者証明用) | JPKI 0018 | 4 digits | 3 |
| signature PIN (署名用) | JPKI 001B | 6-16 of A-Z and 0-9 | 5 |
| card-face input-support PIN (券面事項入力補助用) | 券面事項入力補助AP 0011 | 4 digits | 3 |

No answer to a PIN attempt leaves the card before the attempt is counted, the way real
cards defend against power being cut mid-command (they decrement first and restore on
success): whatever is interrupted, a try the reader learned the outcome of is never given
back. :class:`MemoryPins` decrements first; ``StorePins`` counts in a transaction that
commits before the engine answers.

:class:`PinStore` is what the command engine needs; :class:`MemoryPins` keeps counters
in memory (tests, fuzzing), ``myna.chip.chips.StorePins`` keeps them in the store.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Mapping, Protocol

from myna.errors import InvalidInput


class PinRef(str, enum.Enum):
    AUTH = "auth"  # 利用者証明用電子証明書暗証番号
    SIGN = "sign"  # 署名用電子証明書暗証番号
    FACE = "face"  # 券面事項入力補助用暗証番号
    # Printed on the card, not chosen by the holder (:class:`CardFacePins`):
    COLLATION_A = "collation-a"  # 照合番号A: the Individual Number, 12 digits
    COLLATION_B = "collation-b"  # 照合番号B: birth YYMMDD + expiry year + security code, 14 digits
    BIRTH = "birth"  # the confirmation AP's birth-date PIN, YYMMDD

    @property
    def holder_set(self) -> bool:
        """A PIN the holder chooses (counted in the store, reset at the counter)."""
        return self in (PinRef.AUTH, PinRef.SIGN, PinRef.FACE)

    @property
    def max_tries(self) -> int:
        # The collation numbers' counters are not public; 10 is myna's choice.
        return {PinRef.AUTH: 3, PinRef.SIGN: 5, PinRef.FACE: 3}.get(self, 10)

    @property
    def title(self) -> str:
        return {
            PinRef.AUTH: "user-authentication PIN",
            PinRef.SIGN: "signature PIN",
            PinRef.FACE: "card-face input-support PIN",
            PinRef.COLLATION_A: "collation number A",
            PinRef.COLLATION_B: "collation number B",
            PinRef.BIRTH: "birth-date PIN",
        }[self]

    @property
    def rule(self) -> str:
        return {
            PinRef.SIGN: "6-16 characters of A-Z and 0-9",
            PinRef.COLLATION_A: "12 digits",
            PinRef.COLLATION_B: "14 digits",
            PinRef.BIRTH: "6 digits",
        }.get(self, "4 digits")

    def check(self, pin: str | bytes) -> bytes:
        """The PIN as the card stores it (ASCII), or InvalidInput if it breaks the format."""
        if isinstance(pin, bytes):
            try:
                pin = pin.decode("ascii")
            except UnicodeDecodeError:
                raise InvalidInput(f"the {self.title} must be {self.rule}") from None
        pattern = {PinRef.SIGN: _SIGN_PIN, PinRef.COLLATION_A: _DIGITS12, PinRef.COLLATION_B: _DIGITS14, PinRef.BIRTH: _DIGITS6}.get(
            self, _DIGITS4
        )
        if not isinstance(pin, str) or not pattern.fullmatch(pin):
            raise InvalidInput(f"the {self.title} must be {self.rule}")
        return pin.encode("ascii")


_DIGITS4 = re.compile(r"[0-9]{4}")
_SIGN_PIN = re.compile(r"[A-Z0-9]{6,16}")
_DIGITS6, _DIGITS12, _DIGITS14 = re.compile(r"[0-9]{6}"), re.compile(r"[0-9]{12}"), re.compile(r"[0-9]{14}")


class Outcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    BLOCKED = "blocked"  # already blocked: nothing was compared, nothing counted


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    tries_left: int  # after the attempt; 0 means the PIN is (now) blocked


class PinStore(Protocol):
    """Retry counters and PIN verifiers of one card."""

    def tries_left(self, ref: PinRef) -> int: ...

    def attempt(self, ref: PinRef, candidate: bytes) -> Attempt:
        """Count one try, then compare; a correct PIN restores the counter to its maximum."""
        ...

    def change(self, ref: PinRef, new_pin: bytes) -> None:
        """Set a new PIN (already checked against the format) and restore the counter."""
        ...


class PinHasher:
    """PIN verifiers: HMAC-SHA256 under a secret pepper, with a per-PIN salt.

    A 4-digit PIN has 10,000 values, so no slow hash protects it; the pepper does: the
    stored verifier is useless without the card-image key it is derived from."""

    def __init__(self, pepper: bytes):
        if len(pepper) < 16:
            raise ValueError("pepper too short")
        self._pepper = pepper

    def make(self, pin: bytes) -> str:
        salt = secrets.token_bytes(16)
        return f"hmac-sha256${salt.hex()}${self._mac(salt, pin).hex()}"

    def matches(self, verifier: str, candidate: bytes) -> bool:
        try:
            scheme, salt_hex, mac_hex = verifier.split("$")
            salt, mac = bytes.fromhex(salt_hex), bytes.fromhex(mac_hex)
        except ValueError:
            return False
        return scheme == "hmac-sha256" and hmac.compare_digest(self._mac(salt, candidate), mac)

    def _mac(self, salt: bytes, pin: bytes) -> bytes:
        return hmac.new(self._pepper, salt + b"\x00" + pin, hashlib.sha256).digest()


class MemoryPins:
    """Counters and verifiers in memory: for tests, fuzzing and throwaway cards."""

    def __init__(self, pins: Mapping[PinRef, str], tries: Mapping[PinRef, int] | None = None, hasher: PinHasher | None = None):
        self._hasher = hasher or PinHasher(secrets.token_bytes(32))
        self._verifiers = {ref: self._hasher.make(ref.check(pin)) for ref, pin in pins.items()}
        self._tries = {ref: ref.max_tries for ref in pins}
        self._tries.update(tries or {})
        self._lock = threading.Lock()

    def tries_left(self, ref: PinRef) -> int:
        return self._tries.get(ref, 0)

    def attempt(self, ref: PinRef, candidate: bytes) -> Attempt:
        with self._lock:
            left = self._tries.get(ref, 0)
            if left <= 0:
                return Attempt(Outcome.BLOCKED, 0)
            self._tries[ref] = left - 1  # decrement first
            if self._hasher.matches(self._verifiers[ref], candidate):
                self._tries[ref] = ref.max_tries
                return Attempt(Outcome.OK, ref.max_tries)
            return Attempt(Outcome.WRONG, left - 1)

    def change(self, ref: PinRef, new_pin: bytes) -> None:
        with self._lock:
            self._verifiers[ref] = self._hasher.make(ref.check(new_pin))
            self._tries[ref] = ref.max_tries


class CardFacePins:
    """The collation numbers and the birth-date PIN of the card-face APs: their values
    are what is printed on the card (the image's face data), their counters live with
    this chip in memory (choice: they are not secrets the holder chose, so a counter
    restored by re-insertion gives nothing away that the printed card does not)."""

    def __init__(self, values: Mapping[PinRef, str]):
        self._values = {ref: v.encode("ascii") for ref, v in values.items()}
        self._tries = {ref: ref.max_tries for ref in values}
        self._lock = threading.Lock()

    def __contains__(self, ref: PinRef) -> bool:
        return ref in self._values

    def tries_left(self, ref: PinRef) -> int:
        return self._tries.get(ref, 0)

    def attempt(self, ref: PinRef, candidate: bytes) -> Attempt:
        with self._lock:
            left = self._tries.get(ref, 0)
            if left <= 0:
                return Attempt(Outcome.BLOCKED, 0)
            self._tries[ref] = left - 1
            if hmac.compare_digest(self._values[ref], bytes(candidate)):
                self._tries[ref] = ref.max_tries
                return Attempt(Outcome.OK, ref.max_tries)
            return Attempt(Outcome.WRONG, left - 1)

    def change(self, ref: PinRef, new_pin: bytes) -> None:
        raise InvalidInput(f"the {ref.title} is printed on the card: it cannot be changed")
