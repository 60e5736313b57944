"""The dashboard's SVG charts, read back as XML the way a browser and a screen reader would."""

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import Markup

from app.core.clock import clock
from app.ui.charts import Bar, Reference, Series, bar_chart, line_chart, paired_bar_chart, timeline

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2025, 1, 10, 9, 30, tzinfo=UTC)


def parse(chart: Markup) -> ET.Element:
    assert isinstance(chart, Markup)
    return ET.fromstring(str(chart))


def elements(root: ET.Element, tag: str, css_class: str | None = None) -> list[ET.Element]:
    found = root.iter(SVG + tag)
    return [e for e in found if css_class is None or css_class in e.get("class", "").split()]


def tooltip(element: ET.Element) -> str:
    title = element.find(SVG + "title")
    assert title is not None, f"{element.tag} has no <title>"
    return title.text or ""


def monthly(values: list[float], name: str = "Mean score") -> Series:
    return Series(name, [(T0 + timedelta(days=30 * i), v) for i, v in enumerate(values)])


def all_charts() -> Iterator[Markup]:
    bars = [Bar("Idea", 12), Bar("<b>&", 3)]
    yield bar_chart(bars, title="Funnel")
    yield bar_chart([], title="Funnel")
    yield paired_bar_chart([("EUR", 1, 2)], title="Benefit", first="Realized", second="Projected")
    yield paired_bar_chart([], title="Benefit", first="Realized", second="Projected")
    yield line_chart([monthly([1, 2, 3])], title="Trend", y_label="score", references=[Reference("Target", 5)])
    yield line_chart([], title="Trend", y_label="score")
    yield timeline([("idea", T0, T0 + timedelta(days=3)), ("poc", T0 + timedelta(days=3), None)], title="Stages")
    yield timeline([], title="Stages")


@pytest.mark.parametrize("chart", list(all_charts()))
def test_every_chart_is_well_formed_svg_without_style_or_script(chart: Markup) -> None:
    root = parse(chart)
    assert root.tag == SVG + "svg"
    assert not [e.tag for e in root.iter() if "style" in e.attrib or e.tag.endswith("script")]
    assert "style=" not in chart
    assert "<script" not in chart
    assert "viewBox" in root.attrib
    assert "preserveAspectRatio" in root.attrib
    assert "width" not in root.attrib
    assert "height" not in root.attrib
    assert "chart" in root.get("class", "").split()


@pytest.mark.parametrize("chart", list(all_charts()))
def test_every_chart_is_named_and_described_for_screen_readers(chart: Markup) -> None:
    root = parse(chart)
    assert root.get("role") in ("img", "figure")
    ids = {e.get("id"): e for e in root.iter() if e.get("id")}
    title, desc = ids[root.get("aria-labelledby")], ids[root.get("aria-describedby")]
    assert title.tag == SVG + "title"
    assert title.text
    assert desc.tag == SVG + "desc"
    assert desc.text
    assert list(root)[:2] == [title, desc]


def test_a_bar_chart_labels_each_bar_and_gives_its_exact_value_with_separators_and_unit() -> None:
    root = parse(bar_chart([Bar("Production", 12345), Bar("Pilot", 1.25)], title="Benefit", unit="EUR"))
    assert [e.text for e in elements(root, "text", "label")] == ["Production", "Pilot"]
    assert [e.text for e in elements(root, "text", "value")] == ["12,345 EUR", "1.25 EUR"]
    assert [tooltip(r) for r in elements(root, "rect")] == ["Production: 12,345 EUR", "Pilot: 1.25 EUR"]
    assert root.get("role") == "img"
    desc = root.find(SVG + "desc")
    assert desc is not None
    assert desc.text == "Production: 12,345 EUR; Pilot: 1.25 EUR."


def test_a_percentage_sticks_to_its_number() -> None:
    root = parse(bar_chart([Bar("Production ready", 40)], title="Levels", unit="%"))
    assert [e.text for e in elements(root, "text", "value")] == ["40%"]


def test_labels_and_titles_are_escaped() -> None:
    chart = bar_chart([Bar("<b>&", 3)], title='<script>"x"</script>', description="a < b")
    assert "<b>" not in chart
    assert "<script>" not in chart
    assert "&lt;b&gt;&amp;" in chart
    root = parse(chart)
    assert [e.text for e in elements(root, "text", "label")] == ["<b>&"]
    assert root.find(SVG + "title") is not None
    assert root.findtext(SVG + "title") == '<script>"x"</script>'
    assert root.findtext(SVG + "desc") == "a < b <b>&: 3."


def test_bars_are_as_long_as_their_values_and_keep_the_callers_classes() -> None:
    bars = [Bar("Idea", 40, "bar stage-idea"), Bar("PoC", 10, "bar stage-poc"), Bar("Pilot", 0, "bar stage-pilot")]
    rects = elements(parse(bar_chart(bars, title="Funnel")), "rect")
    widths = [float(r.get("width", "")) for r in rects]
    assert widths[1] / widths[0] == pytest.approx(10 / 40, rel=1e-3)
    assert widths[2] == 0
    assert [r.get("class") for r in rects] == ["bar stage-idea", "bar stage-poc", "bar stage-pilot"]
    assert len({r.get("x") for r in rects}) == 1


def test_max_value_sets_the_full_length_of_a_bar() -> None:
    longest = elements(parse(bar_chart([Bar("A", 40), Bar("B", 80)], title="Levels")), "rect")
    capped = elements(parse(bar_chart([Bar("A", 40), Bar("B", 20)], title="Levels", max_value=80)), "rect")
    assert capped[0].get("width") == longest[0].get("width")


def test_a_bar_with_an_href_is_a_link_and_the_chart_lets_it_be_reached() -> None:
    chart = bar_chart([Bar("Pilot", 3, href="/ui/?stage=pilot&region=eu"), Bar("Idea", 2)], title="Funnel")
    root = parse(chart)
    links = elements(root, "a")
    assert [link.get("href") for link in links] == ["/ui/?stage=pilot&region=eu"]
    assert links[0].get("aria-label") == "Pilot: 3"
    assert [tooltip(r) for r in elements(links[0], "rect")] == ["Pilot: 3"]
    # An ARIA img makes its children presentational, which would hide the link (axe: nested-interactive).
    assert root.get("role") == "figure"


@pytest.mark.parametrize("href", ["javascript:alert(1)", "data:text/html,x", " JavaScript:x"])
def test_a_link_that_would_run_code_is_refused(href: str) -> None:
    with pytest.raises(ValueError, match="scheme"):
        bar_chart([Bar("Pilot", 3, href=href.strip())], title="Funnel")


def test_a_long_label_is_shortened_on_the_chart_but_whole_in_the_tooltip_and_description() -> None:
    label = "Claims triage with a very long name that goes on and on for a while, longer than any column"
    root = parse(bar_chart([Bar(label, 1)], title="Benefit"))
    shown = elements(root, "text", "label")[0].text or ""
    assert shown.endswith("…")
    assert label.startswith(shown[:-1])
    assert tooltip(elements(root, "rect")[0]) == f"{label}: 1"
    assert label in (root.findtext(SVG + "desc") or "")


@pytest.mark.parametrize(
    ("render", "description"),
    [
        (lambda: bar_chart([], title="Funnel", description="Projects by stage."), "Projects by stage. No data."),
        (lambda: paired_bar_chart([], title="B", first="R", second="P"), "No data."),
        (lambda: line_chart([Series("KPI", [])], title="KPI", y_label="hours"), "No data."),
        (lambda: timeline([], title="Stages"), "No data."),
    ],
)
def test_an_empty_chart_says_no_data(render: Callable[[], Markup], description: str) -> None:
    root = parse(render())
    assert [e.text for e in elements(root, "text", "no-data")] == ["No data"]
    assert root.findtext(SVG + "desc") == description


def test_two_charts_on_one_page_share_no_id_and_the_same_chart_renders_the_same() -> None:
    page = [
        bar_chart([Bar("Idea", 1)], title="Funnel"),
        bar_chart([Bar("Idea", 2)], title="Funnel"),
        bar_chart([Bar("Idea", 1)], title="Levels"),
        line_chart([monthly([1, 2])], title="Funnel", y_label="n"),
        timeline([("idea", T0, T0 + timedelta(days=1))], title="Funnel"),
    ]
    ids = [e.get("id") for chart in page for e in parse(chart).iter() if e.get("id")]
    assert len(ids) == len(set(ids)) == 3 * len(page)
    assert bar_chart([Bar("Idea", 1)], title="Funnel") == page[0]


def test_paired_bars_have_a_legend_and_exact_values_per_row() -> None:
    rows = [("EUR", 12000.0, 20000.0), ("USD", 0.0, 5000.5)]
    root = parse(paired_bar_chart(rows, title="Benefit", first="Realized", second="Projected", unit="a month"))
    legend = elements(root, "g", "legend")[0]
    assert [e.text for e in elements(legend, "text")] == ["Realized", "Projected"]
    assert [g.get("class") for g in legend] == ["first", "second"]
    bars = list(elements(root, "rect", "bar"))
    assert [r.get("class") for r in bars] == ["bar first", "bar second"] * 2
    assert [tooltip(r) for r in bars] == [
        "EUR, Realized: 12,000 a month",
        "EUR, Projected: 20,000 a month",
        "USD, Realized: 0 a month",
        "USD, Projected: 5,000.5 a month",
    ]
    widths = [float(r.get("width", "")) for r in bars]
    assert widths[0] / widths[1] == pytest.approx(12000 / 20000, rel=1e-3)
    assert widths[3] / widths[1] == pytest.approx(5000.5 / 20000, rel=1e-3)
    assert [e.text for e in elements(root, "text", "label")] == ["EUR", "USD"]


def y_ticks(root: ET.Element) -> dict[float, float]:
    """Each y tick's value (from its label) and its height on the chart (from its gridline)."""
    axis = elements(root, "g", "y-axis")[0]
    ticks: dict[float, float] = {}
    for tick in elements(axis, "g", "tick"):
        text, grid = tick.findtext(SVG + "text") or "", elements(tick, "line", "grid")[0]
        assert grid.get("y1") == grid.get("y2")
        ticks[parse_tick(text)] = float(grid.get("y1", ""))
    return ticks


def parse_tick(text: str) -> float:
    factor = {"k": 1e3, "M": 1e6, "B": 1e9}.get(text[-1], 1.0)
    return float(text.rstrip("kMB")) * factor


def is_round(step: float) -> bool:
    mantissa = step / 10.0 ** math.floor(math.log10(step))
    return any(mantissa == pytest.approx(m) for m in (1, 2, 5))


@pytest.mark.parametrize(
    ("values", "references"),
    [
        ([40.0, 43.3, 51.2, 62.5], [80.0]),
        ([0.91, 0.93, 0.97], [0.9, 0.95]),
        ([1200.0, 13450.0, 8800.0], []),
        ([-3.0, 4.0], [0.0]),
        ([7.0, 7.0], []),
    ],
)
def test_y_ticks_are_round_evenly_spaced_and_cover_the_data_and_references(
    values: list[float], references: list[float]
) -> None:
    chart = line_chart(
        [monthly(values)], title="KPI", y_label="value", references=[Reference(f"r{v}", v) for v in references]
    )
    ticks = y_ticks(parse(chart))
    ordered = sorted(ticks)
    steps = {round(b - a, 9) for a, b in zip(ordered, ordered[1:], strict=False)}
    assert len(steps) == 1
    assert is_round(steps.pop())
    assert ordered[0] <= min(values + references)
    assert ordered[-1] >= max(values + references)
    assert 3 <= len(ordered) <= 11
    heights = [ticks[v] for v in ordered]
    assert heights == sorted(heights, reverse=True), "higher values are drawn higher up"


def test_tick_labels_are_short_and_exact_values_are_in_the_tooltips() -> None:
    root = parse(line_chart([monthly([1200, 13450.5])], title="Benefit", y_label="EUR a month"))
    labels = [t.findtext(SVG + "text") for t in elements(elements(root, "g", "y-axis")[0], "g", "tick")]
    assert labels == ["0", "5k", "10k", "15k"]
    points = elements(root, "circle", "point")
    assert [tooltip(p) for p in points] == ["Mean score, 10 Jan 2025: 1,200", "Mean score, 9 Feb 2025: 13,450.5"]
    axis_label = elements(root, "text", "axis-label")[0]
    assert axis_label.text == "EUR a month"
    assert "rotate(-90" in axis_label.get("transform", "")


def test_references_are_drawn_at_their_value_and_labelled() -> None:
    baseline, target = Reference("Baseline", 45, "reference baseline"), Reference("Target", 80, "reference target")
    root = parse(line_chart([monthly([40, 52, 61])], title="KPI", y_label="%", references=[baseline, target]))
    ticks = y_ticks(root)
    (low, y_low), (high, y_high) = sorted(ticks.items())[0], sorted(ticks.items())[-1]
    for ref in (baseline, target):
        group = elements(root, "g", ref.css_class.split()[-1])[0]
        assert group.get("class") == ref.css_class
        line = elements(group, "line", "reference-line")[0]
        expected = y_low + (ref.value - low) / (high - low) * (y_high - y_low)
        assert float(line.get("y1", "")) == pytest.approx(expected, abs=0.01)
        assert line.get("y1") == line.get("y2")
        assert tooltip(line) == f"{ref.label}: {ref.value:g}"
        assert elements(group, "text", "reference-label")[0].text == f"{ref.label}: {ref.value:g}"
    assert "Baseline: 45. Target: 80." in (root.findtext(SVG + "desc") or "")


def test_points_are_placed_in_time_order_and_joined_by_a_line_with_no_fill() -> None:
    root = parse(line_chart([monthly([3, 1, 2])], title="KPI", y_label="n"))
    xs = [float(p.get("cx", "")) for p in elements(root, "circle", "point")]
    assert xs == sorted(xs)
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1])
    line = elements(root, "polyline", "line")[0]
    assert line.get("fill") == "none"
    assert len((line.get("points") or "").split()) == 3


def test_one_point_is_a_marker_in_the_middle_without_a_line() -> None:
    root = parse(line_chart([monthly([42])], title="KPI", y_label="n"))
    assert elements(root, "polyline") == []
    [point] = elements(root, "circle", "point")
    grid = elements(root, "line", "grid")[0]
    middle = (float(grid.get("x1", "")) + float(grid.get("x2", ""))) / 2
    assert float(point.get("cx", "")) == pytest.approx(middle, abs=0.01)
    assert tooltip(point) == "Mean score, 10 Jan 2025: 42"
    x_ticks = [t.findtext(SVG + "text") for t in elements(elements(root, "g", "x-axis")[0], "g", "tick")]
    assert x_ticks == ["10 Jan 2025", "11 Jan"]
    assert "Mean score: 42 on 10 Jan 2025." in (root.findtext(SVG + "desc") or "")


def test_several_series_get_numbered_classes_and_a_legend() -> None:
    kpi = Series("Claims handled", monthly([1, 2]).points, "series kpi")
    root = parse(line_chart([monthly([3, 4]), kpi], title="Trend", y_label="n"))
    groups = [g for g in elements(root, "g") if "series" in g.get("class", "").split() and g.find(SVG + "rect") is None]
    assert [g.get("class") for g in groups] == ["series series-1", "series kpi series-2"]
    legend = elements(root, "g", "legend")[0]
    assert [e.text for e in elements(legend, "text")] == ["Mean score", "Claims handled"]


def test_the_date_axis_uses_months_over_months_and_years_over_years() -> None:
    def x_labels(days: int) -> list[str | None]:
        series = Series("s", [(T0, 1), (T0 + timedelta(days=days), 2)])
        root = parse(line_chart([series], title="T", y_label="n"))
        return [t.findtext(SVG + "text") for t in elements(elements(root, "g", "x-axis")[0], "g", "tick")]

    assert x_labels(400) == ["Mar 2025", "May", "Jul", "Sep", "Nov", "Jan 2026"]
    assert x_labels(20) == ["11 Jan 2025", "18 Jan", "25 Jan"]
    assert x_labels(4000) == ["2026", "2028", "2030", "2032", "2034"]


def test_start_and_end_fix_the_time_axis_and_leave_out_points_outside_it() -> None:
    series = monthly([1, 2, 3, 4])
    start, end = T0 + timedelta(days=20), T0 + timedelta(days=100)
    root = parse(line_chart([series], title="KPI", y_label="n", start=start, end=end))
    assert [tooltip(p) for p in elements(root, "circle", "point")] == [
        "Mean score, 9 Feb 2025: 2",
        "Mean score, 11 Mar 2025: 3",
        "Mean score, 10 Apr 2025: 4",
    ]
    grid = elements(root, "line", "grid")[0]
    left, right = float(grid.get("x1", "")), float(grid.get("x2", ""))
    xs = [float(p.get("cx", "")) for p in elements(root, "circle", "point")]
    assert xs[0] == pytest.approx(left + (right - left) * 10 / 80, abs=0.01)
    assert line_chart([series], title="KPI", y_label="n", start=T0 + timedelta(days=200)).count("No data") == 2


def test_a_timeline_draws_consecutive_segments_up_to_now_for_the_current_stage() -> None:
    now = clock.now()
    stages = [
        ("idea", now - timedelta(days=100), now - timedelta(days=60)),
        ("poc", now - timedelta(days=60), now - timedelta(days=20)),
        ("pilot", now - timedelta(days=20), None),
    ]
    root = parse(timeline(stages, title="Stages of <CLM-1>"))
    segments = elements(root, "rect", "segment")
    assert [s.get("class") for s in segments] == ["segment stage-idea", "segment stage-poc", "segment stage-pilot"]
    edges = [(float(s.get("x", "")), float(s.get("x", "")) + float(s.get("width", ""))) for s in segments]
    assert edges[0][1] == pytest.approx(edges[1][0], abs=0.01)
    assert edges[1][1] == pytest.approx(edges[2][0], abs=0.01)
    widths = [b - a for a, b in edges]
    assert widths[0] / widths[2] == pytest.approx(40 / 20, rel=0.01)
    assert [tooltip(s) for s in segments][1:] == [
        f"poc: from {day(now - timedelta(days=60))} to {day(now - timedelta(days=20))} (40 days)",
        f"pilot: since {day(now - timedelta(days=20))} (20 days)",
    ]
    assert [e.text for e in elements(root, "text", "segment-label")] == ["idea", "poc", "pilot"]
    assert root.findtext(SVG + "title") == "Stages of <CLM-1>"
    assert elements(elements(root, "g", "x-axis")[0], "g", "tick")


def test_a_stage_name_becomes_a_safe_class_name() -> None:
    root = parse(timeline([('Go "live" <now>', T0, T0 + timedelta(days=2))], title="Stages"))
    assert elements(root, "rect", "segment")[0].get("class") == "segment stage-go-live-now"


def day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def test_a_date_label_that_would_run_off_the_chart_hangs_inwards() -> None:
    midnight = datetime(2025, 1, 10, tzinfo=UTC)
    root = parse(line_chart([Series("KPI", [(midnight, 1)])], title="KPI", y_label="n"))
    labels = [t.find(SVG + "text") for t in elements(elements(root, "g", "x-axis")[0], "g", "tick")]
    assert [(e.text, e.get("text-anchor")) for e in labels if e is not None] == [
        # The y axis's margin leaves room for the first label to stay centred.
        ("9 Jan 2025", "middle"),
        ("10 Jan", "middle"),
        ("11 Jan", "end"),
    ]
