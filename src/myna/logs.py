"""Structured logging: readable key=value lines on a terminal, JSON for log shippers.

No secret and no personal data in any line (SPEC's bar: no token, PIN, key, or basic 4
value). Three layers, because a line is built in many places:

- Tracebacks carry the stack (file, line, function, source) and the exception's type, never
  the frames' local variables (an ASGI scope holds the ``authorization`` header, a handler's
  locals hold the body) and never the exception's message (a pydantic error quotes the
  input, a store error its parameters, ``KeyError`` its key). The stack locates the bug.
- Fields whose name says secret or personal data (``token``, ``pin``, ``name``,
  ``address``, ``resident_code``…) are replaced whole, at any depth.
- Every rendered line, structlog's and the standard library's (uvicorn's error and access
  logs), is masked for what has a recognisable shape: API and session tokens (``myna_`` and
  URL-safe base64), 11-digit resident codes and 12-digit Individual Numbers; the access log
  also loses its query strings' values (the UI's redirects carry error texts there).
"""

from __future__ import annotations

import copy
import logging
import re
import sys
import traceback
from typing import Any

import structlog

REDACTED = "[redacted]"

# Field names (lower case, "-" read as "_") whose value is a secret or personal data.
_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "token",
        "bearer",
        "session",
        "pin",
        "pins_values",
        "password",
        "passphrase",
        "secret",
        "key",
        "private_key",
        "api_key",
        "otp",
        "certification_code",
        # basic 4 information and what identifies a person (基本4情報, 住民票コード, 個人番号)
        "basic4",
        "basic_4",
        "name",
        "names",
        "name_kana",
        "kana",
        "address",
        "date_of_birth",
        "birth_date",
        "dob",
        "sex",
        "resident",
        "resident_code",
        "individual_number",
        "my_number",
        "photo",
        "face",
        # whole requests: what a client sent
        "body",
        "headers",
        "scope",
        "query",
        "query_string",
        "form",
        "json",
    }
)
_SECRET_SUFFIXES = ("_token", "_pin", "_password", "_secret", "_key", "_name", "_address", "_number_value")

# What a secret or an identifier looks like wherever it stands in a text. Tokens: "myna_"
# and secrets.token_urlsafe (access/tokens.py, the portal's sessions). Resident codes are
# 11 digits, Individual Numbers 12 (a longer run is something else: a serial, a time).
_SHAPES = re.compile(r"myna_[A-Za-z0-9_\-]{8,}|(?<![0-9])[0-9]{11,12}(?![0-9])")
# "Bearer xyz" with any credential after it, whatever its shape.
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")


def mask(text: str) -> str:
    """``text`` with every token-shaped or identifier-shaped part replaced."""
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", _SHAPES.sub(REDACTED, text))


def _is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    k = key.lower().replace("-", "_")
    return k in _SECRET_KEYS or k.endswith(_SECRET_SUFFIXES)


def _clean(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, bytes):
        return REDACTED
    if depth > 8:
        return REDACTED
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(k) else _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(v, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return mask(str(value))


def safe_traceback(exc_info) -> str:
    """The stack of an exception (and of its causes), with types but no messages and no
    local variables: what locates a bug without quoting what the request carried."""
    _type, value, tb = exc_info
    lines: list[str] = []
    seen: set[int] = set()
    chain: list[tuple[BaseException, str | None]] = []
    exc: BaseException | None = value
    note: str | None = None
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append((exc, note))
        if exc.__cause__ is not None:
            exc, note = exc.__cause__, "The above exception was the direct cause of the following exception:"
        elif exc.__context__ is not None and not exc.__suppress_context__:
            exc, note = exc.__context__, "During handling of the above exception, another exception occurred:"
        else:
            exc = None
    for i, (exc, _note) in enumerate(reversed(chain)):
        if i:
            lines.append(f"\n{chain[len(chain) - i][1]}\n\n")
        frames = traceback.extract_tb(exc.__traceback__ if exc is not value else tb)
        if frames:
            lines.append("Traceback (most recent call last):\n")
            lines.extend(traceback.format_list(frames))
        kind = type(exc)
        where = "" if kind.__module__ in ("builtins", "__main__") else kind.__module__ + "."
        lines.append(f"{where}{kind.__qualname__} (message not logged: it may quote the request)\n")
    return "".join(lines).rstrip("\n")


def _figure_exc_info(exc_info: Any):
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[1] is not None:
        return exc_info
    return None


def _redact(_logger, _method: str, event_dict: dict) -> dict:
    """structlog processor: exceptions as safe tracebacks, secret fields replaced, the rest masked."""
    exc_info = _figure_exc_info(event_dict.pop("exc_info", None))
    out = {k: REDACTED if _is_secret_key(k) else _clean(v) for k, v in event_dict.items() if k not in ("exception", "stack")}
    if exc_info:
        out["exception"] = mask(safe_traceback(exc_info))
    elif "exception" in event_dict:  # rendered elsewhere: the shapes at least
        out["exception"] = mask(str(event_dict["exception"]))
    return out


class _StderrLogger:
    """Writes each line to whatever ``sys.stderr`` is at that moment (test runners and
    daemon managers swap it; structlog's PrintLogger keeps the stream it was given), and
    never lets a failed write (a closed stream, a broken pipe) break the work being logged.
    Every line is masked once more as it leaves, whatever a renderer made of its fields."""

    def msg(self, message: str) -> None:
        try:
            print(mask(message), file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass

    log = debug = info = warn = warning = error = err = critical = exception = fatal = failure = msg


def _stderr_logger(*_args) -> _StderrLogger:
    return _StderrLogger()


def configure(fmt: str = "console", level: int = logging.INFO) -> None:
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    guard_stdlib()
    sys.excepthook = _excepthook


def _excepthook(kind, value, tb) -> None:
    """A command that dies of a bug prints the safe traceback (a daemon's or cron's stderr
    is its log); Ctrl-C stays quiet as Python's own hook would have it."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    try:
        print(mask(safe_traceback((kind, value, tb))), file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


# The standard library's records: uvicorn's error log ("Exception in ASGI application" with
# the traceback) and access log (the request line with its query string), and any library's.

_QUERY_VALUE = re.compile(r"=[^&#\s]*")


def _safe_target(target: str) -> str:
    path, sep, query = target.partition("?")
    return mask(path) + (sep + _QUERY_VALUE.sub("=…", query) if sep else "")


class RedactingFilter(logging.Filter):
    """A handler filter that makes a standard-library record safe before it is formatted:
    the traceback as :func:`safe_traceback`, the message masked, and for uvicorn's access
    records the request target without query values (its formatter reads the arguments
    ``(client, method, target, http_version, status)``, so they stay a tuple)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_myna_safe", False):
            return True
        if record.exc_info:
            record.exc_text = mask(safe_traceback(record.exc_info)) if record.exc_info[1] is not None else None
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        record.stack_info = None
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], _safe_target(args[2]), args[3], args[4])
        else:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: its template alone
                message = str(record.msg)
            record.msg, record.args = mask(message), None
            record.__dict__.pop("color_message", None)  # uvicorn's coloured copy, unmasked
        record._myna_safe = True
        return True


_FILTER = RedactingFilter()


def guard_stdlib() -> None:
    """Put :class:`RedactingFilter` on every handler the standard library would use now:
    the root's, uvicorn's (call again after uvicorn configured logging), and the last-resort
    handler that prints a library's warning when nothing else is configured."""
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"))]
    handlers = [h for lg in loggers for h in lg.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def uvicorn_log_config() -> dict:
    """uvicorn's own logging configuration, with :class:`RedactingFilter` on its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": "myna.logs.RedactingFilter"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    return config


def get(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
