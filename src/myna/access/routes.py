"""Who may call which route: the one table of the web application's routes (R-RA-2, R-VER-1..7).

Every route of the web application has exactly one entry here, named by method and path.
An entry says which credential the route takes and, for bearer-token routes, which roles
pass; ``scoped`` marks the routes where a municipality acts only for its own residents
(R-RA-2): a target belonging to a resident registered elsewhere is answered exactly as an
unknown one (404 with the same message), so a municipality cannot even learn it exists.

The routers' ``require(...)`` checks must name the same roles as this table, and every
route must have an entry: tests/web/test_access_matrix.py walks the application's routes,
compares their role checks with the table, then calls every cell (role x operation x
own/other municipality x verifier type x consent) against the running application.

Pure: no store, no web imports (the verifier entitlements come from their own pure table,
:mod:`myna.access.entitlements`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from myna.access.entitlements import VERIFIER_ROLES, Operation, VerifierType, why_not
from myna.access.roles import Role


class Credential(str, enum.Enum):
    TOKEN = "token"  # a bearer token whose role is in ``roles``
    PUBLIC = "public"  # nothing: distribution points, receipt lookups, the public status
    SIGNED = "signed"  # the body is signed with the holder's card: the signature is the credential
    VERIFIER = "verifier"  # a registered verifier's client certificate or bound token (R-VER-1)
    SCREEN = "screen"  # a /ui screen: a signed-in session of ``roles`` (tests/ui calls them)


class Outcome(str, enum.Enum):
    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"  # 403
    ABSENT = "absent"  # 404, the same answer as for an unknown target (R-RA-2, R-VER-7)
    UNAUTHENTICATED = "unauthenticated"  # 401


@dataclass(frozen=True)
class Entry:
    method: str
    path: str
    credential: Credential
    roles: frozenset[Role] = frozenset()
    scoped: bool = False  # R-RA-2: another municipality's resident is as unknown
    listing: bool = False  # a list a municipality sees only its own residents' part of
    verifier_ops: tuple[Operation, ...] = ()  # what a verifier route answers (by path parameter)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


O, M, A, C, CC = Role.OPERATOR, Role.MUNICIPALITY, Role.AUDITOR, Role.CENTRE, Role.CALL_CENTRE


def _t(method: str, path: str, *roles: Role, scoped: bool = False, listing: bool = False) -> Entry:
    return Entry(method, path, Credential.TOKEN, frozenset(roles), scoped, listing)


def _p(method: str, path: str) -> Entry:
    return Entry(method, path, Credential.PUBLIC)


def _v(method: str, path: str, *ops: Operation) -> Entry:
    return Entry(method, path, Credential.VERIFIER, VERIFIER_ROLES, verifier_ops=ops)


def _s(method: str, path: str, *roles: Role) -> Entry:
    return Entry(method, path, Credential.SCREEN, frozenset(roles))


API = "/api/v1"
ENTRIES: tuple[Entry, ...] = (
    # -- certificates and authorities
    _t("POST", f"{API}/certificates", O, M, scoped=True),
    _t("GET", f"{API}/certificates", O, M, A, listing=True),
    _t("GET", f"{API}/certificates/{{serial}}", O, M, A, scoped=True),
    _t("POST", f"{API}/certificates/{{serial}}/revocation", O, M, scoped=True),
    _p("GET", f"{API}/authorities"),
    _t("POST", f"{API}/authorities/{{kind}}/crl", O),
    _t("POST", f"{API}/authorities/{{kind}}/compromise", O),
    _p("GET", "/ca/{name}"),
    _p("GET", "/crl/{name}"),
    _p("GET", "/notices"),
    # -- the status feed to validity centres
    _t("GET", f"{API}/feed/status", C, O),
    _t("GET", f"{API}/feed/verifiers", C, O),
    # -- residents
    _t("POST", f"{API}/residents/events", M, O, scoped=True),
    _t("GET", f"{API}/residents", M, O, A, listing=True),
    _t("GET", f"{API}/residents/{{resident_code}}", M, O, A, scoped=True),
    _t("POST", f"{API}/residents/{{resident_code}}/number", M, scoped=True),
    _t("GET", f"{API}/number-notices", M, listing=True),
    _t("POST", f"{API}/municipalities", O),
    # -- card management
    _p("GET", f"{API}/card-applications/{{application_id}}/status"),
    _p("POST", f"{API}/card-applications/qr"),
    _p("GET", f"{API}/card-fees/schedule"),
    _t("POST", f"{API}/number-notices/mail", O),
    _t("POST", f"{API}/mailed-notices/{{notice_id}}/returned", O),
    _t("POST", f"{API}/card-applications", M, O, scoped=True),
    _t("POST", f"{API}/card-applications/paper", O),
    _t("GET", f"{API}/card-applications/{{application_id}}", M, O, A, scoped=True),
    _t("POST", f"{API}/production/batches", O),
    _t("POST", f"{API}/shipments", O),
    _t("GET", f"{API}/shipments/{{shipment_id}}/manifest", M, O, A, scoped=True),
    _t("GET", f"{API}/cards/{{card_id}}/pickup-notice", M, scoped=True),
    _t("POST", f"{API}/cards/{{card_id}}/handover", M, scoped=True),
    _t("GET", f"{API}/cards/{{card_id}}/management", M, O, A, CC, scoped=True),
    _t("POST", f"{API}/cards/{{card_id}}/suspend", CC, M, O, scoped=True),
    _t("POST", f"{API}/cards/{{card_id}}/lift", M, scoped=True),
    _t("POST", f"{API}/cards/{{card_id}}/loss", M, CC, scoped=True),
    _t("POST", f"{API}/cards/{{card_id}}/reissue", M, scoped=True),
    _t("POST", f"{API}/cards/{{card_id}}/return", M, scoped=True),
    _t("POST", f"{API}/cards/{{card_id}}/abolish", M, O, scoped=True),
    _t("POST", f"{API}/cards/{{card_id}}/renew-certificates", M, scoped=True),
    _t("POST", f"{API}/expiry-notices", O),
    _t("GET", f"{API}/card-fees", M, O, A, listing=True),
    _t("POST", f"{API}/card-fees/{{fee_id}}/collect", M, scoped=True),
    _t("GET", f"{API}/lead-time/report", O, A),
    _t("GET", f"{API}/lead-time/alerts", O, A),
    # -- verifiers: what they receive (R-VER-1..5), the registry, consent
    _v("GET", f"{API}/verifier/whoami"),
    _v("GET", f"{API}/verifier/status/{{purpose}}/{{serial}}", Operation.STATUS_SIGN, Operation.STATUS_AUTH),
    _v("GET", f"{API}/verifier/revocation-files/{{slug}}.crl", Operation.FILE_SIGN, Operation.FILE_AUTH),
    _v("GET", f"{API}/verifier/basic4/{{serial}}", Operation.BASIC4),
    _v(
        "GET",
        f"{API}/verifier/corresponding/{{pair}}/{{serial}}",
        Operation.CORRESPONDING_SIGN_MOBILE,
        Operation.CORRESPONDING_AUTH_MOBILE,
        Operation.CORRESPONDING_SIGN_AUTH,
    ),
    _v("GET", f"{API}/verifier/renewal/{{purpose}}/{{serial}}", Operation.RENEWAL_SIGN, Operation.RENEWAL_AUTH),
    _v("POST", f"{API}/verifier/certification-code", Operation.CERTIFICATION_CODE),
    Entry("POST", f"{API}/consents", Credential.SIGNED),
    _t("POST", f"{API}/verifiers", O),
    _t("GET", f"{API}/verifiers", O, A),
    _t("GET", f"{API}/verifiers/report/{{year}}.csv", O, A),
    _t("GET", f"{API}/verifiers/{{code}}", O, A),
    _t("POST", f"{API}/verifiers/{{code}}/status", O),
    _t("POST", f"{API}/verifiers/{{code}}/agreement", O),
    _t("POST", f"{API}/verifiers/{{code}}/client-certificates", O),
    _t("POST", f"{API}/renewals", O),
    _p("GET", "/verifier-ca.crt"),
    # -- smartphone certificates: the card signature and the challenge are the credentials
    Entry("POST", f"{API}/mobile/applications", Credential.SIGNED),
    Entry("POST", f"{API}/mobile/applications/{{application_id}}/certificate", Credential.SIGNED),
    # -- operations
    _p("GET", f"{API}/operations/services"),
    _t("GET", f"{API}/operations/outages", O, A),
    _t("POST", f"{API}/operations/outages", O),
    _t("POST", f"{API}/operations/outages/{{outage_id}}/end", O),
    _t("GET", f"{API}/operations/availability", O, A),
    _t("POST", f"{API}/operations/traffic", C),
    _p("GET", "/healthz"),
    _p("GET", "/"),
    _p("GET", "/openapi.json"),
    _p("GET", "/docs"),
    _p("GET", "/docs/oauth2-redirect"),
    _p("GET", "/redoc"),
    # -- screens (session sign-in with the same tokens; tests/ui covers them)
    _s("GET", "/ui/"),
    _s("GET", "/ui/login"),
    _s("POST", "/ui/login"),
    _s("POST", "/ui/logout"),
    _s("GET", "/ui/console", O, A),
    _s("POST", "/ui/console/outages", O),
    *(
        _s(method, f"/ui/counter{tail}", M)
        for method, tail in [
            ("GET", ""),
            ("GET", "/find"),
            ("GET", "/pickup-notices.pdf"),
            ("GET", "/events/new"),
            ("POST", "/events"),
            ("GET", "/residents/{resident_code}"),
            ("GET", "/applications/new"),
            ("POST", "/applications"),
            ("GET", "/cards/{card_id}"),
            ("GET", "/cards/{card_id}/pickup-notice.pdf"),
            ("POST", "/cards/{card_id}/handover"),
            ("POST", "/cards/{card_id}/action"),
        ]
    ),
    *(
        _s(method, f"/ui/portal{tail}")  # the resident signs in with the card's user-auth certificate
        for method, tail in [
            ("GET", ""),
            ("GET", "/login"),
            ("POST", "/login"),
            ("POST", "/logout"),
            ("GET", "/me"),
            ("POST", "/consents"),
            ("GET", "/status"),
            ("GET", "/lost"),
            ("POST", "/lost"),
            ("POST", "/me/suspend"),
        ]
    ),
)

TABLE: dict[str, Entry] = {e.key: e for e in ENTRIES}
assert len(TABLE) == len(ENTRIES), "one entry per method and path"


def expected(entry: Entry, role: Role | None, own: bool = True) -> Outcome:
    """The answer to a bearer-token (or anonymous, ``role=None``) caller of a TOKEN or PUBLIC
    entry; ``own``: the target belongs to the caller's municipality (municipality tokens)."""
    if entry.credential in (Credential.PUBLIC, Credential.SIGNED):
        return Outcome.ALLOWED
    if entry.credential is Credential.VERIFIER:
        # Only a token bound to a registered verifier is a verifier credential (R-VER-1).
        return Outcome.UNAUTHENTICATED if role is None or role not in VERIFIER_ROLES else Outcome.ALLOWED
    if role is None:
        return Outcome.UNAUTHENTICATED
    if role not in entry.roles:
        return Outcome.FORBIDDEN
    if role is Role.MUNICIPALITY and entry.scoped and not own:
        return Outcome.ABSENT
    return Outcome.ALLOWED


def expected_verifier(vtype: VerifierType, op: Operation | None, consent: bool = True) -> Outcome:
    """The answer to a registered verifier of ``vtype`` asking for ``op`` (None: who am I)."""
    if op is None:
        return Outcome.ALLOWED
    if why_not(vtype, op) is not None:
        return Outcome.FORBIDDEN
    if op is Operation.BASIC4 and not consent:
        return Outcome.FORBIDDEN  # R-VER-2: nothing without the holder's consent
    return Outcome.ALLOWED
