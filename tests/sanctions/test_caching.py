"""The page cache: anonymous responses kept by the public record's version."""

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from .factories import make_action, make_entity, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def page_cache(settings):
    settings.PAGE_CACHE = "pages"
    caches["pages"].clear()
    yield
    caches["pages"].clear()


PAGES = ["/", "/actions/", "/feeds/actions.atom", "/api/v1/actions/"]


@pytest.mark.parametrize("path", PAGES)
def test_a_published_action_appears_on_the_next_request(client, path):
    make_action(title="Earlier designation")
    assert "Earlier designation" in client.get(path).content.decode()
    draft = make_action(title="Designation of missile suppliers", published=False)
    assert "Designation of missile suppliers" not in client.get(path).content.decode()

    draft.publish()

    assert "Designation of missile suppliers" in client.get(path).content.decode()
    draft.unpublish()
    assert "Designation of missile suppliers" not in client.get(path).content.decode()


def test_a_repeated_request_is_answered_from_the_cache_with_one_query(client):
    make_action(entities=[make_entity()])
    first = client.get("/actions/")

    with CaptureQueriesContext(connection) as queries:
        again = client.get("/actions/")

    assert again.content == first.content
    assert len(queries) == 1  # the record's version
    assert again["ETag"] == first["ETag"]


def test_a_client_holding_the_page_gets_304(client):
    make_action()
    etag = client.get("/").headers["ETag"]

    response = client.get("/", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""


def test_staff_and_draft_previews_are_never_cached(client):
    draft = make_action(published=False, title="A draft under review")
    client.force_login(make_staff("erin", "editor"))
    assert client.get(draft.get_absolute_url()).status_code == 200
    client.logout()

    assert client.get(draft.get_absolute_url()).status_code == 404
    assert _stored_pages() == 0
    client.get("/actions/")
    assert _stored_pages() == 1


def _stored_pages() -> int:
    """Whole responses in the local page cache (values derived per version, such as
    counts and filter options, are stored beside them)."""
    return sum(":page:" in key for key in caches["pages"]._cache)  # noqa: SLF001


def test_pages_with_a_form_token_or_a_cookie_are_not_stored(client):
    from django.http import HttpResponse
    from django.middleware.csrf import get_token
    from django.test import RequestFactory

    from sanctions.caching import PublicPageCacheMiddleware

    def view(request):
        return HttpResponse(f"token {get_token(request)}")

    request = RequestFactory().get("/about/")
    request.user = type("Anonymous", (), {"is_authenticated": False})()
    middleware = PublicPageCacheMiddleware(view)
    middleware(request)

    assert _stored_pages() == 0


def test_the_cache_key_depends_on_the_host(client, settings):
    settings.ALLOWED_HOSTS = ["one.example", "two.example"]
    action = make_action()

    one = client.get(f"/actions/{action.pk}/", HTTP_HOST="one.example").content.decode()
    two = client.get(f"/actions/{action.pk}/", HTTP_HOST="two.example").content.decode()

    assert "http://one.example/" in one and "http://two.example/" in two


def test_the_home_pages_counts_are_counted_once_per_version_of_the_record(client, settings):
    settings.PAGE_CACHE = ""  # the view itself, each time
    make_action(entities=[make_entity()])
    client.get("/")

    with CaptureQueriesContext(connection) as again:
        client.get("/")
    make_action(entities=[make_entity(), make_entity()])
    page = client.get("/").content.decode()

    assert not any("COUNT(*)" in q["sql"] and "sanctions_entity" in q["sql"] for q in again)
    assert "<strong>3</strong> entities" in page
