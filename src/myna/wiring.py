"""The composition root: the one place that builds the services, each once, with its
collaborators. Entry points (``myna serve``'s web app, the CLI, a validity centre, the
demo) ask this for what they need; no service builds another.

Each service is built on first use (``cached_property``) and then kept, so a CLI command
imports and opens only what it touches (``myna --help`` stays fast) while a long-running
process still holds one instance of each. The imports sit inside the properties for the
same reason.
"""

from __future__ import annotations

import functools
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotations only; each property imports what it builds
    from myna.access.tokens import Tokens
    from myna.authority.crls import CrlService
    from myna.authority.issuance import IssuanceService
    from myna.authority.platform import Platform
    from myna.authority.records import Records
    from myna.authority.revoking import RevocationService
    from myna.cards.applications import Applications
    from myna.cards.handover import Counter
    from myna.cards.listings import CardListings
    from myna.cards.management import CardManagement
    from myna.cards.production import Production
    from myna.chip.chips import ChipService
    from myna.chip.image import KeyGen
    from myna.mobile.issuance import MobileService
    from myna.operations.digest import Digests
    from myna.operations.service import CardFigures, Operations
    from myna.portal.login import PortalLogin
    from myna.residents.registry import Registry
    from myna.validation.feeds import DbFeed
    from myna.verifiers.consent import Consents
    from myna.verifiers.credentials import Credentials, VerifierCa
    from myna.verifiers.provision import ProvisionService
    from myna.verifiers.registry import VerifierRegistry
    from myna.verifiers.renewals import Renewals


class Services:
    """Every service of the platform process, over one :class:`Platform` (settings, store,
    clock, keys). Build one per process with :func:`build`.

    ``keygen`` makes the chips' key pairs (tests hand in pooled keys: RSA key generation
    is slow); ``None`` is the chip's own generator."""

    def __init__(self, platform: Platform, keygen: KeyGen | None = None):
        self.platform = platform
        self.keygen = keygen

    # -- the authority (JPKI) ------------------------------------------------------

    @cached_property
    def issuance(self) -> IssuanceService:
        from myna.authority.issuance import IssuanceService

        return IssuanceService(self.platform)

    @cached_property
    def revocation(self) -> RevocationService:
        from myna.authority.revoking import RevocationService

        return RevocationService(self.platform)

    @cached_property
    def crls(self) -> CrlService:
        from myna.authority.crls import CrlService

        return CrlService(self.platform)

    @cached_property
    def records(self) -> Records:
        from myna.authority.records import Records

        return Records(self.platform)

    @cached_property
    def tokens(self) -> Tokens:
        from myna.access.tokens import Tokens
        from myna.verifiers.credentials import check_token_binding

        # A verifier-role token is bound to a registered verifier (R-VER-1): a rule of the
        # verifier registry, which sits above the tokens, so it comes in as their hook.
        return Tokens(self.platform, verifier_binding=functools.partial(check_token_binding, self.verifiers))

    # -- residents -------------------------------------------------------------------

    @cached_property
    def registry(self) -> Registry:
        from myna.residents.registry import Registry

        return Registry(self.platform, revocation=self.revocation)

    # -- the chip (virtual card) and card management -----------------------------

    @cached_property
    def chips(self) -> ChipService:
        from myna.chip.chips import ChipService

        return ChipService(self.platform, issuance=self.issuance, keygen=self.keygen)

    @cached_property
    def card_management(self) -> CardManagement:
        from myna.cards.management import CardManagement

        return CardManagement(self.platform, chips=self.chips, applications=self.applications, revocation=self.revocation)

    @cached_property
    def applications(self) -> Applications:
        from myna.cards.applications import Applications

        return Applications(self.platform)

    @cached_property
    def production(self) -> Production:
        from myna.cards.production import Production

        return Production(self.platform, chips=self.chips)

    @cached_property
    def counter(self) -> Counter:
        from myna.cards.handover import Counter

        return Counter(self.platform, chips=self.chips, revocation=self.revocation)

    @cached_property
    def card_listings(self) -> CardListings:
        from myna.cards.listings import CardListings

        return CardListings(self.platform)

    # -- verifiers and mobile --------------------------------------------------------

    @cached_property
    def verifiers(self) -> VerifierRegistry:
        from myna.verifiers.registry import VerifierRegistry

        return VerifierRegistry(self.platform)

    @cached_property
    def credentials(self) -> Credentials:
        from myna.verifiers.credentials import Credentials

        return Credentials(self.platform, verifiers=self.verifiers, tokens=self.tokens)

    @cached_property
    def verifier_ca(self) -> VerifierCa:
        from myna.verifiers.credentials import VerifierCa

        return VerifierCa(self.platform, verifiers=self.verifiers)

    @cached_property
    def consents(self) -> Consents:
        from myna.verifiers.consent import Consents

        return Consents(self.platform)

    @cached_property
    def renewals(self) -> Renewals:
        from myna.verifiers.renewals import Renewals

        return Renewals(self.platform)

    @cached_property
    def provision(self) -> ProvisionService:
        from myna.verifiers.provision import ProvisionService

        return ProvisionService(self.platform, crls=self.crls)

    @cached_property
    def mobile(self) -> MobileService:
        from myna.mobile.issuance import CappedIssuance, MobileService

        # A mobile certificate's notAfter is capped at its card certificate's (R-CERT-5):
        # an issuance around that cap per call, the one service made after start-up.
        return MobileService(self.platform, capped_issuance=lambda cap: CappedIssuance(self.platform, cap), revocation=self.revocation)

    # -- the resident portal and operations ------------------------------------------

    @cached_property
    def portal_login(self) -> PortalLogin:
        from myna.portal.login import PortalLogin

        return PortalLogin(self.platform)

    @cached_property
    def operations(self) -> Operations:
        from myna.operations.service import Operations

        return Operations(self.platform)

    @cached_property
    def card_figures(self) -> CardFigures:
        from myna.operations.service import CardFigures

        return CardFigures(self.platform)

    @cached_property
    def digests(self) -> Digests:
        from myna.operations.digest import Digests

        return Digests(self.platform)

    # -- the validity centre inside this process ---------------------------------------

    @cached_property
    def feed(self) -> DbFeed:
        """What an in-process validity centre syncs from: this platform's store."""
        from myna.validation.feeds import DbFeed

        return DbFeed(self.platform, crls=self.crls, operations=self.operations)


def build(platform: Platform, keygen: KeyGen | None = None) -> Services:
    """The services of one platform process."""
    return Services(platform, keygen=keygen)


__all__ = ["Services", "build"]
