"""The card image: what the chip holds.

A :class:`CardImage` is the chip's memory: the two RSA-2048 private keys of the JPKI
application and the card-face key of the card-face applications (made *on the card* by
:meth:`CardImage.manufacture`: only their public halves ever leave), the certificates
written into it, and the card-face data. The private keys are reachable only through
:meth:`KeySlot.sign`, which is what COMPUTE DIGITAL SIGNATURE (and, for the card-face key,
the personalisation of the card-face files) calls; no command reads
them, and :meth:`CardImage.seal` is the only way they are serialised: encrypted under
the card-image key (AES-256-GCM, bound to the card id) for the store.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from myna.errors import InvalidInput, NotInitialised

RSA_BITS = 2048
TOKEN_INFO = b"JPKIAPICCTOKEN2".ljust(32, b" ")  # EF 0006 of the JPKI AP (トークン情報)


class KeyRef(str, enum.Enum):
    AUTH = "auth"  # 利用者証明用電子証明書秘密鍵, EF 0017
    SIGN = "sign"  # 署名用電子証明書秘密鍵, EF 001A
    # The card-face applications' own key pair: it signs their data objects (EF 0003 of
    # the input-support AP, the signatures of the confirmation AP), its public key is in
    # their public-key fields. No command uses it to sign anything a reader sends.
    FACE = "face"


KeyGen = Callable[[], rsa.RSAPrivateKey]


def generate_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


class KeySlot:
    """A private key inside the chip. It signs; it never tells."""

    __slots__ = ("_key", "_n", "_e", "_p", "_q", "_dp", "_dq", "_qinv", "size")

    def __init__(self, key: rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        self._key = key
        self._n, self._e = numbers.public_numbers.n, numbers.public_numbers.e
        self._p, self._q = numbers.p, numbers.q
        self._dp, self._dq, self._qinv = numbers.dmp1, numbers.dmq1, numbers.iqmp
        self.size = (self._n.bit_length() + 7) // 8

    def __repr__(self) -> str:
        return f"KeySlot(RSA-{self._n.bit_length()})"

    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 over ``data`` as given (normally a DigestInfo): EMSA padding
        type 1, then the private-key operation. The result is checked with the public key
        before it leaves, so a computing fault can never reveal a factor of n."""
        k = self.size
        if not 1 <= len(data) <= k - 11:
            raise ValueError(f"PKCS#1 v1.5 input must be 1..{k - 11} bytes")
        em = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
        m = int.from_bytes(em, "big")
        s1, s2 = pow(m, self._dp, self._p), pow(m, self._dq, self._q)
        s = s2 + ((self._qinv * (s1 - s2)) % self._p) * self._q
        if pow(s, self._e, self._n) != m:
            raise RuntimeError("signature self-check failed")
        return s.to_bytes(k, "big")


@dataclass(frozen=True)
class FaceData:
    """What is printed on the card and held by its card-face applications: the
    Individual Number and the basic 4 information (券面事項入力補助AP), and for the
    card-face confirmation AP (券面事項確認AP) the photograph (JPEG 2000, as the real
    card holds it), the card's expiry date, its security code (the last 4 digits of
    collation number B) and the issuing municipality.

    Images sealed before the confirmation AP existed have none of the last four; they
    open with the stand-ins of :mod:`myna.chip.layout` (a neutral portrait, a security
    code derived from the number, an expiry from the birthday), so old cards still serve."""

    number: str
    name: str
    address: str
    date_of_birth: dt.date
    sex: str  # 1 male, 2 female, 3 not known (the register's codes; the card writes ISO 5218, see layout.card_sex)
    photo: bytes | None = field(default=None, repr=False)  # JPEG 2000 codestream/file, as written into EF 0002 of the confirmation AP
    expires: dt.date | None = None  # the card's expiry date (有効期限)
    security_code: str | None = field(default=None, repr=False)  # 4 digits (セキュリティコード)
    municipality_code: str | None = None

    def to_json(self) -> dict:
        out = {
            "number": self.number,
            "name": self.name,
            "address": self.address,
            "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex,
        }
        if self.photo is not None:
            out["photo"] = base64.b64encode(self.photo).decode()
        if self.expires is not None:
            out["expires"] = self.expires.isoformat()
        if self.security_code is not None:
            out["security_code"] = self.security_code
        if self.municipality_code is not None:
            out["municipality_code"] = self.municipality_code
        return out

    @classmethod
    def from_json(cls, d: dict) -> "FaceData":
        return cls(
            d["number"],
            d["name"],
            d["address"],
            dt.date.fromisoformat(d["date_of_birth"]),
            d["sex"],
            photo=base64.b64decode(d["photo"]) if d.get("photo") else None,
            expires=dt.date.fromisoformat(d["expires"]) if d.get("expires") else None,
            security_code=d.get("security_code"),
            municipality_code=d.get("municipality_code"),
        )

    def number_ef(self) -> bytes:
        """EF 0001 of the input-support AP (see :func:`myna.chip.layout.number_ef`)."""
        from myna.chip import layout

        return layout.number_ef(self)

    def basic4_ef(self) -> bytes:
        """EF 0002 of the input-support AP (see :func:`myna.chip.layout.basic4_ef`)."""
        from myna.chip import layout

        return layout.basic4_ef(self)


@dataclass
class CardImage:
    """The chip's memory. Certificates are DER; absent ones are ``None`` (a holder under
    15 gets no signature certificate, R-CERT-2)."""

    card_id: str
    keys: dict[KeyRef, KeySlot] = field(repr=False)
    face: FaceData | None = field(default=None, repr=False)
    auth_cert: bytes | None = None
    auth_ca_cert: bytes | None = None
    sign_cert: bytes | None = None
    sign_ca_cert: bytes | None = None

    @classmethod
    def manufacture(cls, card_id: str, face: FaceData | None = None, keygen: KeyGen | None = None) -> "CardImage":
        """A new chip: its key pairs (JPKI auth and sign; the card-face key when it has card-face
        data) are generated here, inside the card."""
        gen = keygen or generate_rsa_key
        keys = {KeyRef.AUTH: KeySlot(gen()), KeyRef.SIGN: KeySlot(gen())}
        if face is not None:
            keys[KeyRef.FACE] = KeySlot(gen())
        return cls(card_id, keys, face)

    def public_key(self, ref: KeyRef) -> rsa.RSAPublicKey:
        return self.keys[ref].public_key()

    def public_key_pem(self, ref: KeyRef) -> bytes:
        return self.public_key(ref).public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def with_certificates(self, **certs: bytes | None) -> "CardImage":
        """A copy with certificates written (auth_cert=..., sign_ca_cert=...). A holder
        certificate must certify the card's own key of the same purpose."""
        for name, ref in (("auth_cert", KeyRef.AUTH), ("sign_cert", KeyRef.SIGN)):
            der = certs.get(name)
            if der is not None:
                cert = x509.load_der_x509_certificate(der)
                if cert.public_key().public_numbers() != self.public_key(ref).public_numbers():
                    raise InvalidInput(f"the {ref.value} certificate does not certify this card's {ref.value} key")
        return replace(self, **certs)

    # -- sealing for the store -----------------------------------------------------

    def seal(self, kek: "ImageKey") -> bytes:
        """The secret part of the image (keys, card-face data), encrypted for the store."""
        body = {
            "v": 1,
            "keys": {ref.value: base64.b64encode(_pkcs8(slot)).decode() for ref, slot in self.keys.items()},
            "face": self.face.to_json() if self.face else None,
        }
        return kek.encrypt(json.dumps(body, ensure_ascii=False).encode(), self.card_id)

    @classmethod
    def unseal(cls, kek: "ImageKey", card_id: str, blob: bytes) -> "CardImage":
        body = json.loads(kek.decrypt(blob, card_id))
        keys = {KeyRef(r): KeySlot(serialization.load_der_private_key(base64.b64decode(k), None)) for r, k in body["keys"].items()}
        face = FaceData.from_json(body["face"]) if body.get("face") else None
        if face is not None and KeyRef.FACE not in keys:
            # Sealed before the card-face key existed: the chip makes one now. It lives
            # only as long as this opened image (its signatures verify with the public
            # key the same opening shows); re-sealing the image would keep it.
            keys[KeyRef.FACE] = KeySlot(generate_rsa_key())
        return cls(card_id, keys, face)


def _pkcs8(slot: KeySlot) -> bytes:
    return slot._key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


_MAGIC = b"MCI1"


class ImageKey:
    """The card-image key: AES-256-GCM over the sealed part of every card image, and
    the pepper of the PIN verifiers. Kept in ``MYNA_HOME/chip/image.key`` (mode 0600) or
    given as ``MYNA_CARD_IMAGE_KEY`` (64 hex digits); every process that serves or
    produces cards needs the same one."""

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise InvalidInput("the card-image key must be 32 bytes (64 hexadecimal digits)")
        self._aead = AESGCM(key)
        self.pepper = HKDF(hashes.SHA256(), 32, salt=None, info=b"myna card pin pepper").derive(key)
        self.key_id = HKDF(hashes.SHA256(), 8, salt=None, info=b"myna card image key id").derive(key).hex()

    def encrypt(self, plaintext: bytes, card_id: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return _MAGIC + nonce + self._aead.encrypt(nonce, plaintext, _aad(card_id))

    def decrypt(self, blob: bytes, card_id: str) -> bytes:
        if blob[:4] != _MAGIC:
            raise InvalidInput(f"card {card_id}: not a sealed card image")
        try:
            return self._aead.decrypt(blob[4:16], blob[16:], _aad(card_id))
        except Exception:
            raise NotInitialised(
                f"card {card_id}: the card image does not open with this card-image key (MYNA_HOME/chip/image.key or MYNA_CARD_IMAGE_KEY)"
            ) from None

    @classmethod
    def load_or_create(cls, home: Path) -> "ImageKey":
        env = os.environ.get("MYNA_CARD_IMAGE_KEY")
        if env:
            try:
                return cls(bytes.fromhex(env))
            except ValueError:
                raise InvalidInput("MYNA_CARD_IMAGE_KEY must be 64 hexadecimal digits") from None
        path = home / "chip" / "image.key"
        if path.exists():
            return cls(bytes.fromhex(path.read_text().strip()))
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        # Written to a private temporary file, then linked into place: a concurrent
        # process either sees no key file or a complete one, and only one key wins.
        tmp = path.with_name(f".image.key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.hex())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return cls(bytes.fromhex(path.read_text().strip()))


def _aad(card_id: str) -> bytes:
    return b"myna card image\x00" + card_id.encode()
