"""Charts for the screens, rendered on the server as inline SVG by pygal.

Server-side SVG keeps the console readable without JavaScript and lets the tests read the
plotted figures back out of the page. pygal's optional tooltip script is left out (js=[]):
it would be fetched from a CDN, and the screens must work offline.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import pygal
from pygal.style import Style

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#666",
    colors=("#1f5fa8", "#d1495b", "#2a9d8f", "#e9a23b", "#6c4f9c", "#555555"),
    font_family="'IPAexGothic', 'Noto Sans CJK JP', system-ui, sans-serif",
)


def _config(title: str, **kw) -> dict:
    return dict(
        title=title,
        style=_STYLE,
        js=[],
        disable_xml_declaration=True,
        width=760,
        height=320,
        legend_at_bottom=True,
        print_values=False,
        explicit_size=False,
        **kw,
    )


def _render(chart, css_id: str) -> str:
    # pygal also inlines its configuration for the tooltip script, which we do not load:
    # drop it, so the page carries no script at all.
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))
    # pygal gives every chart a random id; a stable, meaningful one lets tests and CSS find it.
    return f'<div class="chart" id="{css_id}" data-chart="{css_id}">{svg}</div>'


def stacked_bars(css_id: str, title: str, labels: Sequence[str], series: Mapping[str, Sequence[int]]) -> str:
    chart = pygal.StackedBar(**_config(title, x_label_rotation=45 if len(labels) > 10 else 0))
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _render(chart, css_id)


def bars(css_id: str, title: str, labels: Sequence[str], series: Mapping[str, Sequence[int | float | None]], **kw) -> str:
    chart = pygal.Bar(**_config(title, **kw))
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _render(chart, css_id)


def lines(css_id: str, title: str, labels: Sequence[str], series: Mapping[str, Sequence[int | None]]) -> str:
    chart = pygal.Line(**_config(title, x_label_rotation=45 if len(labels) > 12 else 0, show_dots=len(labels) <= 48))
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _render(chart, css_id)


def gauges(css_id: str, title: str, values: Mapping[str, tuple[float, float]]) -> str:
    """One half-ring per entry: value against its maximum (e.g. today's volume against capacity)."""
    chart = pygal.SolidGauge(**_config(title, half_pie=True, inner_radius=0.70, show_legend=True))
    for name, (value, maximum) in values.items():
        chart.add(name, [{"value": value, "max_value": maximum}])
    return _render(chart, css_id)
