"""What a fetched page or PDF says: an article's headline, outlet, author, date, language,
canonical URL and text (trafilatura and the page's own metadata), or a PDF's text.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin, urlsplit

import pypdf
import trafilatura
from lxml.html import HtmlElement

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Text beyond this many pages of a PDF is not read: a report's first pages say what it is.
PDF_MAX_PAGES = 200


@dataclass(frozen=True)
class Extracted:
    headline: str
    site_name: str
    published_on: date | None
    author: str  # several authors joined with ", "
    language: str  # BCP 47 tag, e.g. "de" or "pt-BR"
    canonical_url: str
    text: str
    excerpt: str


_TITLE_SUFFIX = re.compile(r"^(?P<head>.+?)\s+(?:\||–|—|-|::|·|»)\s+(?P<tail>[^|–—»]{1,60})$")
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$", re.IGNORECASE)
_EXCERPT_LENGTH = 300
# Lower-case words a personal name may hold; any other lower-case word means the HTML
# fallback picked up page furniture (Fox News 2010: "You're logged in as Account").
_NAME_PARTICLES = {"al", "bin", "da", "de", "del", "der", "di", "dos", "du", "la", "van", "von"}


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


def _page_meta(tree: HtmlElement) -> dict[str, str]:
    """The first non-empty content of each <meta> name/property/itemprop, lower-case keys."""
    meta: dict[str, str] = {}
    for element in tree.iter("meta"):
        content = (element.get("content") or "").strip()
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = (element.get(attr) or "").strip().lower()
            if key and content:
                meta.setdefault(key, content)
    return meta


def _first_text(tree: HtmlElement, xpath: str) -> str:
    """The first non-blank text or attribute value `xpath` selects, whitespace collapsed."""
    for value in tree.xpath(xpath):
        text = " ".join(str(value if isinstance(value, str) else value.text_content()).split())
        if text:
            return text
    return ""


def _clean_headline(title: str, *, h1: str, site_name: str, hostname: str) -> str:
    """The title without a trailing " | Outlet", judged by the <h1> or the outlet's name."""
    match = _TITLE_SUFFIX.match(title)
    if not match:
        return title
    head, tail = match["head"], _squash(match["tail"])
    acronym = "".join(word[0] for word in site_name.split() if word[:1].isalpha())
    site_forms = {_squash(site_name), _squash(acronym), _squash(hostname.removeprefix("www."))}
    if _squash(head) == _squash(h1) or (tail and tail in site_forms):
        return head
    return title


def _clean_authors(raw: str, *, from_meta: bool) -> str:
    """Distinct authors; a guess from the page body must look like names."""
    names: list[str] = []
    for name in re.split(r"\s*;\s*", raw or ""):
        name = " ".join(name.split())
        if not name or name.startswith("http") or _squash(name) in map(_squash, names):
            continue
        words = name.split()
        if not from_meta and not all(w[0].isupper() or w in _NAME_PARTICLES for w in words):
            continue
        names.append(name)
    return ", ".join(names)


def _language(tree: HtmlElement, meta: dict[str, str], guessed: str | None) -> str:
    """A BCP 47 tag from trafilatura, <html lang> or the meta tags, in that order."""
    candidates = [
        guessed,
        tree.get("lang"),
        tree.get("xml:lang"),
        meta.get("content-language"),
        meta.get("dc.language"),
        meta.get("inlanguage"),
        meta.get("og:locale"),
    ]
    for tag in candidates:
        tag = (tag or "").strip().replace("_", "-").split(",")[0]
        if _LANGUAGE_TAG.match(tag) and len(tag) <= 10:
            primary, *rest = tag.split("-")
            return "-".join([primary.lower(), *(s.upper() if len(s) == 2 else s for s in rest)])
    return ""


def _canonical(tree: HtmlElement, meta: dict[str, str], *, url: str, guessed: str | None) -> str:
    """<link rel=canonical>, og:url, trafilatura's guess, then the URL fetched."""
    page_path = urlsplit(url).path
    link = _first_text(tree, "//link[@rel='canonical']/@href")
    for candidate in (link, meta.get("og:url"), guessed):
        if not candidate:
            continue
        absolute = urljoin(url, candidate)
        parts = urlsplit(absolute)
        # Some sites point every page's canonical at their home page; that is no canonical.
        if parts.scheme in ("http", "https") and (
            parts.path.strip("/") or not page_path.strip("/")
        ):
            return absolute
    return url


def _published_on(found: str | None, meta: dict[str, str]) -> date | None:
    """htmldate's answer (through trafilatura), else the first publication meta tag."""
    keys = ("article:published_time", "datepublished", "dc.date", "date", "pubdate")
    for value in (found, *(meta.get(key) for key in keys)):
        try:
            day = date.fromisoformat((value or "")[:10])
        except ValueError:
            continue
        if day <= date.today():
            return day
    return None


def _excerpt(text: str) -> str:
    """About the first 300 characters of `text`, cut between words."""
    text = " ".join(text.split())
    if len(text) <= _EXCERPT_LENGTH:
        return text
    cut = text[: _EXCERPT_LENGTH + 1].rsplit(" ", 1)[0].rstrip(" ,;:–—-")
    return cut + "…"


def extract_article(html: bytes | str, *, url: str) -> Extracted:
    """Headline, outlet, date, author, language, canonical URL and text of a news page.

    trafilatura does the work; its answers are corrected where real pages showed it wrong:
    title suffixes (" | NZZ"), duplicate or made-up authors, missing languages. Raises
    ValueError when there is no HTML document to read.
    """
    tree = trafilatura.load_html(html)
    if tree is None:
        raise ValueError("not an HTML document")
    meta = _page_meta(tree)
    # bare_extraction works on a copy of the tree it is given, so `tree` stays as parsed.
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        # htmldate's extensive search guesses from free text and URLs ("/2024/" gave
        # 2024-01-01); an unknown date is better than an invented one.
        date_extraction_params={
            "extensive_search": False,
            "original_date": True,
            "max_date": date.today().isoformat(),
        },
    )
    if doc is None:
        raise ValueError("no article text found")
    hostname = urlsplit(url).hostname or ""
    site_name = meta.get("og:site_name") or doc.sitename or hostname.removeprefix("www.")
    h1 = _first_text(tree, "//h1")
    title = " ".join((doc.title or meta.get("og:title") or h1 or "").split())
    headline = _clean_headline(title, h1=h1, site_name=site_name, hostname=hostname)
    declared_author = any(
        meta.get(k) for k in ("author", "article:author", "dc.creator", "parsely-author")
    ) or bool(tree.xpath("//script[@type='application/ld+json'][contains(., 'author')]"))
    text = (doc.text or "").strip()
    first_line, _, rest = text.partition("\n")
    if rest and _squash(first_line) == _squash(headline):
        text = rest.strip()  # some pages repeat the headline as the first paragraph
    return Extracted(
        headline=headline,
        site_name=site_name,
        published_on=_published_on(doc.date, meta),
        author=_clean_authors(doc.author or "", from_meta=declared_author),
        language=_language(tree, meta, doc.language),
        canonical_url=_canonical(tree, meta, url=url, guessed=doc.url),
        text=text,
        excerpt=_excerpt(text),
    )


def extract_pdf(data: bytes) -> Extracted:
    """Title, author and text of a PDF (a report or a statement saved by an editor).

    The title is the document's own, else its first line of text; no date is read from
    the file's metadata, which records when the file was made, not when it was published.
    Raises ValueError when the file is not a readable PDF or holds no text.
    """
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages[:PDF_MAX_PAGES]]
        meta = reader.metadata or {}
    except (pypdf.errors.PdfReadError, ValueError, KeyError) as exc:
        raise ValueError(f"not a readable PDF: {exc}") from exc
    text = "\n".join(line.strip() for page in pages for line in page.splitlines() if line.strip())
    if not text:
        raise ValueError("the PDF holds no text (a scan?)")
    title = " ".join(str(meta.get("/Title") or "").split()) or text.partition("\n")[0]
    return Extracted(
        headline=title[:500],
        site_name="",
        published_on=None,
        author=" ".join(str(meta.get("/Author") or "").split())[:300],
        language="",
        canonical_url="",
        text=text,
        excerpt=_excerpt(text),
    )
