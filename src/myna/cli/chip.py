"""``myna chip``: the virtual My Number Card's chip — list the cards, put one into a
PC/SC reader (vpcd), and use it the way a resident's software does. See docs/card.md.
Card management (applications, production, handover) is ``myna cards`` (cards.py).

It was ``myna card``, one letter from ``myna cards``; that name still works, hidden,
with a line on stderr (:func:`card_alias`)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Column, Table

from myna.cli.common import actor, err, open_platform, run, services
from myna.settings import Settings

chip_app = typer.Typer(help="Virtual My Number Cards: list, insert into a PC/SC reader, sign, reset PINs.", no_args_is_help=True)

# Folds long lines at the terminal's width, unlike the other groups' console (common.out):
# this group's output has always been printed that way.
out = Console()


def card_alias() -> None:
    """The old name ``myna card``: runs the same commands, says once what they are called now."""
    err.print("`myna card` is now `myna chip`; the old name will go away", highlight=False, soft_wrap=True)


class Which(str, Enum):
    auth = "auth"
    sign = "sign"
    face = "face"


ReaderOpt = typer.Option(
    None,
    "--reader",
    "-r",
    help="PC/SC reader: its index in the reader list or part of its name (default: the first with a My Number Card).",
)


# -- the cards in the store ----------------------------------------------------------


@chip_app.command("list")
def chip_list(
    as_json: bool = typer.Option(False, "--json", help="One JSON array of objects."),
    resident: Optional[str] = typer.Option(None, help="Only this resident's cards (11-digit resident code)."),
) -> None:
    """Cards: id, holder, status, PIN counters (and, for demo cards only, their PINs)."""
    from myna.chip.readers import inserted

    p = open_platform()
    cards = run(lambda: services(p).chips.list(resident_code=resident))
    where = {i.card_id: i.reader for i in inserted(p.settings.home)}
    if as_json:
        rows = [c.to_json() | {"reader": where.get(c.card_id)} for c in cards]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
        return
    table = Table(
        Column("card id", no_wrap=True, min_width=16),
        "holder",
        "status",
        Column("PIN tries auth/sign/face", no_wrap=True),
        "reader",
        Column("demo PINs auth/sign/face", no_wrap=True),
    )
    for c in cards:
        tries = "/".join(str(c.pins[k].tries_left) if k in c.pins else "-" for k in ("auth", "sign", "face"))
        demo = "/".join((c.demo_pins or {}).get(k, "-") for k in ("auth", "sign", "face")) if c.demo else ""
        table.add_row(c.card_id, c.holder or "", c.status, tries, "" if c.card_id not in where else str(where[c.card_id]), demo)
    out.print(table)


@chip_app.command("show")
def chip_show(card_id: str = typer.Argument(..., help="Card id (or a unique prefix).")) -> None:
    """One card as JSON."""
    info = run(lambda: services().chips.get(card_id))
    sys.stdout.write(json.dumps(info.to_json(), ensure_ascii=False, indent=1) + "\n")


@chip_app.command("create")
def chip_create(
    resident_code: str = typer.Argument(..., help="11-digit resident code of a resident on the register."),
    auth_pin: Optional[str] = typer.Option(None, help="User-authentication PIN (4 digits)."),
    sign_pin: Optional[str] = typer.Option(None, help="Signature PIN (6-16 of A-Z, 0-9)."),
    face_pin: Optional[str] = typer.Option(None, help="Card-face input-support PIN (4 digits; default: the auth PIN)."),
) -> None:
    """DEMO/TEST ONLY: make an active card at once (keys on the card, both certificates
    issued), PINs chosen here — no application (R-CARD-2), no handover (R-CARD-6).
    Refused for a resident in card management; real cards go through `myna cards`.
    Without PINs, the card's PINs stay unset until `myna chip reset-pin`."""
    from myna.cards import by_hand
    from myna.chip.chips import CardPins

    pins = CardPins(auth_pin, sign_pin, face_pin) if auth_pin else None

    def go():
        p = open_platform()
        by_hand.check_create(p, resident_code)
        info = services(p).chips.create_card(resident_code, pins, actor())
        by_hand.record_created(p, info.card_id, actor(), pins is not None)
        return info

    info = run(go)
    err.print(
        f"card {info.card_id}: made by hand for a demo or test (no application, no handover; audit event card.created-by-hand)",
        highlight=False,
    )
    sys.stdout.write(json.dumps(info.to_json(), ensure_ascii=False, indent=1) + "\n")


@chip_app.command("reset-pin")
def chip_reset_pin(
    card_id: str = typer.Argument(..., help="Card id (or a unique prefix)."),
    which: Which = typer.Option(..., "--which", help="auth, sign or face."),
    new_pin: Optional[str] = typer.Option(None, "--new-pin", help="The PIN the holder chose (omit with --unblock-only)."),
    unblock_only: bool = typer.Option(False, "--unblock-only", help="Restore the counter and keep the PIN."),
    municipality: Optional[str] = typer.Option(None, help="Act as this municipality (6-digit code): only its own cards."),
    holder_present: bool = typer.Option(
        False, "--holder-present", help="The holder is at the counter in person (required for a card handed over by card management)."
    ),
    identity_document: Optional[str] = typer.Option(
        None,
        "--identity-document",
        help="The identity document seen: driving-licence, passport, residence-card, disability-certificate or two-documents.",
    ),
    reason: Optional[str] = typer.Option(
        None, "--reason", help="Why the PIN is reset, e.g. 'forgotten', 'blocked after 3 tries' (recorded)."
    ),
) -> None:
    """Counter flow, after the holder's identity was confirmed: unblock a PIN and set a
    new one. For a card handed over by card management, --holder-present,
    --identity-document and --reason are required and recorded
    (card.pin.reset-authorised) before the PIN is touched; a card not yet handed over is
    refused. Demo and test cards need none of them."""
    from myna.cards import by_hand

    if unblock_only == (new_pin is not None):
        raise typer.BadParameter("give exactly one of --new-pin and --unblock-only")
    check = by_hand.CounterCheck(holder_present, identity_document, reason)

    def go():
        p = open_platform()
        cid, managed = by_hand.authorise_reset(services(p).chips, card_id, which.value, new_pin, check, actor(), municipality)
        if not managed:
            err.print(f"card {cid} is not managed by card management (a demo or test card): no counter check required", highlight=False)
        return services(p).chips.reset_pin(cid, which.value, new_pin, actor(), municipality)

    info = run(go)
    state = info.pins[which.value]
    out.print(f"card {info.card_id}: {which.value} PIN {'reset' if new_pin else 'unblocked'}; {state.tries_left} tries")


# -- the PC/SC bridge ------------------------------------------------------------------


@chip_app.command("insert")
def chip_insert(
    card_id: str = typer.Argument(..., help="Card id (or a unique prefix)."),
    reader: int = typer.Option(0, "--reader", min=0, max=63, help="vpcd reader slot: 0 is the base port (35963 on Debian), 1 the next, …"),
    host: str = typer.Option("127.0.0.1", help="Where pcscd's vpcd driver listens."),
    port: Optional[int] = typer.Option(
        None, help="vpcd port (default: base port + reader; base from MYNA_VPCD_PORT or /etc/reader.conf.d)."
    ),
    wait: float = typer.Option(10.0, help="Seconds to keep trying to reach the reader."),
    detach: bool = typer.Option(False, "--detach", help="Run in the background; return once the card is in."),
    trace: bool = typer.Option(False, "--trace", help="Print every APDU (PINs hidden) on stderr."),
) -> None:
    """Put a card into a virtual reader of pcscd (vsmartcard-vpcd) and serve it until
    `myna chip remove` or SIGTERM."""
    from myna.chip import readers

    settings = Settings.from_env()
    if detach:
        extra = ["--host", host, "--wait", str(wait)] + (["--port", str(port)] if port else []) + (["--trace"] if trace else [])
        rec = run(lambda: readers.insert_detached(settings.home, card_id, reader, extra, timeout=wait + 20))
        out.print(
            f"card {rec.card_id} is in reader {rec.reader} (port {rec.port}, pid {rec.pid}); "
            f"`myna chip remove --reader {rec.reader}` takes it out"
        )
        return
    p = open_platform()

    def show(command: bytes, response: bytes) -> None:
        sys.stderr.write(f"> {command.hex(' ')}\n< {response.hex(' ')}\n")
        sys.stderr.flush()

    def ready(cid: str, slot: int, used_port: int) -> None:
        err.print(f"card {cid} inserted in reader {slot} (vpcd {host}:{used_port}); serving until `myna chip remove --reader {slot}`")

    n = run(
        lambda: readers.serve_inserted(services(p).chips, card_id, reader, host, port, wait, trace=show if trace else None, on_ready=ready)
    )
    err.print(f"card removed from reader {reader} after {n} commands")


@chip_app.command("remove")
def chip_remove(
    reader: int = typer.Option(0, "--reader", min=0, max=63, help="vpcd reader slot."),
    all_readers: bool = typer.Option(False, "--all", help="Every reader."),
) -> None:
    """Take a card out of a virtual reader (stops its `myna chip insert`)."""
    from myna.chip import readers

    home = Settings.from_env().home
    slots = [i.reader for i in readers.inserted(home)] if all_readers else [reader]
    for slot in slots:
        rec = run(lambda slot=slot: readers.remove(home, slot))
        out.print(f"card {rec.card_id} removed from reader {rec.reader}")


# -- the resident's side, over PC/SC -----------------------------------------------------


def _client(reader: Optional[str]):
    from myna.chip.client import JpkiClient
    from myna.chip.pcsc import connect

    conn = run(lambda: connect(reader))
    return conn, JpkiClient(conn.transmit)


def _pin(value: Optional[str], prompt: str) -> str:
    if value:
        return value
    if not sys.stdin.isatty():
        raise typer.BadParameter(f"give the {prompt} with its option (no terminal to ask on)")
    return typer.prompt(prompt, hide_input=True)


@chip_app.command("read-certs")
def chip_read_certs(
    reader: Optional[str] = ReaderOpt,
    sign_pin: Optional[str] = typer.Option(
        None, "--sign-pin", envvar="MYNA_CARD_SIGN_PIN", help="Also read the signature certificate (needs the signature PIN)."
    ),
    out_dir: Optional[Path] = typer.Option(
        None, "--out", help="Write auth.pem, auth-ca.pem, sign-ca.pem (and sign.pem) here instead of printing."
    ),
) -> None:
    """Read the certificates from the card in a reader (PEM)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from myna.chip.pins import PinRef
    from myna.pki import serials

    conn, client = _client(reader)
    with conn:
        names = ["auth", "auth-ca", "sign-ca"]
        if sign_pin:
            run(lambda: client.verify(PinRef.SIGN, sign_pin))
            names.insert(2, "sign")
        certs = {n: run(lambda n=n: client.read_certificate(n)) for n in names}
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        for n, c in certs.items():
            (out_dir / f"{n}.pem").write_bytes(c.public_bytes(Encoding.PEM))
        out.print(f"{', '.join(f'{n}.pem' for n in certs)} written to {out_dir}")
        return
    for n, c in certs.items():
        sys.stdout.write(f"# {n}: {c.subject.rfc4514_string()} (serial {serials.to_display(c.serial_number)})\n")
        sys.stdout.write(c.public_bytes(Encoding.PEM).decode())


@chip_app.command("sign")
def chip_sign(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The file to sign."),
    out_file: Path = typer.Option(..., "--out", help="Where to write the detached CMS signature (DER, .p7s)."),
    reader: Optional[str] = ReaderOpt,
    pin: Optional[str] = typer.Option(None, "--pin", envvar="MYNA_CARD_SIGN_PIN", help="The signature PIN (asked for when omitted)."),
) -> None:
    """Sign a file with the signature key on the card: a detached CMS/PKCS#7 SignedData
    (verify: openssl cms -verify -binary -inform DER -in FILE.p7s -content FILE -CAfile CHAIN)."""
    from myna.chip.cms import detached_signature
    from myna.chip.image import KeyRef
    from myna.chip.pins import PinRef
    from myna.pki import serials

    content = file.read_bytes()
    the_pin = _pin(pin, "signature PIN")
    conn, client = _client(reader)
    with conn:
        run(lambda: client.verify(PinRef.SIGN, the_pin))
        signer = run(lambda: client.read_certificate("sign"))
        ca = run(lambda: client.read_certificate("sign-ca"))
        der = run(
            lambda: detached_signature(content, signer, [ca], lambda di: client.sign(KeyRef.SIGN, di), dt.datetime.now(dt.timezone.utc))
        )
    out_file.write_bytes(der)
    out.print(f"signed {file} ({len(content)} bytes) with certificate {serials.to_display(signer.serial_number)}: {out_file}")


@chip_app.command("login-challenge")
def chip_login_challenge(
    reader: Optional[str] = ReaderOpt,
    pin: Optional[str] = typer.Option(
        None, "--pin", envvar="MYNA_CARD_AUTH_PIN", help="The user-authentication PIN (asked for when omitted)."
    ),
    challenge: Optional[str] = typer.Option(None, help="The verifier's challenge in hex (default: 32 random bytes)."),
) -> None:
    """Answer a login challenge with the auth key (SHA256 with RSA, PKCS#1 v1.5) and
    check the answer against the auth certificate and its CA, as a verifier would."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from myna.chip.image import KeyRef
    from myna.chip.pins import PinRef
    from myna.pki import serials

    try:
        nonce = bytes.fromhex(challenge) if challenge else secrets.token_bytes(32)
    except ValueError:
        raise typer.BadParameter("--challenge must be hexadecimal") from None
    if not 1 <= len(nonce) <= 1024:
        raise typer.BadParameter("--challenge must be 1 to 1024 bytes")
    the_pin = _pin(pin, "user-authentication PIN")
    conn, client = _client(reader)
    with conn:
        cert = run(lambda: client.read_certificate("auth"))
        ca = run(lambda: client.read_certificate("auth-ca"))
        run(lambda: client.verify(PinRef.AUTH, the_pin))
        signature = run(lambda: client.sign_sha256(KeyRef.AUTH, nonce))
    checks = {}
    try:
        cert.public_key().verify(signature, nonce, padding.PKCS1v15(), hashes.SHA256())
        checks["signature"] = True
    except InvalidSignature:
        checks["signature"] = False
    try:
        cert.verify_directly_issued_by(ca)
        checks["issued_by_card_auth_ca"] = True
    except (ValueError, TypeError, InvalidSignature):
        checks["issued_by_card_auth_ca"] = False
    result = {
        "challenge": nonce.hex(),
        "signature": base64.b64encode(signature).decode(),
        "certificate_serial": serials.to_display(cert.serial_number),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "verified": all(checks.values()),
        "checks": checks,
    }
    sys.stdout.write(json.dumps(result, indent=1) + "\n")
    if not result["verified"]:
        raise typer.Exit(1)
