"""Services to verifiers (SPEC §5): registry, entitlements, consent, provision, report."""
