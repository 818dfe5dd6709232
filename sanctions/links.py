"""Absolute links to the site's pages: permalinks, citations, feeds, the API, exports."""

from django.conf import settings

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
