"""The secret numbering key (R-NUM-1): MYNA_NUMBERING_KEY (64 hex digits) or a key file
created once under the data home, mode 0600. Losing it does not lose numbers (they are
stored), but new numbers can then no longer be derived consistently."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from myna.errors import InvalidInput


def load_or_create(home: Path) -> bytes:
    env = os.environ.get("MYNA_NUMBERING_KEY")
    if env:
        try:
            key = bytes.fromhex(env)
        except ValueError:
            raise InvalidInput("MYNA_NUMBERING_KEY must be 64 hexadecimal digits") from None
        if len(key) != 32:
            raise InvalidInput("MYNA_NUMBERING_KEY must be 64 hexadecimal digits (32 bytes)")
        return key
    path = home / "numbering.key"
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
    return key
