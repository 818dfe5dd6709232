"""Who a request comes from, and how often each client may ask.

Rate limits and login lock-outs count per client address (``client_address``); their
counts live in the shared cache (settings.CACHES), so every web process sees them.
"""

import math

from django.conf import settings
from django.http import HttpResponse
from rest_framework.throttling import AnonRateThrottle


def client_address(request) -> str:
    """The address a request came from, as rate limits and login lock-outs count it.

    The connection's own address, or, behind TRUSTED_PROXIES proxies that each append
    the address they saw to X-Forwarded-For, the one the outermost of them appended:
    whatever a client writes into the header itself lies further left and is ignored.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXIES
    if not proxies:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    forwarded = [address.strip() for address in forwarded if address.strip()]
    return forwarded[-min(proxies, len(forwarded))] if forwarded else remote


class ClientRateThrottle(AnonRateThrottle):
    """Anonymous requests per client, the client known by ``client_address``."""

    def get_ident(self, request):
        return client_address(request)


class SearchThrottle(ClientRateThrottle):
    """Anonymous searches per client per minute on the HTML pages."""

    scope = "search"


def over_rate(request, throttle: ClientRateThrottle, message: str) -> HttpResponse | None:
    """A 429 with Retry-After when this client is over the throttle's rate, else None.

    For views outside the API; the API's own views are throttled by DRF's settings.
    """
    if throttle.allow_request(request, None):
        return None
    response = HttpResponse(message + "\n", status=429, content_type="text/plain")
    response["Retry-After"] = str(math.ceil(throttle.wait() or 1))
    return response
