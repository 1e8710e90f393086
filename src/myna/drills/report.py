"""A drill's report: ``report.json`` for machines, ``report.md`` for people, and
``timeline.svg``, requests per second with the fault and the repair marked."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pygal
from pygal.style import Style

_STYLE = Style(
    background="white",
    plot_background="white",
    colors=("#2e7d32", "#c62828", "#1565c0", "#ef6c00", "#616161"),
    font_family="sans-serif",
)


def _at(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds")


def timeline_svg(series: dict[str, list[int]], start: float, marks: list[tuple[float, str]], title: str) -> str:
    chart = pygal.Line(
        style=_STYLE,
        width=1000,
        height=380,
        title=title,
        x_title="seconds from the start of the load",
        y_title="requests per second",
        show_dots=False,
        stroke_style={"width": 1.5},
        show_minor_x_labels=False,
        legend_at_bottom=True,
        truncate_legend=-1,
    )
    n = len(next(iter(series.values()))) if series else 0
    chart.x_labels = [str(i) for i in range(n)]
    chart.x_labels_major = [str(i) for i in range(0, n, 10)]
    for name in ("counter ok", "counter failed", "verifier ok", "verifier failed"):
        chart.add(name, series.get(name, []))
    # The fault and the repair as spikes on their own series: pygal draws no vertical rules.
    peak = max([1] + [v for s in series.values() for v in s])
    events = [None] * n
    for t, _label in marks:
        i = int(t - start)
        if 0 <= i < n:
            events[i] = peak
    chart.add("fault / repair", events, stroke_style={"width": 3, "dasharray": "4,3"}, show_dots=True, dots_size=4)
    return chart.render(is_unicode=True)


def write(directory: Path, report: dict, series: dict[str, list[int]], start: float, marks: list[tuple[float, str]]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "report.json", directory / "report.md", directory / "timeline.svg"]
    paths[0].write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    paths[2].write_text(timeline_svg(series, start, marks, f"drill {report['scenario']}"))
    paths[1].write_text(markdown(report))
    return paths


def markdown(r: dict) -> str:
    verdict = "PASSED" if r["passed"] else "FAILED"
    lines = [
        f"# Drill `{r['scenario']}`: {verdict}",
        "",
        f"{r['title']}. Fault: {r['fault']}.",
        "",
        f"Run {r['run_id']}, {r['started_at']} to {r['ended_at']} (UTC), load: {r['load']['workers']} workers.",
        "",
        "| promise | figure | held |",
        "| --- | --- | --- |",
    ]
    for p in r["promises"]:
        lines.append(f"| {p['promise']} | {p['figure']} | {'yes' if p['held'] else '**no**'} |")
    lines += [
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| requests | {r['requests']} |",
        f"| errors (failed attempts, each retried) | {r['errors']} |",
        f"| availability over the drill, counter / verifier | {_pct(r['availability_by_service'].get('counter'))} / "
        f"{_pct(r['availability_by_service'].get('verifier'))} |",
        f"| time to recover, counter / verifier (s) | {_s(r['rto_by_service'].get('counter'))} / "
        f"{_s(r['rto_by_service'].get('verifier'))} |",
        f"| acknowledged: issuances, revocations, events, applications | {r['acknowledged']['issuances']}, "
        f"{r['acknowledged']['revocations']}, {r['acknowledged']['events']}, {r['acknowledged']['applications']} |",
        f"| given up (no acknowledgement within {r['load']['patience_s']:.0f} s) | {len(r['given_up'])} |",
        "",
        "## Timeline",
        "",
        "![requests per second](timeline.svg)",
        "",
        "| seconds | event |",
        "| --- | --- |",
    ]
    for e in r["timeline"]:
        lines.append(f"| {e['t']:.1f} | {e['event']} |")
    if r["lost"] or r["twice"] or r["good_after_bound"]:
        lines += ["", "## What went wrong", ""]
        lines += [f"- lost: {x}" for x in r["lost"][:20]]
        lines += [f"- done twice: {x}" for x in r["twice"][:20]]
        lines += [f"- good after revocation: {x['serial']} by {x['centre']}" for x in r["good_after_bound"][:20]]
    return "\n".join(lines) + "\n"


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.3f} %"


def _s(v: float | None) -> str:
    return "never" if v is None else f"{v:.1f}"


__all__ = ["write", "markdown", "timeline_svg", "_at"]
