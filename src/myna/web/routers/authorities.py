"""CA certificates, CRL publication and key compromise (operators), plus the public
distribution points that certificates name: /ca/{slug}.crt, /crl/{slug}.crl,
/crl/{slug}-delta.crl and /notices."""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from myna.access.roles import Principal, Role
from myna.authority.platform import Platform
from myna.authority.records import authorities
from myna.errors import InvalidInput, NotFound
from myna.pki import serials
from myna.pki.kinds import AuthorityKind
from myna.web.deps import platform, require, services
from myna.web.openapi import binary
from myna.wiring import Services

api = APIRouter(prefix="/api/v1", tags=["authorities"])
public = APIRouter(tags=["distribution"])


class AuthorityOut(BaseModel):
    slug: str
    kind: str
    generation: int
    subject: str
    serial: str
    not_before: str
    not_after: str
    active: bool
    compromised_at: str | None
    key_backend: str
    certificate_url: str
    crl_url: str


class CrlOut(BaseModel):
    authority: str
    number: int
    delta: bool
    entries: int
    this_update: str
    next_update: str


class CompromiseIn(BaseModel):
    confirm: str = Field(description="Must repeat the CA slug, to guard against accidents")
    note: str | None = Field(default=None, max_length=1000)


class CompromiseOut(BaseModel):
    authority: str
    revoked: int
    revoked_at: str


def authorities_out(p: Platform) -> list[AuthorityOut]:
    return [
        AuthorityOut(
            slug=a.slug,
            kind=a.kind,
            generation=a.generation,
            subject=a.subject,
            serial=serials.to_display(a.serial),
            not_before=a.not_before.isoformat(),
            not_after=a.not_after.isoformat(),
            active=a.active,
            compromised_at=a.compromised_at.isoformat() if a.compromised_at else None,
            key_backend=a.key_backend,
            certificate_url=a.certificate_url,
            crl_url=a.crl_url,
        )
        for a in authorities(p)
    ]


@api.get("/authorities", response_model=list[AuthorityOut], summary="The CA hierarchy, every generation")
def list_authorities(p: Platform = Depends(platform)) -> list[AuthorityOut]:
    return authorities_out(p)


@api.post("/authorities/{kind}/crl", response_model=CrlOut, status_code=201, summary="Publish a CRL now")
def publish_crl(
    kind: AuthorityKind, delta: bool = False, sv: Services = Depends(services), who: Principal = Depends(require(Role.OPERATOR))
) -> CrlOut:
    done = sv.crls.publish(kind, delta=delta, actor=who.actor)
    return CrlOut(
        authority=done.authority,
        number=done.number,
        delta=done.is_delta,
        entries=done.entries,
        this_update=done.this_update.isoformat(),
        next_update=done.next_update.isoformat(),
    )


@api.post("/authorities/{kind}/compromise", response_model=CompromiseOut, status_code=201, summary="R-REV-5: the CA key leaked")
def compromise(
    kind: AuthorityKind, body: CompromiseIn, sv: Services = Depends(services), who: Principal = Depends(require(Role.OPERATOR))
) -> CompromiseOut:
    slug = sv.platform.authority(kind).slug
    if body.confirm != slug:
        raise InvalidInput(f"confirm must be {slug!r}")
    done = sv.revocation.compromise_authority(kind, who.actor, body.note)
    return CompromiseOut(authority=done.authority, revoked=done.revoked, revoked_at=done.revoked_at.isoformat())


@public.get(
    "/ca/{name}",
    summary="A CA certificate (DER), as named by caIssuers",
    response_class=Response,
    responses=binary("application/pkix-cert", "The certificate (DER)"),
)
def ca_certificate(name: str, p: Platform = Depends(platform)) -> Response:
    slug = _strip(name, ".crt")
    return Response(p.authority_by_slug(slug).cert.public_bytes(Encoding.DER), media_type="application/pkix-cert")


@public.get(
    "/crl/{name}",
    summary="The latest CRL or delta CRL (DER), as named by the certificates",
    response_class=Response,
    responses=binary(
        "application/pkix-crl",
        "The CRL (DER)",
        {"Cache-Control": "public, max-age=60", "Last-Modified": "the CRL's thisUpdate", "Expires": "the CRL's nextUpdate"},
    ),
)
def crl(name: str, sv: Services = Depends(services)) -> Response:
    slug = _strip(name, ".crl")
    delta = slug.endswith("-delta")
    if delta:
        slug = slug.removesuffix("-delta")
    row = sv.crls.latest(slug, delta=delta)
    headers = {
        "Cache-Control": "public, max-age=60",
        "Last-Modified": row.this_update.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Expires": row.next_update.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    return Response(row.der, media_type="application/pkix-crl", headers=headers)


@public.get("/notices", summary="Public notices, e.g. issuer key compromise (R-REV-5)")
def notices(sv: Services = Depends(services)) -> list[dict]:
    return sv.records.notices("public-notice")


def _strip(name: str, suffix: str) -> str:
    if not name.endswith(suffix):
        raise NotFound(f"{name!r} is not a {suffix} resource")
    return name.removesuffix(suffix)
