"""Who may receive what (SPEC §5, R-VER-1..5, R-VER-7). Pure: no store, no web.

The law fixes what each kind of verifier receives; this module is that table
(:data:`RECEIVES`), and everything else about a verifier's entitlements is derived from it:
the bearer-token role of each type (:data:`TOKEN_ROLE`, used by the verifier credentials and
the status feed), the verifier roles (:data:`VERIFIER_ROLES`, used by the route table) and
the CAs a validity centre answers each role about (:data:`ROLE_KINDS`, used by
``myna.validation.centre``). Every provision endpoint asks :func:`check` before it reads
anything, so a verifier learns nothing its type does not entitle it to — not even whether a
serial exists (R-VER-7).
"""

from __future__ import annotations

import enum

from myna.access.roles import Role
from myna.errors import Forbidden
from myna.pki.kinds import CertKind


class VerifierType(str, enum.Enum):
    SIGNATURE = "signature"  # 署名検証者
    GROUP_SIGNATURE = "group-signature"  # 団体署名検証者 (government bodies and other groups)
    USER_AUTH = "user-auth"  # 利用者証明検証者
    SPECIFIC_USER_AUTH = "specific-user-auth"  # 特定利用者証明検証者 (agreement with J-LIS, R-VER-5)
    SIGNATURE_AND_USER_AUTH = "signature-and-user-auth"  # registered as both
    PLATFORM_OPERATOR = "platform-operator"  # プラットフォーム事業者 (総務大臣認定): signature and user-auth verifier
    ENTRUSTING_BUSINESS = "entrusting-business"  # 電子署名等確認業務委託者: served only through its operator

    @property
    def title(self) -> str:
        return {
            VerifierType.SIGNATURE: "signature verifier (署名検証者)",
            VerifierType.GROUP_SIGNATURE: "group signature verifier (団体署名検証者)",
            VerifierType.USER_AUTH: "user-auth verifier (利用者証明検証者)",
            VerifierType.SPECIFIC_USER_AUTH: "specific user-auth verifier (特定利用者証明検証者)",
            VerifierType.SIGNATURE_AND_USER_AUTH: "signature and user-auth verifier",
            VerifierType.PLATFORM_OPERATOR: "platform operator (プラットフォーム事業者)",
            VerifierType.ENTRUSTING_BUSINESS: "entrusting business (電子署名等確認業務委託者)",
        }[self]

    @property
    def signature(self) -> bool:
        """Receives signature-certificate information (R-VER-1)."""
        return RECEIVES[self][0]

    @property
    def user_auth(self) -> bool:
        """Receives user-auth-certificate information (R-VER-1)."""
        return RECEIVES[self][1]


# R-VER-1, the one table: what each type of verifier receives, as (signature-certificate
# information, user-auth-certificate information).
RECEIVES: dict[VerifierType, tuple[bool, bool]] = {
    VerifierType.SIGNATURE: (True, False),
    VerifierType.GROUP_SIGNATURE: (True, False),
    VerifierType.USER_AUTH: (False, True),
    VerifierType.SPECIFIC_USER_AUTH: (False, True),
    VerifierType.SIGNATURE_AND_USER_AUTH: (True, True),
    VerifierType.PLATFORM_OPERATOR: (True, True),  # 総務大臣認定: a signature and a user-auth verifier
    VerifierType.ENTRUSTING_BUSINESS: (False, False),  # served only through its platform operator
}

# The bearer-token role that carries each combination: the roles the access-controlled OCSP
# mode of the validity centres admits. A type receiving nothing directly gets no token.
_ROLE_FOR: dict[tuple[bool, bool], Role] = {
    (True, False): Role.VERIFIER_SIGN,
    (False, True): Role.VERIFIER_AUTH,
    (True, True): Role.VERIFIER_BOTH,
}
TOKEN_ROLE: dict[VerifierType, Role] = {vtype: _ROLE_FOR[r] for vtype, r in RECEIVES.items() if r in _ROLE_FOR}
VERIFIER_ROLES: frozenset[Role] = frozenset(_ROLE_FOR.values())
# The certificate kinds (hence issuing CAs) whose status a verifier role may ask a validity
# centre about: signature verifiers the signature CAs, user-auth verifiers the user-auth CAs.
ROLE_KINDS: dict[Role, frozenset[CertKind]] = {
    role: frozenset(k for k in CertKind if (signature if k.is_signature else user_auth))
    for (signature, user_auth), role in _ROLE_FOR.items()
}


class Operation(str, enum.Enum):
    """Every kind of answer J-LIS gives verifiers; also the categories of the provision
    log and of the annual report (R-VER-6)."""

    STATUS_SIGN = "status-sign"  # revocation information, real time (R-REV-10): SIG certificates
    STATUS_AUTH = "status-auth"  # ... user-auth certificates
    FILE_SIGN = "file-sign"  # revocation files (CRLs) of the SIG CAs (R-REV-9/10)
    FILE_AUTH = "file-auth"  # ... of the user-auth CAs
    BASIC4 = "basic4"  # 特定署名用電子証明書記録情報: latest basic 4 info, with consent (R-VER-2)
    CORRESPONDING_SIGN_MOBILE = "corresponding-sign-mobile"  # card SIG <-> mobile SIG (R-VER-3)
    CORRESPONDING_AUTH_MOBILE = "corresponding-auth-mobile"  # card UA <-> mobile UA (R-VER-3)
    CORRESPONDING_SIGN_AUTH = "corresponding-sign-auth"  # card SIG <-> card UA, registered as both (R-VER-3)
    RENEWAL_SIGN = "renewal-sign"  # 新旧紐付け of SIG certificates (R-VER-4)
    RENEWAL_AUTH = "renewal-auth"  # ... of user-auth certificates
    CERTIFICATION_CODE = "certification-code"  # 特定利用者証明検証者証明符号 (R-VER-5)

    @property
    def rule(self) -> str:
        return _RULE[self]

    @property
    def title(self) -> str:
        return _TITLE[self]


_RULE = {
    Operation.STATUS_SIGN: "R-VER-1, R-REV-10",
    Operation.STATUS_AUTH: "R-VER-1, R-REV-10",
    Operation.FILE_SIGN: "R-VER-1, R-REV-10",
    Operation.FILE_AUTH: "R-VER-1, R-REV-10",
    Operation.BASIC4: "R-VER-2",
    Operation.CORRESPONDING_SIGN_MOBILE: "R-VER-3",
    Operation.CORRESPONDING_AUTH_MOBILE: "R-VER-3",
    Operation.CORRESPONDING_SIGN_AUTH: "R-VER-3",
    Operation.RENEWAL_SIGN: "R-VER-4",
    Operation.RENEWAL_AUTH: "R-VER-4",
    Operation.CERTIFICATION_CODE: "R-VER-5",
}
_TITLE = {
    Operation.STATUS_SIGN: "失効情報 (署名用) / revocation status, signature",
    Operation.STATUS_AUTH: "失効情報 (利用者証明用) / revocation status, user-auth",
    Operation.FILE_SIGN: "失効情報ファイル (署名用) / revocation files, signature",
    Operation.FILE_AUTH: "失効情報ファイル (利用者証明用) / revocation files, user-auth",
    Operation.BASIC4: "特定署名用電子証明書記録情報 / latest basic 4 information",
    Operation.CORRESPONDING_SIGN_MOBILE: "対応証明書の発行の番号 (署名用 カード↔スマホ)",
    Operation.CORRESPONDING_AUTH_MOBILE: "対応証明書の発行の番号 (利用者証明用 カード↔スマホ)",
    Operation.CORRESPONDING_SIGN_AUTH: "対応証明書の発行の番号 (署名用↔利用者証明用)",
    Operation.RENEWAL_SIGN: "新旧紐付け (署名用) / old-to-new linkage, signature",
    Operation.RENEWAL_AUTH: "新旧紐付け (利用者証明用) / old-to-new linkage, user-auth",
    Operation.CERTIFICATION_CODE: "特定利用者証明検証者証明符号 / certification code",
}


def why_not(vtype: VerifierType, op: Operation) -> str | None:
    """``None`` if a verifier of ``vtype`` may receive ``op``; otherwise the reason, citing the rule."""
    if vtype is VerifierType.ENTRUSTING_BUSINESS:
        return "an entrusting business receives nothing from J-LIS directly: its platform operator asks on its behalf (R-VER-1)"
    if op is Operation.CERTIFICATION_CODE:
        return (
            None
            if vtype is VerifierType.SPECIFIC_USER_AUTH
            else "only a specific user-auth verifier receives a certification code (R-VER-5)"
        )
    if op is Operation.CORRESPONDING_SIGN_AUTH:
        both = vtype.signature and vtype.user_auth
        return None if both else "card SIG <-> card UA serials go only to a verifier registered as both (R-VER-3)"
    if op in (Operation.STATUS_SIGN, Operation.FILE_SIGN, Operation.BASIC4, Operation.CORRESPONDING_SIGN_MOBILE, Operation.RENEWAL_SIGN):
        return None if vtype.signature else f"a {vtype.value} verifier receives no signature-certificate information ({op.rule})"
    return None if vtype.user_auth else f"a {vtype.value} verifier receives no user-auth-certificate information ({op.rule})"


def allowed(vtype: VerifierType, op: Operation) -> bool:
    return why_not(vtype, op) is None


class NotEntitled(Forbidden):
    code = "not-entitled"


def check(vtype: VerifierType, op: Operation) -> None:
    reason = why_not(vtype, op)
    if reason is not None:
        raise NotEntitled(reason, operation=op.value, verifier_type=vtype.value)


def operation_for_kind(base: str, kind_is_signature: bool) -> Operation:
    """``status``/``file``/``renewal`` of a certificate kind: the SIG or the UA variant."""
    return Operation(f"{base}-{'sign' if kind_is_signature else 'auth'}")
