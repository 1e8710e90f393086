"""The running platform: settings, store, clock and key backends, opened once per process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from cryptography import x509
from sqlalchemy import select

from myna import logs
from myna.clock import Clock, SystemClock
from myna.errors import NotInitialised, UnknownAuthority
from myna.pki.keys import KeyBackend, SigningKey
from myna.pki.kinds import AuthorityKind
from myna.pki.profiles import Urls
from myna.settings import Settings
from myna.store import models as m
from myna.store.db import Database

log = logs.get("myna.platform")


@dataclass(frozen=True)
class LoadedAuthority:
    """An authority with its certificate parsed and its signing key at hand."""

    id: int
    kind: AuthorityKind
    generation: int
    slug: str  # "card-sign" for the first generation, "card-sign-g2" after a re-key
    cert: x509.Certificate
    key: SigningKey
    active: bool


def authority_slug(kind: str, generation: int) -> str:
    return kind if generation == 1 else f"{kind}-g{generation}"


@dataclass
class Platform:
    settings: Settings
    db: Database
    clock: Clock
    _backends: dict[str, KeyBackend] = field(default_factory=dict)
    _authorities: dict[int, LoadedAuthority] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: Settings | None = None, clock: Clock | None = None, migrate: bool = True) -> "Platform":
        settings = settings or Settings.from_env()
        settings.home.mkdir(parents=True, exist_ok=True)
        db = Database(settings.database_url)
        if migrate:
            db.upgrade()
        return cls(settings=settings, db=db, clock=clock or SystemClock())

    @property
    def urls(self) -> Urls:
        return Urls(self.settings.public_url)

    def close(self) -> None:
        for backend in self._backends.values():
            close = getattr(backend, "close", None)
            if close:
                close()
        self.db.dispose()

    # -- key backends -------------------------------------------------------------

    def key_backend(self, name: str | None = None) -> KeyBackend:
        name = name or self.settings.key_backend
        with self._lock:
            if name not in self._backends:
                self._backends[name] = self._make_backend(name)
            return self._backends[name]

    def _make_backend(self, name: str) -> KeyBackend:
        if name == "file":
            from myna.pki.keystore_file import FileKeyBackend

            return FileKeyBackend(self.settings.keys_dir)
        if name == "pkcs11":
            from myna.pki.keystore_pkcs11 import Pkcs11KeyBackend, default_softhsm_module

            module = self.settings.pkcs11_module or default_softhsm_module()
            if not module or not self.settings.pkcs11_pin:
                raise NotInitialised("the pkcs11 key backend needs MYNA_PKCS11_MODULE and MYNA_PKCS11_PIN")
            return Pkcs11KeyBackend(module, self.settings.pkcs11_token, self.settings.pkcs11_pin)
        raise NotInitialised(f"unknown key backend {name!r}; use 'file' or 'pkcs11'")

    # -- authorities --------------------------------------------------------------

    def _load(self, row: m.Authority) -> LoadedAuthority:
        with self._lock:
            cached = self._authorities.get(row.id)
            if cached is not None and cached.active == row.active:
                return cached
        key = self.key_backend(row.key_backend).load(row.key_ref)
        loaded = LoadedAuthority(
            id=row.id,
            kind=AuthorityKind(row.kind),
            generation=row.generation,
            slug=authority_slug(row.kind, row.generation),
            cert=x509.load_der_x509_certificate(row.cert_der),
            key=key,
            active=row.active,
        )
        with self._lock:
            self._authorities[row.id] = loaded
        return loaded

    def authority(self, kind: AuthorityKind | str) -> LoadedAuthority:
        """The active authority of a kind."""
        try:
            kind = AuthorityKind(kind)
        except ValueError:
            raise UnknownAuthority(f"unknown CA {kind!r}; one of {', '.join(k.value for k in AuthorityKind)}") from None
        with self.db.session() as s:
            row = s.scalars(select(m.Authority).where(m.Authority.kind == kind.value, m.Authority.active.is_(True))).first()
            if row is None:
                raise NotInitialised(f"no active {kind.value} CA: run `myna init` first")
            return self._load(row)

    def authority_by_slug(self, slug: str) -> LoadedAuthority:
        for row in self.authority_rows():
            if authority_slug(row.kind, row.generation) == slug:
                return self._load(row)
        raise UnknownAuthority(f"unknown CA {slug!r}")

    def authority_by_id(self, authority_id: int) -> LoadedAuthority:
        with self.db.session() as s:
            row = s.get(m.Authority, authority_id)
            if row is None:
                raise UnknownAuthority(f"no CA with id {authority_id}")
            return self._load(row)

    def authority_rows(self) -> list[m.Authority]:
        with self.db.session() as s:
            return list(s.scalars(select(m.Authority).order_by(m.Authority.id)))

    def forget_authorities(self) -> None:
        with self._lock:
            self._authorities.clear()
