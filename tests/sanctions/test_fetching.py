"""The SSRF-safe fetcher, against a local HTTP server on 127.0.0.1 (never the real network)."""

import contextlib
import functools
import gzip
import hashlib
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from sanctions import fetching
from sanctions.fetching import FetchFailed, FetchRefused, check_address, check_url, fetch

PAGE = b"<!doctype html><html><head><title>Designations</title></head><body>ok</body></html>"
LIMIT = 1_000_000


@functools.cache
def bomb(decoded_size: int = 200 * 1024 * 1024) -> bytes:
    """A gzip stream of zeros: about 200 KB on the wire, 200 MB once inflated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(decoded_size // len(block))]
    return b"".join(parts) + compressor.flush()


def send(handler, status=200, body=PAGE, content_type="text/html; charset=utf-8", headers=()):
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers:
        handler.send_header(name, value)
    handler.end_headers()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        handler.wfile.write(body)  # the client may stop reading early, as it should


def drip(handler, data: bytes, *, every: float, seconds: float = 10):
    """Write one byte at a time, each well inside the read timeout, for a long time."""
    stop = time.monotonic() + seconds
    for byte in data:
        if time.monotonic() > stop:
            return
        try:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
        except OSError:
            return
        time.sleep(every)


def _echo(h):
    body = json.dumps({k.lower(): v for k, v in h.headers.items()}).encode()
    send(h, body=b"<html><body>" + body + b"</body></html>")


def _slow_body(h):
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.end_headers()
    drip(h, b"x" * 1000, every=0.05)


def _slow_headers(h):
    h.wfile.write(b"HTTP/1.1 200 OK\r\n")
    drip(h, b"X-Pad: a\r\n" * 90, every=0.02)


def _stream(h, size=5 * LIMIT):
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.end_headers()  # no Content-Length: the body ends when the connection closes
    chunk = b"a" * 65536
    try:
        for _ in range(size // len(chunk)):
            h.wfile.write(chunk)
    except OSError:
        pass


ROUTES = {
    "/page": lambda h: send(h),
    "/echo": _echo,
    "/gzip": lambda h: send(h, body=gzip.compress(PAGE), headers=[("Content-Encoding", "gzip")]),
    "/redirect": lambda h: send(h, 302, b"", headers=[("Location", "/page")]),
    "/go": lambda h: send(h, 302, b"", headers=[("Location", parse_qs(h.query)["to"][0])]),
    "/no-location": lambda h: send(h, 302, b""),
    "/cookie": lambda h: send(h, 302, b"", headers=[("Set-Cookie", "s=1"), ("Location", "/echo")]),
    "/pdf": lambda h: send(h, body=b"%PDF-1.7\n", content_type="application/pdf"),
    "/sdn.csv": lambda h: send(h, body=b'36,"AEROCARIBBEAN AIRLINES"\r\n', content_type="text/csv"),
    "/image": lambda h: send(h, body=b"\x89PNG", content_type="image/png"),
    "/untyped": lambda h: send(h, content_type=None),
    "/brotli": lambda h: send(h, headers=[("Content-Encoding", "br")]),
    "/big": lambda h: send(h, body=b"a" * (LIMIT + 1)),
    "/stream": _stream,
    "/bomb": lambda h: send(h, body=bomb(), headers=[("Content-Encoding", "gzip")]),
    "/slow": _slow_body,
    "/slow-headers": _slow_headers,
    "/hang-up": lambda h: None,
    "/404": lambda h: send(h, 404),
    "/429": lambda h: send(h, 429),
    "/500": lambda h: send(h, 500),
    "/503": lambda h: send(h, 503),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        parts = urlsplit(self.path)
        self.query = parts.query
        self.server.requests.append((parts.path, dict(self.headers.items())))
        if parts.path.startswith("/hop/"):  # /hop/N redirects N times, then serves a page
            left = int(parts.path.removeprefix("/hop/"))
            if left:
                return send(self, 302, b"", headers=[("Location", f"/hop/{left - 1}")])
            return send(self)
        ROUTES.get(parts.path, lambda h: send(h, 404))(self)

    def log_message(self, format, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, dict]] = []
        if tls:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


@pytest.fixture(autouse=True)
def no_dns(monkeypatch):
    """Fail any test that would look a name up: tests reach 127.0.0.1 and nothing else."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise AssertionError(f"a test looked up {host!r} in DNS") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture(autouse=True)
def fetch_settings(settings):
    settings.FETCH_ALLOWLIST = []
    settings.FETCH_TOTAL_TIMEOUT = 10
    settings.FETCH_READ_TIMEOUT = 5
    settings.FETCH_CONNECT_TIMEOUT = 2
    settings.FETCH_MAX_BYTES = LIMIT
    return settings


@pytest.fixture
def server(fetch_settings):
    """The local web, allowlisted as 127.0.0.1:PORT."""
    srv = Server()
    fetch_settings.FETCH_ALLOWLIST = [f"127.0.0.1:{srv.port}"]
    srv.url = f"http://127.0.0.1:{srv.port}"
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def connections(monkeypatch):
    """Every address the process tries to connect to; anything but 127.0.0.1 is blocked,
    so even a broken fetcher sends nothing to the network from a test."""
    attempts: list = []
    real = socket.socket.connect

    def recording(sock, address):
        attempts.append(address[:2])
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError(f"test guard: no connection to {address[0]}")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    return attempts


class Sentinel:
    """A listener on 127.0.0.1 that no fetch may reach; `accepted()` counts who did."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]

    def accepted(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1


@pytest.fixture
def sentinel():
    sentinel = Sentinel()
    yield sentinel
    sentinel.listener.close()


def resolver(monkeypatch, table: dict[str, list[str]]) -> list[str]:
    """Make fetching.resolve answer from `table`; return the list of names it was asked."""
    asked: list[str] = []

    def resolve(host, port):
        asked.append(host)
        return [ipaddress.ip_address(a) for a in table[host]]

    monkeypatch.setattr(fetching, "resolve", resolve)
    return asked


# --- Refused before any DNS lookup or connection ---------------------------------------

MALICIOUS_URLS = [
    # loopback in every notation
    "http://127.0.0.1/",
    "http://127.0.0.1:80/admin",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.000.000.001/",
    "http://0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://0.0.0.0/",
    "http://[::]/",
    # private, shared, link-local, metadata
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://169.254.10.1/",
    "http://100.100.100.200/latest/meta-data/",
    "http://168.63.129.16/machine",  # Azure's metadata sits on a public address
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://192.0.0.192/",
    # IPv6 ranges and IPv4 addresses wrapped in IPv6
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fec0::1]/",
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[64:ff9b:1:7f00:0:100::]/",  # local-use NAT64 of 127.0.0.1
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[2001:0::7f00:1]/",  # Teredo
    "http://[2001:db8::1]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://198.18.0.1/",
    # credentials and parser confusion
    "http://example.com@127.0.0.1/",
    "http://user:pass@example.com/",
    "http://:@example.com/",
    "http://example.com\\@127.0.0.1/",
    "http://127.0.0.1#@example.com/",
    "http://exa mple.com/",
    "http://example.com/\r\nHost: 127.0.0.1",
    "http:///etc/passwd",
    "http://ex_ample..com/",
    # schemes
    "file:///etc/passwd",
    "ftp://example.com/",
    "gopher://example.com:70/_INFO",
    "dict://example.com:11211/stat",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//example.com/",
    "example.com/",
    # ports
    "http://example.com:22/",
    "http://example.com:6379/",
    "https://example.com:8443/",
    "http://example.com:0/",
    "http://example.com:99999/",
    "http://example.com:-1/",
    # size
    "http://example.com/" + "a" * 2048,
]


@pytest.mark.parametrize("url", MALICIOUS_URLS)
def test_it_refuses_malicious_urls_before_any_lookup_or_connection(url, monkeypatch, connections):
    asked = resolver(monkeypatch, {})
    with pytest.raises(FetchRefused) as refused:
        fetch(url)
    assert refused.value.reason
    assert asked == []
    assert connections == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.1/", "non-canonical IP address notation"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[2002:7f00:1::]/", "127.0.0.1 is loopback (embedded in 2002:7f00:1::)"),
        ("http://[64:ff9b:1:7f00:0:100::]/", "127.0.0.1 is loopback"),
        ("http://169.254.169.254/", "cloud metadata"),
        ("http://100.64.0.1/", "shared"),
        ("http://user:pass@example.com/", "credentials"),
        ("gopher://example.com/", "scheme 'gopher' refused"),
        ("http://example.com:8080/", "port 8080 refused"),
        ("http://example.com/" + "a" * 2048, "longer than 2048"),
    ],
)
def test_it_says_why_a_url_is_refused(url, reason):
    with pytest.raises(FetchRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        fetch(url)


@pytest.mark.parametrize(
    "address",
    ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_it_accepts_public_addresses(address):
    check_address(address)  # does not raise


def test_it_normalises_the_url_it_checks():
    assert check_url("HTTP://Bücher.Example/a%20b?q=é#frag") == (
        "http://xn--bcher-kva.example/a%20b?q=%C3%A9"
    )


# --- Names that resolve inside ----------------------------------------------------------


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.7"],
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["::ffff:192.168.0.1"],
        ["fd00::5"],
        ["93.184.215.14", "127.0.0.1"],  # one bad answer among good ones is enough
    ],
)
def test_it_refuses_a_hostname_resolving_to_a_private_address(addresses, monkeypatch, connections):
    asked = resolver(monkeypatch, {"intranet.example": addresses})
    with pytest.raises(FetchRefused, match="address refused"):
        fetch("http://intranet.example/")
    assert asked == ["intranet.example"]
    assert connections == []


def test_it_makes_no_connection_to_a_forbidden_address(monkeypatch, sentinel, connections):
    # Let the sentinel's port pass the port rule, so only the address check stands between.
    monkeypatch.setattr(fetching, "ALLOWED_PORTS", frozenset({80, 443, sentinel.port}))
    resolver(monkeypatch, {"rebind.example": ["127.0.0.1"]})
    for url in (f"http://127.0.0.1:{sentinel.port}/", f"http://rebind.example:{sentinel.port}/"):
        with pytest.raises(FetchRefused, match="loopback"):
            fetch(url)
    assert sentinel.accepted() == 0
    assert connections == []


def test_it_refuses_a_failed_lookup_as_a_failure(monkeypatch):
    def no_such_host(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(fetching, "resolve", no_such_host)
    with pytest.raises(FetchFailed) as failed:
        fetch("http://gone.example/")
    assert failed.value.transient is False


# --- The happy path ---------------------------------------------------------------------


def test_it_fetches_a_page_from_an_allowlisted_server(server, connections):
    before = datetime.now(UTC)
    result = fetch(f"{server.url}/page")
    assert result.status == 200
    assert result.body == PAGE
    assert result.sha256 == hashlib.sha256(PAGE).hexdigest()
    assert result.content_type == "text/html"
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert result.final_url == result.url == f"{server.url}/page"
    assert result.redirect_chain == ()
    assert before <= result.fetched_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert connections == [("127.0.0.1", server.port)]


def test_it_follows_a_redirect_and_reports_the_chain(server):
    result = fetch(f"{server.url}/redirect")
    assert result.final_url == f"{server.url}/page"
    assert result.redirect_chain == (f"{server.url}/redirect",)
    assert result.url == f"{server.url}/redirect"
    assert result.body == PAGE


def test_it_follows_five_redirects(server):
    result = fetch(f"{server.url}/hop/5")
    assert len(result.redirect_chain) == 5
    assert result.final_url == f"{server.url}/hop/0"
    assert result.body == PAGE


def test_it_refuses_a_sixth_redirect(server):
    with pytest.raises(FetchRefused, match="more than 5 redirects"):
        fetch(f"{server.url}/hop/6")
    assert len(server.requests) == 6


def test_it_sends_an_honest_user_agent_and_the_host_it_was_asked_for(server, settings):
    settings.SITE_ROOT = "https://tracker.example"
    result = fetch(f"{server.url}/echo")
    sent = json.loads(result.body.removeprefix(b"<html><body>").removesuffix(b"</body></html>"))
    assert sent["user-agent"] == "SanctionsTracker/0.1 (+https://tracker.example)"
    assert sent["host"] == f"127.0.0.1:{server.port}"
    assert "cookie" not in sent and "authorization" not in sent


def test_it_connects_to_the_address_it_checked_without_a_second_lookup(
    server, monkeypatch, settings, connections
):
    # A rebinding resolver: the first answer is the one checked, later ones point inside.
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
    asked: list[str] = []

    def rebinding(host, port):
        asked.append(host)
        return [ipaddress.ip_address(a) for a in next(answers)]

    monkeypatch.setattr(fetching, "resolve", rebinding)
    settings.FETCH_ALLOWLIST = [f"news.example:{server.port}"]
    result = fetch(f"http://news.example:{server.port}/echo")
    assert asked == ["news.example"]
    assert connections == [("127.0.0.1", server.port)]
    assert f'"host": "news.example:{server.port}"'.encode() in result.body


def test_it_decodes_a_gzipped_body(server):
    result = fetch(f"{server.url}/gzip")
    assert result.body == PAGE
    assert result.sha256 == hashlib.sha256(PAGE).hexdigest()


def test_it_sends_no_cookies_even_when_a_redirect_sets_one(server):
    result = fetch(f"{server.url}/cookie")
    assert b"cookie" not in result.body.lower()
    assert result.final_url == f"{server.url}/echo"


def test_it_ignores_proxies_and_netrc_from_the_environment(server, monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login spy password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9/")  # the discard port: nothing there
    result = fetch(f"{server.url}/echo")
    assert b"authorization" not in result.body
    assert server.requests[-1][1]["Host"] == f"127.0.0.1:{server.port}"


def test_it_fetches_a_pdf_only_when_allowed(server):
    with pytest.raises(FetchRefused, match="application/pdf"):
        fetch(f"{server.url}/pdf")
    result = fetch(f"{server.url}/pdf", allow_pdf=True)
    assert result.content_type == "application/pdf"
    assert result.body.startswith(b"%PDF")


# --- Redirects into the inside ----------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.2:{port}/page",  # the same server under another loopback address
        "http://localhost:{port}/page",
        "http://[::1]:{port}/page",
        "http://10.0.0.1/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "http://user:pass@127.0.0.1:{port}/page",
    ],
)
def test_it_refuses_a_redirect_to_an_internal_address(server, location, connections):
    target = location.format(port=server.port)
    with pytest.raises(FetchRefused):
        fetch(f"{server.url}/go?to={target}")
    assert connections == [("127.0.0.1", server.port)]  # only the allowlisted first hop
    assert [path for path, _ in server.requests] == ["/go"]


def test_it_makes_no_connection_when_a_redirect_points_inside(server, monkeypatch, sentinel):
    monkeypatch.setattr(fetching, "ALLOWED_PORTS", frozenset({80, 443, sentinel.port}))
    with pytest.raises(FetchRefused, match="loopback"):
        fetch(f"{server.url}/go?to=http://127.0.0.1:{sentinel.port}/")
    assert sentinel.accepted() == 0


def test_it_refuses_a_redirect_to_a_name_resolving_inside(server, monkeypatch):
    resolver(monkeypatch, {"internal.example": ["192.168.0.10"]})
    with pytest.raises(FetchRefused, match="192.168.0.10 is private"):
        fetch(f"{server.url}/go?to=http://internal.example/")


# --- Responses cut off or refused -------------------------------------------------------


def test_it_refuses_a_body_declared_larger_than_the_limit(server):
    with pytest.raises(FetchRefused, match="Content-Length"):
        fetch(f"{server.url}/big")


def test_it_cuts_off_an_undeclared_body_at_the_limit(server):
    with pytest.raises(FetchRefused, match=f"larger than {LIMIT} bytes"):
        fetch(f"{server.url}/stream")


def test_it_takes_a_smaller_limit_from_the_caller(server):
    with pytest.raises(FetchRefused, match="larger than 10 bytes"):
        fetch(f"{server.url}/page", max_bytes=10)


def test_it_cuts_off_a_gzip_bomb_with_bounded_memory(server):
    assert len(bomb()) < LIMIT  # small on the wire: only the decoded size can catch it
    tracemalloc.start()
    try:
        with pytest.raises(FetchRefused, match=f"larger than {LIMIT} bytes"):
            fetch(f"{server.url}/bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * LIMIT  # the bomb inflates to 200 MB


def test_it_gives_up_on_a_drip_fed_body_at_the_total_timeout(server, settings):
    settings.FETCH_TOTAL_TIMEOUT = 1
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="in total") as failed:
        fetch(f"{server.url}/slow")
    assert time.monotonic() - started < 3
    assert failed.value.transient is True


def test_it_gives_up_on_drip_fed_headers_at_the_total_timeout(server, settings):
    settings.FETCH_TOTAL_TIMEOUT = 1
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="in total"):
        fetch(f"{server.url}/slow-headers")
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("path", ["/image", "/big", "/stream"])
def test_a_refused_type_or_size_says_the_server_answered(server, path):
    with pytest.raises(FetchRefused) as refused:
        fetch(f"{server.url}{path}")
    assert refused.value.answered is True


@pytest.mark.parametrize("path", ["/hop/6", "/go?to=http://127.0.0.1:1/"])
def test_a_refused_url_or_redirect_says_no_page_was_served(server, path):
    with pytest.raises(FetchRefused) as refused:
        fetch(f"{server.url}{path}")
    assert refused.value.answered is False


@pytest.mark.parametrize("path", ["/image", "/untyped"])
def test_it_refuses_a_wrong_content_type(server, path):
    with pytest.raises(FetchRefused, match="content type"):
        fetch(f"{server.url}{path}")


def test_it_takes_a_list_file_only_when_the_caller_asks_for_one(server):
    with pytest.raises(FetchRefused, match="content type"):
        fetch(f"{server.url}/sdn.csv")
    with pytest.raises(FetchRefused, match="content type"):
        fetch(f"{server.url}/image", allow_data=True)

    result = fetch(f"{server.url}/sdn.csv", allow_data=True)

    assert result.content_type == "text/csv"
    assert result.body.startswith(b"36,")


def test_it_refuses_an_encoding_it_cannot_count(server):
    with pytest.raises(FetchFailed, match="content encoding") as failed:
        fetch(f"{server.url}/brotli")
    assert failed.value.transient is False


# --- Failures, transient or not ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "transient"),
    [("/404", 404, False), ("/429", 429, True), ("/500", 500, True), ("/503", 503, True)],
)
def test_it_tells_transient_http_errors_from_permanent_ones(server, path, status, transient):
    with pytest.raises(FetchFailed) as failed:
        fetch(f"{server.url}{path}")
    assert failed.value.status == status
    assert failed.value.transient is transient


def test_it_fails_on_a_redirect_without_location(server):
    with pytest.raises(FetchFailed, match="without Location") as failed:
        fetch(f"{server.url}/no-location")
    assert failed.value.transient is False


def test_it_calls_a_connection_hung_up_without_an_answer_transient(server):
    with pytest.raises(FetchFailed) as failed:
        fetch(f"{server.url}/hang-up")
    assert failed.value.transient is True


def test_it_calls_a_refused_connection_transient(settings):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    settings.FETCH_ALLOWLIST = [f"127.0.0.1:{port}"]
    with pytest.raises(FetchFailed, match="could not connect") as failed:
        fetch(f"http://127.0.0.1:{port}/")
    assert failed.value.transient is True


# --- TLS: connect to the checked address, verify the certificate for the name -----------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make test certificates")
    folder = tmp_path_factory.mktemp("tls")
    for name in ("news.example", "other.example"):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
            + ["-keyout", folder / f"{name}.key", "-out", folder / f"{name}.pem"]
            + ["-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
            check=True,
            capture_output=True,
        )
    return folder


@pytest.fixture
def tls_server(certificates, fetch_settings, monkeypatch):
    """An HTTPS server on 127.0.0.1 that records the SNI name; news.example resolves to it."""
    servers = []

    def start(certificate: str):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(
            certificates / f"{certificate}.pem", certificates / f"{certificate}.key"
        )
        server_names: list[str] = []
        context.sni_callback = lambda sock, name, ctx: server_names.append(name)
        srv = Server(tls=context)
        srv.server_names = server_names
        servers.append(srv)
        fetch_settings.FETCH_ALLOWLIST = [f"news.example:{srv.port}"]
        return srv

    resolver(monkeypatch, {"news.example": ["127.0.0.1"]})
    yield start
    for srv in servers:
        srv.stop()


def test_it_verifies_tls_for_the_hostname_while_connecting_to_the_address(
    tls_server, certificates, monkeypatch, connections
):
    srv = tls_server("news.example")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "news.example.pem"))
    result = fetch(f"https://news.example:{srv.port}/echo")
    assert result.status == 200
    assert srv.server_names == ["news.example"]
    assert connections == [("127.0.0.1", srv.port)]
    assert f'"host": "news.example:{srv.port}"'.encode() in result.body


def test_it_refuses_a_certificate_for_another_name(tls_server, certificates, monkeypatch):
    srv = tls_server("other.example")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "other.example.pem"))  # trusted
    with pytest.raises(FetchFailed, match="TLS") as failed:
        fetch(f"https://news.example:{srv.port}/page")
    assert failed.value.transient is False
    assert srv.requests == []


def test_it_refuses_an_untrusted_certificate(tls_server, certificates, monkeypatch):
    srv = tls_server("news.example")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "other.example.pem"))
    with pytest.raises(FetchFailed, match="TLS"):
        fetch(f"https://news.example:{srv.port}/page")
    assert srv.requests == []
