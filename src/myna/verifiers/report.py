"""The annual report on provision to verifiers (R-VER-6, Art. 41): counts per category
from the provision log, as CSV and as a PDF for publication.

Counts are computed from ``verifier_provisions`` in one query, so the report always
equals the log (refusals of requests naming no known category, logged as
``unrecognised``, are a line of their own and part of the refused total). The year is the
calendar year in Japan time (JST). The PDF is drawn with reportlab in IPAex Gothic
(Debian package fonts-ipaexfont-gothic), embedded, so the Japanese category names show in
any reader.

Revocation status that the validity centres give (OCSP, and CRLs they serve) is not in the
provision log: the centres answer without asking the platform and do not log per verifier.
Its lines come from the centres' own per-minute traffic counts (``centre_traffic``, what
they report to ``POST /api/v1/operations/traffic``), **counted per centre, not per
verifier**, and are kept out of the log totals.
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import io
from dataclasses import dataclass

from sqlalchemy import func, select

from myna.access.entitlements import Operation, VerifierType
from myna.authority.platform import Platform
from myna.clock import JST
from myna.errors import InvalidInput, NotInitialised
from myna.store import models_verifiers as mv
from myna.store.models_operations import CentreTraffic
from myna.verifiers.provision import UNRECOGNISED

FONT_NAME = "IPAexGothic"
FONT_GLOBS = [
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/*/ipaexfont*/ipaexg.ttf",
    "/usr/share/fonts/**/ipaexg.ttf",
]


@dataclass(frozen=True)
class ReportRow:
    category: Operation
    provided: int
    refused: int
    by_type: dict[str, int]  # provided, per verifier type of the recipient's channel


@dataclass(frozen=True)
class CentreCount:
    """What one validity centre reported for the year (its per-minute counts summed)."""

    centre: str
    ocsp: int
    crl: int
    errors: int


UNRECOGNISED_TITLE = "不明な区分への要求 / requests for an unknown purpose, pair or CA (refused)"
CENTRE_OCSP_TITLE = (
    "失効情報 (検証センター経由・センター別集計、検証者別ではない) / "
    "revocation status through the validity centres (OCSP), counted per centre, not per verifier"
)
CENTRE_CRL_TITLE = (
    "失効情報ファイル (検証センター経由・センター別集計、検証者別ではない) / "
    "revocation files served by the validity centres, counted per centre, not per verifier"
)


@dataclass(frozen=True)
class ProvisionReport:
    year: int
    start: dt.datetime
    end: dt.datetime
    rows: list[ReportRow]
    verifiers: dict[str, int]  # registered (not terminated) verifiers per type at the end of the year
    unrecognised: int = 0  # refusals logged as ``unrecognised`` (no known category asked)
    centres: tuple[CentreCount, ...] = ()  # the validity centres' own counts, per centre

    @property
    def total_provided(self) -> int:
        return sum(r.provided for r in self.rows)

    @property
    def total_refused(self) -> int:
        return sum(r.refused for r in self.rows) + self.unrecognised

    @property
    def centre_ocsp(self) -> int:
        return sum(c.ocsp for c in self.centres)

    @property
    def centre_crl(self) -> int:
        return sum(c.crl for c in self.centres)

    @property
    def centre_errors(self) -> int:
        return sum(c.errors for c in self.centres)

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        types = [t.value for t in VerifierType if t is not VerifierType.ENTRUSTING_BUSINESS]
        w.writerow(["year", "category", "title", "rule", "provided", "refused", *[f"provided:{t}" for t in types]])
        for r in self.rows:
            w.writerow(
                [
                    self.year,
                    r.category.value,
                    r.category.title,
                    r.category.rule,
                    r.provided,
                    r.refused,
                    *[r.by_type.get(t, 0) for t in types],
                ]
            )
        w.writerow([self.year, UNRECOGNISED, UNRECOGNISED_TITLE, "R-VER-6", 0, self.unrecognised, *[0 for _ in types]])
        w.writerow(
            [
                self.year,
                "total",
                "合計",
                "R-VER-6",
                self.total_provided,
                self.total_refused,
                *[sum(r.by_type.get(t, 0) for r in self.rows) for t in types],
            ]
        )
        # The validity centres' counts: outside the log's total; the per-type columns stay
        # empty because the centres do not count per verifier. "refused" of the OCSP line
        # is the requests the centres answered with an error.
        blank = ["" for _ in types]
        w.writerow([self.year, "centre-ocsp", CENTRE_OCSP_TITLE, "R-VER-6, R-REV-10", self.centre_ocsp, self.centre_errors, *blank])
        for c in self.centres:
            w.writerow([self.year, f"centre-ocsp:{c.centre}", CENTRE_OCSP_TITLE, "R-VER-6, R-REV-10", c.ocsp, c.errors, *blank])
        w.writerow([self.year, "centre-crl", CENTRE_CRL_TITLE, "R-VER-6, R-REV-10", self.centre_crl, "", *blank])
        for c in self.centres:
            w.writerow([self.year, f"centre-crl:{c.centre}", CENTRE_CRL_TITLE, "R-VER-6, R-REV-10", c.crl, "", *blank])
        return buf.getvalue()

    def pdf(self) -> bytes:
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas

        _register_font()
        buf = io.BytesIO()
        c = canvas.Canvas(buf, pagesize=A4, invariant=1)
        c.setTitle(f"電子証明書等の提供状況 {self.year}")
        width, height = A4
        y = height - 60
        c.setFont(FONT_NAME, 15)
        c.drawString(50, y, f"{self.year}年 検証者への情報提供の状況")
        y -= 20
        c.setFont(FONT_NAME, 9)
        c.drawString(
            50,
            y,
            f"Provision to verifiers, {self.start:%Y-%m-%d} to {(self.end - dt.timedelta(days=1)):%Y-%m-%d} (JST). "
            "R-VER-6 / 公的個人認証法第41条",
        )
        y -= 28
        c.setFont(FONT_NAME, 9)
        c.drawString(50, y, "区分 / category")
        c.drawRightString(470, y, "提供件数 provided")
        c.drawRightString(545, y, "拒否 refused")
        y -= 6
        c.line(50, y, 545, y)
        for r in self.rows:
            y -= 16
            c.drawString(50, y, r.category.title)
            c.drawRightString(470, y, f"{r.provided:,}")
            c.drawRightString(545, y, f"{r.refused:,}")
        y -= 16
        c.drawString(50, y, UNRECOGNISED_TITLE)
        c.drawRightString(470, y, "0")
        c.drawRightString(545, y, f"{self.unrecognised:,}")
        y -= 8
        c.line(50, y, 545, y)
        y -= 16
        c.drawString(50, y, "合計 / total")
        c.drawRightString(470, y, f"{self.total_provided:,}")
        c.drawRightString(545, y, f"{self.total_refused:,}")
        y -= 36
        c.drawString(50, y, "検証センター経由の失効情報 (センター別集計、検証者別ではない)")
        y -= 12
        c.drawString(50, y, "Through the validity centres: counted per centre, not per verifier (not in the total above)")
        y -= 16
        c.drawString(60, y, "センター / centre")
        c.drawRightString(390, y, "OCSP")
        c.drawRightString(470, y, "CRL")
        c.drawRightString(545, y, "エラー errors")
        for row in [*self.centres, CentreCount("合計 / total", self.centre_ocsp, self.centre_crl, self.centre_errors)]:
            y -= 14
            c.drawString(60, y, row.centre)
            c.drawRightString(390, y, f"{row.ocsp:,}")
            c.drawRightString(470, y, f"{row.crl:,}")
            c.drawRightString(545, y, f"{row.errors:,}")
        y -= 36
        c.drawString(50, y, "登録検証者数 / registered verifiers (年末時点)")
        for vtype, n in sorted(self.verifiers.items()):
            y -= 14
            c.drawString(60, y, VerifierType(vtype).title)
            c.drawRightString(470, y, f"{n:,}")
        c.showPage()
        c.save()
        return buf.getvalue()


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return
    for pattern in FONT_GLOBS:
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            pdfmetrics.registerFont(TTFont(FONT_NAME, found[0]))
            return
    raise NotInitialised("font IPAexGothic not found: install the Debian package fonts-ipaexfont-gothic")


def provision_report(platform: Platform, year: int) -> ProvisionReport:
    if not isinstance(year, int) or not 2000 <= year <= 2200:
        raise InvalidInput("year must be between 2000 and 2200")
    start = dt.datetime(year, 1, 1, tzinfo=JST).astimezone(dt.timezone.utc)
    end = dt.datetime(year + 1, 1, 1, tzinfo=JST).astimezone(dt.timezone.utc)
    with platform.db.session() as s:
        counted = s.execute(
            select(mv.Provision.category, mv.Provision.outcome, mv.Verifier.type, func.count())
            .join(mv.Verifier, mv.Verifier.id == mv.Provision.verifier_id)
            .where(mv.Provision.at >= start, mv.Provision.at < end)
            .group_by(mv.Provision.category, mv.Provision.outcome, mv.Verifier.type)
        ).all()
        # Registered at the year end: registered before it and not terminated before it
        # (a suspended verifier is still registered).
        registered = dict(
            s.execute(
                select(mv.Verifier.type, func.count())
                .where(mv.Verifier.registered_at < end, (mv.Verifier.terminated_at.is_(None)) | (mv.Verifier.terminated_at >= end))
                .group_by(mv.Verifier.type)
            ).all()
        )
        centres = tuple(
            CentreCount(name, int(ocsp or 0), int(crl or 0), int(errors or 0))
            for name, ocsp, crl, errors in s.execute(
                select(CentreTraffic.centre, func.sum(CentreTraffic.ocsp), func.sum(CentreTraffic.crl), func.sum(CentreTraffic.errors))
                .where(CentreTraffic.minute >= start, CentreTraffic.minute < end)
                .group_by(CentreTraffic.centre)
                .order_by(CentreTraffic.centre)
            )
        )
    rows = []
    for op in Operation:
        provided = sum(n for cat, out, _t, n in counted if cat == op.value and out == "provided")
        refused = sum(n for cat, out, _t, n in counted if cat == op.value and out == "refused")
        by_type: dict[str, int] = {}
        for cat, out, vtype, n in counted:
            if cat == op.value and out == "provided":
                by_type[vtype] = by_type.get(vtype, 0) + n
        rows.append(ReportRow(op, provided, refused, by_type))
    unrecognised = sum(n for cat, out, _t, n in counted if cat == UNRECOGNISED and out == "refused")
    return ProvisionReport(year, start, end, rows, registered, unrecognised, centres)
