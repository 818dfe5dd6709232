"""Geometry for the small SVG pictures the templates draw (no JavaScript, no CDN).

Each function returns plain numbers; the templates turn them into <svg> elements and
keep a table or list beside each picture for readers who cannot see it.

Every picture is drawn WIDTH units wide, with text of FONT units (site.css sets chart
text to 12px, which inside an SVG means 12 units). A picture is scaled to the width it is
shown at, text included: on a 390 px phone that is NARROWEST px, so it is drawn no wider
than that and its text is never smaller than 12 px; site.css stops it growing much
on wide screens.
"""

import datetime
import math
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from django.utils.html import escape
from django.utils.safestring import mark_safe

from .fetching import is_web_url

# A 390 px screen less the page's padding (2 x 16), the figure's (2 x 8) and border (2 x 1).
NARROWEST = 340
WIDTH = 300
FONT = 12


def _n(value: float) -> str:
    """A coordinate as SVG wants it; a string, so templates need not localise it."""
    return f"{value:.1f}"


def text_width(text: str, font: float = FONT) -> float:
    """A generous estimate of how wide a line of text is drawn in a sans-serif font:
    the layouts below keep labels apart by it."""
    width = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in "WF":
            width += 1.0
        elif char.isspace():
            width += 0.35
        elif char.isupper() or char.isdigit() or char in "mw@%&":
            width += 0.74
        else:
            width += 0.6
    return width * font


def fit(text: str, width: float, font: float = FONT) -> str:
    """The text, shortened with an ellipsis where it would be wider than `width`."""
    if text_width(text, font) <= width:
        return text
    while text and text_width(text + "…", font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


# Colour-blind-safe palette (Okabe–Ito), the yellow last: it is faint on white.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"]


def authority_colour(rank: int) -> str:
    """The colour of the authority at that place in the order of creation, in every
    chart: a colour follows its authority whatever the filters leave."""
    return PALETTE[rank % len(PALETTE)]


def swatch(colour: str) -> str:
    """A square of the colour as an image URL, for legends: the policy refuses inline
    styles, and a legend's own <svg> would be stretched by site.css's chart rules."""
    square = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 10 10'>"
        f"<rect width='10' height='10' fill='{colour}'/></svg>"
    )
    return "data:image/svg+xml," + quote(square)


@dataclass(frozen=True)
class LegendItem:
    colour: str
    name: str

    @property
    def swatch(self) -> str:
        return swatch(self.colour)


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
    legend: list[LegendItem]  # a colour per authority
    columns: list[str]
    years: list[tuple[int, list[int], int]]

    @property
    def axis_y(self) -> int:
        return self.height - YEAR_CHART_BOTTOM

    # The shapes and table cells are joined here rather than in a template loop: a
    # chart of 25 years by 10 authorities has hundreds of them, and Django's template
    # engine would spend more time on them than the database spends on the page. Only
    # text is escaped: coordinates are numbers formatted by _n(), counts are ints, and
    # colours come from PALETTE.
    def shapes(self) -> str:
        rects = "".join(
            f'<rect x="{b.x}" y="{b.y}" width="{b.width}" height="{b.height}"'
            f' fill="{escape(b.colour)}"><title>{escape(b.title)}</title></rect>'
            for b in self.bars
        )
        labels = "".join(
            f'<text x="{x}" y="{self.height - 6}" text-anchor="middle">{escape(year)}</text>'
            for x, year in self.labels
        )
        return mark_safe(rects + labels)  # noqa: S308 (every text part escaped above)

    def table_rows(self) -> str:
        return mark_safe(  # noqa: S308 (ints only)
            "".join(
                f'<tr><th scope="row">{int(year)}</th>'
                + "".join(f"<td>{int(n)}</td>" for n in counts)
                + f"<td>{int(total)}</td></tr>"
                for year, counts, total in self.years
            )
        )


YEAR_CHART_HEIGHT = 170
YEAR_CHART_BOTTOM = 22  # room for the year labels under the axis


def year_chart(
    columns: list[str], years: list[tuple[int, list[int], int]], colours: list[str]
) -> YearChart:
    """Stacked bars of actions per year, one colour per authority (``colours``, one a
    column); years are labelled as often as their labels fit, the latest always."""
    width, height = WIDTH, YEAR_CHART_HEIGHT
    if not years:
        return YearChart(width, height, [], [], [], columns, years)
    first, last = years[0][0], years[-1][0]
    counts = {year: counts for year, counts, _ in years}
    all_years = list(range(first, last + 1))
    max_total = max(total for _, _, total in years)
    top, bottom = 8, YEAR_CHART_BOTTOM
    slot = width / len(all_years)
    bar_width = min(36.0, slot * 0.7)
    scale = (height - top - bottom) / max_total
    bars = []
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
                    colour=colours[column],
                    title=f"{year}: {count} by {columns[column]}",
                )
            )
    labels = _year_labels(all_years, slot, width)
    legend = [LegendItem(colour, name) for colour, name in zip(colours, columns, strict=True)]
    return YearChart(width, height, bars, labels, legend, columns, years)


def _year_labels(years: list[int], slot: float, width: float) -> list[tuple[str, str]]:
    """(x, year) of the labels under year slots: every few years as their width allows,
    counted back from the latest, which is always labelled; none cut by an edge or
    touching its neighbour."""
    label_width = text_width(str(years[-1]))
    every = math.ceil((label_width + FONT / 2) / slot)
    labels, room = [], width
    for index in range(len(years) - 1, -1, -every):
        centre = min(max(index * slot + slot / 2, label_width / 2), width - label_width / 2)
        if centre + label_width / 2 <= room:
            labels.append((_n(centre), str(years[index])))
            room = centre - label_width / 2 - FONT / 2
    return labels[::-1]


@dataclass(frozen=True)
class Mark:
    x: str
    row: int  # 0: the entity's actions, 1: coverage
    colour: str
    title: str
    url: str


def timeline(events: list[tuple[datetime.date, int, str, str, str]]) -> dict | None:
    """Marks on a time axis for (date, row, colour, title, url) events; years are
    labelled as often as their labels fit."""
    if not events:
        return None
    start = min(event[0] for event in events)
    end = max(event[0] for event in events)
    start = datetime.date(start.year, 1, 1)
    end = datetime.date(end.year + 1, 1, 1)
    width, margin = WIDTH, 20
    span = (end - start).days

    def x_of(day):
        return margin + (day - start).days / span * (width - 2 * margin)

    marks = [
        Mark(_n(x_of(day)), row, colour, title, url) for day, row, colour, title, url in events
    ]
    year_width = x_of(datetime.date(start.year + 1, 1, 1)) - x_of(start)
    every = math.ceil((text_width(str(end.year)) + FONT / 2) / year_width)
    ticks = [
        (_n(x_of(datetime.date(year, 1, 1))), str(year) if (end.year - year) % every == 0 else "")
        for year in range(start.year, end.year + 1)
    ]
    return {"width": width, "height": 90, "marks": _mark_shapes(marks), "ticks": ticks}


def _linkable(url: str) -> bool:
    own_page = url.startswith("/") and not url.startswith("//")
    return own_page or is_web_url(url)


def _mark_shapes(marks: list[Mark]) -> str:
    """The marks as SVG, joined here as YearChart.shapes() is: an entity with a few
    hundred articles has a mark for each. Text is escaped; a mark links to a page of
    this site or a web URL, nothing else."""
    return mark_safe(  # noqa: S308 (every text part escaped)
        "".join(
            f'<a href="{escape(mark.url if _linkable(mark.url) else "")}">'
            f'<circle cx="{mark.x}" cy="{44 if mark.row else 20}" r="{4 if mark.row else 7}"'
            f' fill="{escape(mark.colour)}" fill-opacity="0.85">'
            f"<title>{escape(mark.title)}</title></circle></a>"
            for mark in marks
        )
    )


@dataclass(frozen=True)
class Node:
    x: str
    y: str
    label_x: str
    label_y: str
    label: str
    url: str
    centre: bool
    relation: str = ""  # how the related entity stands to this one, under its name
    relation_y: str = ""
    title: str = ""  # the whole name and relation, where the label is shortened


@dataclass(frozen=True)
class Edge:
    points: str
    title: str


@dataclass(frozen=True)
class Network:
    width: int
    height: int
    nodes: list[Node]
    edges: list[Edge]
    more: str  # "and 3 more" when not every related entity fits
    more_y: str

    def label_boxes(self) -> list[tuple[float, float, float, float]]:
        """(left, top, right, bottom) of every text, as drawn (anchored at its start)."""
        lines = [(node.label_x, node.label_y, node.label) for node in self.nodes]
        lines += [(node.label_x, node.relation_y, node.relation) for node in self.nodes]
        lines += [(str(NETWORK_TEXT_X), self.more_y, self.more)]
        return [
            (float(x), float(y) - FONT, float(x) + text_width(text), float(y) + FONT / 4)
            for x, y, text in lines
            if text
        ]


NETWORK_SHOWN = 12  # related entities drawn; the list under the picture names all
NETWORK_ROW = 36  # a related entity's two lines: its name and its relation
NETWORK_TEXT_X = 48


def network(centre: tuple[str, str], neighbours: list[tuple[str, str, str]]) -> Network | None:
    """The entity at the top, its related entities under it as branches of a tree, each
    with its name and relation on lines of their own, so that no two labels meet
    whatever their number or length."""
    if not neighbours:
        return None
    width, centre_x, node_x, text_x = WIDTH, 12, 36, NETWORK_TEXT_X
    room = width - text_x - 4
    nodes = [
        Node(
            _n(centre_x),
            _n(16),
            _n(centre_x + 14),
            _n(16 + FONT * 0.35),
            fit(centre[0], width - centre_x - 18),
            centre[1],
            True,
            title=centre[0],
        )
    ]
    edges = []
    shown = neighbours[:NETWORK_SHOWN]
    for index, (label, url, relation) in enumerate(shown):
        y = 16 + NETWORK_ROW * (index + 1)
        nodes.append(
            Node(
                _n(node_x),
                _n(y),
                _n(text_x),
                _n(y + FONT * 0.35),
                fit(label, room),
                url,
                False,
                relation=fit(relation, room),
                relation_y=_n(y + FONT * 0.35 + FONT * 1.3),
                title=f"{label}: {relation}",
            )
        )
        edges.append(
            Edge(f"{_n(centre_x)},{_n(16)} {_n(centre_x)},{_n(y)} {_n(node_x)},{_n(y)}", label)
        )
    bottom = 16 + NETWORK_ROW * len(shown) + FONT * 1.3 + 10
    more, more_y = "", ""
    if len(neighbours) > len(shown):
        more = f"and {len(neighbours) - len(shown)} more, listed below"
        more_y = _n(bottom + FONT)
        bottom += FONT * 1.5
    return Network(width, math.ceil(bottom), nodes, edges, more, more_y)
