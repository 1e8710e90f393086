"""Settings from the environment and the data home.

``MYNA_HOME`` (default ``./.myna``) holds the SQLite database, file-backend CA keys,
published artefacts and demo credentials. ``MYNA_DATABASE_URL`` switches the store to
PostgreSQL (``postgresql+psycopg://...``). ``MYNA_PUBLIC_URL`` is the base URL written
into certificates (CRL distribution points, OCSP, CA issuers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


def _signing_processes() -> int | None:
    if os.environ.get("MYNA_SIGNING_PROCESSES", "") == "":
        return None  # the default: decided from the number of cores
    value = _env_int("MYNA_SIGNING_PROCESSES", 0)
    if value < 0:
        raise SystemExit(f"MYNA_SIGNING_PROCESSES must be 0 or more, got {value}")
    return value


def _max_body_bytes() -> int:
    value = _env_int("MYNA_MAX_BODY_BYTES", 1024 * 1024)
    if value < 1:
        raise SystemExit(f"MYNA_MAX_BODY_BYTES must be 1 or more, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    public_url: str
    key_backend: str = "file"  # "file" or "pkcs11"
    pkcs11_module: str | None = None
    pkcs11_token: str = "myna-ca"
    pkcs11_pin: str | None = None
    # Retention period of issuance and revocation records (政令で定める期間). The sources
    # never give the number; ten years is our choice, documented in docs/pki.md.
    retention_days: int = 3650
    full_crl_interval_s: int = 24 * 3600  # R-REV-9: daily in practice
    delta_crl_interval_s: int = 15 * 60
    log_format: str = "console"  # or "json"
    # Worker processes for signing big issuance batches with a file-backend key. None:
    # one per usable core on machines with at least two (myna.pki.signer.resolve_processes);
    # 0 or 1: sign in the calling thread. cryptography holds the GIL while signing, so
    # only processes sign in parallel.
    signing_processes: int | None = None
    # Largest request body `myna serve` reads (bytes); the routes that take photographs or
    # files allow more (myna.web.limits). Past it: 413, before the body is read.
    max_body_bytes: int = 1024 * 1024
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, home: str | Path | None = None) -> "Settings":
        home_path = Path(home or os.environ.get("MYNA_HOME") or ".myna").resolve()
        db_url = os.environ.get("MYNA_DATABASE_URL") or f"sqlite:///{home_path / 'myna.db'}"
        public_url = (os.environ.get("MYNA_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
        return cls(
            home=home_path,
            database_url=db_url,
            public_url=public_url,
            key_backend=os.environ.get("MYNA_KEY_BACKEND", "file"),
            pkcs11_module=os.environ.get("MYNA_PKCS11_MODULE") or None,
            pkcs11_token=os.environ.get("MYNA_PKCS11_TOKEN", "myna-ca"),
            pkcs11_pin=os.environ.get("MYNA_PKCS11_PIN") or None,
            retention_days=_env_int("MYNA_RETENTION_DAYS", 3650),
            full_crl_interval_s=_env_int("MYNA_CRL_INTERVAL", 24 * 3600),
            delta_crl_interval_s=_env_int("MYNA_DELTA_CRL_INTERVAL", 15 * 60),
            log_format=os.environ.get("MYNA_LOG_FORMAT", "console"),
            signing_processes=_signing_processes(),
            max_body_bytes=_max_body_bytes(),
        )

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
