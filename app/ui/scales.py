"""Numbers, scales and layout for the dashboard's SVG charts: nice ticks, time axes, text widths.
SVG text cannot be measured on the server, so layout estimates it from an average glyph."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WIDTH = 600
PAD = 8
# An average glyph at the charts' font size (13).
CHAR_WIDTH = 7.2
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# Day and month steps for date axes, tried in order until the ticks fit.
DAY_STEPS = (1, 2, 7, 14)


MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120)


MAX_DATE_TICKS = 6


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round ticks (1, 2 or 5 times a power of ten) from at or below `low` to at or above `high`."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("chart values must be finite")
    if low == high:
        pad = abs(low) / 10 or 1.0
        low, high = low - pad, high + pad
    step = nice_step((high - low) / count)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [to_step(i * step, step) for i in range(first, last + 1)]


def nice_step(raw: float) -> float:
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))


def to_step(value: float, step: float) -> float:
    # i * 0.1 is 0.30000000000000004; rounding to the step's precision gives the tick the reader sees.
    return round(value, max(0, -math.floor(math.log10(step))) + 1) + 0.0


def exact(value: float) -> str:
    """The value as a person reads it, with thousands separators and no float noise: 12,345.5."""
    if not math.isfinite(value):
        raise ValueError("chart values must be finite")
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def with_unit(text: str, unit: str) -> str:
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def tick(value: float, step: float) -> str:
    """A tick label in few characters (1.2k, 3M), with as many decimals as the step between ticks needs."""
    divisor, suffix = next(((d, s) for d, s in ((1e9, "B"), (1e6, "M"), (1e3, "k")) if abs(value) >= d), (1.0, ""))
    decimals = max(0, math.ceil(-math.log10(step / divisor) - 1e-9))
    text = f"{value / divisor:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("0" if text == "-0" else text) + suffix


def date(moment: datetime) -> str:
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def days(span: timedelta) -> str:
    return "1 day" if span.days == 1 else f"{span.days:,} days"


@dataclass(frozen=True)
class Linear:
    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


@dataclass(frozen=True)
class TimeScale:
    low: datetime
    high: datetime
    start: float
    end: float

    @classmethod
    def fit(cls, low: datetime, high: datetime, start: float, end: float) -> "TimeScale":
        # A single moment gets a day either side, so that its marker sits mid-axis between two dates.
        if high - low < timedelta(days=1):
            middle = low + (high - low) / 2
            low, high = middle - timedelta(days=1), middle + timedelta(days=1)
        return cls(low, high, start, end)

    def __call__(self, moment: datetime) -> float:
        return self.start + (moment - self.low) / (self.high - self.low) * (self.end - self.start)

    def ticks(self) -> list[tuple[datetime, str]]:
        """Midnights or first days of months, as many as fit, with the year on the first and on each January."""
        for step in DAY_STEPS:
            days = day_ticks(self.low, self.high, step)
            if len(days) <= MAX_DATE_TICKS:
                return [(day, f"{day.day} {MONTHS[day.month - 1]}" + year(day, i)) for i, day in enumerate(days)]
        for step in MONTH_STEPS[:-1]:
            months = month_ticks(self.low, self.high, step)
            if len(months) <= MAX_DATE_TICKS:
                return month_labels(months, step)
        return month_labels(month_ticks(self.low, self.high, MONTH_STEPS[-1]), MONTH_STEPS[-1])


def month_labels(months: Sequence[datetime], step: int) -> list[tuple[datetime, str]]:
    if step >= 12:
        return [(month, str(month.year)) for month in months]
    return [(month, MONTHS[month.month - 1] + year(month, i)) for i, month in enumerate(months)]


def year(moment: datetime, index: int) -> str:
    return f" {moment.year}" if index == 0 or moment.month == 1 and moment.day == 1 else ""


def day_ticks(low: datetime, high: datetime, step: int) -> list[datetime]:
    midnight = low.replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight if midnight >= low else midnight + timedelta(days=1)
    count = (high - first).days // step + 1
    return [first + timedelta(days=i * step) for i in range(max(count, 0))]


def month_ticks(low: datetime, high: datetime, step: int) -> list[datetime]:
    month = low.year * 12 + low.month - 1
    if low > month_start(low, month):
        month += 1
    month += -month % step
    ticks: list[datetime] = []
    while (moment := month_start(low, month)) <= high:
        ticks.append(moment)
        month += step
    return ticks


def month_start(like: datetime, month: int) -> datetime:
    return like.replace(year=month // 12, month=month % 12 + 1, day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Plot:
    left: float
    right: float
    top: float
    bottom: float


@dataclass(frozen=True)
class Columns:
    """A bar chart's three columns: labels, bars, and room after the longest bar for its value."""

    label_width: float
    bar_left: float
    bar_right: float

    @classmethod
    def fit(cls, labels: Sequence[str], values: Sequence[str]) -> "Columns":
        label_width = min(max(text_width(label) for label in labels), WIDTH * 0.35)
        value_width = max(text_width(value) for value in values) + PAD
        bar_left = PAD + label_width + PAD
        return cls(label_width, bar_left, WIDTH - PAD - value_width)


class LabelRows:
    """Puts each label on the first of two rows where it does not run into the label before it."""

    def __init__(self, right: float) -> None:
        self.right = right
        self.ends = [-math.inf, -math.inf]

    def place(self, x: float, width: float) -> tuple[float, int]:
        # The current stage starts near the right edge; its label is pulled back inside the chart.
        x = max(0.0, min(x, self.right - width))
        row = next((r for r, end in enumerate(self.ends) if x >= end), None)
        if row is None:
            # Both rows are taken here (stages a few days long): the label moves right of the nearer one.
            row = self.ends.index(min(self.ends))
            x = self.ends[row]
        self.ends[row] = x + width + PAD
        return x, row


def value_scale(values: Sequence[float], max_value: float | None, start: float, end: float) -> Linear:
    low = min(0.0, *values)
    high = max(0.0, *values, max_value or 0.0)
    return Linear(low, high if high > low else low + 1, start, end)


def text_width(text: str) -> float:
    return len(text) * CHAR_WIDTH


def fit(text: str, width: float) -> str:
    room = int(width / CHAR_WIDTH)
    return text if len(text) <= room else text[: max(room - 1, 1)] + "…"


def within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment <= end)
