"""The sign-up funnel as an inline SVG line chart: the geometry is computed here, the markup
is in templates/console/funnel.svg.html. No JavaScript, no charting library."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString

from admit.console.flows import FUNNEL_STEPS, Funnel

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 40
# Four colours told apart also by people with the common colour-vision deficiencies (Okabe-Ito),
# each dark enough for 3:1 against white; each series also has its own marker shape.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#6B3FA0")
MARKERS = ("circle", "square", "diamond", "triangle")


def marker(shape: str, colour: str, x: float, y: float) -> SafeString:
    """One data point's mark; the shapes tell the series apart without colour."""
    if shape == "circle":
        return format_html('<circle cx="{}" cy="{}" r="4" fill="{}"/>', _n(x), _n(y), colour)
    if shape == "square":
        return format_html(
            '<rect x="{}" y="{}" width="8" height="8" fill="{}"/>', _n(x - 4), _n(y - 4), colour
        )
    if shape == "diamond":
        return format_html(
            '<path d="M{} {} l5 5 l-5 5 l-5 -5 z" fill="{}"/>', _n(x), _n(y - 5), colour
        )
    return format_html('<path d="M{} {} l5 9 h-10 z" fill="{}"/>', _n(x), _n(y - 5), colour)


def _n(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    count: int
    label: str
    mark: SafeString


@dataclass(frozen=True)
class Series:
    step: str
    name: str
    colour: str
    marker: str
    points: list[Point]
    total: int

    @property
    def legend_mark(self) -> SafeString:
        return marker(self.marker, self.colour, 7, 7)

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    bottom_y: int
    right_x: int
    series: list[Series]
    y_ticks: list[tuple[float, int]]
    x_ticks: list[tuple[float, str]]


def funnel_chart(funnel: Funnel) -> Chart:
    top = max([1] + [max(values, default=0) for values in funnel.series.values()])
    step = max(1, -(-top // 4))  # four gridlines, whole numbers
    scale_max = step * 4
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(funnel.starts)

    def x(index: int) -> float:
        return LEFT + (plot_w * (index + 0.5) / n)

    def y(value: int) -> float:
        return TOP + plot_h - plot_h * value / scale_max

    labels = [f"{start:%b %-d}" for start in funnel.starts]
    prefix = "week of " if funnel.by == "week" else ""
    series = []
    for number, (step_id, name, _) in enumerate(FUNNEL_STEPS):
        values = funnel.series[step_id]
        points = [
            Point(
                x(i),
                y(v),
                v,
                f"{name}, {prefix}{labels[i]}: {v}",
                marker(MARKERS[number], COLOURS[number], x(i), y(v)),
            )
            for i, v in enumerate(values)
        ]
        series.append(Series(step_id, name, COLOURS[number], MARKERS[number], points, sum(values)))
    every = 1 if n <= 8 else 5
    x_ticks = [(x(i), labels[i]) for i in range(n) if i % every == 0 or i == n - 1]
    y_ticks = [(y(v), v) for v in range(0, scale_max + 1, step)]
    return Chart(WIDTH, HEIGHT, LEFT, TOP + plot_h, WIDTH - RIGHT, series, y_ticks, x_ticks)
