from myna.pki.kinds import AuthorityKind


def test_ceremony_creates_root_and_four_issuing_cas(platform):
    kinds = sorted(r.kind for r in platform.authority_rows())
    assert kinds == sorted(k.value for k in AuthorityKind)
