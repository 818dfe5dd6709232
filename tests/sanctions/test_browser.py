"""A researcher's path through the site, in a real Chromium driven by Playwright."""

import os
import re
import shutil

import pytest

from sanctions.demo import load_demo

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def demo(transactional_db):
    load_demo()


@pytest.fixture
def browser(demo, live_server, monkeypatch):
    # Set up after the data and torn down before it: Playwright's sync API runs an event
    # loop in this thread, and a database connection opened inside it would outlive the
    # test. The tests make no ORM calls while it runs.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


NDC_ENTITIES = [
    "National Development Complex",
    "Akhtar and Sons Private Limited",
    "Affiliates International",
    "Rockside Enterprise",
]


def test_a_researcher_filters_to_2024_and_opens_the_ndc_action(live_server, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{live_server.url}/actions/")
    page.get_by_label("From").fill("2024-01-01")
    page.get_by_label("To", exact=True).fill("2024-12-31")
    page.get_by_role("button", name="Apply filters").click()

    expect(page).to_have_url(re.compile(r"date_from=2024-01-01&date_to=2024-12-31"))
    dates = page.locator(".records time").evaluate_all("els => els.map(e => e.dateTime)")
    assert dates and all(d.startswith("2024-") for d in dates), dates

    page.locator(".record", has=page.locator("time[datetime='2024-12-18']")).get_by_role(
        "link"
    ).first.click()

    expect(page.get_by_role("heading", name="Entities (4)")).to_be_visible()
    entities = page.locator("section[aria-labelledby='entities-heading']")
    for name in NDC_ENTITIES:
        expect(entities.get_by_role("link", name=name, exact=True)).to_be_visible()
    coverage = page.locator("section[aria-labelledby='coverage-heading'] li")
    assert coverage.count() >= 5
    expect(coverage.first.locator("time")).to_be_visible()


def test_the_action_page_fits_a_phone_screen(live_server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 375, "height": 800})
    response = page.goto(f"{live_server.url}/actions/")
    assert response.ok
    # A list of actions, not an empty or error page, is what must fit.
    expect(page.locator("#results-heading")).to_have_text(re.compile(r"[1-9]\d* actions"))
    # The first result (the facets' lists are in the filters disclosure, closed on phones).
    expect(page.locator("main .records li").first).to_be_visible()

    scroll_width = page.evaluate("document.documentElement.scrollWidth")

    assert scroll_width <= 375


@pytest.fixture
def admin_user(demo):
    from django.contrib.auth.models import User

    User.objects.create_superuser("admin", password="a-long-test-password")
    return "admin", "a-long-test-password"


def test_every_kind_of_page_works_under_the_content_security_policy(
    live_server, admin_user, browser
):
    from playwright.sync_api import expect

    page = browser.new_page()
    refusals = []
    page.on(
        "console",
        lambda message: (
            refusals.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    for path in ["/", "/actions/", "/entities/", "/articles/", "/search/?q=missile"]:
        response = page.goto(f"{live_server.url}{path}")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "camera=()" in response.headers["permissions-policy"]
    page.goto(f"{live_server.url}/")
    expect(page.locator("svg").first).to_be_visible()  # the year chart
    page.goto(f"{live_server.url}/actions/")
    page.locator(".record", has=page.locator("time[datetime='2024-12-18']")).get_by_role(
        "link"
    ).first.click()
    expect(page.get_by_role("heading", name="Official sources")).to_be_visible()
    page.locator("section[aria-labelledby='entities-heading'] a").first.click()
    expect(page.locator("figure.chart svg").first).to_be_visible()  # the timeline

    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible(timeout=15000)

    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill(admin_user[0])
    page.get_by_label("Password").fill(admin_user[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#user-tools")).to_contain_text("Welcome")
    page.goto(f"{live_server.url}/admin/sanctions/action/add/")
    expect(page.locator("#action_form")).to_be_visible()
    # The admin's own scripts run: the inline "Add another" rows are made by JavaScript.
    expect(page.locator(".add-row a").first).to_be_visible()

    assert refusals == []
