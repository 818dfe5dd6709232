"""Geometry for the small SVG pictures the templates draw (no JavaScript, no CDN).

Each function returns plain numbers; the templates turn them into <svg> elements and
keep a table or list beside each picture for readers who cannot see it.
"""

import datetime
import math
from dataclasses import dataclass

from django.utils.html import format_html_join


def _n(value: float) -> str:
    """A coordinate as SVG wants it; a string, so templates need not localise it."""
    return f"{value:.1f}"


# Colour-blind-safe palette (Okabe–Ito), one colour per authority in a chart.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    colour: str
    title: str


@dataclass(frozen=True)
class YearChart:
    width: int
    height: int
    bars: list[Bar]
    labels: list[tuple[str, str]]  # x of the label's centre, year
    legend: list[tuple[str, str]]  # colour, authority
    columns: list[str]
    years: list[tuple[int, list[int], int]]

    # The shapes and table cells are joined here rather than in a template loop: a
    # chart of 25 years by 10 authorities has hundreds of them, and Django's template
    # engine would spend more time on them than the database spends on the page.
    def shapes(self) -> str:
        rects = format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
            ((b.x, b.y, b.width, b.height, b.colour, b.title) for b in self.bars),
        )
        labels = format_html_join(
            "",
            '<text x="{}" y="{}" text-anchor="middle">{}</text>',
            ((x, self.height - 6, year) for x, year in self.labels),
        )
        return rects + labels

    def table_rows(self) -> str:
        return format_html_join(
            "",
            '<tr><th scope="row">{}</th>{}<td>{}</td></tr>',
            (
                (year, format_html_join("", "<td>{}</td>", ((n,) for n in counts)), total)
                for year, counts, total in self.years
            ),
        )


def year_chart(columns: list[str], years: list[tuple[int, list[int], int]]) -> YearChart:
    """Stacked bars of actions per year, one colour per authority."""
    if not years:
        return YearChart(640, 220, [], [], [], columns, years)
    first, last = years[0][0], years[-1][0]
    counts = {year: counts for year, counts, _ in years}
    all_years = list(range(first, last + 1))
    max_total = max(total for _, _, total in years)
    width, height, top, bottom = 640, 220, 10, 24
    slot = width / len(all_years)
    bar_width = min(48.0, slot * 0.7)
    scale = (height - top - bottom) / max_total
    bars, labels = [], []
    for index, year in enumerate(all_years):
        x = index * slot + (slot - bar_width) / 2
        y = height - bottom
        for column, count in enumerate(counts.get(year, [])):
            if not count:
                continue
            bar_height = count * scale
            y -= bar_height
            bars.append(
                Bar(
                    x=_n(x),
                    y=_n(y),
                    width=_n(bar_width),
                    height=_n(bar_height),
                    colour=PALETTE[column % len(PALETTE)],
                    title=f"{year}: {count} by {columns[column]}",
                )
            )
        labels.append((_n(index * slot + slot / 2), str(year)))
    legend = [(PALETTE[i % len(PALETTE)], name) for i, name in enumerate(columns)]
    return YearChart(width, height, bars, labels, legend, columns, years)


@dataclass(frozen=True)
class Mark:
    x: str
    row: int  # 0: the entity's actions, 1: coverage
    colour: str
    title: str
    url: str


def timeline(events: list[tuple[datetime.date, int, str, str, str]]) -> dict | None:
    """Marks on a time axis for (date, row, colour, title, url) events."""
    if not events:
        return None
    start = min(event[0] for event in events)
    end = max(event[0] for event in events)
    start = datetime.date(start.year, 1, 1)
    end = datetime.date(end.year + 1, 1, 1)
    width, margin = 640, 20
    span = (end - start).days

    def x_of(day):
        return _n(margin + (day - start).days / span * (width - 2 * margin))

    marks = [Mark(x_of(day), row, colour, title, url) for day, row, colour, title, url in events]
    ticks = [
        (x_of(datetime.date(year, 1, 1)), str(year)) for year in range(start.year, end.year + 1)
    ]
    return {"width": width, "height": 90, "marks": marks, "ticks": ticks}


@dataclass(frozen=True)
class Node:
    x: str
    y: str
    label_y: str
    label: str
    url: str
    centre: bool


def network(centre: tuple[str, str], neighbours: list[tuple[str, str, str]]) -> dict | None:
    """A star: the entity in the middle, related entities around it, edges labelled."""
    if not neighbours:
        return None
    width, height = 640, 320
    cx, cy, radius = width / 2, height / 2, min(width, height) / 2 - 40
    nodes = [Node(_n(cx), _n(cy), _n(cy + 22), centre[0], centre[1], True)]
    edges = []
    for index, (label, url, relation) in enumerate(neighbours):
        angle = 2 * math.pi * index / len(neighbours) - math.pi / 2
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        nodes.append(Node(_n(x), _n(y), _n(y + 22), label, url, False))
        edges.append(
            {"x1": _n(cx), "y1": _n(cy), "x2": _n(x), "y2": _n(y), "title": f"{label}: {relation}"}
        )
    return {"width": width, "height": height, "nodes": nodes, "edges": edges}
