"""Scanned paper application forms (R-CARD-2), imported as a batch of JSON Lines. Every
line is read and checked before anything is recorded: a file with a bad line is
refused whole, naming each bad line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from myna.authority.platform import Platform
from myna.cards.application_status import ApplicationStatus
from myna.cards.forms import ApplicationIn, decode_photo
from myna.cards.receiving import JLIS, submit
from myna.errors import InvalidInput, NotFound

PAPER_MAX_LINES = 200_000
_KNOWN = frozenset(
    {
        "form_id",
        "resident_code",
        "name",
        "date_of_birth",
        "sex",
        "address",
        "photo_base64",
        "photo_file",
        "reason",
        "express",
        "replaces_card_id",
    }
)


def import_paper(platform: Platform, path: Path, actor: str) -> dict:
    """Scanned paper forms, one JSON object a line: ``form_id`` (the scan's id: a
    re-import is not a new application), ``resident_code``, ``name``,
    ``date_of_birth``, ``sex``, ``address``, ``photo_base64`` or ``photo_file``
    (relative to the file), optional ``reason``, ``express``, ``replaces_card_id``.
    Every line is read and checked before anything is recorded: a file with a bad
    line is refused whole, naming each bad line."""
    apps, bad = parse_paper(path)
    if bad:
        shown = "\n".join(f"line {b['line']}: {b['message']}" for b in bad[:50])
        more = f"\n... and {len(bad) - 50} more bad lines" if len(bad) > 50 else ""
        raise InvalidInput(f"{len(bad)} bad lines of {len(apps) + len(bad)} forms; nothing was imported\n{shown}{more}", lines=bad)
    receipts = [submit(platform, a, "paper", actor, requester=JLIS) for a in apps]
    return {
        "forms": len(receipts),
        "new": sum(r.created for r in receipts),
        "accepted": sum(r.created and r.status == ApplicationStatus.ACCEPTED for r in receipts),
        "defective": sum(r.created and r.status == ApplicationStatus.DEFECTIVE for r in receipts),
        "receipts": [r.to_json() for r in receipts],
    }


def parse_paper(path: Path) -> tuple[list[ApplicationIn], list[dict]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"no file {path}") from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise InvalidInput(f"{path} is not a UTF-8 text file ({type(exc).__name__})") from None
    apps: list[ApplicationIn] = []
    bad: list[dict] = []
    seen: dict[str, int] = {}
    lines = text.splitlines()
    if len(lines) > PAPER_MAX_LINES:
        raise InvalidInput(f"at most {PAPER_MAX_LINES} forms a file")
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise InvalidInput("not a JSON object")
            unknown = sorted(set(obj) - _KNOWN)
            if unknown:
                raise InvalidInput(f"unknown field {unknown[0]!r}")
            missing = [k for k in ("form_id", "resident_code", "name", "date_of_birth", "sex", "address") if not obj.get(k)]
            if missing:
                raise InvalidInput(f"missing {', '.join(missing)}")
            if not all(isinstance(obj[k], str) for k in obj if obj[k] is not None):
                raise InvalidInput("every field is a string")
            try:
                dob = dt.date.fromisoformat(obj["date_of_birth"])
            except ValueError:
                raise InvalidInput(f"date_of_birth {obj['date_of_birth']!r} is not a date YYYY-MM-DD") from None
            photo = decode_photo(obj.get("photo_base64"))
            if obj.get("photo_file"):
                photo_path = (Path(path).parent / obj["photo_file"]).resolve()
                if Path(path).parent.resolve() not in photo_path.parents:
                    raise InvalidInput("photo_file must lie beside the import file")
                if not photo_path.is_file():
                    raise InvalidInput(f"photo_file {obj['photo_file']!r} not found")
                photo = photo_path.read_bytes()
            if obj["form_id"] in seen:
                raise InvalidInput(f"form_id repeats line {seen[obj['form_id']]}")
            app = ApplicationIn(
                resident_code=obj["resident_code"],
                name=obj["name"],
                date_of_birth=dob,
                sex=obj["sex"],
                address=obj["address"],
                photo=photo,
                reason=obj.get("reason") or "new",
                express=obj.get("express"),
                replaces_card_id=obj.get("replaces_card_id"),
                source_ref=f"paper:{obj['form_id']}",
            )
            app.check()
            seen[obj["form_id"]] = no
            apps.append(app)
        except json.JSONDecodeError:
            bad.append({"line": no, "message": "not valid JSON"})
        except InvalidInput as exc:
            bad.append({"line": no, "message": exc.message})
    if not apps and not bad:
        raise InvalidInput("no forms in the file")
    return apps, bad
