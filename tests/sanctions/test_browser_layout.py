"""Every public page on a phone and on a desktop, in a real Chromium: nothing wider than
the screen, the first action above the fold, and no serious or critical accessibility
violation by axe-core (https://github.com/dequelabs/axe-core)."""

import os
import re
from collections import Counter
from pathlib import Path
from pprint import pformat

import pytest
from django.db.models import Count

from sanctions.demo import load_demo
from sanctions.models import Action, Designation, Entity, Relation

from .test_browser import CHROMIUM, CHROMIUM_FLAGS

BASE_DIR = Path(__file__).resolve().parents[2]
# `npm ci` at the repository's root installs it (package.json); AXE_CORE_PATH overrides.
AXE_CORE = Path(os.environ.get("AXE_CORE_PATH") or BASE_DIR / "node_modules/axe-core/axe.min.js")

PHONE = {"width": 390, "height": 844}  # an iPhone 12 to 15, in CSS pixels
DESKTOP = {"width": 1280, "height": 800}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (apt-get install chromium)"),
]

# Entities whose pages are the hardest to fit: long names, many names and relations.
HARD_ENTITIES = [
    "Xi'an Longde Technology Development Company Limited",
    "Minsk Wheel Tractor Plant",
]


@pytest.fixture
def public_paths(transactional_db):
    """One page of each kind, on the demo data; found before any browser runs (see
    test_browser.browser)."""
    load_demo()
    ndc = Action.objects.published().filter(announced_on="2024-12-18").first()
    links = Counter()
    for subject, object in Relation.objects.values_list("subject_id", "object_id"):
        links.update([subject, object])
    most_actions = (
        Designation.objects.published()
        .values_list("entity")
        .annotate(n=Count("pk"))
        .order_by("-n", "entity")[0][0]
    )
    entities = [
        *Entity.objects.filter(name__in=HARD_ENTITIES).values_list("pk", flat=True),
        *(pk for pk, _ in links.most_common(2)),
        most_actions,
    ]
    return [
        "/",
        "/actions/",
        "/actions/?country=PK",
        ndc.get_absolute_url(),
        f"{ndc.get_absolute_url()}history/",
        "/entities/",
        *(f"/entities/{pk}/" for pk in dict.fromkeys(entities)),
        "/articles/",
        "/search/?q=missile",
        "/search/",
        "/exports/",
        "/about/",
        "/no-such-page/",
    ]


@pytest.fixture
def chromium(public_paths, live_server, monkeypatch):
    # As in test_browser: the browser's event loop must not open database connections.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def overflowing(page) -> list[str]:
    """The elements that reach past the right edge of the screen, outermost first."""
    return page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth <= width) return [];
          return [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 0.5)
            .slice(0, 5)
            .map(e => `${e.tagName.toLowerCase()}.${e.className} (right edge at ${
              Math.round(e.getBoundingClientRect().right)}): ${e.textContent.slice(0, 40)}`);
        }"""
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_public_page_is_wider_than_the_screen(live_server, public_paths, chromium, viewport):
    page = chromium.new_page(viewport=viewport)
    wide = {}
    for path in public_paths:
        page.goto(f"{live_server.url}{path}")
        found = overflowing(page)
        # Opened, the filters and the charts' tables must fit too.
        page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true })")
        if found := found or overflowing(page):
            wide[path] = found
    page.goto(f"{live_server.url}/api/docs/")  # drawn by Swagger UI's script
    page.locator(".swagger-ui .info .title").wait_for(timeout=15000)
    if found := overflowing(page):
        wide["/api/docs/"] = found

    assert wide == {}, pformat(wide, width=100)


@pytest.mark.parametrize("path", ["/actions/", "/actions/?country=PK"])
def test_on_a_phone_the_first_action_is_above_the_fold_and_the_filters_one_tap_away(
    live_server, chromium, path
):
    from playwright.sync_api import expect

    page = chromium.new_page(viewport=PHONE)
    page.goto(f"{live_server.url}{path}")
    first = page.locator("ol.records .record h3 a").first
    filters = page.locator("details.filters")

    box = first.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
    expect(filters.locator("form")).to_be_hidden()
    filters.locator("summary").click()
    expect(filters.locator("form")).to_be_visible()


def test_on_a_desktop_the_filters_are_shown_without_a_tap(live_server, public_paths, chromium):
    from playwright.sync_api import expect

    page = chromium.new_page(viewport=DESKTOP)
    for path in ["/actions/", "/entities/"]:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("details.filters form")).to_be_visible()
        expect(page.locator("details.filters summary")).to_be_hidden()


def test_the_header_searches_from_every_page_and_the_footer_leads_to_the_data(
    live_server, public_paths, chromium
):
    from playwright.sync_api import expect

    page = chromium.new_page(viewport=PHONE)
    page.goto(f"{live_server.url}/about/")
    header = page.locator("header")
    header.get_by_label("Search entities, actions and coverage").fill("missile")
    header.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(r"/search/\?q=missile$"))
    expect(page.locator("#actions-heading")).to_be_visible()
    footer = page.locator("footer")
    for name, path in [
        ("Search", "/search/"),
        ("Data exports", "/exports/"),
        ("API documentation", "/api/docs/"),
        ("About the data", "/about/"),
    ]:
        expect(footer.get_by_role("link", name=name, exact=True)).to_have_attribute("href", path)


AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.impact} ${v.id}: ${v.help}; ` +
      v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""
DANGLING_DESCRIPTIONS = """() => [...document.querySelectorAll("[aria-describedby]")]
  .flatMap(e => e.getAttribute("aria-describedby").trim().split(/\\s+/))
  .filter(id => !document.getElementById(id))
  .map(id => `aria-describedby names a missing #${id}`)"""


# /api/docs/ is left out: Swagger UI is a third party's page, drawn by its own script.
@pytest.mark.skipif(
    not AXE_CORE.is_file(), reason=f"axe-core is not installed at {AXE_CORE}: run `npm ci`"
)
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_public_page_has_a_serious_or_critical_accessibility_violation(
    live_server, public_paths, chromium, viewport
):
    axe = AXE_CORE.read_text(encoding="utf-8")
    page = chromium.new_page(viewport=viewport)
    found = {}
    for path in public_paths:
        page.goto(f"{live_server.url}{path}")
        # Evaluated by the browser, not added as a <script>: the CSP refuses inline scripts.
        page.evaluate(axe)
        if violations := page.evaluate(AXE_RUN) + page.evaluate(DANGLING_DESCRIPTIONS):
            found[path] = violations

    assert found == {}, pformat(found, width=100)
