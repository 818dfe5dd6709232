"""The server's only way to fetch a URL (extraction.py reads what it fetched).

Editors paste URLs, so every fetch is a server-side request forgery risk. `fetch()` refuses
anything but http(s) on ports 80/443 without credentials, resolves the host once, refuses
if any address is not public, and connects to the address it checked, so a DNS answer that
changes between check and connect (rebinding) cannot steer it inside. Redirects are followed
by hand and each hop is checked again. `FETCH_ALLOWLIST` ("host:port" strings) lifts the
address and port rules for named pairs, so tests and intranets can use local servers.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urljoin, urlsplit

from django.conf import settings
from urllib3 import exceptions as u3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.response import BaseHTTPResponse
from urllib3.util.ssl_match_hostname import CertificateError

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
MAX_REDIRECTS = 5
ALLOWED_PORTS = frozenset({80, 443})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PDF_TYPE = "application/pdf"
# Official list files: OFAC's CSV and XML, the UN's XML. Servers label them loosely.
DATA_TYPES = frozenset(
    {
        "text/csv",
        "application/csv",
        "text/plain",
        "application/xml",
        "text/xml",
        "application/octet-stream",
    }
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Servers say "try later" with these 4xx; every other 4xx will answer the same tomorrow.
TRANSIENT_4XX = frozenset({408, 425, 429})
KEPT_HEADERS = ("content-type", "content-length", "content-language", "last-modified", "etag")
_CHUNK = 64 * 1024

# Cloud metadata services hand out credentials. Azure's sits on a public address, so only
# this list catches it; the others are also caught by their ranges, with a vaguer reason.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure WireServer
    )
)
# Spelled out from the IANA special-purpose registries rather than trusting
# ipaddress.is_global alone, whose answers change between Python versions
# (3.11 calls 2002::/16, fec0::/10 and 192.0.0.192 global).
_FORBIDDEN_NETWORKS = [
    (ipaddress.ip_network(net), label)
    for label, nets in {
        "unspecified": "0.0.0.0/32 ::/128",  # before 0.0.0.0/8, for the clearer reason
        "'this network'": "0.0.0.0/8",
        "loopback": "127.0.0.0/8 ::1/128",
        "private": "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7",
        "shared (carrier-grade NAT)": "100.64.0.0/10",
        "link-local": "169.254.0.0/16 fe80::/10",
        "site-local": "fec0::/10",
        "multicast": "224.0.0.0/4 ff00::/8",
        "documentation": "192.0.2.0/24 198.51.100.0/24 203.0.113.0/24 2001:db8::/32 3fff::/20",
        # IETF assignments (2001::/23 holds Teredo), 6to4 relays, benchmarking, class E, discard
        "reserved": "192.0.0.0/24 192.88.99.0/24 198.18.0.0/15 240.0.0.0/4 2001::/23 100::/64",
    }.items()
    for net in nets.split()
]
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# WHATWG URL parsers read a host whose last label is a number as IPv4 ("127.1", "0x7f000001",
# "2130706433", "0177.0.0.1"); so does inet_aton. Such hosts are refused outright.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
# urllib3's hostname mismatch error is a ValueError, not an SSLError.
_TLS_ERRORS = (ssl.SSLError, u3.SSLError, ssl.CertificateError, CertificateError)


class FetchError(Exception):
    """A URL that could not be fetched; `reason` says why in one line."""

    transient = False

    def __init__(self, reason: str, *, url: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.url = url


class FetchRefused(FetchError):
    """The URL or the response breaks the fetching policy; retrying cannot help.

    `answered` is True when the server did serve the page and only its type or size is
    refused: the URL is alive, though its page is not taken.
    """

    def __init__(self, reason: str, *, answered: bool = False, url: str = ""):
        super().__init__(reason, url=url)
        self.answered = answered


class FetchFailed(FetchError):
    """The remote end failed; `transient` says whether a retry later may succeed."""

    def __init__(self, reason: str, *, transient: bool, status: int | None = None, url: str = ""):
        super().__init__(reason, url=url)
        self.transient = transient
        self.status = status


@dataclass(frozen=True)
class FetchResult:
    url: str  # as requested, normalised
    final_url: str  # after redirects
    status: int | None  # None for a file an editor uploaded
    content_type: str  # media type only, e.g. "text/html"
    headers: dict[str, str]  # KEPT_HEADERS that were present, lower-case names
    body: bytes = field(repr=False)
    fetched_at: datetime
    sha256: str
    redirect_chain: tuple[str, ...]  # every URL that answered with a redirect, in order


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower-case ASCII (IDNA), no brackets
    port: int
    request_target: str  # path and query as sent
    literal: IPAddress | None  # the address, when the URL names one
    allowlisted: bool

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.request_target}"


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, NAT64), if any."""
    for inner in (addr.ipv4_mapped, addr.sixtofour):
        if inner is not None:
            return inner
    packed = addr.packed
    if addr in _NAT64 or addr in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(packed[12:])
    if addr in _NAT64_LOCAL:  # RFC 6052 /48 layout: octets 6-7 and 9-10, octet 8 is zero
        return ipaddress.IPv4Address(packed[6:8] + packed[9:11])
    return None


def address_refusal(addr: IPAddress) -> str | None:
    """Why connecting to `addr` is refused, or None for a public unicast address."""
    if addr in METADATA_ADDRESSES:
        return f"{addr} is a cloud metadata address"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            return f"{addr} has a zone identifier"
        if addr not in _IPV4_COMPATIBLE or int(addr) > 1:
            inner = _embedded_ipv4(addr)
            if inner is not None:
                why = address_refusal(inner)
                return f"{why} (embedded in {addr})" if why else None
    for network, label in _FORBIDDEN_NETWORKS:
        if addr in network:
            return f"{addr} is {label}"
    if isinstance(addr, ipaddress.IPv6Address) and addr not in _GLOBAL_UNICAST_V6:
        return f"{addr} is not global unicast"
    if not addr.is_global:
        return f"{addr} is not globally routable"
    return None


def check_address(addr: IPAddress | str) -> None:
    """Raise FetchRefused unless `addr` is a public address the server may connect to."""
    why = address_refusal(ipaddress.ip_address(addr) if isinstance(addr, str) else addr)
    if why:
        raise FetchRefused(f"address refused: {why}")


def _allowlist() -> frozenset[str]:
    return frozenset(item.strip().lower() for item in settings.FETCH_ALLOWLIST)


def _hostname(raw_host: str, *, url: str) -> str:
    """The ASCII form of a host name, refused if it reads as an address or is malformed."""
    try:
        host = raw_host.encode("idna").decode("ascii")
    except UnicodeError:
        raise FetchRefused(f"invalid hostname {raw_host!r}", url=url) from None
    labels = host.rstrip(".").split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        raise FetchRefused(f"non-canonical IP address notation {raw_host!r}", url=url)
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise FetchRefused(f"invalid hostname {raw_host!r}", url=url)
    if labels[-1] == "localhost":
        raise FetchRefused("localhost is refused", url=url)
    return host


WEB_SCHEMES = ("http", "https")


def is_web_url(url: str) -> bool:
    """An http(s) URL with a host, written without the spaces and control characters
    browsers strip (``java\tscript:``): the only kind shown to readers as a link."""
    if not url or _UNSAFE_CHARS.search(url):
        return False
    parts = urlsplit(url)
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.netloc)


def _parse(url: str, allowlist: frozenset[str]) -> _Target:
    """Check a URL against every rule that needs no DNS; raise FetchRefused if it breaks one."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise FetchRefused(f"URL longer than {MAX_URL_LENGTH} characters", url=url[:100])
    if _UNSAFE_CHARS.search(url):
        raise FetchRefused("URL contains spaces, control characters or backslashes", url=url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES:
        raise FetchRefused(f"scheme {scheme or '(none)'!r} refused: http and https only", url=url)
    if "@" in parts.netloc:
        raise FetchRefused("credentials in the URL are refused", url=url)
    raw_host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise FetchRefused("invalid port", url=url) from None
    if port is None:  # not `parts.port or 80`: that would read ":0" as port 80
        port = 443 if scheme == "https" else 80
    if not raw_host:
        raise FetchRefused("URL has no host", url=url)

    try:
        literal: IPAddress | None = ipaddress.ip_address(raw_host)
    except ValueError:
        if parts.netloc.startswith("["):
            raise FetchRefused(f"invalid IPv6 address {raw_host!r}", url=url) from None
        literal = None
    host = str(literal) if literal is not None else _hostname(raw_host, url=url)

    key_host = f"[{host}]" if literal is not None and literal.version == 6 else host
    allowlisted = f"{key_host}:{port}" in allowlist
    if not allowlisted and port not in ALLOWED_PORTS:
        raise FetchRefused(f"port {port} refused: 80 and 443 only", url=url)
    if literal is not None and not allowlisted:
        check_address(literal)

    request_target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        request_target += "?" + quote(parts.query, safe=_PATH_SAFE + "?")
    return _Target(scheme, host, port, request_target, literal, allowlisted)


def check_url(url: str) -> str:
    """The URL normalised, or FetchRefused if it breaks a rule checkable without DNS."""
    return _parse(url, _allowlist()).url


# Query parameters that only say where a link was shared.
TRACKING_PARAMETERS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid"})
TRACKING_PREFIXES = ("utm_",)


def canonical_url(url: str) -> str:
    """The URL that identifies a page, and the one fetched for it: as check_url() gives it
    (FetchRefused if it breaks a rule; scheme and host lower-case, IDNA, default port,
    path and query escaped, no fragment), tracking parameters dropped. Pasted URLs,
    fetch jobs and articles are keyed by it."""
    target = _parse(url, _allowlist())
    path, _, query = target.request_target.partition("?")
    kept = "&".join(
        pair for pair in query.split("&") if pair and not _is_tracking(pair.split("=")[0])
    )
    return f"{target.scheme}://{target.host_header}{path}" + (f"?{kept}" if kept else "")


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in the resolver's order: the one lookup per hop."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        addr = ipaddress.ip_address(sockaddr[0])
        if addr not in addresses:
            addresses.append(addr)
    return addresses


class _Deadline:
    """The wall-clock limit of a whole fetch, redirects included.

    Socket timeouts bound each recv() only, so a server dripping a byte a second could hold
    a fetch forever; a timer shuts the current socket down when the time is up.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            # socket.socket's own shutdown, not SSLSocket's, which unwraps TLS first.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shutdown()

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0 or self.expired:
            raise self.failure()
        return left

    def failure(self) -> FetchFailed:
        return FetchFailed(f"took longer than {self.seconds:g} s in total", transient=True)

    def cancel(self) -> None:
        self._timer.cancel()


def _failure(exc: Exception) -> FetchFailed:
    """The FetchFailed for an exception raised while talking to the server."""
    if isinstance(exc, _TLS_ERRORS):
        return FetchFailed(f"TLS error: {exc}", transient=False)
    if isinstance(exc, u3.NewConnectionError | ConnectionRefusedError):
        return FetchFailed(f"could not connect: {exc}", transient=True)
    if isinstance(exc, TimeoutError | u3.TimeoutError):
        return FetchFailed("timed out", transient=True)
    if isinstance(exc, u3.DecodeError):
        return FetchFailed(f"could not decode the body: {exc}", transient=False)
    if isinstance(exc, ConnectionError | u3.ProtocolError | http.client.IncompleteRead):
        return FetchFailed(f"connection broken: {exc}", transient=True)
    if isinstance(exc, http.client.HTTPException):
        return FetchFailed(f"malformed response: {exc!r}", transient=False)
    return FetchFailed(f"network error: {exc}", transient=True)


def _connect(target: _Target, addresses: list[IPAddress], deadline: _Deadline) -> HTTPConnection:
    """A connection to the first checked address that answers."""
    connect_timeout = settings.FETCH_CONNECT_TIMEOUT
    read_timeout = settings.FETCH_READ_TIMEOUT
    error: Exception | None = None
    for addr in addresses:
        timeout = min(connect_timeout, deadline.remaining())
        conn: HTTPConnection
        if target.scheme == "https":
            # Connect to the address, but send SNI and verify the certificate for the name.
            conn = HTTPSConnection(
                str(addr),
                target.port,
                timeout=timeout,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            conn = HTTPConnection(str(addr), target.port, timeout=timeout)
        try:
            conn.connect()
        except (OSError, u3.HTTPError, CertificateError) as exc:
            conn.close()
            if isinstance(exc, _TLS_ERRORS):
                raise _failure(exc) from exc  # another address will show the same certificate
            error = exc
            continue
        assert conn.sock is not None
        conn.sock.settimeout(min(read_timeout, deadline.remaining()))
        deadline.watch(conn.sock)
        return conn
    assert error is not None
    raise _failure(error) from error


def _open(
    target: _Target, *, accept: str, deadline: _Deadline
) -> tuple[HTTPConnection, BaseHTTPResponse]:
    """Resolve, check, connect and send the request for one hop; return the response head."""
    if target.literal is not None:
        addresses = [target.literal]
    else:
        try:
            addresses = resolve(target.host, target.port)
        except socket.gaierror as exc:
            gone = exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None))
            raise FetchFailed(f"cannot resolve {target.host}: {exc}", transient=not gone) from exc
        if not addresses:
            raise FetchFailed(f"{target.host} has no address", transient=False)
    for addr in addresses:  # every one, as _connect may try each in turn
        if not target.allowlisted:
            check_address(addr)
        elif addr in METADATA_ADDRESSES:  # no intranet needs these; a poisoned name might
            raise FetchRefused(f"address refused: {addr} is a cloud metadata address")
    conn = _connect(target, addresses, deadline)
    headers = {
        "Host": target.host_header,
        "User-Agent": user_agent(),
        "Accept": accept,
        "Accept-Encoding": "gzip, deflate",  # no br/zstd: only what we can count safely
        "Connection": "close",
    }
    try:
        conn.request("GET", target.request_target, headers=headers, preload_content=False)
        response = conn.getresponse()
        deadline.remaining()  # a shut-down socket can pass for the end of the headers
        return conn, response
    except FetchFailed:
        conn.close()
        raise
    except (OSError, u3.HTTPError, http.client.HTTPException) as exc:
        conn.close()
        raise deadline.failure() if deadline.expired else _failure(exc) from exc


def _read_body(response: BaseHTTPResponse, *, limit: int, deadline: _Deadline) -> bytes:
    """The decoded body, refused as soon as its decoded size passes `limit`."""
    encoding = response.headers.get("content-encoding", "identity").lower()
    codings = [c.strip() for c in encoding.split(",") if c.strip()]
    if any(c not in ("identity", "gzip", "x-gzip", "deflate") for c in codings):
        raise FetchFailed(f"unsupported content encoding {encoding!r}", transient=False)
    declared = response.headers.get("content-length", "")
    if codings in ([], ["identity"]) and declared.isdigit() and int(declared) > limit:
        raise FetchRefused(
            f"body larger than {limit} bytes (Content-Length {declared})", answered=True
        )
    chunks: list[bytes] = []
    size = 0
    try:
        # read(amt) returns at most amt decoded bytes and inflates no more than that, so a
        # compression bomb costs one chunk of memory before it is counted.
        while chunk := response.read(_CHUNK, decode_content=True):
            size += len(chunk)
            if size > limit:
                raise FetchRefused(f"body larger than {limit} bytes", answered=True)
            chunks.append(chunk)
            deadline.remaining()
    except (OSError, u3.HTTPError, http.client.HTTPException) as exc:
        raise deadline.failure() if deadline.expired else _failure(exc) from exc
    deadline.remaining()  # a shut-down socket looks like a clean end of body
    return b"".join(chunks)


def user_agent() -> str:
    """An honest User-Agent, so site owners can see who fetches and where to complain."""
    site = settings.SITE_ROOT
    return f"SanctionsTracker/0.1 (+{site})" if site else "SanctionsTracker/0.1"


def fetch(
    url: str, *, allow_pdf: bool = False, allow_data: bool = False, max_bytes: int | None = None
) -> FetchResult:
    """GET an HTML page (a PDF or a list file, if allowed) under the module's SSRF rules.

    Raises FetchRefused when a URL, an address or the response breaks the rules, and
    FetchFailed (with `transient`) when the server or the network fails.
    """
    limit = max_bytes or settings.FETCH_MAX_BYTES
    allowed_types = HTML_TYPES | ({PDF_TYPE} if allow_pdf else set())
    allowed_types |= DATA_TYPES if allow_data else set()
    accept = "text/html,application/xhtml+xml;q=0.9" + (",application/pdf;q=0.8" * allow_pdf)
    accept += ",text/csv,application/xml;q=0.8,*/*;q=0.1" * allow_data
    allowlist = _allowlist()
    target = first = _parse(url, allowlist)
    chain: list[str] = []
    deadline = _Deadline(settings.FETCH_TOTAL_TIMEOUT)
    try:
        while True:
            conn, response = _open(target, accept=accept, deadline=deadline)
            try:
                status = response.status
                if status in REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchFailed(f"{status} without Location", transient=False)
                    chain.append(target.url)
                    if len(chain) > MAX_REDIRECTS:
                        raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")
                    logger.debug("redirect %s -> %s", target.url, location)
                    target = _parse(urljoin(target.url, location), allowlist)
                    continue
                if not 200 <= status < 300:
                    transient = status >= 500 or status in TRANSIENT_4XX
                    raise FetchFailed(f"HTTP {status}", transient=transient, status=status)
                media_type = response.headers.get("content-type", "").split(";")[0]
                media_type = media_type.strip().lower()
                if media_type not in allowed_types:
                    refused = f"content type {media_type or '(none)'!r} refused"
                    raise FetchRefused(refused, answered=True)
                body = _read_body(response, limit=limit, deadline=deadline)
                return FetchResult(
                    url=first.url,
                    final_url=target.url,
                    status=status,
                    content_type=media_type,
                    headers={k: response.headers[k] for k in KEPT_HEADERS if k in response.headers},
                    body=body,
                    fetched_at=datetime.now(UTC),
                    sha256=hashlib.sha256(body).hexdigest(),
                    redirect_chain=tuple(chain),
                )
            finally:
                deadline.watch(None)
                response.close()
                conn.close()
    except FetchError as exc:
        exc.url = exc.url or target.url
        logger.info("fetch of %s stopped: %s", url[:200], exc.reason)
        raise
    finally:
        deadline.cancel()
