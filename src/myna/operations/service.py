"""The operations console's figures from the store: the outage log and availability, the
validity centres' traffic, and certificate volumes by kind, day and revocation reason.

Days are Japanese days (JST): the figures J-LIS reports are per Japanese calendar day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update

from myna.authority.platform import Platform
from myna.clock import JST
from myna.errors import Conflict, InvalidInput, NotFound
from myna.operations.availability import Availability, Outage, availability
from myna.store import models as m
from myna.store.journal import audit
from myna.store.models_card_management import CardApplication as A
from myna.store.models_operations import CentreTraffic, OutageRecord
from myna.store.models_verifiers import Provision

# The services whose availability J-LIS reports (SPEC §8; FY2021 figures in brackets there).
SERVICES = {
    "card-management": ("カード管理システム", "Card management"),
    "jpki-counter": ("公的個人認証サービス（窓口向け）", "JPKI, counter service"),
    "jpki-verifier": ("公的個人認証サービス（検証者向け）", "JPKI, verifier service"),
}
MAX_CAUSE = 2000


@dataclass(frozen=True)
class OutageRow:
    id: int
    service: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    planned: bool
    cause: str
    recorded_by: str

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "service": self.service,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "planned": self.planned,
            "cause": self.cause,
            "recorded_by": self.recorded_by,
        }


def _row(r: OutageRecord) -> OutageRow:
    return OutageRow(r.id, r.service, r.started_at, r.ended_at, r.planned, r.cause, r.recorded_by)


# How far ahead of this clock a centre's minute may be: its clock may run a little fast.
TRAFFIC_CLOCK_SLACK = dt.timedelta(minutes=2)


def fiscal_year_start(when: dt.datetime) -> dt.datetime:
    """Japanese fiscal years start on 1 April (JST)."""
    local = when.astimezone(JST)
    year = local.year if local.month >= 4 else local.year - 1
    return dt.datetime(year, 4, 1, tzinfo=JST)


def jst_day(column, dialect: str):
    """SQL for the JST calendar day of a UTC timestamp column, as 'YYYY-MM-DD' text or a date."""
    if dialect == "sqlite":
        return func.date(column, "+9 hours")
    return func.date(func.timezone("Asia/Tokyo", column))


class Operations:
    def __init__(self, platform: Platform):
        self.platform = platform

    # -- outages ------------------------------------------------------------------------
    def record_outage(
        self, service: str, started_at: dt.datetime, ended_at: dt.datetime | None, planned: bool, cause: str, actor: str
    ) -> OutageRow:
        if service not in SERVICES:
            raise InvalidInput(f"unknown service {service!r}; one of: {', '.join(SERVICES)}")
        if started_at.tzinfo is None or (ended_at is not None and ended_at.tzinfo is None):
            raise InvalidInput("times need a time zone (e.g. 2026-04-01T03:00:00+09:00)")
        if ended_at is not None and ended_at <= started_at:
            raise InvalidInput("an outage must end after it starts")
        now = self.platform.clock.now()
        if started_at > now:
            raise InvalidInput("an outage cannot start in the future; record planned maintenance when it begins")
        cause = cause.strip()
        if not cause or len(cause) > MAX_CAUSE:
            raise InvalidInput(f"give the cause (1 to {MAX_CAUSE} characters)")
        with self.platform.db.session() as s:
            row = OutageRecord(
                service=service, started_at=started_at, ended_at=ended_at, planned=planned, cause=cause, recorded_by=actor, recorded_at=now
            )
            s.add(row)
            s.flush()
            audit(s, now, actor, "outage.recorded", service, id=row.id, planned=planned)
            s.commit()
            return _row(row)

    def end_outage(self, outage_id: int, ended_at: dt.datetime, actor: str) -> OutageRow:
        if ended_at.tzinfo is None:
            raise InvalidInput("times need a time zone")
        with self.platform.db.session() as s:
            row = s.get(OutageRecord, outage_id)
            if row is None:
                raise NotFound(f"no outage {outage_id}")
            if ended_at <= row.started_at:
                raise InvalidInput("an outage must end after it starts")
            # Conditional update: two operators closing the same outage cannot both win.
            done = s.execute(
                update(OutageRecord).where(OutageRecord.id == outage_id, OutageRecord.ended_at.is_(None)).values(ended_at=ended_at)
            ).rowcount
            if not done:
                raise Conflict(f"outage {outage_id} has already ended")
            audit(s, self.platform.clock.now(), actor, "outage.ended", row.service, id=outage_id)
            s.commit()
            s.refresh(row)
            return _row(row)

    def outages(self, service: str | None = None, limit: int = 100) -> list[OutageRow]:
        with self.platform.db.session() as s:
            q = select(OutageRecord).order_by(OutageRecord.started_at.desc()).limit(limit)
            if service:
                q = q.where(OutageRecord.service == service)
            return [_row(r) for r in s.scalars(q)]

    def window(self, start: dt.datetime | None = None, end: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
        """The period availability is reported for: by default from the start of this fiscal
        year to now; never past now (the future has no service time yet)."""
        now = self.platform.clock.now()
        end = end or now
        start = start or fiscal_year_start(end)
        if end <= start:
            raise InvalidInput("end must be after start")
        if end > now:
            end = now  # the future has no service time yet
            if end <= start:
                raise InvalidInput("start must be in the past")
        return start, end

    def availability(self, start: dt.datetime, end: dt.datetime) -> dict[str, Availability]:
        with self.platform.db.session() as s:
            rows = s.scalars(
                select(OutageRecord).where(
                    OutageRecord.started_at < end, (OutageRecord.ended_at.is_(None)) | (OutageRecord.ended_at > start)
                )
            ).all()
        return {
            svc: availability((Outage(r.started_at, r.ended_at, r.planned) for r in rows if r.service == svc), start, end)
            for svc in SERVICES
        }

    # -- validity centres' traffic -------------------------------------------------------
    def report_traffic(self, centre: str, minute: dt.datetime, ocsp: int, crl: int, errors: int) -> None:
        """Add a centre's counts for one minute (centres report increments, so a retried
        report after a lost answer would double count: they send each minute once, after it ends)."""
        if min(ocsp, crl, errors) < 0:
            raise InvalidInput("counts cannot be negative")
        minute = minute.astimezone(dt.timezone.utc)
        if minute > self.platform.clock.now() + TRAFFIC_CLOCK_SLACK:
            raise InvalidInput("that minute is in the future")
        minute = minute.replace(second=0, microsecond=0)
        with self.platform.db.session() as s:
            row = s.get(CentreTraffic, (centre, minute))
            if row is None:
                s.add(CentreTraffic(centre=centre, minute=minute, ocsp=ocsp, crl=crl, errors=errors))
            else:
                row.ocsp += ocsp
                row.crl += crl
                row.errors += errors
            s.commit()

    def traffic_by_hour(self, since: dt.datetime) -> dict[str, dict[dt.datetime, tuple[int, int, int]]]:
        out: dict[str, dict[dt.datetime, list[int]]] = {}
        with self.platform.db.session() as s:
            for r in s.scalars(select(CentreTraffic).where(CentreTraffic.minute >= since)):
                hour = r.minute.replace(minute=0)
                c = out.setdefault(r.centre, {}).setdefault(hour, [0, 0, 0])
                c[0] += r.ocsp
                c[1] += r.crl
                c[2] += r.errors
        return {centre: {h: tuple(v) for h, v in hours.items()} for centre, hours in out.items()}

    # -- certificates --------------------------------------------------------------------
    def certificate_status(self) -> dict[str, dict[str, int]]:
        """Per kind: valid / revoked / expired now."""
        now = self.platform.clock.now()
        out: dict[str, dict[str, int]] = {}
        with self.platform.db.session() as s:
            revoked = m.Revocation.serial.isnot(None)
            # One expression object in both places, so its bound time is one parameter:
            # PostgreSQL refuses a GROUP BY whose select list has a differently bound copy.
            expired = m.Certificate.not_after < now
            q = (
                select(m.Certificate.kind, revoked, expired, func.count())
                .outerjoin(m.Revocation, m.Revocation.serial == m.Certificate.serial)
                .group_by(m.Certificate.kind, revoked, expired)
            )
            for kind, is_revoked, is_expired, n in s.execute(q):
                state = "revoked" if is_revoked else "expired" if is_expired else "valid"
                d = out.setdefault(kind, {"valid": 0, "revoked": 0, "expired": 0})
                d[state] += n
        return out

    def issued_per_day(self, since: dt.datetime) -> dict[str, dict[str, int]]:
        """{JST day 'YYYY-MM-DD': {kind: count}} for certificates issued since ``since``."""
        with self.platform.db.session() as s:
            day = jst_day(m.Certificate.issued_at, s.bind.dialect.name)
            q = select(day, m.Certificate.kind, func.count()).where(m.Certificate.issued_at >= since).group_by(day, m.Certificate.kind)
            out: dict[str, dict[str, int]] = {}
            for d, kind, n in s.execute(q):
                out.setdefault(str(d), {})[kind] = n
        return out

    def revocations_by_reason(self, since: dt.datetime | None = None) -> dict[str, dict[str, int]]:
        """{reason: {kind: count}}."""
        with self.platform.db.session() as s:
            q = select(m.Revocation.reason, m.Certificate.kind, func.count()).join(
                m.Certificate, m.Certificate.serial == m.Revocation.serial
            )
            if since is not None:
                q = q.where(m.Revocation.revoked_at >= since)
            out: dict[str, dict[str, int]] = {}
            for reason, kind, n in s.execute(q.group_by(m.Revocation.reason, m.Certificate.kind)):
                out.setdefault(reason, {})[kind] = n
        return out


# -- card management and verifier figures (SPEC §6, §5) ----------------------------------

DAILY_CAPACITY = 160_000  # applications a day, and cards and certificates issued a day (R-CARD-4/5)
MONTHLY_CAPACITY = 4_800_000  # cards shipped a month (R-CARD-5)


def _jst_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), JST)
    return start, start + dt.timedelta(days=1)


class CardFigures:
    """What the console shows of card management: volumes against capacity and lead times."""

    def __init__(self, platform: Platform):
        self.platform = platform

    def per_day(self, since: dt.date) -> dict[str, dict[str, int]]:
        """{JST day: {"received": n, "shipped": n}}."""
        start, _ = _jst_bounds(since)
        out: dict[str, dict[str, int]] = {}
        with self.platform.db.session() as s:
            dialect = s.bind.dialect.name
            for column, label in ((A.received_at, "received"), (A.shipped_at, "shipped")):
                day = jst_day(column, dialect)
                for d, n in s.execute(select(day, func.count()).where(column >= start).group_by(day)):
                    out.setdefault(str(d), {"received": 0, "shipped": 0})[label] = n
        return out

    def month_shipped(self, now: dt.datetime) -> int:
        local = now.astimezone(JST)
        start = dt.datetime(local.year, local.month, 1, tzinfo=JST)
        with self.platform.db.session() as s:
            return s.scalar(select(func.count()).where(A.shipped_at >= start)) or 0

    def lead_time_histogram(self) -> dict[tuple[int, bool], int]:
        """{(lead days, express): shipped applications}."""
        express = A.express.isnot(None)
        with self.platform.db.session() as s:
            rows = s.execute(select(A.lead_days, express, func.count()).where(A.lead_days.isnot(None)).group_by(A.lead_days, express))
            return {(int(days), bool(e)): n for days, e, n in rows}


def provision_counts(platform: Platform, since: dt.datetime) -> dict[str, dict[str, int]]:
    """{category: {"provided": n, "refused": n}} from the provision log (R-VER-6)."""
    out: dict[str, dict[str, int]] = {}
    with platform.db.session() as s:
        for category, outcome, n in s.execute(
            select(Provision.category, Provision.outcome, func.count())
            .where(Provision.at >= since)
            .group_by(Provision.category, Provision.outcome)
        ):
            out.setdefault(category, {"provided": 0, "refused": 0})[outcome] = n
    return out
