"""PKCS#11 key backend: CA keys generated and kept inside a token.

SoftHSM2 in development and tests, a real HSM in production. Private keys are
created sensitive and non-extractable, so the process can ask the token to sign
but can never read the key. A loaded key is a ``cryptography`` private-key object
(:class:`Pkcs11RsaKey`, :class:`Pkcs11EcKey`) whose ``sign()`` is the token's, so
``cryptography``'s own certificate, CRL and OCSP builders sign with it directly.

Process-wide facts about PKCS#11 that shape this module:

* The module (``.so``) is loaded and ``C_Initialize``\\ d once per process
  (python-pkcs11 caches it by path). SoftHSM2 reads ``SOFTHSM2_CONF`` and scans its
  token directory at that moment: tokens created afterwards (e.g. by
  ``softhsm2-util`` in a test fixture) are invisible until the module is
  finalized and initialized again, which invalidates every session in the process.
* Login state belongs to the application, not to a session: a second ``C_Login``
  fails with ``CKR_USER_ALREADY_LOGGED_IN``, and ``C_Logout`` on any session logs
  out all of them. Hence the per-process login registry below, shared by every
  backend instance on the same token.
"""

from __future__ import annotations

import hmac
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from asn1crypto.core import OctetString
from asn1crypto.keys import ECDomainParameters, NamedCurve
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import AsymmetricPadding, PKCS1v15
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from myna.pki.holder_keys import spki_der
from myna.pki.keys import HASH, KeyAlgorithm, KeyNotFound, PublicKey

try:  # python-pkcs11 is the optional extra "pkcs11"; the SoftHSM helpers work without it
    import pkcs11
    from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
    from pkcs11 import exceptions as p11e
except ImportError:  # pragma: no cover - exercised only without the extra
    pkcs11 = None  # type: ignore[assignment]

SOFTHSM_MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)

# DER ECParameters naming secp256r1: what CKA_EC_PARAMS holds for a P-256 key.
_P256_PARAMS = ECDomainParameters(name="named", value=NamedCurve.unmap("secp256r1")).dump()
# Environment variables a PKCS#11 module reads its configuration from, passed on to
# signing workers (which were started earlier, with the environment of then).
MODULE_ENVIRONMENT = ("SOFTHSM2_CONF",)

_T = TypeVar("_T")


def default_softhsm_module() -> str | None:
    """Path of the SoftHSM2 PKCS#11 module if installed (Debian/Ubuntu layouts), else None."""
    return next((p for p in SOFTHSM_MODULE_PATHS if os.path.exists(p)), None)


def init_softhsm_token(directory: Path, label: str, so_pin: str, user_pin: str) -> dict[str, str]:
    """Create a SoftHSM2 config under ``directory`` and a fresh token labelled ``label``.

    Writes ``directory/softhsm2.conf`` with its token directory at
    ``directory/tokens``, runs ``softhsm2-util --init-token --free`` and returns the
    environment the caller must set: ``{"SOFTHSM2_CONF": ...}``.

    Timing matters: SoftHSM2 reads ``SOFTHSM2_CONF`` and lists its tokens when the
    module is initialized, once per process. Put the returned variables into
    ``os.environ`` *before* the first :class:`Pkcs11KeyBackend` (or anything else)
    loads the module in this process. If the module is already loaded, the new token
    is only seen after ``pkcs11.lib(path).reinitialize()``, which closes every
    PKCS#11 session in the process.

    Development/test helper: the PINs appear on ``softhsm2-util``'s command line.
    PKCS#11 token labels are at most 32 bytes.
    """
    util = shutil.which("softhsm2-util")
    if util is None:
        raise FileNotFoundError("softhsm2-util not found (Debian/Ubuntu package: softhsm2)")
    directory = Path(directory).resolve()
    tokens = directory / "tokens"
    tokens.mkdir(mode=0o700, parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    env = {"SOFTHSM2_CONF": str(conf)}
    proc = subprocess.run(
        [util, "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", user_pin],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"softhsm2-util --init-token failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()}")
    return env


class _LoginLost(Exception):
    """Private key invisible although its public half exists: the session is not logged in."""


def _session_lost_errors() -> tuple[type[BaseException], ...]:
    # Errors after which the session (or the process-wide login) is unusable but a
    # fresh session may work: another component finalized the module, logged out,
    # or the HSM connection dropped. Retrying is safe: all of these fail before
    # the token did anything.
    return (
        p11e.SessionHandleInvalid,
        p11e.SessionClosed,
        p11e.UserNotLoggedIn,
        p11e.DeviceRemoved,
        p11e.TokenNotPresent,
        p11e.ObjectHandleInvalid,
        p11e.KeyHandleInvalid,
        _LoginLost,
    )


class _Login:
    """One ``C_Login`` per (module, token) per process, shared by refcount."""

    def __init__(self, key: tuple[str, bytes], anchor: Any, pin: str) -> None:
        self.key = key
        self.anchor = anchor  # session that performed C_Login; None if someone else did
        self.pin = pin
        self.refs = 0
        self.stale = False


_logins: dict[tuple[str, bytes], _Login] = {}
_module_locks: dict[str, threading.Lock] = {}


def _module_lock(module_path: str) -> threading.Lock:
    with _logins_lock:
        return _module_locks.setdefault(os.path.realpath(module_path), threading.Lock())


_logins_lock = threading.Lock()  # also guards pkcs11.lib(), whose cache is not thread-safe


def _acquire_login(module_path: str, token: Any, pin: str) -> _Login:
    key = (module_path, token.serial)
    with _logins_lock:
        entry = _logins.get(key)
        if entry is None:
            try:
                anchor = token.open(user_pin=pin)
            except p11e.UserAlreadyLoggedIn:
                # Logged in by code outside this registry (or by a stale anchor after
                # a lost session). Use that login and never log it out ourselves.
                # python-pkcs11 leaks the session it opened for the failed C_Login.
                anchor = None
            entry = _logins[key] = _Login(key, anchor, pin)
        elif not hmac.compare_digest(entry.pin.encode(), pin.encode()):
            # Sessions inherit the existing login, so a wrong PIN would go unnoticed.
            raise p11e.PinIncorrect("token already logged in by this process with another PIN")
        entry.refs += 1
        return entry


def _release_login(entry: _Login, *, lost: bool) -> None:
    with _logins_lock:
        entry.refs -= 1
        if lost and not entry.stale:
            # Forget it so the next acquire logs in again. Do not close its anchor:
            # after a module re-initialization the old handle number may already
            # belong to somebody else's new session.
            entry.stale = True
        if (entry.stale or entry.refs == 0) and _logins.get(entry.key) is entry:
            del _logins[entry.key]
        if entry.refs == 0 and not entry.stale and entry.anchor is not None:
            entry.anchor.close()  # C_Logout + C_CloseSession: last user gone


class KeyNotExtractable(TypeError):
    """The private key is inside the token: it can sign, it cannot be read."""


class Pkcs11SigningKey:
    """A key inside the token. Satisfies :class:`myna.pki.keys.SigningKey`; its two concrete
    kinds, :class:`Pkcs11RsaKey` and :class:`Pkcs11EcKey`, are also ``cryptography``
    private-key objects, so ``cryptography``'s own builders (certificates, CRLs, OCSP
    responses) sign with them: their sign path calls the key object's ``sign()``, which
    here asks the token (``C_Sign``). Nothing of the private key is in this process:
    ``private_numbers()`` and ``private_bytes()`` raise :class:`KeyNotExtractable`."""

    __slots__ = ("_backend", "_id", "_algorithm", "_public")

    def __init__(self, backend: Pkcs11KeyBackend, key_id: bytes, algorithm: KeyAlgorithm, public: PublicKey) -> None:
        self._backend = backend
        self._id = key_id
        self._algorithm = algorithm
        self._public = public

    @property
    def ref(self) -> str:
        return self._id.hex()

    @property
    def algorithm(self) -> KeyAlgorithm:
        return self._algorithm

    def public_key(self) -> PublicKey:
        return self._public  # read once from the token; public keys do not change

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def worker_spec(self) -> dict[str, Any]:
        """Where this key is, for a signing worker process that opens its own session on
        the token (myna.pki.signing_pool): module, token, user PIN, CKA_ID, the public key it
        must find there, and the module's configuration from the environment. The key
        itself stays in the token."""
        b = self._backend
        return {
            "module": b.module_path,
            "token": b.token_label,
            "pin": b._pin,
            "ref": self.ref,
            "spki": spki_der(self._public).hex(),
            "env": {name: os.environ[name] for name in MODULE_ENVIRONMENT if name in os.environ},
        }

    def private_numbers(self) -> Any:
        raise KeyNotExtractable(f"the private key {self.ref} does not leave its PKCS#11 token")

    def private_bytes(self, *args: object, **kwargs: object) -> bytes:
        raise KeyNotExtractable(f"the private key {self.ref} does not leave its PKCS#11 token")

    # A reference to a token object: copying it copies nothing worth having.
    def __copy__(self) -> Pkcs11SigningKey:
        return self

    def __deepcopy__(self, memo: dict) -> Pkcs11SigningKey:
        return self

    def _token_sign(self, data: bytes) -> bytes:
        return self._backend._sign(self._id, self._algorithm, data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ref={self.ref!r}, algorithm={self._algorithm.value})"


def _refuse(what: object) -> UnsupportedAlgorithm:
    return UnsupportedAlgorithm(f"a CA key in the token signs with SHA-256 only (PKCS#1 v1.5 or ECDSA), not {what!r}")


class Pkcs11RsaKey(Pkcs11SigningKey, rsa.RSAPrivateKey):
    """An RSA key in the token: ``sign(data)`` (SigningKey) or ``sign(data, PKCS1v15(),
    SHA256())`` (what ``cryptography``'s builders pass) is CKM_SHA256_RSA_PKCS."""

    __slots__ = ()

    def sign(self, data: bytes, padding: AsymmetricPadding | None = None, algorithm: Any = None) -> bytes:
        if padding is not None and not isinstance(padding, PKCS1v15):
            raise _refuse(padding)
        if algorithm is not None and not isinstance(algorithm, hashes.SHA256):
            raise _refuse(algorithm)
        return self._token_sign(data)

    def decrypt(self, ciphertext: bytes, padding: AsymmetricPadding) -> bytes:
        # Generated with CKA_DECRYPT false (generate(): a CA key signs and nothing else).
        raise UnsupportedAlgorithm("a CA key in the token signs and does not decrypt")


class Pkcs11EcKey(Pkcs11SigningKey, ec.EllipticCurvePrivateKey):
    """A P-256 key in the token: ``sign(data)`` (SigningKey) or ``sign(data,
    ECDSA(SHA256()))`` (what ``cryptography``'s builders pass), DER-encoded."""

    __slots__ = ()

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    def sign(self, data: bytes, signature_algorithm: ec.EllipticCurveSignatureAlgorithm | None = None) -> bytes:
        if signature_algorithm is not None and not (
            isinstance(signature_algorithm, ec.ECDSA) and isinstance(signature_algorithm.algorithm, hashes.SHA256)
        ):
            raise _refuse(signature_algorithm)
        return self._token_sign(data)

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        raise UnsupportedAlgorithm("a CA key in the token signs and does not derive")


class Pkcs11KeyBackend:
    """CA keys on the PKCS#11 token labelled ``token_label``.

    One session per instance, opened lazily and serialized by a lock because a
    PKCS#11 session must not be used by two threads at once. Signing throughput is
    therefore one operation at a time per module in a process (see ``_module_lock``);
    parallelise across processes. Call :meth:`close` when done (the login is dropped when the last
    backend on that token in the process closes).
    """

    name = "pkcs11"

    def __init__(self, module_path: str, token_label: str, user_pin: str) -> None:
        if pkcs11 is None:
            raise RuntimeError("python-pkcs11 is not installed (pip install 'myna[pkcs11]')")
        self.module_path = module_path
        self.token_label = token_label
        self._pin = user_pin
        # One lock per module, not per instance: python-pkcs11 initialises the module with
        # C_Initialize(NULL), which promises the library no concurrent calls, and two
        # instances signing from two threads were seen to crash SoftHSM2.
        self._lock = _module_lock(module_path)
        self._session: Any = None
        self._login: _Login | None = None
        self._private: dict[bytes, Any] = {}  # CKA_ID -> private key object, current session
        self._has_ecdsa_sha256 = False
        self._lost = _session_lost_errors()

    # -- KeyBackend -------------------------------------------------------------

    def generate(self, label: str, algorithm: KeyAlgorithm) -> Pkcs11SigningKey:
        algorithm = KeyAlgorithm(algorithm)
        key_id = secrets.token_bytes(16)
        kwargs: dict[str, Any] = dict(
            id=key_id,
            label=label,
            store=True,  # token object: survives the session and the process
            # A CA key signs and nothing else: no decrypt/unwrap/derive.
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            public_template={Attribute.PRIVATE: False},  # readable without login
            private_template={
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
            },
        )

        def op(session: Any, last: bool) -> None:
            if algorithm.is_rsa:
                kwargs["public_template"][Attribute.PUBLIC_EXPONENT] = (65537).to_bytes(3, "big")
                session.generate_keypair(KeyType.RSA, algorithm.rsa_bits, **kwargs)
            else:
                params = session.create_domain_parameters(KeyType.EC, {Attribute.EC_PARAMS: _P256_PARAMS}, local=True)
                params.generate_keypair(mechanism=Mechanism.EC_KEY_PAIR_GEN, **kwargs)

        self._run(op)
        return self._describe(key_id)

    def load(self, ref: str) -> Pkcs11SigningKey:
        try:
            key_id = bytes.fromhex(ref)
        except (TypeError, ValueError):
            raise ValueError(f"invalid PKCS#11 key reference (want hex CKA_ID): {ref!r}") from None
        if not key_id:
            raise ValueError("empty PKCS#11 key reference")
        return self._describe(key_id)

    def close(self) -> None:
        with self._lock:
            self._drop_session(lost=False)

    def __enter__(self) -> Pkcs11KeyBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------

    def _describe(self, key_id: bytes) -> Pkcs11SigningKey:
        def op(session: Any, last: bool) -> tuple[KeyAlgorithm, PublicKey]:
            private = self._find_private(session, key_id, last)
            try:
                public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
            except p11e.NoSuchKey:
                public = None
            return _public_key_of(private, public)

        algorithm, public_key = self._run(op)
        kind = Pkcs11RsaKey if algorithm.is_rsa else Pkcs11EcKey
        return kind(self, key_id, algorithm, public_key)

    def _sign(self, key_id: bytes, algorithm: KeyAlgorithm, data: bytes) -> bytes:
        if algorithm.is_rsa:
            mechanism = Mechanism.SHA256_RSA_PKCS  # token hashes and pads (PKCS#1 v1.5)
        else:
            mechanism = Mechanism.ECDSA_SHA256

        def op(session: Any, last: bool) -> bytes:
            key = self._find_private(session, key_id, last)
            if mechanism is Mechanism.ECDSA_SHA256 and not self._has_ecdsa_sha256:
                # SoftHSM 2.6 (Debian/Ubuntu) offers only raw CKM_ECDSA: hash here and
                # let the token sign the digest. Same signature, same key protection.
                digest = hashes.Hash(HASH)
                digest.update(data)
                return key.sign(digest.finalize(), mechanism=Mechanism.ECDSA)
            return key.sign(data, mechanism=mechanism)

        signature = self._run(op)
        if algorithm.is_rsa:
            return signature
        # PKCS#11 returns ECDSA as raw r||s (each half the order's size); X.509 wants DER.
        half = len(signature) // 2
        return encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))

    def _find_private(self, session: Any, key_id: bytes, last: bool) -> Any:
        key = self._private.get(key_id)
        if key is not None:
            return key
        try:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
        except p11e.NoSuchKey:
            # Private objects are invisible to a session that is not logged in (for
            # instance after someone else's C_Logout). If the public half is there,
            # assume that once and retry with a fresh login before saying "not found".
            if not last and any(True for _ in session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id})):
                raise _LoginLost() from None
            raise KeyNotFound(f"no private key with CKA_ID {key_id.hex()} on token {self.token_label!r}") from None
        self._private[key_id] = key
        return key

    def _run(self, op: Callable[[Any, bool], _T]) -> _T:
        """Run ``op(session, last_attempt)`` under the lock, reopening once if the session was lost."""
        with self._lock:
            for attempt in range(2):
                session = self._open()
                try:
                    return op(session, attempt == 1)
                except self._lost:
                    if attempt == 1:
                        raise
                    self._drop_session(lost=True)
        raise AssertionError("unreachable")

    def _open(self) -> Any:
        if self._session is not None:
            return self._session
        with _logins_lock:
            lib = pkcs11.lib(self.module_path)  # cached per path; C_Initialize on first use
        try:
            token = lib.get_token(token_label=self.token_label)
        except p11e.NoSuchToken:
            raise p11e.NoSuchToken(
                f"no PKCS#11 token labelled {self.token_label!r} in {self.module_path}. "
                "For SoftHSM2, SOFTHSM2_CONF must be set before the module is first loaded "
                "in this process, and tokens created after that are not seen until "
                "pkcs11.lib(path).reinitialize()"
            ) from None
        # Ask once per session rather than per signature; see _sign.
        self._has_ecdsa_sha256 = Mechanism.ECDSA_SHA256 in token.slot.get_mechanisms()
        login = _acquire_login(self.module_path, token, self._pin)
        try:
            # Without a PIN: the session inherits the process-wide login, and python-pkcs11
            # will not C_Logout (logging out every other backend) when it is closed.
            session = token.open(rw=True)
        except BaseException:
            _release_login(login, lost=False)
            raise
        self._session, self._login = session, login
        self._private.clear()
        return session

    def _drop_session(self, *, lost: bool) -> None:
        session, login = self._session, self._login
        self._session = self._login = None
        self._private.clear()  # object handles are only trusted within one session
        try:
            if session is not None and not lost:
                session.close()
        finally:
            if login is not None:
                _release_login(login, lost=lost)


def _public_key_of(private: Any, public: Any) -> tuple[KeyAlgorithm, PublicKey]:
    key_type = private[Attribute.KEY_TYPE]
    if key_type == KeyType.RSA:
        # Some HSMs keep no public-key object; the private key's modulus and public
        # exponent are never sensitive, so fall back to them.
        src = public if public is not None else private
        n = int.from_bytes(src[Attribute.MODULUS], "big")
        e = int.from_bytes(src[Attribute.PUBLIC_EXPONENT], "big")
        algorithm = {2048: KeyAlgorithm.RSA_2048, 3072: KeyAlgorithm.RSA_3072}.get(n.bit_length())
        if algorithm is None:
            raise ValueError(f"unsupported RSA modulus size {n.bit_length()}")
        return algorithm, rsa.RSAPublicNumbers(e, n).public_key()
    if key_type == KeyType.EC:
        if public is None:
            raise ValueError("EC private key without a public-key object on the token")
        if bytes(public[Attribute.EC_PARAMS]) != _P256_PARAMS:
            raise ValueError("unsupported EC curve (only P-256)")
        point = bytes(public[Attribute.EC_POINT])
        # The standard says CKA_EC_POINT is a DER OCTET STRING around the X9.62 point
        # (SoftHSM2 does this); some modules return the bare point. A bare uncompressed
        # P-256 point is exactly 65 bytes starting 0x04; the DER form is 67 bytes.
        if not (len(point) == 65 and point[0] == 4):
            point = OctetString.load(point).native
        return KeyAlgorithm.EC_P256, ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    raise ValueError(f"unsupported PKCS#11 key type {key_type!r}")
