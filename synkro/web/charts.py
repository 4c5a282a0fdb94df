"""Charts drawn on the server as SVG: a line chart with axes and a sparkline.

Why SVG from Python: the portal works offline and under a strict CSP (no script from a CDN, no
inline style), and a chart must be readable without JavaScript. Every chart is an
`<svg role="img">` named by its `<title>` and described by its `<desc>` (the values in words),
so a screen reader gets the figures; the look comes from classes in the page's stylesheet,
never from a `style` attribute. Missing values (a week without dialogs) break the line instead
of being drawn as zero. Every text in the markup is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

Format = Callable[[float], str]


def _plain(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Frame:
    """The drawing area inside the axes, in SVG user units."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float

    @property
    def inner_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def inner_height(self) -> float:
        return self.height - self.top - self.bottom


def _scale(values: Sequence[float | None], floor_zero: bool) -> tuple[float, float]:
    present = [v for v in values if v is not None]
    if not present:
        return 0.0, 1.0
    low, high = min(present), max(present)
    if floor_zero:
        low = min(0.0, low)
    if high == low:
        high = low + 1.0
    return low, high


def _segments(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    out: list[list[tuple[float, float]]] = [[]]
    for p in points:
        if p is None:
            if out[-1]:
                out.append([])
        else:
            out[-1].append(p)
    return [s for s in out if s]


def _points(
    values: Sequence[float | None], frame: Frame, low: float, high: float
) -> list[tuple[float, float] | None]:
    n = len(values)
    step = frame.inner_width / (n - 1) if n > 1 else 0.0
    out: list[tuple[float, float] | None] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
            continue
        x = frame.left + (step * i if n > 1 else frame.inner_width / 2)
        y = frame.top + frame.inner_height * (1 - (v - low) / (high - low))
        out.append((round(x, 1), round(y, 1)))
    return out


def _polyline(segment: list[tuple[float, float]]) -> str:
    return " ".join(f"{x},{y}" for x, y in segment)


def describe(labels: Sequence[str], values: Sequence[float | None], fmt: Format, missing: str) -> str:
    """The chart's values in words, for its `<desc>`: "label: value; …"."""
    return "; ".join(
        f"{lab}: {missing if v is None else fmt(v)}" for lab, v in zip(labels, values, strict=True)
    )


def line_chart(
    chart_id: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    x_label: str,
    y_label: str,
    missing: str = "—",
    fmt: Format = _plain,
    floor_zero: bool = True,
    width: int = 480,
    height: int = 200,
) -> Markup:
    """A line chart with a y axis (lowest and highest value), x labels (first, middle, last and
    every other when few) and axis titles. ``chart_id`` makes the title/desc ids unique on the
    page; it must be a fixed identifier of ours (letters, digits, dashes), never user input."""
    if len(labels) != len(values):
        raise ValueError("line_chart: one label per value")
    frame = Frame(width, height, left=52, right=14, top=14, bottom=44)
    low, high = _scale(values, floor_zero)
    points = _points(values, frame, low, high)
    ids = escape(f"{chart_id}-title {chart_id}-desc")
    x0, y0 = frame.left, frame.top + frame.inner_height
    x1 = frame.left + frame.inner_width
    parts = [
        f'<svg class="chart chart-line" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ids}" data-testid="chart" data-chart="{escape(chart_id)}">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(describe(labels, values, fmt, missing))}</desc>',
        f'<line class="chart-axis" x1="{x0}" y1="{frame.top}" x2="{x0}" y2="{y0}"/>',
        f'<line class="chart-axis" x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}"/>',
        f'<line class="chart-grid" x1="{x0}" y1="{frame.top}" x2="{x1}" y2="{frame.top}"/>',
        f'<text class="chart-tick" x="{x0 - 6}" y="{frame.top + 4}" text-anchor="end">'
        f"{escape(fmt(high))}</text>",
        f'<text class="chart-tick" x="{x0 - 6}" y="{y0}" text-anchor="end">{escape(fmt(low))}</text>',
    ]
    n = len(labels)
    shown = set(range(n)) if n <= 6 else {0, n // 2, n - 1}
    for i in sorted(shown):
        x = frame.left + (frame.inner_width * i / (n - 1) if n > 1 else frame.inner_width / 2)
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        parts.append(
            f'<text class="chart-tick" x="{round(x, 1)}" y="{y0 + 16}" text-anchor="{anchor}">'
            f"{escape(labels[i])}</text>"
        )
    parts.append(
        f'<text class="chart-label" x="{frame.left + frame.inner_width / 2}" y="{height - 4}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text class="chart-label" x="12" y="{frame.top + frame.inner_height / 2}" text-anchor="middle" '
        f'transform="rotate(-90 12 {frame.top + frame.inner_height / 2})">{escape(y_label)}</text>'
    )
    for segment in _segments(points):
        if len(segment) > 1:  # a lone value is its point below
            parts.append(f'<polyline class="chart-series" points="{_polyline(segment)}"/>')
    for (x, y), v in ((p, v) for p, v in zip(points, values, strict=True) if p is not None):
        parts.append(
            f'<circle class="chart-point" cx="{x}" cy="{y}" r="3"><title>{escape(fmt(v))}</title></circle>'
        )
    if not any(p is not None for p in points):
        parts.append(
            f'<text class="chart-empty" x="{frame.left + frame.inner_width / 2}" '
            f'y="{frame.top + frame.inner_height / 2}" text-anchor="middle">{escape(missing)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # every dynamic text above is escaped


def sparkline(
    chart_id: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    missing: str = "—",
    fmt: Format = _plain,
    width: int = 120,
    height: int = 32,
) -> Markup:
    """A small line without axes for lists; its `<desc>` still holds every value."""
    if len(labels) != len(values):
        raise ValueError("sparkline: one label per value")
    frame = Frame(width, height, left=3, right=3, top=3, bottom=3)
    low, high = _scale(values, floor_zero=False)
    points = _points(values, frame, low, high)
    ids = escape(f"{chart_id}-title {chart_id}-desc")
    parts = [
        f'<svg class="chart chart-spark" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{ids}" '
        f'data-testid="sparkline" data-chart="{escape(chart_id)}">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(describe(labels, values, fmt, missing))}</desc>',
    ]
    for segment in _segments(points):
        if len(segment) == 1:
            x, y = segment[0]
            parts.append(f'<circle class="chart-point" cx="{x}" cy="{y}" r="2"/>')
        else:
            parts.append(f'<polyline class="chart-series" points="{_polyline(segment)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # every dynamic text above is escaped
