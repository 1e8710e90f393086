"""The operations console: certificates by status, issuance per day, revocations by reason,
traffic per validity centre, and availability by the sources' formula with the outage log."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from myna.access.entitlements import Operation
from myna.access.roles import Principal, Role
from myna.cards import lead_time
from myna.clock import JST
from myna.errors import MynaError
from myna.operations.service import DAILY_CAPACITY, MONTHLY_CAPACITY, SERVICES, fiscal_year_start, provision_counts
from myna.pki.kinds import CertKind
from myna.pki.revocation import RevocationReason
from myna.web.deps import services
from myna.web.ui import charts, i18n
from myna.web.ui.frame import guard, lang_of, render

router = APIRouter(prefix="/ui/console", include_in_schema=False)
DAYS = 30
KINDS = [k.value for k in CertKind]


def _figures(request: Request) -> dict:
    sv = services(request)
    p = sv.platform
    ops = sv.operations
    lang = lang_of(request)
    t = lambda key: i18n.text(key, lang)  # noqa: E731
    now = p.clock.now()

    status = ops.certificate_status()
    kinds = [k for k in KINDS if k in status]  # holders' certificates; CA and responder certificates are on /
    status_chart = charts.stacked_bars(
        "chart-status",
        t("console.certs"),
        [t(f"kind.{k}") for k in kinds],
        {t(f"col.{s}"): [status[k][s] for k in kinds] for s in ("valid", "revoked", "expired")},
    )

    today = now.astimezone(JST).date()
    days = [(today - dt.timedelta(days=i)).isoformat() for i in range(DAYS - 1, -1, -1)]
    since = dt.datetime.combine(today - dt.timedelta(days=DAYS - 1), dt.time(), JST)
    issued = ops.issued_per_day(since)
    issued_kinds = [k for k in KINDS if any(k in issued.get(d, {}) for d in days)]
    issued_chart = charts.stacked_bars(
        "chart-issued",
        t("console.issued"),
        [d[5:] for d in days],
        {t(f"kind.{k}"): [issued.get(d, {}).get(k, 0) for d in days] for k in issued_kinds},
    )

    by_reason = ops.revocations_by_reason()
    reasons = [r.value for r in RevocationReason if r.value in by_reason]
    reason_chart = charts.bars(
        "chart-revoked",
        t("console.revoked"),
        [t(f"reason.{r}") for r in reasons],
        {t(f"kind.{k}"): [by_reason[r].get(k, 0) for r in reasons] for k in KINDS + ["ca"] if any(k in by_reason[r] for r in reasons)},
    )

    hours = [(now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=i)) for i in range(23, -1, -1)]
    traffic = ops.traffic_by_hour(hours[0])
    traffic_chart = (
        charts.lines(
            "chart-traffic",
            t("console.traffic"),
            [h.astimezone(JST).strftime("%H:00") for h in hours],
            {f"{centre} OCSP": [traffic[centre].get(h, (0, 0, 0))[0] for h in hours] for centre in sorted(traffic)}
            | {f"{centre} CRL": [traffic[centre].get(h, (0, 0, 0))[1] for h in hours] for centre in sorted(traffic)},
        )
        if traffic
        else None
    )

    avail = ops.availability(fiscal_year_start(now), now)
    ratios = [a.ratio * 100 for a in avail.values() if a.ratio is not None]
    floor = float(min([99] + [int(r) - 1 for r in ratios]))
    avail_chart = charts.bars(
        "chart-availability",
        t("console.availability"),
        [SERVICES[s][0 if lang == "ja" else 1] for s in SERVICES],
        {t("col.availability") + " (%)": [round(a.ratio * 100, 3) if a.ratio is not None else None for a in avail.values()]},
        range=(floor, 100.0),
        zero=floor,  # bars start near the lowest figure: the interesting band is 99.9 % and above
    )
    cards = _card_figures(sv, t, today, days, now)
    provisions = provision_counts(p, fiscal_year_start(now))
    categories = [o.value for o in Operation if o.value in provisions]
    provision_chart = charts.bars(
        "chart-provisions",
        t("console.provisions"),
        [_category_label(c, lang) for c in categories],
        {
            t("portal.outcome.provided"): [provisions[c]["provided"] for c in categories],
            t("portal.outcome.refused"): [provisions[c]["refused"] for c in categories],
        },
        x_label_rotation=30,
    )
    return {
        **cards,
        "provisions": provisions,
        "provision_categories": categories,
        "provision_titles": {o.value: o.title for o in Operation},
        "provision_chart": provision_chart,
        "kinds": kinds,
        "status": status,
        "status_chart": status_chart,
        "days": days,
        "issued": issued,
        "issued_kinds": issued_kinds,
        "issued_chart": issued_chart,
        "reasons": reasons,
        "by_reason": by_reason,
        "reason_chart": reason_chart,
        "hours": hours,
        "traffic": traffic,
        "traffic_chart": traffic_chart,
        "availability": avail,
        "availability_chart": avail_chart,
        "services": SERVICES,
        "outages": ops.outages(limit=50),
        "jst": JST,
    }


def _card_figures(sv, t, today: dt.date, days: list[str], now: dt.datetime) -> dict:
    figures = sv.card_figures
    per_day = figures.per_day(today - dt.timedelta(days=DAYS - 1))
    today_received = per_day.get(today.isoformat(), {}).get("received", 0)
    month_shipped = figures.month_shipped(now)
    volume_chart = charts.bars(
        "chart-volumes",
        t("console.volumes"),
        [d[5:] for d in days],
        {
            t("console.received"): [per_day.get(d, {}).get("received", 0) for d in days],
            t("console.shipped"): [per_day.get(d, {}).get("shipped", 0) for d in days],
        },
        x_label_rotation=45,
    )
    capacity_chart = charts.gauges(
        "chart-capacity",
        t("console.capacity"),
        {t("console.capacity.day"): (today_received, DAILY_CAPACITY), t("console.capacity.month"): (month_shipped, MONTHLY_CAPACITY)},
    )
    histogram = figures.lead_time_histogram()
    top = max([lead_time.STANDARD_DAYS] + [d for d, _ in histogram])
    lead_days = list(range(0, top + 1))
    lead_chart = charts.stacked_bars(
        "chart-lead-time",
        t("console.lead_time"),
        [str(d) for d in lead_days],
        {
            t("console.standard"): [histogram.get((d, False), 0) for d in lead_days],
            t("counter.express"): [histogram.get((d, True), 0) for d in lead_days],
        },
    )
    monthly = sv.applications.lead_time_report("month")
    return {
        "per_day": per_day,
        "today_received": today_received,
        "month_shipped": month_shipped,
        "daily_capacity": DAILY_CAPACITY,
        "monthly_capacity": MONTHLY_CAPACITY,
        "volume_chart": volume_chart,
        "capacity_chart": capacity_chart,
        "lead_histogram": histogram,
        "lead_chart": lead_chart,
        "lead_monthly": monthly,
        "alerts": sv.applications.alerts(),
        "limits": (lead_time.STANDARD_DAYS, lead_time.EXPRESS_DAYS),
    }


@router.get("")
def console(request: Request, who: Principal = Depends(guard(Role.OPERATOR, Role.AUDITOR)), saved: int = 0):
    return render(request, "console.html", **_figures(request), form={}, errors={}, saved=bool(saved), can_record=who.role is Role.OPERATOR)


def _local(value: str) -> dt.datetime:
    """A datetime-local form value, read as Japanese time."""
    return dt.datetime.fromisoformat(value).replace(tzinfo=JST)


@router.post("/outages")
def record_outage(
    request: Request,
    who: Principal = Depends(guard(Role.OPERATOR)),
    service: str = Form(""),
    started_at: str = Form(""),
    ended_at: str = Form(""),
    planned: str | None = Form(None),
    cause: str = Form(""),
):
    form = {"service": service, "started_at": started_at, "ended_at": ended_at, "planned": bool(planned), "cause": cause}
    errors: dict[str, str] = {}
    start = end = None
    if service not in SERVICES:
        errors["service"] = "form.error.required"
    try:
        start = _local(started_at)
    except ValueError:
        errors["started_at"] = "form.error.datetime" if started_at else "form.error.required"
    if ended_at:
        try:
            end = _local(ended_at)
        except ValueError:
            errors["ended_at"] = "form.error.datetime"
    if not cause.strip():
        errors["cause"] = "form.error.required"
    if not errors:
        try:
            services(request).operations.record_outage(service, start, end, bool(planned), cause, who.actor)
        except MynaError as e:  # the domain's own check (e.g. end before start): shown next to the form
            errors["_form"] = str(e)
    if errors:
        return render(request, "console.html", status_code=422, **_figures(request), form=form, errors=errors, saved=False, can_record=True)
    return RedirectResponse("/ui/console?saved=1#outages", status_code=303)


def _category_label(category: str, lang: str) -> str:
    """A provision category on the chart's axis: the Japanese or the English part of its
    title ("失効情報 (利用者証明用) / revocation status, user-auth"); a title with no English
    part is shown as it is in both languages."""
    japanese, _, english = Operation(category).title.partition(" / ")
    return japanese if lang == "ja" or not english else english
