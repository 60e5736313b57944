"""Charts as inline SVG, rendered by the service for the dashboard.

The pages run under a Content-Security-Policy that refuses inline script and `style=` attributes
(Chromium applies that to SVG too), so a chart carries only geometry as presentation attributes and
takes every colour from the stylesheet, through these classes:

- root: `chart chart-bar|chart-paired|chart-line|chart-timeline`; `no-data` on the empty message;
- bars: the caller's `Bar.css_class` (default `bar`); paired bars `bar first` / `bar second`;
  `label` and `value` texts; legend entries are `<g class="first|second|series ...">` holding a
  `rect.swatch`;
- line charts: `grid`, `axis`, `tick`, `axis-label`; each series a `<g>` with the caller's class
  and `series-1`, `series-2`, ... holding `polyline.line` and `circle.point`; each reference a
  `<g>` with the caller's class holding `line.reference-line` and `text.reference-label`;
- timelines: `segment stage-<name>`, `segment-label`.

A screen reader gets the title and a summary of the data in words (`<desc>`); a pointer gets each
exact value in a tooltip (a `<title>` inside the bar or point). Ids come from a hash of the chart's
title and data, so that several charts on one page never share one and a page renders the same
each time.
"""

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

from app.core.clock import clock
from app.ui.scales import (
    PAD,
    WIDTH,
    Columns,
    LabelRows,
    Linear,
    Plot,
    TimeScale,
    date,
    days,
    exact,
    fit,
    nice_ticks,
    text_width,
    tick,
    value_scale,
    with_unit,
    within,
)

FONT_SIZE = 13
ROW_HEIGHT = 30
BAR_HEIGHT = 20
PAIRED_ROW_HEIGHT = 42
PAIRED_BAR_HEIGHT = 16
LEGEND_HEIGHT = 26
NO_DATA = "No data"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    css_class: str = "bar"
    href: str | None = None


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, float]]
    css_class: str = "series"


@dataclass(frozen=True)
class Reference:
    label: str
    value: float
    css_class: str = "reference"


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str | None = None,
    unit: str = "",
    max_value: float | None = None,
) -> Markup:
    """Horizontal bars, one per row, each labelled and followed by its value; a bar with an href is a link."""
    chart_id = _chart_id("bar", title, description, unit, max_value, bars)
    if not bars:
        return _no_data("bar", chart_id, title, description)
    texts = [with_unit(exact(bar.value), unit) for bar in bars]
    columns = Columns.fit([bar.label for bar in bars], texts)
    scale = value_scale([bar.value for bar in bars], max_value, columns.bar_left, columns.bar_right)
    rows = [
        _bar_row(bar, text, y=PAD + index * ROW_HEIGHT, columns=columns, scale=scale)
        for index, (bar, text) in enumerate(zip(bars, texts, strict=True))
    ]
    summary = "; ".join(f"{bar.label}: {text}" for bar, text in zip(bars, texts, strict=True)) + "."
    return _svg(
        "bar",
        chart_id,
        title,
        _join(description, summary),
        height=2 * PAD + len(bars) * ROW_HEIGHT,
        body=rows,
        # An ARIA img hides its children, links included; a figure keeps the bars' links reachable.
        role="figure" if any(bar.href for bar in bars) else "img",
    )


def paired_bar_chart(
    rows: Sequence[tuple[str, float, float]],
    *,
    title: str,
    first: str,
    second: str,
    unit: str = "",
    description: str | None = None,
) -> Markup:
    """Two bars per row (classes `bar first` and `bar second`), with a legend naming the two."""
    chart_id = _chart_id("paired", title, description, first, second, unit, rows)
    if not rows:
        return _no_data("paired", chart_id, title, description)
    texts = [(with_unit(exact(a), unit), with_unit(exact(b), unit)) for _, a, b in rows]
    columns = Columns.fit([label for label, _, _ in rows], [text for pair in texts for text in pair])
    scale = value_scale([v for _, a, b in rows for v in (a, b)], None, columns.bar_left, columns.bar_right)
    body = [_legend([("first", first), ("second", second)], x=columns.bar_left, y=PAD)]
    top = PAD + LEGEND_HEIGHT
    for index, ((label, a, b), (a_text, b_text)) in enumerate(zip(rows, texts, strict=True)):
        y = top + index * PAIRED_ROW_HEIGHT
        second_top = y + PAIRED_BAR_HEIGHT + 2
        body.append(
            _el(
                "g",
                {"class": "row"},
                _label(label, columns, _baseline(y, 2 * PAIRED_BAR_HEIGHT + 2)),
                _bar("bar first", a, f"{label}, {first}: {a_text}", a_text, y, PAIRED_BAR_HEIGHT, scale),
                _bar("bar second", b, f"{label}, {second}: {b_text}", b_text, second_top, PAIRED_BAR_HEIGHT, scale),
            )
        )
    summary = "; ".join(
        f"{label}: {first} {a_text}, {second} {b_text}"
        for (label, _, _), (a_text, b_text) in zip(rows, texts, strict=True)
    )
    return _svg(
        "paired",
        chart_id,
        title,
        _join(description, summary + "."),
        height=top + len(rows) * PAIRED_ROW_HEIGHT,
        body=body,
    )


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str,
    references: Sequence[Reference] = (),
    description: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Markup:
    """Lines over time with a marker at each point, against horizontal reference lines (baseline, target).

    `start` and `end` fix the time axis, so that several charts line up; points outside it are left out.
    """
    chart_id = _chart_id("line", title, description, y_label, start, end, series, references)
    shown = [Series(s.name, [(t, v) for t, v in s.points if within(t, start, end)], s.css_class) for s in series]
    times = [t for s in shown for t, _ in s.points]
    if not times:
        return _no_data("line", chart_id, title, description)
    values = [v for s in shown for _, v in s.points] + [r.value for r in references]
    y_ticks = nice_ticks(min(values), max(values))
    tick_texts = [tick(t, y_ticks[1] - y_ticks[0]) for t in y_ticks]
    legend = len(shown) > 1
    # Room above the top gridline for a reference's label when the reference is the highest value.
    top = PAD + FONT_SIZE + (LEGEND_HEIGHT if legend else 0)
    left = 2 * FONT_SIZE + text_width(max(tick_texts, key=len)) + PAD
    plot = Plot(left=left, right=WIDTH - 2 * PAD, top=top, bottom=top + 200)
    x = TimeScale.fit(start or min(times), end or max(times), plot.left, plot.right)
    y = Linear(y_ticks[0], y_ticks[-1], plot.bottom, plot.top)

    body: list[Markup] = []
    if legend:
        entries = [(f"{s.css_class} series-{i}", s.name) for i, s in enumerate(shown, start=1)]
        body.append(_legend(entries, x=plot.left, y=PAD))
    body.append(_y_axis(y_ticks, tick_texts, y, plot, y_label))
    body.append(_x_axis(x, plot))
    body.extend(_reference(ref, y(ref.value), plot) for ref in references)
    body.extend(_series(s, i, x, y) for i, s in enumerate(shown, start=1) if s.points)

    summary = " ".join([*(_series_summary(s) for s in shown), *(f"{r.label}: {exact(r.value)}." for r in references)])
    return _svg(
        "line",
        chart_id,
        title,
        _join(description, f"{y_label} over time. {summary}"),
        height=plot.bottom + 3 * PAD + FONT_SIZE,
        body=body,
    )


def timeline(stages: Sequence[tuple[str, datetime, datetime | None]], *, title: str) -> Markup:
    """A project's stages as consecutive segments (class `segment stage-<name>`); a stage not left runs to now."""
    chart_id = _chart_id("timeline", title, stages)
    if not stages:
        return _no_data("timeline", chart_id, title, None)
    now = clock.now()
    spans = [(name, entered, left or now, left is None) for name, entered, left in stages]
    plot = Plot(left=PAD, right=WIDTH - PAD, top=2 * PAD + 2 * FONT_SIZE + 4, bottom=2 * PAD + 2 * FONT_SIZE + 32)
    x = TimeScale.fit(min(s[1] for s in spans), max(s[2] for s in spans), plot.left, plot.right)
    label_rows = LabelRows(plot.right)
    body: list[Markup] = []
    periods: list[str] = []
    for name, entered, left, current in spans:
        x0, x1 = x(entered), x(left)
        period = f"since {date(entered)}" if current else f"from {date(entered)} to {date(left)}"
        periods.append(f"{name} {period}")
        label_x, row = label_rows.place(x0 + 2, text_width(name))
        body.append(
            _el(
                "g",
                {"class": "stage"},
                _el(
                    "rect",
                    {
                        "class": f"segment stage-{_class_name(name)}",
                        "x": x0,
                        "y": plot.top,
                        "width": max(x1 - x0, 1.0),
                        "height": plot.bottom - plot.top,
                    },
                    _el("title", {}, f"{name}: {period} ({days(left - entered)})"),
                ),
                _el("text", {"class": "segment-label", "x": label_x, "y": PAD + FONT_SIZE * (row + 1)}, name),
            )
        )
    body.append(_x_axis(x, plot))
    return _svg(
        "timeline", chart_id, title, "; ".join(periods) + ".", height=plot.bottom + 3 * PAD + FONT_SIZE, body=body
    )


# Numbers


# Scales and layout


# Pieces


def _svg(
    kind: str, chart_id: str, title: str, desc: str, *, height: float, body: Iterable[Markup], role: str = "img"
) -> Markup:
    return _el(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "id": chart_id,
            "class": f"chart chart-{kind}",
            "viewBox": f"0 0 {WIDTH} {_num(height)}",
            "preserveAspectRatio": "xMidYMid meet",
            "role": role,
            "aria-labelledby": f"{chart_id}-title",
            "aria-describedby": f"{chart_id}-desc",
            "font-size": FONT_SIZE,
        },
        _el("title", {"id": f"{chart_id}-title"}, title),
        _el("desc", {"id": f"{chart_id}-desc"}, desc),
        *body,
    )


def _no_data(kind: str, chart_id: str, title: str, description: str | None) -> Markup:
    height = 3 * FONT_SIZE
    message = _el(
        "text", {"class": "no-data", "x": WIDTH / 2, "y": height / 2 + FONT_SIZE / 3, "text-anchor": "middle"}, NO_DATA
    )
    return _svg(kind, chart_id, title, _join(description, f"{NO_DATA}."), height=height, body=[message])


def _bar_row(bar: Bar, text: str, *, y: float, columns: Columns, scale: Linear) -> Markup:
    tooltip = f"{bar.label}: {text}"
    parts = (
        _label(bar.label, columns, _baseline(y + (ROW_HEIGHT - BAR_HEIGHT) / 2, BAR_HEIGHT)),
        _bar(bar.css_class, bar.value, tooltip, text, y + (ROW_HEIGHT - BAR_HEIGHT) / 2, BAR_HEIGHT, scale),
    )
    if bar.href is None:
        return _el("g", {"class": "row"}, *parts)
    return _el("a", {"class": "row", "href": _safe_href(bar.href), "aria-label": tooltip}, *parts)


def _label(label: str, columns: Columns, baseline: float) -> Markup:
    return _el(
        "text",
        {"class": "label", "x": PAD + columns.label_width, "y": baseline, "text-anchor": "end"},
        fit(label, columns.label_width),
    )


def _bar(css_class: str, value: float, tooltip: str, text: str, y: float, height: float, scale: Linear) -> Markup:
    zero, end = scale(0.0), scale(value)
    return Markup("").join(
        (
            _el(
                "rect",
                {"class": css_class, "x": min(zero, end), "y": y, "width": abs(end - zero), "height": height},
                _el("title", {}, tooltip),
            ),
            _el("text", {"class": "value", "x": max(zero, end) + PAD / 2, "y": _baseline(y, height)}, text),
        )
    )


def _legend(entries: Sequence[tuple[str, str]], *, x: float, y: float) -> Markup:
    items: list[Markup] = []
    for css_class, name in entries:
        items.append(
            _el(
                "g",
                {"class": css_class},
                _el("rect", {"class": "swatch", "x": x, "y": y + 2, "width": FONT_SIZE, "height": FONT_SIZE}),
                _el("text", {"x": x + FONT_SIZE + PAD / 2, "y": y + FONT_SIZE}, name),
            )
        )
        x += FONT_SIZE + PAD / 2 + text_width(name) + 2 * PAD
    return _el("g", {"class": "legend"}, *items)


def _y_axis(ticks: Sequence[float], texts: Sequence[str], y: Linear, plot: Plot, label: str) -> Markup:
    marks = [
        _el(
            "g",
            {"class": "tick"},
            _el("line", {"class": "grid", "x1": plot.left, "x2": plot.right, "y1": y(tick), "y2": y(tick)}),
            _el("text", {"x": plot.left - PAD / 2, "y": y(tick) + FONT_SIZE / 3, "text-anchor": "end"}, text),
        )
        for tick, text in zip(ticks, texts, strict=True)
    ]
    middle = (plot.top + plot.bottom) / 2
    title = _el(
        "text",
        {
            "class": "axis-label",
            "x": FONT_SIZE,
            "y": middle,
            "text-anchor": "middle",
            "transform": f"rotate(-90 {_num(FONT_SIZE)} {_num(middle)})",
        },
        label,
    )
    return _el("g", {"class": "axis y-axis"}, title, *marks)


def _x_axis(x: TimeScale, plot: Plot) -> Markup:
    baseline = _el(
        "line", {"class": "axis-line", "x1": plot.left, "x2": plot.right, "y1": plot.bottom, "y2": plot.bottom}
    )
    marks = [
        _el(
            "g",
            {"class": "tick"},
            _el("line", {"x1": x(moment), "x2": x(moment), "y1": plot.bottom, "y2": plot.bottom + PAD / 2}),
            _el(
                "text",
                {"x": x(moment), "y": plot.bottom + PAD + FONT_SIZE, "text-anchor": _anchor(x(moment), text)},
                text,
            ),
        )
        for moment, text in x.ticks()
    ]
    return _el("g", {"class": "axis x-axis"}, baseline, *marks)


def _anchor(x: float, text: str) -> str:
    # A label centred on a tick at the chart's edge would be cut off; it hangs inwards instead.
    half = text_width(text) / 2
    return "start" if x - half < 0 else "end" if x + half > WIDTH else "middle"


def _reference(ref: Reference, y: float, plot: Plot) -> Markup:
    text = f"{ref.label}: {exact(ref.value)}"
    return _el(
        "g",
        {"class": ref.css_class},
        _el(
            "line",
            {"class": "reference-line", "x1": plot.left, "x2": plot.right, "y1": y, "y2": y},
            _el("title", {}, text),
        ),
        _el(
            "text",
            {"class": "reference-label", "x": plot.right - PAD / 2, "y": y - PAD / 2, "text-anchor": "end"},
            text,
        ),
    )


def _series(series: Series, index: int, x: TimeScale, y: Linear) -> Markup:
    coordinates = [(x(t), y(v)) for t, v in series.points]
    parts: list[Markup] = []
    if len(coordinates) > 1:
        points = " ".join(f"{_num(px)},{_num(py)}" for px, py in coordinates)
        # fill="none" is geometry, not colour: without it a polyline is painted as a closed black shape.
        parts.append(_el("polyline", {"class": "line", "fill": "none", "points": points}))
    for (moment, value), (px, py) in zip(series.points, coordinates, strict=True):
        tooltip = f"{series.name}, {date(moment)}: {exact(value)}"
        parts.append(_el("circle", {"class": "point", "cx": px, "cy": py, "r": 3.5}, _el("title", {}, tooltip)))
    return _el("g", {"class": f"{series.css_class} series-{index}"}, *parts)


def _series_summary(series: Series) -> str:
    points = series.points
    if not points:
        return f"{series.name}: no measurements."
    if len(points) == 1:
        return f"{series.name}: {exact(points[0][1])} on {date(points[0][0])}."
    values = [v for _, v in points]
    return (
        f"{series.name}: {len(points)} points from {date(points[0][0])} to {date(points[-1][0])}, "
        f"first {exact(values[0])}, last {exact(values[-1])}, "
        f"lowest {exact(min(values))}, highest {exact(max(values))}."
    )


# Markup


def _el(name: str, attributes: Mapping[str, str | float | None], *children: str | Markup) -> Markup:
    """An element with its attribute values and text children escaped; Markup children go in as they are."""
    attrs = Markup("").join(
        Markup(' {}="{}"').format(Markup(key), _num(value) if isinstance(value, float | int) else value)
        for key, value in attributes.items()
        if value is not None
    )
    if not children:
        return Markup("<{}{}/>").format(Markup(name), attrs)
    return Markup("<{0}{1}>{2}</{0}>").format(Markup(name), attrs, Markup("").join(escape(c) for c in children))


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _baseline(top: float, height: float) -> float:
    # Text sits on its baseline; about a third of the font size below the middle centres it on a bar.
    return top + height / 2 + FONT_SIZE / 3


def _join(*parts: str | None) -> str:
    return " ".join(part for part in parts if part)


def _class_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")


def _safe_href(href: str) -> str:
    # A javascript: or data: URL would run or render the caller's data; only paths and web links pass.
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", href)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise ValueError(f"refusing a chart link with scheme {scheme.group(1)!r}")
    return href


def _chart_id(kind: str, *content: object) -> str:
    return f"chart-{hashlib.sha256(repr((kind, *content)).encode()).hexdigest()[:12]}"
