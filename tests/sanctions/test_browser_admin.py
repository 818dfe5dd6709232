"""An editor's desk in a real Chromium: an action entered end to end in one form, its
coverage fetched by a real Celery worker from a local news site, then published."""

import pytest
from django.contrib.auth.models import User

from sanctions.models import Action, ActionStatus, Article

from .newsserver import Page, article_html
from .test_browser import CHROMIUM, CHROMIUM_FLAGS, browser, demo  # noqa: F401 (fixtures)
from .test_coverage_worker import queue, wait_for, workers  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (apt-get install chromium)"),
]

PASSWORD = "a-long-test-password"


@pytest.fixture
def reviewer(demo):  # noqa: F811 (the fixture imported above)
    # A superuser: the editor groups the migrations make are flushed by earlier
    # transactional tests, and a superuser publishes as a reviewer does.
    return User.objects.create_superuser("rita", password=PASSWORD)


def _log_in(page, base, user: User):
    page.goto(f"{base}/admin/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _pick(page, field_id: str, typed: str, expected: str):
    """Choose in an autocomplete (select2) by typing, as an editor does."""
    page.locator(f"#{field_id} + .select2 .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(typed)
    option = page.locator(".select2-results__option", has_text=expected).first
    option.wait_for(timeout=10000)
    option.click()


def test_an_editor_enters_an_action_in_one_form_and_publishes_it(
    live_server,
    browser,  # noqa: F811
    reviewer,
    news,
    workers,  # noqa: F811
):
    from playwright.sync_api import expect

    news.pages["/world/pakistan-missile-suppliers"] = Page(
        article_html("US sanctions Pakistan's missile developer", published="2024-12-19")
    )
    worker = workers()
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    _log_in(page, live_server.url, reviewer)

    page.goto(f"{live_server.url}/admin/sanctions/action/add/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    page.locator("#id_title").fill("State designates Pakistan's missile developer again")
    page.locator("#id_kind").select_option("designation")
    page.locator("#id_regime").select_option("ofac_sdn")
    _pick(page, "id_authority", "State", "U.S. Department of State")
    _pick(page, "id_legal_bases", "13382", "E.O. 13382")
    page.locator("#id_announced_on").fill("2024-12-18")
    _pick(page, "id_designations-0-entity", "Natinal Developmnt", "National Development Complex")
    page.locator("#id_designations-0-name_as_listed").fill("NATIONAL DEVELOPMENT COMPLEX")
    page.locator("#sources-group .add-row a").click()
    page.locator("#id_sources-0-kind").select_option("press_statement")
    page.locator("#id_sources-0-title").fill("Additional Sanctions on Pakistan's Missile Program")
    page.locator("#id_sources-0-url").fill("https://www.state.gov/additional-sanctions-ndc/")
    page.locator("#id_coverage_urls").fill(news.url("/world/pakistan-missile-suppliers"))

    page.get_by_role("button", name="Save and publish").click()
    # The demo holds the 2024-12-18 action with the same entity: held, linked, overridable.
    expect(page.locator(".errorlist").first).to_contain_text("Already entered?")
    page.get_by_label("This is a different action: save it anyway").check()
    page.get_by_role("button", name="Save and publish").click()

    expect(page.locator(".messagelist")).to_contain_text("Saved and published")
    action = Action.objects.get(title="State designates Pakistan's missile developer again")
    assert action.status == ActionStatus.PUBLISHED
    assert action.designations.get().entity.name == "National Development Complex"
    assert action.sources.get().url == "https://www.state.gov/additional-sanctions-ndc/"

    def fetched():
        return Article.objects.filter(coverage__action=action, headline_from_url=False).exists()

    wait_for(fetched, timeout=50, what="the coverage URL to be fetched", worker=worker)
    public = page.goto(f"{live_server.url}{action.get_absolute_url()}")
    assert public.status == 200
    expect(page.locator("main")).to_contain_text("US sanctions Pakistan's missile developer")


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/sanctions/action/add/",
        "/admin/sanctions/action/{action}/change/",
        "/admin/sanctions/entity/add/",
        "/admin/sanctions/entity/{entity}/change/",
        "/admin/sanctions/article/add/",
        "/admin/sanctions/article/upload/",
        "/admin/sanctions/action/from-document/",
    ],
)
def test_the_editors_forms_fit_a_1366_px_screen(live_server, browser, reviewer, path):  # noqa: F811
    action = Action.objects.filter(designations__isnull=False).order_by("pk").first()
    entity = action.designations.order_by("pk").first().entity
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    _log_in(page, live_server.url, reviewer)

    response = page.goto(live_server.url + path.format(action=action.pk, entity=entity.pk))

    assert response.status == 200
    assert page.title().endswith("Sanctions Tracker administration")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366


def test_typing_a_new_entitys_name_lists_the_close_entities_on_record(
    live_server,
    browser,  # noqa: F811
    reviewer,
):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1366, "height": 768})
    _log_in(page, live_server.url, reviewer)
    page.goto(f"{live_server.url}/admin/sanctions/entity/add/")

    page.locator("#id_name").press_sequentially("National Developmnt Complex", delay=20)

    hint = page.locator(".similar-entities")
    expect(hint).to_contain_text("National Development Complex")
    expect(hint.get_by_role("link", name="use this one")).to_be_visible()
