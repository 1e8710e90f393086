"""The store digest (`myna store digest`): the check of R-OPS-2 ("no acknowledged issuance or
revocation lost") between two sites or a site and its restored backup. Same records give the
same digest on SQLite and PostgreSQL; any change to an issuance or revocation record, the
status feed or the audit log changes it; it reads one snapshot; it streams."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from myna_testing import PooledFileBackend
from records_support import copy_store, issue_and_revoke
from sqlalchemy import text
from typer.testing import CliRunner

from myna.authority.ceremony import run_ceremony
from myna.authority.platform import Platform
from myna.cli import app
from myna.clock import JST, FixedClock
from myna.errors import NotInitialised
from myna.operations import digest as digest_mod
from myna.operations.digest import SECTIONS, Digests, line, utc_text
from myna.pki.revocation import RevocationReason
from myna.settings import Settings
from myna.wiring import build

# Microseconds that a digest rounding to milliseconds, or reading local time, would change.
T_ODD = dt.datetime(2026, 4, 1, 3, 0, 0, 654321, tzinfo=dt.timezone.utc)


@pytest.fixture
def source(tmp_path):
    """A SQLite store with a CA, issued certificates, revocations of three reasons and a CRL."""
    settings = Settings(
        home=tmp_path / "source-home", database_url=f"sqlite:///{tmp_path / 'source.db'}", public_url="http://127.0.0.1:8000"
    )
    p = Platform.open(settings, FixedClock(T_ODD))
    p._backends["file"] = PooledFileBackend(settings.keys_dir)
    run_ceremony(p, "digest-test")
    issue_and_revoke(p, issue=12, revoke=5)
    build(p).crls.publish("card-sign")
    yield p
    p.close()


def digest(p: Platform) -> dict:
    return Digests(p).compute().to_json()


def test_r_ops_2_the_same_records_give_the_same_digest_on_sqlite_and_postgresql(source, bare_platform, monkeypatch):
    """The target is this run's engine (PostgreSQL in the PostgreSQL step): its rows are a
    copy of the SQLite source's, read back through a session in Japan's time zone, so a
    digest that depended on the engine's datetime or bytes handling would differ."""
    monkeypatch.setenv("PGTZ", "Asia/Tokyo")  # libpq: the server answers timestamptz in +09:00
    bare_platform.db.dispose()  # new connections, with the time zone above
    assert copy_store(source, bare_platform) > 100
    if bare_platform.db.engine.dialect.name == "postgresql":
        with bare_platform.db.session() as s:
            assert s.scalar(text("SHOW TimeZone")) == "Asia/Tokyo"
    want, got = digest(source), digest(bare_platform)
    assert got == want
    assert got["sections"]["certificates"]["rows"] == got["counts"]["certificates"] >= 12
    assert got["sections"]["revocations"]["rows"] == got["counts"]["revocations"] == 5 and got["counts"]["crls"] >= 1
    assert set(got["sections"]) == set(SECTIONS)


@pytest.mark.parametrize(
    "section,sql",
    [
        (
            "certificates",  # another certificate's DER in place of the signed one
            "UPDATE certificates SET der = (SELECT c.der FROM certificates c WHERE c.serial = (SELECT MAX(serial) FROM certificates))"
            " WHERE serial = (SELECT MIN(serial) FROM certificates)",
        ),
        ("certificates", "UPDATE certificates SET not_after = issued_at WHERE serial = (SELECT MIN(serial) FROM certificates)"),
        ("revocations", "UPDATE revocations SET reason = 'request' WHERE reason = 'record-error'"),
        ("status_feed", "DELETE FROM status_feed WHERE seq = (SELECT MAX(seq) FROM status_feed)"),
        ("audit_events", "UPDATE audit_events SET actor = 'someone-else' WHERE id = (SELECT MIN(id) FROM audit_events)"),
    ],
)
def test_any_edit_of_a_record_changes_its_section_and_the_whole_digest(source, section, sql):
    before = digest(source)
    with source.db.session() as s:
        assert s.execute(text(sql)).rowcount >= 1
    after = digest(source)
    assert after["sections"][section]["sha256"] != before["sections"][section]["sha256"]
    assert after["sha256"] != before["sha256"]
    untouched = [name for name in SECTIONS if name != section]
    assert all(after["sections"][n] == before["sections"][n] for n in untouched)


def test_a_new_revocation_changes_counts_and_digests_of_the_records_it_writes(source):
    before = digest(source)
    serial = issue_and_revoke(source, issue=1, revoke=0)[0]
    mid = digest(source)
    build(source).revocation.revoke(serial, RevocationReason.REQUEST, "digest-test")
    after = digest(source)
    assert after["counts"]["revocations"] == mid["counts"]["revocations"] + 1
    assert mid["sections"]["certificates"] != before["sections"]["certificates"]
    assert after["sections"]["certificates"] == mid["sections"]["certificates"]  # a revocation does not touch the issuance record
    for name in ("revocations", "status_feed", "audit_events"):
        assert after["sections"][name]["sha256"] != mid["sections"][name]["sha256"], name
    assert len({before["sha256"], mid["sha256"], after["sha256"]}) == 3


def test_the_digest_reads_one_snapshot_while_the_platform_writes(platform):
    """A revocation committed while the digest is reading is not half in it: the digest is
    the one from before the write, and the next one sees it."""
    serials = issue_and_revoke(platform, issue=4, revoke=1)
    before = digest(platform)
    written = []

    def write_once(_n: int) -> None:
        if not written:  # after the first section was read, from another connection
            written.append(build(platform).revocation.revoke(serials[-1], RevocationReason.REQUEST, "concurrent"))

    during = Digests(platform).compute(progress=write_once).to_json()
    assert written and during == before
    assert digest(platform)["counts"]["revocations"] == before["counts"]["revocations"] + 1


def test_records_are_streamed_in_bounded_batches(platform, monkeypatch):
    issue_and_revoke(platform, issue=7, revoke=0)
    whole = digest(platform)
    monkeypatch.setattr(digest_mod, "BATCH", 3)
    parts: list[int] = []
    total: list[int] = []
    streamed = Digests(platform).compute(progress=parts.append, total=total.append).to_json()
    assert streamed == whole  # the batch size changes nothing in the result
    assert max(parts) <= 3 and sum(parts) == total[0] == sum(whole["sections"][n]["rows"] for n in SECTIONS)


def test_the_canonical_encoding_is_the_documented_one():
    jst = dt.datetime(2026, 4, 1, 12, 0, 0, 5, tzinfo=JST)
    assert utc_text(jst) == "2026-04-01T03:00:00.000005Z"
    assert line(["0a", 1, None, "山田 花子", 'a"b']) == '["0a",1,null,"山田 花子","a\\"b"]\n'.encode()
    with pytest.raises(ValueError, match="naive"):
        utc_text(dt.datetime(2026, 4, 1))


def test_a_store_at_another_schema_revision_or_none_is_refused(platform, tmp_path):
    platform.db.downgrade("0010")
    with pytest.raises(NotInitialised, match="schema revision 0010, this myna reads 0011"):
        Digests(platform).compute()
    empty = Platform.open(
        Settings(home=tmp_path / "empty", database_url=f"sqlite:///{tmp_path / 'empty.db'}", public_url="http://x"), migrate=False
    )
    with pytest.raises(NotInitialised, match="no myna store"):
        Digests(empty).compute()
    empty.close()


def test_cli_store_digest_prints_the_services_digest_and_never_migrates(platform, settings, monkeypatch):
    issue_and_revoke(platform, issue=2, revoke=1)
    monkeypatch.setenv("MYNA_HOME", str(settings.home))
    monkeypatch.setenv("MYNA_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    as_json = runner.invoke(app, ["store", "digest", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == digest(platform)
    plain = runner.invoke(app, ["store", "digest"])
    assert plain.exit_code == 0 and f"digest (myna-store-digest/1): {digest(platform)['sha256']}" in plain.stdout
    platform.db.downgrade("0010")
    refused = runner.invoke(app, ["store", "digest"])
    assert refused.exit_code == 1 and "schema revision 0010" in refused.stderr
    assert platform.db.schema_revisions()[0] == "0010"  # it did not migrate the store to digest it
