import pytest
from django.core.cache import cache
from django.test import Client

from sanctions.demo import load_demo
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
