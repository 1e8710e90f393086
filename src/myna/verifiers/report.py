"""The annual report on provision to verifiers (R-VER-6, Art. 41): counts per category
from the provision log, as CSV and as a PDF for publication.

Counts are computed from ``verifier_provisions`` in one query, so the report always
equals the log. The year is the calendar year in Japan time (JST). The PDF is drawn
with reportlab in IPAex Gothic (Debian package fonts-ipaexfont-gothic), embedded, so the
Japanese category names show in any reader.
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import io
from dataclasses import dataclass

from sqlalchemy import func, select

from myna.authority.platform import Platform
from myna.clock import JST
from myna.errors import InvalidInput, NotInitialised
from myna.store import models_verifiers as mv
from myna.verifiers.entitlements import Operation, VerifierType

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
class ProvisionReport:
    year: int
    start: dt.datetime
    end: dt.datetime
    rows: list[ReportRow]
    verifiers: dict[str, int]  # registered verifiers per type at the end of the year

    @property
    def total_provided(self) -> int:
        return sum(r.provided for r in self.rows)

    @property
    def total_refused(self) -> int:
        return sum(r.refused for r in self.rows)

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
            f"Provision to verifiers, {self.start:%Y-%m-%d} to {(self.end - dt.timedelta(days=1)):%Y-%m-%d} (JST). R-VER-6 / 公的個人認証法第41条",
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
        y -= 8
        c.line(50, y, 545, y)
        y -= 16
        c.drawString(50, y, "合計 / total")
        c.drawRightString(470, y, f"{self.total_provided:,}")
        c.drawRightString(545, y, f"{self.total_refused:,}")
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
        registered = dict(
            s.execute(select(mv.Verifier.type, func.count()).where(mv.Verifier.registered_at < end).group_by(mv.Verifier.type)).all()
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
    return ProvisionReport(year, start, end, rows, registered)
