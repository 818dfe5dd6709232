"""Whole anonymous responses cached by the public record's version.

The public record changes when an action is published, unpublished or edited, rarely
next to reads. Every such write leaves a ``PublicChange`` row (database triggers), so the
latest row's id is the record's version: a response stored under the version it was
made at is right until the next change, and a change is seen by the very next request,
in every process, without invalidating anything. The date is part of the version too:
pages say what is in force "today". Responses carry an ETag, and a client that has the
page gets 304.

Only what is the same for every anonymous visitor is stored: GET and HEAD answered 200,
not streamed, setting no cookie, without a CSRF token in the page, and not marked
private or no-store (a staff member's draft preview is both). Staff, and anyone signed
in, are answered by the views.

A page missing from the cache is made by one request at a time: the others asking for it
meanwhile wait for its answer (``FILL_WAIT_SECONDS`` at most) instead of making it too.
After a publish every popular page is missing at once, and each visitor making it would
make it slower for all the others. A page that turns out not to be stored (an error, a
private or an oversized answer) is then made by each request, without waiting.
"""

import datetime
import hashlib
import secrets
import threading
import time
from functools import cached_property

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.core.signals import request_finished, request_started
from django.db.models import Max
from django.dispatch import receiver
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag

from .models import PublicChange

# Responses larger than this are not stored: the big ones are exports, served as files.
MAX_CACHED_BYTES = 1_000_000
CACHE_SECONDS = 24 * 3600
# Cache-Control directives that mean "not the same for everyone" ("no-cache" only asks
# clients to revalidate, which a version-keyed entry does by construction).
PRIVATE_DIRECTIVES = ("private", "no-store")
# How long a request making a page holds the right to make it (should its process die
# holding it, the next request after that makes the page); how long others wait for its
# answer before making the page themselves, and how often they look: after 5 ms, then
# twice as long each time up to 50 ms.
FILL_SECONDS = 30
FILL_WAIT_SECONDS = 5
FILL_POLL_SECONDS = 0.005
FILL_POLL_MAX_SECONDS = 0.05
# What the fill lock holds, for FILL_SECONDS, once a page was made and not stored.
NOT_STORED = "not stored"


_request = threading.local()


@receiver(request_started)
def _request_started(**kwargs):
    _request.latest_change = None
    _request.reading = True


@receiver(request_finished)
def _request_finished(**kwargs):
    _request.latest_change = None
    _request.reading = False


def latest_change() -> tuple[int, datetime.datetime | None]:
    """The latest ``PublicChange``: its id and time, (0, None) if none. Read once per
    request (the page cache, counts and the API's Last-Modified all ask); outside a
    request, read each time."""
    if getattr(_request, "reading", False) and _request.latest_change is not None:
        return _request.latest_change
    row = PublicChange.objects.aggregate(pk=Max("pk"), at=Max("at"))
    latest = (row["pk"] or 0, row["at"])
    if getattr(_request, "reading", False):
        _request.latest_change = latest
    return latest


def record_version() -> str:
    """The public record's version: its latest change, and the day (statuses are dated)."""
    return f"{latest_change()[0]}.{datetime.date.today().isoformat()}"


def by_version(name: str, compute):
    """A value derived from the public record, computed once per version of it (in the
    page cache's store, shared by the processes when that is Redis)."""
    cache = caches["pages"]
    key = f"{name}:{record_version()}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def query_key(queryset) -> str:
    """A cache key naming a query by its SQL and parameters, so every filter has its own;
    raises EmptyResultSet for a query that can match nothing."""
    sql, params = queryset.query.sql_with_params()
    return hashlib.sha256(repr((sql, params)).encode()).hexdigest()


class VersionedPaginator(Paginator):
    """A paginator that counts a query's results once per version of the public record:
    counting the 780,000 visible entities of a full-size record takes 80 ms, a page of
    them 2 ms. The key is the query's SQL and parameters, so every filter has its own."""

    @cached_property
    def count(self):
        if getattr(self.object_list, "query", None) is None:
            return super().count
        try:
            key = query_key(self.object_list)
        except EmptyResultSet:  # a filter that can match nothing
            return 0
        return by_version(f"count:{key}", self.object_list.count)


class PublicPageCacheMiddleware:
    """Answer anonymous GETs from the page cache, keyed by URL, host and record version."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not self._cacheable_request(request):
            return self.get_response(request)
        cache = caches[settings.PAGE_CACHE]
        key = self._key(request, record_version())
        cached = cache.get(key)
        if cached is None:
            filling, token = f"{key}:filling", secrets.token_hex(8)
            if cache.add(filling, token, FILL_SECONDS):
                stored = False
                try:
                    response, stored = self._fill(request, cache, key)
                    return response
                finally:
                    # Only its own lock: one held longer than FILL_SECONDS may be another's.
                    if cache.get(filling) == token:
                        if stored:
                            cache.delete(filling)
                        else:
                            cache.set(filling, NOT_STORED, FILL_SECONDS)
            cached = self._wait_for_fill(cache, key, filling)
        if cached is not None:
            return self._conditional(request, cached)
        return self._fill(request, cache, key)[0]

    def _fill(self, request, cache, key):
        """The view's response, and whether it was stored (when it is the same for
        everyone)."""
        response = self.get_response(request)
        if self._cacheable_response(request, response):
            response["ETag"] = quote_etag(hashlib.sha256(response.content).hexdigest()[:32])
            cache.set(key, response, CACHE_SECONDS)
            return self._conditional(request, response), True
        return response, False

    @staticmethod
    def _wait_for_fill(cache, key: str, filling: str):
        """The response another request is making, once stored; None when it is not
        stored (an answer not for everyone) or takes too long."""
        deadline = time.monotonic() + FILL_WAIT_SECONDS
        delay = FILL_POLL_SECONDS
        while True:
            found = cache.get_many([key, filling])
            if key in found:
                return found[key]
            if found.get(filling, NOT_STORED) == NOT_STORED or time.monotonic() > deadline:
                return None
            time.sleep(delay)
            delay = min(2 * delay, FILL_POLL_MAX_SECONDS)

    @staticmethod
    def _cacheable_request(request) -> bool:
        if not settings.PAGE_CACHE or request.method not in ("GET", "HEAD"):
            return False
        if request.path.startswith(settings.PAGE_CACHE_SKIP):
            return False
        return not request.user.is_authenticated

    @staticmethod
    def _key(request, version: str) -> str:
        # The host: links are absolute, on the host served from unless SITE_ROOT is set.
        # Accept: the API answers JSON or its browsable HTML.
        parts = [version, request.get_host(), request.get_full_path()]
        parts.append(request.headers.get("Accept", "") if request.path.startswith("/api/") else "")
        digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
        return f"page:{digest}"

    @staticmethod
    def _cacheable_response(request, response) -> bool:
        control = response.get("Cache-Control", "")
        return (
            response.status_code == 200
            and not response.streaming
            and not response.cookies
            and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
            and not any(directive in control for directive in PRIVATE_DIRECTIVES)
            and len(response.content) <= MAX_CACHED_BYTES
        )

    @staticmethod
    def _conditional(request, response):
        return get_conditional_response(request, etag=response["ETag"], response=response)
