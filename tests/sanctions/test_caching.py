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
    counts and filter options, and the pages' fill locks are stored beside them)."""
    keys = caches["pages"]._cache  # noqa: SLF001
    return sum(":page:" in key and not key.endswith(":filling") for key in keys)


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


def _anonymous_get(path):
    from django.test import RequestFactory

    request = RequestFactory().get(path)
    request.user = type("Anonymous", (), {"is_authenticated": False})()
    return request


def _two_requests_at_once(view) -> list:
    """The same page asked twice, the second while the first is being made."""
    import threading

    from sanctions.caching import PublicPageCacheMiddleware

    middleware = PublicPageCacheMiddleware(view)
    answers = []
    first = threading.Thread(target=lambda: answers.append(middleware(_anonymous_get("/a/"))))
    first.start()
    view.started.wait(5)
    second = threading.Thread(target=lambda: answers.append(middleware(_anonymous_get("/a/"))))
    second.start()
    second.join(0.2)  # waiting, not making the page: the view is still busy
    view.release.set()
    first.join(5)
    second.join(5)
    return answers


class _SlowView:
    """A view that counts its calls and answers only when released."""

    def __init__(self, **headers):
        import threading

        self.calls, self.headers = 0, headers
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, request):
        from django.http import HttpResponse

        self.calls += 1
        self.started.set()
        self.release.wait(5)
        return HttpResponse(f"answer {self.calls}", headers=self.headers)


def test_a_page_being_made_is_waited_for_not_made_again(monkeypatch):
    """After a publish, everyone asking for a page would make it at once: the others
    wait for the first request's answer."""
    monkeypatch.setattr("sanctions.caching.record_version", lambda: "7.2026-01-01")
    view = _SlowView()

    answers = _two_requests_at_once(view)

    assert view.calls == 1
    assert [answer.content for answer in answers] == [b"answer 1", b"answer 1"]


def test_a_page_not_for_everyone_is_made_for_each_request(monkeypatch):
    monkeypatch.setattr("sanctions.caching.record_version", lambda: "7.2026-01-01")
    view = _SlowView(**{"Cache-Control": "private"})

    answers = _two_requests_at_once(view)

    assert view.calls == 2
    assert sorted(answer.content for answer in answers) == [b"answer 1", b"answer 2"]


def test_a_request_stops_waiting_for_a_page_nobody_finishes(monkeypatch):
    """Should the process making a page die, the others make it after a while."""
    from sanctions.caching import PublicPageCacheMiddleware

    monkeypatch.setattr("sanctions.caching.record_version", lambda: "7.2026-01-01")
    monkeypatch.setattr("sanctions.caching.FILL_WAIT_SECONDS", 0.1)
    view = _SlowView()
    view.release.set()
    middleware = PublicPageCacheMiddleware(view)
    key = middleware._key(_anonymous_get("/a/"), "7.2026-01-01")  # noqa: SLF001
    caches["pages"].add(f"{key}:filling", True, 60)  # held by a process that died

    answer = middleware(_anonymous_get("/a/"))

    assert view.calls == 1
    assert answer.content == b"answer 1"


def test_after_a_page_not_for_everyone_others_make_it_without_waiting(monkeypatch):
    import threading

    from django.http import HttpResponse

    from sanctions.caching import PublicPageCacheMiddleware

    monkeypatch.setattr("sanctions.caching.record_version", lambda: "7.2026-01-01")
    private = {"Cache-Control": "private"}
    PublicPageCacheMiddleware(lambda request: HttpResponse(headers=private))(_anonymous_get("/a/"))
    together = threading.Barrier(2, timeout=2)

    def view(request):
        together.wait()  # broken unless both requests are in the view at once
        return HttpResponse("made", headers=private)

    middleware = PublicPageCacheMiddleware(view)
    answers = []
    requests = [
        threading.Thread(target=lambda: answers.append(middleware(_anonymous_get("/a/"))))
        for _ in range(2)
    ]
    for thread in requests:
        thread.start()
    for thread in requests:
        thread.join(5)

    assert [answer.content for answer in answers] == [b"made", b"made"]


def test_a_request_releases_only_its_own_fill_lock(monkeypatch):
    """A fill that outlived its lock must not release the one another request took."""
    from django.http import HttpResponse

    from sanctions.caching import PublicPageCacheMiddleware

    monkeypatch.setattr("sanctions.caching.record_version", lambda: "7.2026-01-01")
    key = PublicPageCacheMiddleware._key(_anonymous_get("/a/"), "7.2026-01-01")  # noqa: SLF001

    def view(request):
        caches["pages"].set(f"{key}:filling", "another request's", 60)  # the lock expired
        return HttpResponse("made")

    PublicPageCacheMiddleware(view)(_anonymous_get("/a/"))

    assert caches["pages"].get(f"{key}:filling") == "another request's"
