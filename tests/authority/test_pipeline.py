"""The overlapped issuance pipeline (IssuanceService.issue_chunks, used by issue-batch)
and the signing worker pool behind it: the same answers as one issue_many after another
(R-CERT-3 records, idempotent request ids, one key certified once), errors that leave
earlier chunks recorded and nothing half-written, a dead worker that costs no
certificate, and no pool for small calls."""

from __future__ import annotations

import dataclasses
import os
import signal

import pytest
from cryptography.hazmat.primitives import serialization
from myna_testing import issue_request, register_resident, table_counts
from sqlalchemy import func, select

from myna.authority.issuance import IssuanceService
from myna.errors import Conflict, InvalidInput
from myna.pki import signer, signing_pool
from myna.pki.kinds import AuthorityKind
from myna.settings import Settings
from myna.store import models as m


def with_processes(platform, n: int | None):
    platform.settings = dataclasses.replace(platform.settings, signing_processes=n)
    return platform


def requests(n: int, prefix: str = "p"):
    return [issue_request("card-sign" if i % 2 else "card-auth", request_id=f"{prefix}-{i:04d}") for i in range(n)]


def chunks(reqs, size: int):
    return [reqs[i : i + size] for i in range(0, len(reqs), size)]


def store_rows(platform):
    with platform.db.session() as s:
        certs = {c.request_id: (c.serial, c.der) for c in s.scalars(select(m.Certificate).where(m.Certificate.kind != "ca"))}
        reserved = s.scalar(select(func.count()).select_from(m.SerialReservation))
        audits = s.scalar(select(func.count()).select_from(m.AuditEvent).where(m.AuditEvent.action == "certificate.issued"))
    return certs, reserved, audits


def verify_all(platform, issued) -> None:
    cas = {kind: platform.authority(kind).cert for kind in (AuthorityKind.CARD_AUTH, AuthorityKind.CARD_SIGN)}
    for i in issued:
        i.certificate.verify_directly_issued_by(cas[AuthorityKind(i.kind.value)])


@pytest.mark.parametrize("processes", [2, 0])
def test_r_cert_3_chunks_overlap_yet_each_is_recorded_whole_with_its_audit_events(platform, processes):
    with_processes(platform, processes)
    reqs = requests(150)
    _, reserved0, _ = store_rows(platform)  # the ceremony's own certificates
    out = list(IssuanceService(platform).issue_chunks(chunks(reqs, 40), "t"))
    assert [len(part) for part in out] == [40, 40, 40, 30]
    issued = [i for part in out for i in part]
    certs, reserved, audits = store_rows(platform)
    assert sorted(certs) == sorted(r.request_id for r in reqs)
    assert reserved - reserved0 == audits == len(reqs)
    verify_all(platform, issued)
    for req, got in zip(reqs, issued):  # chunk by chunk, in request order
        assert got.created
        serial, der = certs[req.request_id]
        assert int(serial, 16) == got.serial == got.certificate.serial_number
        assert der == got.certificate.public_bytes(serialization.Encoding.DER)
        spki = got.certificate.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert spki == req.public_key


def test_request_repeated_in_the_next_chunk_waits_for_the_first_and_is_answered_from_the_store(platform):
    with_processes(platform, 2)
    reqs = requests(70)
    again = reqs[5]  # the same request, in the chunk after its own
    out = list(IssuanceService(platform).issue_chunks([reqs[:40], [again, *reqs[40:]]], "t"))
    first, second = out
    assert second[0].created is False
    assert second[0].serial == first[5].serial
    assert second[0].certificate == first[5].certificate
    assert all(i.created for i in second[1:])
    certs, _, audits = store_rows(platform)
    assert len(certs) == audits == 70


def test_key_of_the_chunk_in_flight_is_refused_in_the_next_after_the_first_is_recorded(platform):
    with_processes(platform, 2)
    reqs = requests(80)
    reused = issue_request("card-auth", request_id="reuses-key", public_key=reqs[3].public_key)
    gen = IssuanceService(platform).issue_chunks([reqs[:40], [reused, *reqs[40:]]], "t")
    first = next(gen)
    assert len(first) == 40 and all(i.created for i in first)
    with pytest.raises(Conflict, match="already certified"):
        next(gen)
    certs, _, _ = store_rows(platform)
    assert sorted(certs) == sorted(r.request_id for r in reqs[:40])  # nothing of the refused chunk


def test_a_bad_chunk_after_good_ones_records_them_and_reserves_nothing_for_itself(platform):
    with_processes(platform, 2)
    bad, error = issue_request(request_id="bad id with spaces"), InvalidInput
    reqs = requests(80)
    gen = IssuanceService(platform).issue_chunks([reqs[:40], reqs[40:], [bad]], "t")
    assert len(next(gen)) == 40
    before_error = next(gen)  # the second chunk is handed out before the third fails
    assert len(before_error) == 40
    _, reserved_before, _ = store_rows(platform)
    with pytest.raises(error):
        next(gen)
    certs, reserved, audits = store_rows(platform)
    assert len(certs) == audits == 80
    assert reserved == reserved_before  # the bad chunk reserved no serial


def test_closing_the_stream_early_records_nothing_of_the_chunk_in_flight_and_a_rerun_completes(platform):
    with_processes(platform, 2)
    reqs = requests(120)
    service = IssuanceService(platform)
    _, reserved0, _ = store_rows(platform)
    gen = service.issue_chunks(chunks(reqs, 40), "t")
    first = next(gen)  # chunk 2 is signing now
    gen.close()
    certs, reserved, audits = store_rows(platform)
    assert sorted(certs) == sorted(r.request_id for r in reqs[:40]) and audits == 40
    assert reserved - reserved0 == 80  # chunk 2's serials stay reserved and unused, as after a crash
    rerun = [i for part in service.issue_chunks(chunks(reqs, 40), "t") for i in part]
    assert [i.created for i in rerun] == [False] * 40 + [True] * 80
    assert [i.serial for i in rerun[:40]] == [i.serial for i in first]
    certs, reserved, audits = store_rows(platform)
    assert len(certs) == audits == 120 and reserved - reserved0 == 80 + 80  # the orphans stay unused


def test_a_signing_worker_killed_mid_batch_costs_no_certificate(platform):
    with_processes(platform, 2)
    signing_pool.start_pool(2)
    pool = signing_pool.signing_pool(2)
    victim = pool.workers[0].process
    reqs = requests(600)
    service = IssuanceService(platform)
    gen = service.issue_chunks(chunks(reqs, 200), "t")
    issued = next(gen)  # the second chunk is being signed now
    os.kill(victim.pid, signal.SIGKILL)
    issued += [i for part in gen for i in part]
    assert len(issued) == 600 and all(i.created for i in issued)
    assert len(store_rows(platform)[0]) == 600
    verify_all(platform, issued)
    victim.join(timeout=10)
    assert victim.exitcode == -signal.SIGKILL
    # The next big batch gets working signers again.
    more = service.issue_many(requests(40, "after"), "t")
    verify_all(platform, more)
    assert all(w.process.is_alive() for w in signing_pool.signing_pool(2).workers)


def test_small_calls_do_not_start_a_pool_and_big_ones_use_it(platform):
    with_processes(platform, 2)
    signing_pool.shutdown_pool()
    IssuanceService(platform).issue(issue_request(), "t")
    IssuanceService(platform).issue_many(requests(signer.PARALLEL_FROM - 1, "small"), "t")
    assert signing_pool._POOL is None
    issued = IssuanceService(platform).issue_many(requests(signer.PARALLEL_FROM, "big"), "t")
    assert signing_pool._POOL is not None and len(signing_pool._POOL.workers) == 2
    verify_all(platform, issued)


def test_a_batch_of_one_small_chunk_does_not_start_a_pool_but_the_second_chunk_does(platform):
    with_processes(platform, 2)
    signing_pool.shutdown_pool()
    list(IssuanceService(platform).issue_chunks([requests(5, "one")], "t"))
    assert signing_pool._POOL is None
    out = list(IssuanceService(platform).issue_chunks([requests(5, "a"), requests(5, "b")], "t"))
    assert signing_pool._POOL is not None
    verify_all(platform, [i for part in out for i in part])


def test_in_process_setting_never_starts_a_pool(platform):
    with_processes(platform, 1)
    signing_pool.shutdown_pool()
    list(IssuanceService(platform).issue_chunks(chunks(requests(80), 40), "t"))
    assert signing_pool._POOL is None


def test_default_is_one_worker_per_core_from_two_cores(monkeypatch):
    monkeypatch.setattr(signing_pool, "usable_cores", lambda: 4)
    assert signing_pool.resolve_processes(None) == 4
    assert signing_pool.resolve_processes(0) == 0 and signing_pool.resolve_processes(3) == 3
    monkeypatch.setattr(signing_pool, "usable_cores", lambda: 1)
    assert signing_pool.resolve_processes(None) == 0


@pytest.mark.parametrize("value, expected", [("", None), ("0", 0), ("1", 1), ("3", 3)])
def test_myna_signing_processes_is_read_from_the_environment(monkeypatch, tmp_path, value, expected):
    monkeypatch.setenv("MYNA_SIGNING_PROCESSES", value)
    assert Settings.from_env(tmp_path).signing_processes == expected


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_bad_myna_signing_processes_is_a_clear_error(monkeypatch, tmp_path, value):
    monkeypatch.setenv("MYNA_SIGNING_PROCESSES", value)
    with pytest.raises(SystemExit, match="MYNA_SIGNING_PROCESSES"):
        Settings.from_env(tmp_path)


def test_refused_first_chunk_changes_nothing(platform):
    """A first chunk that fails its checks: nothing reserved, nothing recorded."""
    with_processes(platform, 2)
    before = table_counts(platform)
    reqs = requests(40)
    reqs[7] = issue_request("card-auth", request_id=reqs[7].request_id, resident_code="123")
    with pytest.raises(InvalidInput, match="11 digits"):
        list(IssuanceService(platform).issue_chunks([reqs, requests(40, "next")], "t"))
    assert table_counts(platform) == before


def _token_platform(softhsm, tmp_path, database_url, clock):
    from myna.authority.ceremony import run_ceremony
    from myna.authority.platform import Platform

    settings = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        public_url="http://127.0.0.1:8000",
        key_backend="pkcs11",
        pkcs11_module=softhsm.module,
        pkcs11_token=softhsm.label,
        pkcs11_pin=softhsm.pin,
        signing_processes=2,
    )
    p = Platform.open(settings, clock)
    run_ceremony(p, "t")
    register_resident(p)
    return p


@pytest.mark.pkcs11
def test_token_keys_are_used_by_workers_through_their_own_sessions(softhsm, tmp_path, database_url, clock, monkeypatch):
    """A PKCS#11 key stays in the token: each worker opens its own session and the token
    signs there, chunk by chunk with the same records. Nothing is signed in this process
    (its signing path would raise here)."""
    p = _token_platform(softhsm, tmp_path, database_url, clock)
    try:
        signing_pool.shutdown_pool()

        def no_signing_here(key):
            raise AssertionError("a slice was signed in the parent")

        monkeypatch.setattr(signer, "sign_bytes", no_signing_here)
        reqs = requests(90, "hsm")
        out = list(IssuanceService(p).issue_chunks(chunks(reqs, 40), "t"))
        assert signing_pool._POOL is not None and signing_pool._POOL.size == 2
        issued = [i for part in out for i in part]
        assert [len(part) for part in out] == [40, 40, 10]
        verify_all(p, issued)
        certs, _, audits = store_rows(p)
        assert len(certs) == audits == 90
    finally:
        p.close()


@pytest.mark.pkcs11
def test_a_worker_that_cannot_reach_the_token_key_leaves_the_slice_to_this_process(softhsm, tmp_path, database_url, clock, monkeypatch):
    """A worker that finds another key under the reference (or cannot log in) answers with
    its error; this process signs those slices with the token itself: no certificate lost,
    none signed by a wrong key."""
    from myna.pki.keystore_pkcs11 import Pkcs11SigningKey

    p = _token_platform(softhsm, tmp_path, database_url, clock)
    try:
        signing_pool.shutdown_pool()
        real = Pkcs11SigningKey.worker_spec
        monkeypatch.setattr(Pkcs11SigningKey, "worker_spec", lambda self: {**real(self), "spki": "00"})
        monkeypatch.setattr(signer, "_WARNED", set())
        issued = IssuanceService(p).issue_many(requests(40, "refused"), "t")
        assert signing_pool._POOL is not None
        assert any("is not the parent's" in reason for reason in signer._WARNED)  # the workers refused
        verify_all(p, issued)
        certs, _, audits = store_rows(p)
        assert len(certs) == audits == 40
    finally:
        p.close()
