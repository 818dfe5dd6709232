import pytest
from django.core.cache import cache
from django.test import Client

from sanctions.demo import load_demo
from sanctions.search import stale_names
from tests.sanctions.factories import make_staff
from tests.sanctions.newsserver import NewsServer


@pytest.fixture
def news(settings, tmp_path):
    """A local news site on 127.0.0.1 that the fetcher is allowed to reach."""
    with NewsServer() as server:
        settings.FETCH_ALLOWLIST = [server.host]
        settings.MEDIA_ROOT = tmp_path / "media"
        yield server


@pytest.fixture
def fresh_cache_and_storage(settings, tmp_path):
    """An empty media storage (no export dumps) and cache (throttle counts outlive a test)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo_record(db):
    """The bundled demo record (real actions, entities and coverage)."""
    load_demo()


@pytest.fixture
def editor_client(db):
    client = Client()
    client.force_login(make_staff("erin", "editor"))
    return client


@pytest.fixture
def reviewer_client(db):
    client = Client()
    client.force_login(make_staff("rita", "reviewer"))
    return client


# The tests of everything that writes entity names: the admin, list and FtM imports,
# merges, drafts, the editors' desk and the demo.
NAME_WRITER_TESTS = {
    "test_admin",
    "test_importers",
    "test_ftm",
    "test_merge",
    "test_drafts",
    "test_editors_desk",
    "test_demo",
}


@pytest.fixture(autouse=True)
def names_indexed(request):
    """After each database test of a name writer, every entity's search names are what
    index_names() makes of its names and aliases: a writer that forgets to index fails
    its own tests."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    uses_database = request.node.get_closest_marker("django_db") or {
        "db",
        "transactional_db",
    } & set(request.fixturenames)
    checked = module in NAME_WRITER_TESTS and uses_database
    if checked:
        request.getfixturevalue("db")  # so that the check runs before the database goes
    yield
    if checked:
        assert stale_names() == [], "entities whose search names are stale"
