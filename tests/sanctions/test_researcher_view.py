"""What a researcher reads on the action list and an entity's page: filters in force as
chips, sorts and page sizes, charts readable on a phone with a table beside them, one
colour per authority, and names in the script they are written in."""

import datetime
import re
import xml.etree.ElementTree as ET
from html import unescape
from itertools import combinations
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from django.conf import settings
from django.http import QueryDict

from sanctions import charts
from sanctions.filters import ActionFilter
from sanctions.models import (
    Action,
    ActionKind,
    Alias,
    AliasKind,
    Relation,
    RelationKind,
    Script,
)

from .factories import make_action, make_authority, make_entity, make_legal_basis

pytestmark = pytest.mark.django_db

STATIC = Path(settings.BASE_DIR) / "static" / "sanctions"


@pytest.fixture
def actions():
    state = make_authority(slug="us-state", short_name="State", name="U.S. Department of State")
    bis = make_authority(slug="us-bis", short_name="BIS", name="Bureau of Industry and Security")
    eo = make_legal_basis(slug="eo-13382", short_name="E.O. 13382")
    pk, cn = make_entity(countries=["PK"]), make_entity(countries=["CN"])
    return {
        "one entity, 2024": make_action(
            title="One entity, 2024",
            authority=state,
            legal_bases=[eo],
            entities=[pk],
            announced_on=datetime.date(2024, 12, 18),
        ),
        "three entities, 2023": make_action(
            title="Three entities, 2023",
            authority=state,
            legal_bases=[eo],
            entities=[pk, cn, make_entity(countries=["CN"])],
            announced_on=datetime.date(2023, 10, 20),
        ),
        "two entities, 2024": make_action(
            title="Two entities, 2024",
            authority=bis,
            entities=[pk, cn],
            kind=ActionKind.ENTITY_LIST_ADDITION,
            announced_on=datetime.date(2024, 10, 21),
        ),
        "two entities, 2021": make_action(
            title="Two entities, 2021",
            authority=bis,
            entities=[cn, make_entity(countries=["PK"])],
            announced_on=datetime.date(2021, 11, 24),
        ),
    }


def _titles(response) -> list[str]:
    return [action.title for action in response.context["page"]]


def _chips(body: str) -> dict[str, tuple[str, str]]:
    """{filter name: (text, href)} of the chips on a page."""
    found = re.findall(r'<a href="\?([^"]*)" data-filter="([^"]+)"[^>]*>([^<]*)<', body)
    return {name: (unescape(text).strip(), unescape(href)) for href, name, text in found}


# Filters in force


def test_each_filter_in_force_is_a_chip_whose_link_drops_that_filter_only(client, actions):
    query = "authority=us-state&legal_basis=eo-13382&country=pk%20&date_from=2023-01-01&sort=oldest"

    response = client.get(f"/actions/?{query}")

    chips = _chips(response.content.decode())
    assert list(chips) == ["authority", "legal_basis", "country", "date_from"]
    # As the filter read the value: "pk " is Pakistan.
    assert chips["country"][0] == "Country: Pakistan (PK)"
    assert chips["authority"][0] == "Authority: U.S. Department of State"
    assert chips["legal_basis"][0] == "Legal basis: E.O. 13382"
    assert chips["date_from"][0] == "From: 2023-01-01"
    assert _titles(response) == ["Three entities, 2023", "One entity, 2024"]
    for name, (_, href) in chips.items():
        kept = parse_qs(href)
        assert name not in kept
        assert kept["sort"] == ["oldest"]  # the sort is kept; it is not a filter
        after = client.get(f"/actions/?{href}")
        assert name not in _chips(after.content.decode())
        assert len(_chips(after.content.decode())) == 3
    assert "(4 active)" in response.content.decode()


def test_a_value_the_filter_cleans_marks_its_facet_active(client, actions):
    facets = {f.name: f for f in client.get("/actions/?country=pk%20").context["facets"]}

    active = [value.label for value in facets["country"].values if value.active]

    assert active == ["Pakistan"]


def test_an_ignored_filter_value_is_no_chip_and_opens_the_filters(client, actions):
    body = client.get("/actions/?country=Pakistan&kind=designation").content.decode()

    assert list(_chips(body)) == ["kind"]
    assert '<details class="filters" open>' in body
    assert "two-letter ISO 3166-1 country code" in body


def test_the_filters_are_a_disclosure_counting_the_filters_in_force(client, actions):
    plain = client.get("/actions/").content.decode()
    filtered = client.get("/actions/?authority=us-bis&kind=designation").content.decode()

    # Closed, so that on a phone the first result is on the first screen (site.css
    # shows its content on wide screens whatever the attribute says).
    assert '<details class="filters">' in plain and "<summary>Filters</summary>" in plain
    assert '<details class="filters">' in filtered
    assert "<summary>Filters <span" in filtered and "(2 active)" in filtered
    assert filtered.index("details") < filtered.index('class="records"')


def test_the_year_facet_lists_the_newest_year_first(client, actions):
    facets = {f.name: f for f in client.get("/actions/").context["facets"]}

    assert [value.label for value in facets["year"].values] == ["2024", "2023", "2021"]


# Sort and page size


@pytest.mark.parametrize(
    ("sort", "titles"),
    [
        (
            "",
            [
                "One entity, 2024",
                "Two entities, 2024",
                "Three entities, 2023",
                "Two entities, 2021",
            ],
        ),
        (
            "newest",
            [
                "One entity, 2024",
                "Two entities, 2024",
                "Three entities, 2023",
                "Two entities, 2021",
            ],
        ),
        (
            "oldest",
            [
                "Two entities, 2021",
                "Three entities, 2023",
                "Two entities, 2024",
                "One entity, 2024",
            ],
        ),
        # Most entities first; among equals, the newest.
        (
            "entities",
            [
                "Three entities, 2023",
                "Two entities, 2024",
                "Two entities, 2021",
                "One entity, 2024",
            ],
        ),
    ],
)
def test_the_list_the_api_and_the_filter_sort_alike(client, actions, sort, titles):
    response = client.get("/actions/", {"sort": sort})
    api = client.get("/api/v1/actions/", {"sort": sort}).json()
    in_database = ActionFilter(QueryDict(f"sort={sort}"), queryset=Action.objects.published())

    assert _titles(response) == titles
    assert [action["title"] for action in api["results"]] == titles
    assert [action.title for action in in_database.qs] == titles


def test_sorting_changes_no_facet_count_and_the_sort_links_keep_the_filters(client, actions):
    def counts(query):
        facets = client.get(f"/actions/?{query}").context["facets"]
        return {(f.name, v.label): v.count for f in facets for v in f.values}

    assert counts("country=PK&sort=entities") == counts("country=PK")
    sorts = client.get("/actions/?country=PK&page=2").context["sorts"]
    assert [option.label for option in sorts] == ["Newest", "Oldest", "Most entities"]
    assert [option.active for option in sorts] == [True, False, False]
    assert parse_qs(sorts[2].query) == {"country": ["PK"], "sort": ["entities"]}


def test_an_unknown_sort_is_ignored_on_the_page_and_refused_by_the_api(client, actions):
    page = client.get("/actions/?sort=random")

    assert page.status_code == 200 and "sort" in page.context["filter"].form.errors
    assert _titles(page)[0] == "One entity, 2024"
    assert client.get("/api/v1/actions/?sort=random").status_code == 400


def test_page_size_is_chosen_bounded_and_a_bad_one_ignored(client, actions):
    def page(query):
        return client.get(f"/actions/?{query}")

    two = page("page_size=2&page=2")
    assert two.context["page"].paginator.per_page == 2
    assert _titles(two) == ["Three entities, 2023", "Two entities, 2021"]
    assert page("page_size=100000").context["page"].paginator.per_page == 100
    for bad in ["0", "-3", "abc", "1.5"]:
        response = page(f"page_size={bad}")
        assert response.status_code == 200
        assert response.context["page"].paginator.per_page == settings.PAGE_SIZE
        assert "page_size" in response.context["filter"].form.errors
    sizes = two.context["page_sizes"]
    assert [(o.label, o.active) for o in sizes] == [
        ("2", True),
        ("25", False),
        ("50", False),
        ("100", False),
    ]
    assert "page" not in parse_qs(sizes[1].query)


def test_the_api_reads_page_size_as_before_and_documents_sort(client, actions):
    assert len(client.get("/api/v1/actions/?page_size=3").json()["results"]) == 3
    assert client.get("/api/v1/actions/?page_size=0").status_code == 400

    schema = client.get("/api/schema/?format=json").json()
    parameters = schema["paths"]["/api/v1/actions/"]["get"]["parameters"]
    by_name = {}
    for parameter in parameters:
        by_name.setdefault(parameter["name"], []).append(parameter)
    assert len(by_name["page_size"]) == 1
    [sort] = by_name["sort"]
    assert sort["schema"]["enum"] == ["entities", "newest", "oldest"]
    assert "most entities" in sort["description"]


def test_feeds_and_exports_take_a_lists_sort_and_page_size_and_ignore_them(
    client, actions, fresh_cache_and_storage
):
    def get(url):
        response = client.get(url)
        assert response.status_code == 200, url
        if response.streaming:
            return b"".join(response.streaming_content)
        return response.content

    def entries(feed):
        return re.findall(rb"<entry>.*?<title>([^<]*)</title>", feed, re.S)

    plain = get("/feeds/actions.atom")
    arranged = get("/feeds/actions.atom?sort=oldest&page_size=1")
    assert entries(arranged) == entries(plain) and len(entries(plain)) == 4
    assert b"oldest" not in arranged.split(b"<entry>")[0]  # nor in the feed's title
    for name in ["actions.csv", "actions.json"]:
        whole = get(f"/exports/{name}?country=PK")
        assert get(f"/exports/{name}?country=PK&sort=entities&page_size=1") == whole
        assert whole.count(b"Two entities, 2021") >= 1
    assert client.get("/feeds/actions.atom?sort=random").status_code == 400
    assert client.get("/exports/actions.csv?page_size=0").status_code == 400


def test_the_list_links_its_feed_and_exports_without_sort_or_page_size(client, actions):
    body = client.get("/actions/?country=PK&sort=oldest&page_size=50").content.decode()

    assert 'href="/feeds/actions.atom?country=PK"' in body
    for name in ["actions.csv", "actions.json", "ftm.jsonl"]:
        assert f'href="/exports/{name}?country=PK"' in body


# Charts


def _svgs(body: str) -> list[ET.Element]:
    """The charts of a page (the <svg> elements in figures), parsed."""
    found = re.findall(r'<figure class="chart[^"]*">\s*(<svg.*?</svg>)', body, re.S)
    return [ET.fromstring(svg.replace("&nbsp;", " ")) for svg in found]


def test_chart_text_is_at_least_12_px_on_a_390_px_phone_and_on_wide_screens(client, actions):
    entity = make_entity(name="National Development Complex")
    suppliers = [make_entity(name=f"Supplier {i}") for i in range(3)]
    for supplier in suppliers:
        Relation.objects.create(subject=supplier, object=entity, kind=RelationKind.SUPPLIER_TO)
    make_action(entities=[entity, *suppliers], announced_on=datetime.date(2010, 1, 1))

    site_css = (STATIC / "site.css").read_text()
    # Chart text is 12px, which in an SVG is 12 units of its viewBox.
    assert re.search(r"figure\.chart text \{[^}]*font-size: 12px", site_css)
    # Shown at most 22.5rem (360 px) wide: never smaller than drawn.
    assert re.search(r"figure\.chart svg \{[^}]*width: 22\.5rem", site_css)
    # The narrowest a chart is shown: a 390 px screen less the page's padding (16 px
    # each side), the figure's (8 px) and its border (1 px).
    narrowest = 390 - 2 * 16 - 2 * 8 - 2 * 1
    widest = 22.5 * 16
    svgs = []
    for url in ["/", "/actions/", "/actions/?authority=us-bis", entity.get_absolute_url()]:
        svgs += _svgs(client.get(url).content.decode())
    assert len(svgs) == 5  # the year chart thrice, the network and the timeline

    for svg in svgs:
        view_width = float(svg.get("viewBox").split()[2])
        assert view_width <= narrowest
        for text in svg.iter("text"):
            assert text.get("font-size") is None and text.get("style") is None
            size = 12 * min(narrowest, widest) / view_width
            assert size >= 12, (text.text, size)


def test_each_authority_has_its_colour_on_every_chart_whatever_the_filter(client, actions):
    def colours(url):
        chart = client.get(url).context["chart"]
        return {item.name: item.colour for item in chart.legend}

    everything = colours("/")

    assert everything == colours("/actions/")
    assert len(set(everything.values())) == 2
    assert colours("/actions/?authority=us-state") == {"State": everything["State"]}
    assert colours("/actions/?authority=us-bis") == {"BIS": everything["BIS"]}
    # A new authority sorted first by name takes no colour from the others.
    make_action(authority=make_authority(short_name="AAA"), announced_on=datetime.date(2022, 1, 1))
    after = colours("/")
    assert list(after) == ["AAA", "BIS", "State"]
    assert {name: after[name] for name in everything} == everything
    bars = client.get("/actions/?authority=us-bis").context["chart"].bars
    assert {bar.colour for bar in bars} == {everything["BIS"]}


def test_the_legend_has_no_inline_style(client, actions):
    body = client.get("/").content.decode()

    assert "style=" not in body
    assert body.count('<img class="swatch" src="data:image/svg+xml,') == 2


def test_every_chart_has_a_table_or_list_it_names(client, actions):
    entity = make_entity(name="National Development Complex")
    supplier = make_entity(name="Akhtar and Sons")
    Relation.objects.create(subject=supplier, object=entity, kind=RelationKind.SUPPLIER_TO)
    make_action(entities=[entity, supplier])

    for url in ["/", "/actions/", entity.get_absolute_url()]:
        body = client.get(url).content.decode()
        svgs = re.findall(r'<figure class="chart[^"]*">\s*(<svg [^>]*>)', body)
        assert len(svgs) == (2 if url == entity.get_absolute_url() else 1), url
        for svg in svgs:
            # A picture of links is a group of them, others an image; each has a name.
            assert re.search(r'role="(img|group)" aria-labelledby="[^"]+"', svg), svg
            [described] = re.findall(r'aria-describedby="([^"]+)"', svg)
            for id_ in described.split():
                assert f'id="{id_}"' in body, (url, id_)
    home = client.get("/").content.decode()
    table = home[home.index('id="year-chart-table"') :]
    assert re.search(r'<th scope="row">2024</th>(<td>1</td>){3}<td>3</td>', table)
    page = client.get(entity.get_absolute_url()).content.decode()
    relations = page[page.index('id="relations-list"') :]
    assert "Akhtar and Sons</a> is supplier to this entity" in relations


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("count", [1, 5, 12, 30])
def test_network_labels_never_overlap_and_stay_inside_the_picture(count):
    names = [
        "NATIONAL DEVELOPMENT COMPLEX WIDE AND WORDY NAME",
        "西安龙德科技发展有限公司",
        "Akhtar and Sons Private Limited",
        "ООО «Минский завод колёсных тягачей»",
    ]
    neighbours = [
        (names[i % 4], f"/entities/{i}/", "owned or controlled by this entity")
        for i in range(count)
    ]

    network = charts.network(
        ("Xi'an Longde Technology Development Company Limited", "/"), neighbours
    )

    boxes = network.label_boxes()
    assert len(boxes) == 1 + 2 * min(count, charts.NETWORK_SHOWN) + (count > charts.NETWORK_SHOWN)
    for a, b in combinations(boxes, 2):
        assert not _overlap(a, b), (a, b)
    for left, top, right, bottom in boxes:
        assert left >= 0 and top >= 0
        assert right <= network.width and bottom <= network.height
    if count > charts.NETWORK_SHOWN:
        assert network.more == f"and {count - charts.NETWORK_SHOWN} more, listed below"


def test_year_labels_are_thinned_to_fit_and_the_latest_kept():
    years = [(year, [1], 1) for year in range(1990, 2026)]

    chart = charts.year_chart(["State"], years, ["#0072B2"])

    centres = [float(x) for x, _ in chart.labels]
    width = charts.text_width("2025")
    assert chart.labels[-1][1] == "2025"
    assert all(b - a >= width for a, b in zip(centres, centres[1:], strict=False))
    assert all(width / 2 <= x <= chart.width - width / 2 for x in centres)


# Names as written


def test_an_entitys_names_in_other_scripts_are_shown_by_its_title_with_their_language(client):
    entity = make_entity(name="Xi'an Longde Technology Development Company Limited")
    Alias.objects.create(
        entity=entity, name="LONGDE TECH CO", kind=AliasKind.AKA, script=Script.LATIN
    )
    Alias.objects.create(entity=entity, name="Сиань Лунде", kind=AliasKind.AKA, script="")
    Alias.objects.create(
        entity=entity,
        name="西安龙德科技发展有限公司",
        kind=AliasKind.ORIGINAL,
        script=Script.HAN,
        language="zh",
    )
    Alias.objects.create(entity=entity, name="龙德", kind=AliasKind.WEAK, script=Script.HAN)
    make_action(entities=[entity])

    body = client.get(entity.get_absolute_url()).content.decode()

    title = body[body.index("<h1>") : body.index("Status on")]
    assert re.findall(r'<span lang="([^"]+)" dir="auto">([^<]+)</span>', title) == [
        ("zh", "西安龙德科技发展有限公司"),  # the original first
        ("und-Cyrl", "Сиань Лунде"),  # no language recorded: its script still is
    ]
    assert "LONGDE TECH CO" not in title and "龙德</span>" not in title


# In a real browser


MEASURE_CHARTS = """() => [...document.querySelectorAll("figure.chart > svg")].map(svg => {
  const box = svg.getBoundingClientRect();
  const texts = [...svg.querySelectorAll("text")].map(text => {
    const rect = text.getBoundingClientRect();
    const size = parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a;
    return {text: text.textContent, size, left: rect.left, top: rect.top,
            right: rect.right, bottom: rect.bottom};
  });
  return {width: box.width, left: box.left, right: box.right, texts};
})"""


@pytest.fixture
def demo_pages(transactional_db):
    """The pages with charts, on the demo data, found before the browser starts (see
    test_browser.browser)."""
    from sanctions.demo import load_demo
    from sanctions.models import Entity

    load_demo()
    linked = Entity.objects.filter(inverse_relations__isnull=False).distinct()
    most_linked = max(linked, key=lambda entity: entity.inverse_relations.count())
    return ["/", "/actions/", "/actions/?authority=us-bis", most_linked.get_absolute_url()]


@pytest.fixture
def chromium(demo_pages, live_server, monkeypatch):
    from .test_browser import CHROMIUM, CHROMIUM_FLAGS

    if not CHROMIUM:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1280])
def test_chart_text_is_drawn_at_12_px_or_more_and_no_two_labels_meet(
    live_server, demo_pages, chromium, width
):
    page = chromium.new_page(viewport={"width": width, "height": 900})
    measured = []
    for path in demo_pages:
        page.goto(f"{live_server.url}{path}")
        for chart in page.evaluate(MEASURE_CHARTS):
            measured.append(chart)
            for text in chart["texts"]:
                assert text["size"] >= 12, (path, text)
                assert chart["left"] - 0.5 <= text["left"], (path, text)
                assert text["right"] <= chart["right"] + 0.5, (path, text)
            boxes = [(t["left"], t["top"], t["right"], t["bottom"]) for t in chart["texts"]]
            for a, b in combinations(boxes, 2):
                assert not _overlap(a, b), (path, a, b)
    assert len(measured) == 5
