"""Absolute links to the site's pages: permalinks, citations, feeds, the API, exports."""

from functools import cache

from django.conf import settings
from django.urls import reverse

# Where files written outside a request (the worker's export dumps) link when SITE_ROOT
# is unset: the local server of `make run`, which sets SITE_ROOT to its own port.
LOCAL_SITE_ROOT = "http://127.0.0.1:8000"


def site_root(request=None) -> str:
    """The base of absolute links, without a trailing slash: SITE_ROOT when set, else the
    scheme and host the request came to (ALLOWED_HOSTS vouches for it), else the local
    server's address."""
    if settings.SITE_ROOT:
        return settings.SITE_ROOT
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    return LOCAL_SITE_ROOT


def absolute_url(path: str, request=None) -> str:
    """The absolute URL of a path of this site."""
    return site_root(request) + path


_SLOT = 987654321


@cache
def _path_format(view_name: str) -> str:
    return reverse(view_name, args=[_SLOT]).replace(str(_SLOT), "{}")


def record_path(view_name: str, pk: int) -> str:
    """reverse(view_name, args=[pk]) for a page of one record, from a format made once:
    reverse() costs 60 µs, and a page of the API links a thousand records."""
    return _path_format(view_name).format(pk)
