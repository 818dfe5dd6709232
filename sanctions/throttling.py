"""Who a request comes from, and how often each client may ask.

Rate limits and login lock-outs count per client address (``client_address``); their
counts live in the shared cache (settings.CACHES), so every web process sees them.
"""

import hashlib
import math

from django.conf import settings
from django.http import HttpResponse
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle


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


class AlertThrottle(ClientRateThrottle):
    """Alert subscriptions and "e-mail me my subscriptions" per client per hour."""

    scope = "alerts"


class AlertAddressThrottle(SimpleRateThrottle):
    """Alert e-mails asked for one address per day, whoever asks: nobody can make the site
    mail an address over and over. The cache key holds a hash, never the address."""

    scope = "alert_address"

    def __init__(self, email: str):
        super().__init__()
        self.email = email

    def get_cache_key(self, request, view):
        digest = hashlib.sha256(self.email.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


def over_rate(request, throttle: SimpleRateThrottle, message: str) -> HttpResponse | None:
    """A 429 with Retry-After when this client is over the throttle's rate, else None.

    For views outside the API; the API's own views are throttled by DRF's settings.
    """
    if throttle.allow_request(request, None):
        return None
    response = HttpResponse(message + "\n", status=429, content_type="text/plain")
    response["Retry-After"] = str(math.ceil(throttle.wait() or 1))
    return response
