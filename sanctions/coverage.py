"""The news coverage pipeline: pasted URLs in, archived and linked articles out.

An editor pastes URLs on an action (`queue_urls`); a worker fetches each one
(`fetch_article`), archives the bytes as a Snapshot and stores the Article, linked to the
action. `suggest_links` then proposes the entities the article names and their actions
near its date. `check_link` re-checks the URLs of sources and articles and marks a link
dead after repeated failures. Celery tasks (sanctions/tasks.py) and the `fetch_article`
and `check_links` commands call these functions; they hold no Celery code themselves.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from .extraction import Extracted, extract_article, extract_pdf
from .fetching import PDF_TYPE, FetchError, FetchRefused, FetchResult, canonical_url, fetch
from .models import (
    LINK_STATUS_FIELDS,
    Action,
    ActionStatus,
    Alias,
    AliasKind,
    Article,
    Coverage,
    CoverageRelation,
    EntityName,
    FetchJob,
    LinkCheck,
    NameWord,
    Outlet,
    Snapshot,
    Source,
    Suggestion,
    site_of,
)
from .search import name_key

# Query parameters that only say where a click came from; two URLs differing in them
# are the same article.
# Actions within this many days of an article's date are suggested for it.
SUGGESTION_WINDOW_DAYS = 30
# Name keys shorter than this ("ac", "iri") match too much ordinary text to suggest.
MIN_KEY_LETTERS = 4
# Names longer than this many words are not looked for (they are not written out in news).
MAX_KEY_WORDS = 16


class ExtractionFailed(Exception):
    """A page was fetched but holds no article to store."""


# URLs


# Pasting URLs


@dataclass
class PasteResult:
    """What became of each pasted line."""

    queued: list[FetchJob] = field(default_factory=list)  # new, or failed and queued again
    existing: list[FetchJob] = field(default_factory=list)  # already queued, fetching or done
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # line number, line, reason


def read_pasted(lines: Iterable[str]) -> tuple[dict[str, str], list[tuple[int, str, str]]]:
    """The valid URLs among pasted lines, each once ({normalised: as pasted}), and the
    others with their line numbers and why they are refused.

    Lines without a scheme are taken as https, like the admin's URL fields.
    """
    urls: dict[str, str] = {}
    errors = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        url = line if "://" in line else f"https://{line}"
        try:
            # The URL as fetch_article will fetch it, so that a URL check_url escapes
            # ("ü" in the path) and its escaped form make one job.
            normalized = canonical_url(url)
        except FetchRefused as exc:
            errors.append((number, line, in_words(exc)))
            continue
        urls.setdefault(normalized, url)
    return urls, errors


def queue_urls(*, lines: Iterable[str], action: Action | None) -> PasteResult:
    """A fetch job for each valid URL; a pasted URL already known is not queued twice.

    The caller queues the returned `queued` jobs once its transaction commits.
    """
    urls, errors = read_pasted(lines)
    result = PasteResult(errors=errors)
    for normalized, url in urls.items():
        job, created = FetchJob.objects.get_or_create(
            normalized_url=normalized, action=action, defaults={"url": url}
        )
        if created or job.requeue():
            result.queued.append(job)
        else:
            result.existing.append(job)
    return result


def in_words(error: Exception) -> str:
    """Why a URL gave no article, as an editor would say it, with the detail after."""
    reason = getattr(error, "reason", None) or str(error)
    status = getattr(error, "status", None)
    if isinstance(error, ExtractionFailed):
        summary = "not an article: the page holds no article text"
    elif isinstance(error, FetchRefused):
        if reason.startswith(("address refused", "localhost")):
            summary = "refused: private address"
        elif reason.startswith(f"content type {PDF_TYPE!r}"):
            summary = "not an article: a PDF (upload it instead)"
        elif reason.startswith("content type"):
            summary = "not an article: not a web page"
        elif reason.startswith("body larger"):
            summary = "refused: the page is too large to archive"
        else:
            summary = "refused: not a web address the server may fetch"
    elif status in (401, 403, 451):
        summary = "the site refused to serve the page (a paywall or a block?)"
    elif status in (404, 410):
        summary = "the page is not there (gone or mistyped)"
    elif status is not None:
        summary = "the site answered with an error"
    elif reason.startswith(("could not decode", "unsupported content", "malformed")):
        summary = "the site's answer could not be read"
    else:
        summary = "the site could not be reached"
    return f"{summary} ({reason})"


def headline_of_url(url: str) -> str:
    """A stand-in headline made from the URL's last words ("us-sanctions-ndc" → "Us
    sanctions ndc"), or its site when the path has none; flagged as such where stored."""
    parts = urlsplit(url)
    words = ""
    for segment in reversed([s for s in parts.path.split("/") if s]):
        segment = re.sub(r"\.(s?html?|php|aspx?)$", "", segment, flags=re.IGNORECASE)
        words = " ".join(w for w in re.split(r"[-_+.\s]+", segment) if not w.isdigit())
        if re.search(r"[^\W\d]{3}", words):
            break
        words = ""
    return (words[:1].upper() + words[1:])[:500] if words else f"Page on {site_of(url)}"


def keep_pending(job: FetchJob) -> Article:
    """The article a failed URL stands for, kept for the editor to complete by hand or
    from an uploaded copy: its headline made from the URL, linked to the job's action."""
    with transaction.atomic():
        article, _ = Article.objects.get_or_create(
            url=job.normalized_url,
            defaults={"headline": headline_of_url(job.normalized_url), "headline_from_url": True},
        )
        if job.action_id is not None:
            Coverage.objects.get_or_create(action_id=job.action_id, article=article)
        FetchJob.objects.filter(pk=job.pk).update(article=article)
        job.article = article
    return article


# Fetching and storing articles


def fetch_article(
    *, url: str, action: Action | None = None, job: FetchJob | None = None
) -> tuple[Article, Snapshot]:
    """Fetch a page, extract its article, archive it and store it (linked to `action`).

    The URL is fetched without its tracking parameters. Raises FetchRefused or
    FetchFailed when the page cannot be fetched and
    ExtractionFailed when it holds no article; nothing is stored then. A repeated call
    finds the article by its URL and adds nothing. `job`, if given, is marked done in
    the same transaction.
    """
    result = fetch(canonical_url(url))
    try:
        extracted = extract_article(result.body, url=result.final_url)
    except ValueError as exc:
        raise ExtractionFailed(f"no article found: {exc}") from exc
    with transaction.atomic():
        article, snapshot = store_article(result=result, extracted=extracted, action=action)
        if job is not None:
            job.finish(article)
    return article, snapshot


def article_urls(*, result: FetchResult, extracted: Extracted) -> list[str]:
    """The URLs the article may already be stored under, the preferred one first.

    The page's canonical URL is preferred, unless it points to another site: a page may
    not claim another site's article.
    """
    urls = []
    canonical = extracted.canonical_url
    # A malformed canonical URL, or one the fetcher would refuse, is no canonical.
    with contextlib.suppress(ValueError, FetchRefused):
        if canonical and site_of(canonical) == site_of(result.final_url):
            urls.append(canonical_url(canonical))
    urls += [canonical_url(result.final_url), canonical_url(result.url)]
    return list(dict.fromkeys(urls))


def store_article(
    *,
    result: FetchResult,
    extracted: Extracted,
    action: Action | None = None,
    relation: str = CoverageRelation.REPORTS,
) -> tuple[Article, Snapshot]:
    """The article for a fetched page, created or completed, archived and linked.

    An article already stored keeps what an editor entered; only empty fields are filled.
    """
    urls = article_urls(result=result, extracted=extracted)
    values = {
        "headline": (extracted.headline or result.final_url)[:500],
        "published_on": extracted.published_on,
        "author": extracted.author[:300],
        "language": extracted.language[:10],
        "excerpt": extracted.excerpt,
        "text": extracted.text,
        "final_url": result.final_url,
    }
    article = Article.objects.filter(url__in=urls).order_by("pk").first()
    if article is None or article.outlet_id is None:  # else the outlet would go unused
        values["outlet"] = outlet_for(site_name=extracted.site_name, url=result.final_url)
    if article is None:
        article, created = Article.objects.get_or_create(url=urls[0], defaults=values)
    else:
        created = False
    if not created:
        blank = [name for name, value in values.items() if value and not getattr(article, name)]
        if article.headline_from_url and extracted.headline:
            # A stand-in made from the URL gives way to the page's own headline.
            values["headline_from_url"] = False
            blank += ["headline", "headline_from_url"]
        for name in blank:
            setattr(article, name, values[name])
        if blank:
            article.save(update_fields=[*blank, "updated_at"])
    snapshot = archive(result=result, article=article)
    if action is not None:
        Coverage.objects.get_or_create(
            action=action, article=article, defaults={"relation": relation}
        )
    return article, snapshot


def store_upload(
    *, data: bytes, url: str, action: Action | None = None, job: FetchJob | None = None
) -> tuple[Article, Snapshot]:
    """Store a page an editor saved and uploaded (HTML or PDF) as if fetched from `url`:
    archived under its SHA-256, extracted the same way, linked to `action`; a pending
    job for the URL is done. Raises ExtractionFailed when the file holds no article."""
    if data.startswith(b"%PDF-"):
        content_type, read = PDF_TYPE, extract_pdf
    else:
        content_type, read = "text/html", functools.partial(extract_article, url=url)
    try:
        extracted = read(data)
    except ValueError as exc:
        raise ExtractionFailed(f"no article found in the file: {exc}") from exc
    result = FetchResult(
        url=url,
        final_url=url,
        status=None,  # no server answered: an editor supplied the bytes
        content_type=content_type,
        headers={},
        body=data,
        fetched_at=timezone.now(),
        sha256=hashlib.sha256(data).hexdigest(),
        redirect_chain=(),
    )
    with transaction.atomic():
        article, snapshot = store_article(result=result, extracted=extracted, action=action)
        if job is not None:
            job.complete(article)
    return article, snapshot


def outlet_for(*, site_name: str, url: str) -> Outlet:
    """The outlet publishing at the URL's site, found by domain or name, else created."""
    domain = site_of(url)
    name = (site_name or domain)[:200]
    outlet = (
        Outlet.objects.filter(domain__iexact=domain).order_by("pk").first()
        or Outlet.objects.filter(name__iexact=name).order_by("pk").first()
    )
    if outlet is None:
        outlet, _ = Outlet.objects.get_or_create(name=name, defaults={"domain": domain})
    return outlet


def archive(
    *, result: FetchResult, article: Article | None = None, source: Source | None = None
) -> Snapshot:
    """The snapshot of a fetch: its bytes stored once under their SHA-256, and its record."""
    extension = "pdf" if result.content_type == "application/pdf" else "html"
    name = f"snapshots/{result.sha256[:2]}/{result.sha256}.{extension}"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(result.body))
    snapshot, _ = Snapshot.objects.get_or_create(
        article=article,
        source=source,
        sha256=result.sha256,
        defaults={
            "file": name,
            "size": len(result.body),
            "url": result.url,
            "final_url": result.final_url,
            "status": result.status,
            "content_type": result.content_type,
            "fetched_at": result.fetched_at,
        },
    )
    return snapshot


# Suggestions


def _ngrams(words: list[str], sizes: Iterable[int]) -> set[str]:
    return {" ".join(words[i : i + size]) for size in sizes for i in range(len(words) - size + 1)}


def entities_named_in(text: str) -> dict[int, str]:
    """Entities whose name or alias occurs in the text, with the name found.

    Names and text are compared by their name keys (sanctions.search.name_key): both
    transliterated to Latin letters, lower-cased, punctuation and legal forms dropped. A
    key must appear as whole words, so "Rosatom" is not found in "Rosatomflot"; Cyrillic,
    Arabic or Chinese aliases are found in text of their own script. Only runs of the
    text's words that some name has are looked up, in the stored keys (EntityName), so
    the cost follows the text, not the number of entities.
    """
    words = name_key(text).split()
    known = set(NameWord.objects.filter(word__in=set(words)).values_list("word", flat=True))
    phrases: set[str] = set()
    run: list[str] = []
    for word in [*words, None]:
        if word in known:
            run.append(word)
        else:
            phrases |= _ngrams(run, range(1, MAX_KEY_WORDS + 1))
            run = []
    keys = [phrase for phrase in phrases if len(phrase.replace(" ", "")) >= MIN_KEY_LETTERS]
    rows = list(
        EntityName.objects.filter(key__in=keys)
        .order_by("entity_id", "-is_primary", "name")
        .values_list("entity_id", "name", "is_primary")
    )
    weak = set(
        Alias.objects.filter(
            kind=AliasKind.WEAK, entity_id__in={entity_id for entity_id, _, _ in rows}
        ).values_list("entity_id", "name")
    )
    found: dict[int, str] = {}
    for entity_id, name, is_primary in rows:
        if is_primary or (entity_id, name) not in weak:
            found.setdefault(entity_id, name)
    return found


def suggest_links(*, article: Article, window_days: int = SUGGESTION_WINDOW_DAYS) -> int:
    """Suggest the entities the article names and their actions near its date.

    Links already made, and suggestions already decided, are not suggested again.
    Returns the number of new suggestions.
    """
    found = entities_named_in(f"{article.headline}\n{article.text or article.excerpt}")
    mentioned = set(article.entities.values_list("pk", flat=True))
    suggestions = [
        Suggestion(article=article, entity_id=entity_id, matched_name=name)
        for entity_id, name in found.items()
        if entity_id not in mentioned
    ]
    if article.published_on and found:
        window = datetime.timedelta(days=window_days)
        nearby = (
            Action.objects.filter(
                designations__entity__in=found.keys(),
                announced_on__range=(article.published_on - window, article.published_on + window),
            )
            .exclude(coverage__article=article)
            .values_list("pk", "designations__entity_id")
            .order_by("pk")
        )
        matched_by_action: dict[int, str] = {}
        for action_id, entity_id in nearby:
            if entity_id in found:
                matched_by_action.setdefault(action_id, found[entity_id])
        suggestions += [
            Suggestion(article=article, action_id=action_id, matched_name=name)
            for action_id, name in matched_by_action.items()
        ]
    before = article.suggestions.count()
    Suggestion.objects.bulk_create(suggestions, ignore_conflicts=True)
    return article.suggestions.count() - before


# Link checks

NEVER = datetime.datetime.min.replace(tzinfo=datetime.UTC)
LINK_MODELS: dict[str, type[Article] | type[Source]] = {"article": Article, "source": Source}


def link_check_due_before() -> datetime.datetime:
    """Links checked before this time are due for another check."""
    return timezone.now() - datetime.timedelta(hours=settings.LINK_CHECK_INTERVAL_HOURS)


def due_links(*, due_before: datetime.datetime, limit: int | None = None) -> list[tuple[str, int]]:
    """(kind, pk) of the public sources and articles due for a check, least recent first."""
    due = Q(link_checked_at__isnull=True) | Q(link_checked_at__lt=due_before)
    querysets = {
        "source": Source.objects.filter(due, action__status=ActionStatus.PUBLISHED).exclude(url=""),
        "article": Article.objects.visible().filter(due),
    }
    order = [models.F("link_checked_at").asc(nulls_first=True), "pk"]
    rows = [
        (checked_at or NEVER, kind, pk)
        for kind, queryset in querysets.items()
        for pk, checked_at in queryset.order_by(*order).values_list("pk", "link_checked_at")[:limit]
    ]
    return [(kind, pk) for _, kind, pk in sorted(rows)[:limit]]


def claim_link_check(*, kind: str, pk: int, due_before: datetime.datetime) -> bool:
    """Mark a due link as being checked now; False if it was checked since it fell due."""
    due = Q(link_checked_at__isnull=True) | Q(link_checked_at__lt=due_before)
    model = LINK_MODELS[kind]
    return bool(model.objects.filter(due, pk=pk).update(link_checked_at=timezone.now()))


def check_link(*, record: Article | Source, dead_after: int | None = None) -> LinkCheck:
    """Fetch a record's URL, log the result and update its link status.

    After `dead_after` failures in a row the link is dead since the first of them; one
    success makes it alive again. A record without a snapshot gets one from a success.
    """
    dead_after = dead_after or settings.LINK_DEAD_AFTER
    kind = "article" if isinstance(record, Article) else "source"
    check = LinkCheck(**{kind: record}, url=record.url, checked_at=timezone.now())
    try:
        result = fetch(record.url, allow_pdf=True)
    except FetchError as exc:
        # A refused type or size still means the server answered: the link is alive even
        # though the page is not archived (an official list file in XML, a large PDF).
        check.ok = isinstance(exc, FetchRefused) and exc.answered
        check.status = getattr(exc, "status", None)
        check.reason = exc.reason[:500]
        result = None
    else:
        check.ok, check.status, check.final_url = True, result.status, result.final_url
    with transaction.atomic():
        check.save()
        if result is not None and not record.snapshots.exists():
            archive(result=result, **{kind: record})
        rows = type(record).objects.filter(pk=record.pk)
        if check.ok:
            rows.update(link_checked_at=check.checked_at, link_failures=0, link_dead_since=None)
        else:
            rows.update(
                link_checked_at=check.checked_at, link_failures=models.F("link_failures") + 1
            )
        record.refresh_from_db(fields=LINK_STATUS_FIELDS)
        if record.link_failures >= dead_after and not record.link_is_dead:
            rows.update(link_dead_since=_failing_since(record=record, kind=kind))
            record.refresh_from_db(fields=LINK_STATUS_FIELDS)
    return check


def _failing_since(*, record: Article | Source, kind: str) -> datetime.datetime:
    """When the record's current run of failed checks began."""
    checks = LinkCheck.objects.filter(**{kind: record})
    last_success = checks.filter(ok=True).aggregate(at=models.Max("checked_at"))["at"]
    failures = checks.filter(ok=False)
    if last_success is not None:
        failures = failures.filter(checked_at__gt=last_success)
    return failures.aggregate(at=models.Min("checked_at"))["at"]


def check_due_link(*, kind: str, pk: int, due_before: datetime.datetime) -> LinkCheck | None:
    """Check one link if it is still due; None if another check got there first."""
    if not claim_link_check(kind=kind, pk=pk, due_before=due_before):
        return None
    record = LINK_MODELS[kind].objects.get(pk=pk)
    return check_link(record=record)
