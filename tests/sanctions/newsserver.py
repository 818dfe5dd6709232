"""A local news site on 127.0.0.1 for the coverage pipeline's tests: never the real web."""

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0  # seconds before answering, for a fetch that is still running
    location: str = ""  # for redirects


def article_html(
    headline: str,
    *,
    published: str = "2024-12-19",
    site: str = "Example Post",
    author: str = "Jane Reporter",
    paragraphs: tuple[str, ...] = (),
    canonical: str = "",
    language: str = "en",
) -> bytes:
    """A news page of the usual shape: meta tags, one <article> with a few paragraphs."""
    paragraphs = paragraphs or (
        "The State Department announced new sanctions on Wednesday against several "
        "companies it said had supplied equipment to a ballistic missile program.",
        "Officials said the designations were made under an executive order that targets "
        "proliferators of weapons of mass destruction and their supporters.",
        "The companies did not respond to requests for comment. Analysts said the move "
        "continued a long series of measures against the same procurement networks.",
        "A spokesperson said further actions were possible in the coming months if the "
        "suppliers continued to provide goods and technology to the program.",
    )
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8">
<title>{headline} | {site}</title>
<meta property="og:site_name" content="{site}">
<meta property="og:title" content="{headline}">
<meta property="article:published_time" content="{published}T10:00:00Z">
<meta name="author" content="{author}">
{link}
</head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
<article><h1>{headline}</h1><p class="byline">By {author}</p>{body}</article>
<footer>Copyright {site}</footer>
</body></html>""".encode()


class NewsServer:
    """Serves `pages` by path; counts requests; `requested[path]` is set on each request."""

    def __init__(self):
        self.pages: dict[str, Page | list[Page]] = {}
        self.hits: Counter[str] = Counter()
        self.requested: dict[str, threading.Event] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path
                server.hits[path] += 1
                server.requested.setdefault(path, threading.Event()).set()
                page = server.page_for(path)
                if page is None:
                    page = Page(b"<html><body>Not found</body></html>", status=404)
                time.sleep(page.delay)
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                if page.location:
                    self.send_header("Location", page.location)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(page.body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def page_for(self, path: str) -> Page | None:
        """The page for a path; a list answers its pages in turn, then its last one."""
        page = self.pages.get(path)
        if isinstance(page, list):
            return page[min(self.hits[path], len(page)) - 1]
        return page

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
