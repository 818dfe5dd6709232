"""Public, read-only pages. Only published actions, and what they cite, are shown
(and, to staff, a draft action at its future URL, marked as such)."""

import datetime
import json
from collections import defaultdict

from django.conf import settings
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from . import alerts, caching, citations, pages, tasks
from .accounts import needs_second_factor
from .exports import EXPORTS
from .facets import ActionListing
from .filters import ActionFilter, EntityFilter
from .links import absolute_url
from .models import (
    UNSHOWN_ARTICLE_FIELDS,
    Action,
    Article,
    Authority,
    Coverage,
    CoverageRelation,
    Designation,
    Entity,
    ListName,
    Snapshot,
    Subscription,
    archived_copies,
    count_of,
    status_date,
)
from .search import (
    QueryTooLong,
    clean_query,
    other_scripts,
    search_actions,
    search_articles,
    search_entities,
)
from .throttling import AlertAddressThrottle, AlertThrottle, SearchThrottle, over_rate


def site_context(request):
    return {"site_name": settings.SITE_NAME}


def _page(request, queryset):
    return caching.VersionedPaginator(queryset, settings.PAGE_SIZE).get_page(
        request.GET.get("page")
    )


def _query_without_page(request):
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@require_safe
def home(request):
    listing = ActionListing(ActionFilter(queryset=Action.objects.published()))
    response = render(
        request,
        "sanctions/home.html",
        {
            "latest": Action.objects.for_list()[:8],
            "chart": listing.year_chart(),
            "action_count": listing.index.size,
            **caching.by_version("home-counts", _record_counts),
        },
    )
    return _kept_while_current(response, listing)


def _kept_while_current(response, listing):
    """A page counted from an index being rebuilt is right for a moment only: not kept
    by the page cache or by clients."""
    if not listing.current:
        patch_cache_control(response, no_store=True)
    return response


def _record_counts() -> dict[str, int]:
    """Two scans of whole tables: counted once per version of the public record."""
    return {
        "entity_count": Entity.objects.visible().count(),
        "article_count": Article.objects.visible().count(),
    }


@require_safe
def action_list(request):
    if request.GET.get("q") and (refused := _over_search_rate(request)):
        return refused
    filterset = ActionFilter(request.GET or None, queryset=Action.objects.published())
    listing = ActionListing(filterset)
    page = Paginator(listing.ids, listing.page_size).get_page(request.GET.get("page"))
    ids = page.object_list.tolist()
    actions = Action.objects.for_list().in_bulk(ids)
    # An action unpublished since the index was read is left out.
    page.object_list = [actions[pk] for pk in ids if pk in actions]
    response = render(
        request,
        "sanctions/action_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": _query_without_page(request),
            "filter_query": listing.filter_query,
            "chips": listing.chips(),
            "sorts": listing.sort_options(),
            "page_sizes": listing.page_size_options(),
            "facets": listing.facets(),
            "chart": listing.year_chart(),
            "ftm_export": "ftm.jsonl" in EXPORTS,
        },
    )
    return _kept_while_current(response, listing)


def may_preview(request) -> bool:
    """Staff who may read actions in the admin also see drafts at their public URLs."""
    return request.user.is_staff and request.user.has_perm("sanctions.view_action")


@require_safe
def action_detail(request, pk):
    actions = Action.objects.all() if may_preview(request) else Action.objects.published()
    action = get_object_or_404(
        actions.with_details().prefetch_related(
            archived_copies("sources__snapshots"), archived_copies("coverage__article__snapshots")
        ),
        pk=pk,
    )
    by_relation = defaultdict(list)
    for item in action.coverage.all():
        by_relation[item.relation].append(item.article)
    coverage_groups = [
        (label, by_relation[value])
        for value, label in CoverageRelation.choices
        if by_relation[value]
    ]
    response = render(
        request,
        "sanctions/action_detail.html",
        {
            "action": action,
            "coverage_groups": coverage_groups,
            "citation_tags": citations.meta_tags(action, url=_permalink(request, action)),
            "permalink": _permalink(request, action),
        },
    )
    if not action.is_published:
        # A draft preview: for the staff member's eyes only, never stored or indexed.
        patch_cache_control(response, private=True, no_store=True)
        response["X-Robots-Tag"] = "noindex"
    return response


@require_safe
def entity_list(request):
    if request.GET.get("q") and (refused := _over_search_rate(request)):
        return refused
    filterset = EntityFilter(
        request.GET or None,
        queryset=Entity.objects.visible().defer("description", "search_vector").order_by("name"),
    )
    entities = filterset.qs.annotate(
        action_count=count_of(Designation.objects.published(), "entity")
    )
    page = _page(request, entities)
    return render(
        request,
        "sanctions/entity_list.html",
        {"filter": filterset, "page": page, "query": _query_without_page(request)},
    )


def _as_of(request) -> tuple[datetime.date, str]:
    """The date of ?as_of=YYYY-MM-DD, or today; with an error message for a bad value."""
    value = request.GET.get("as_of", "")
    try:
        return status_date(value), ""
    except ValueError:
        return status_date(""), f"“{value}” is not a date (YYYY-MM-DD); showing today."


@require_safe
def entity_detail(request, pk):
    try:
        entity = Entity.objects.visible().prefetch_related("aliases", "identifiers").get(pk=pk)
    except Entity.DoesNotExist:
        # A merged entity's page has moved for good to the entity it was merged into.
        survivor = get_object_or_404(Entity.objects.visible(), merged_entities=pk)
        query = f"?{request.GET.urlencode()}" if request.GET else ""
        moved = redirect(survivor.get_absolute_url() + query, permanent=True)
        # Browsers keep a 301 for good unless told to ask again; a merge can be undone.
        patch_cache_control(moved, no_cache=True)
        return moved
    as_of, as_of_error = _as_of(request)
    return render(
        request,
        "sanctions/entity_detail.html",
        {
            **pages.entity_page(entity, as_of),
            "as_of_error": as_of_error,
            "citation_tags": citations.meta_tags(entity, url=_permalink(request, entity)),
            "permalink": _permalink(request, entity),
        },
    )


@require_safe
def article_list(request):
    published_coverage = Coverage.objects.published().with_actions()
    # An article's text can be long; a list shows its headline.
    articles = (
        Article.objects.visible()
        .select_related("outlet")
        .defer(*UNSHOWN_ARTICLE_FIELDS)
        .prefetch_related(Prefetch("coverage", queryset=published_coverage))
    )
    query, error = _search_query(request)
    if query:
        if refused := _over_search_rate(request):
            return refused
        articles = articles.matching(query)
    return render(
        request,
        "sanctions/article_list.html",
        {
            "page": _page(request, articles),
            "q": query,
            "query_error": error,
            "query": _query_without_page(request),
        },
    )


@require_safe
def snapshot_download(request, pk):
    """An archived page, as a download only: it is someone else's HTML, never run here."""
    staff = request.user.is_staff and (
        request.user.is_verified() or not needs_second_factor(request.user)
    )
    snapshots = Snapshot.objects.all() if staff else Snapshot.objects.public()
    snapshot = get_object_or_404(snapshots, pk=pk)
    try:
        file = snapshot.file.open("rb")
    except FileNotFoundError:
        raise Http404("The archived file is missing.") from None
    response = FileResponse(
        file,
        as_attachment=True,
        filename=snapshot.download_name,
        content_type="application/octet-stream",
    )
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


CITATION_FORMATS = {
    "bib": ("application/x-bibtex; charset=utf-8", citations.bibtex),
    "ris": ("application/x-research-info-systems; charset=utf-8", citations.ris),
    "json": (
        "application/vnd.citationstyles.csl+json",
        lambda obj, **kwargs: json.dumps([citations.csl_json(obj, **kwargs)], ensure_ascii=False),
    ),
}


def _permalink(request, obj) -> str:
    return absolute_url(obj.get_absolute_url(), request)


def _cite(request, obj, fmt: str) -> HttpResponse:
    if fmt not in CITATION_FORMATS:
        raise Http404("Unknown citation format")
    content_type, render_citation = CITATION_FORMATS[fmt]
    body = render_citation(obj, url=_permalink(request, obj), accessed=timezone.localdate())
    response = HttpResponse(body, content_type=content_type)
    filename = f"{citations.citation_key(obj)}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_safe
def action_cite(request, pk, fmt):
    return _cite(request, get_object_or_404(Action.objects.published(), pk=pk), fmt)


@require_safe
def entity_cite(request, pk, fmt):
    return _cite(request, get_object_or_404(Entity.objects.visible(), pk=pk), fmt)


def _history(request, record):
    events = pages.public_history(record)
    return render(request, "sanctions/history.html", {"object": record, "events": events})


@require_safe
def action_history(request, pk):
    """Every recorded change to a published action and its parts; editors stay anonymous."""
    return _history(request, get_object_or_404(Action.objects.published(), pk=pk))


@require_safe
def entity_history(request, pk):
    return _history(request, get_object_or_404(Entity.objects.visible(), pk=pk))


@require_safe
def search(request):
    query, error = _search_query(request)
    sections = {}
    if query:
        if refused := _over_search_rate(request):
            return refused
        # Each section feeds the next: entities named in the actions' summaries, the
        # coverage of the entities' actions.
        actions = list(search_actions(Action.objects.published(), query)[:10])
        entities = list(search_entities(Entity.objects.visible(), query, limit=10, actions=actions))
        articles = search_articles(Article.objects.visible(), query, entities=entities)
        sections = {
            "entities": other_scripts(entities),
            "actions": actions,
            "articles": list(articles.select_related("outlet")[:10]),
        }
    context = {"q": query, "query_error": error, **sections}
    return render(request, "sanctions/search.html", context, status=400 if error else 200)


@require_safe
def about(request):
    """Where the record comes from, how it is kept current, and how to cite it."""
    # The worker's periodic work, as configured: intervals in seconds.
    schedule = settings.CELERY_BEAT_SCHEDULE
    return render(
        request,
        "sanctions/about.html",
        {
            "authorities": Authority.objects.public(),
            "lists": ListName.labels,
            "list_refresh_hours": schedule["refresh-lists"]["schedule"] // 3600,
            "export_dump_hours": schedule["write-export-dumps"]["schedule"] // 3600,
            "link_check_hours": settings.LINK_CHECK_INTERVAL_HOURS,
            "link_dead_after": settings.LINK_DEAD_AFTER,
            "license": settings.DATA_LICENSE,
        },
    )


def _search_query(request) -> tuple[str, str]:
    """The ?q= of a search page and, for a query refused as too long, why."""
    try:
        return clean_query(request.GET.get("q", "")), ""
    except QueryTooLong as exc:
        return "", str(exc)


def _over_search_rate(request):
    return over_rate(request, SearchThrottle(), "Too many searches; try again in a minute.")


@never_cache
@require_safe
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


# E-mail alerts (sanctions/alerts.py). Each page behind a token is the subscriber's own:
# never cached, never indexed. Every form asking for a mail counts against the client's
# and the address's rate limits.


def _over_alert_rate(request, email: str | None = None):
    throttle = AlertThrottle() if email is None else AlertAddressThrottle(email)
    return over_rate(request, throttle, "Too many e-mail alert requests; try again later.")


def _subscription(token: str) -> Subscription | None:
    return Subscription.objects.filter(token=token).first()


def _alert_gone(request):
    return render(request, "sanctions/alerts/gone.html", status=404)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def alerts_index(request):
    """Ask for the links to one's subscriptions: the answer is the same for any address."""
    if request.method != "POST":
        return render(request, "sanctions/alerts/index.html", {"form": alerts.AddressForm()})
    if refused := _over_alert_rate(request):
        return refused
    form = alerts.AddressForm(request.POST)
    if not form.is_valid():
        return render(request, "sanctions/alerts/index.html", {"form": form}, status=400)
    if refused := _over_alert_rate(request, form.cleaned_data["email"]):
        return refused
    # Looked up by the worker: a known address answers no slower than an unknown one.
    tasks.send_alert_list.delay_on_commit(form.cleaned_data["email"])
    return render(request, "sanctions/alerts/check_inbox.html", {"listing": True})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def alert_subscribe(request):
    """Double opt-in: only the confirmation mail goes out until its link is followed."""
    if request.method != "POST":
        query = request.GET.get("query", "")
        form = alerts.SubscribeForm(initial={"query": query})
        context = {"form": form, **alerts.described(query)}
        return render(request, "sanctions/alerts/subscribe.html", context)
    if refused := _over_alert_rate(request):
        return refused
    form = alerts.SubscribeForm(request.POST)
    if not form.is_valid():
        context = {"form": form, **alerts.described(request.POST.get("query", ""))}
        return render(request, "sanctions/alerts/subscribe.html", context, status=400)
    if refused := _over_alert_rate(request, form.cleaned_data["email"]):
        return refused
    subscription = alerts.subscribe(**form.cleaned_data)
    tasks.send_alert_confirmation.delay_on_commit(subscription.pk)
    return render(request, "sanctions/alerts/check_inbox.html")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def alert_confirm(request, token):
    """GET shows a button and changes nothing (mail scanners follow links); POST confirms."""
    subscription = _subscription(token)
    if subscription is None:
        return _alert_gone(request)
    confirmed = request.method == "POST" and subscription.confirm()
    template = "manage.html" if subscription.is_confirmed else "confirm.html"
    context = {"subscription": subscription, "confirmed": confirmed}
    context |= alerts.described(subscription.query)
    return render(request, f"sanctions/alerts/{template}", context)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def alert_manage(request, token):
    """A subscription in words, with a button that deletes it."""
    subscription = _subscription(token)
    if subscription is None:
        return _alert_gone(request)
    if request.method == "POST":
        subscription.delete()
        return render(request, "sanctions/alerts/unsubscribed.html")
    context = {"subscription": subscription, **alerts.described(subscription.query)}
    return render(request, "sanctions/alerts/manage.html", context)


# RFC 8058: a mail client posts "List-Unsubscribe=One-Click" here without the site's
# cookies, so there is no CSRF token to check; the secret token in the URL is the key.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def alert_unsubscribe(request, token):
    """One-click unsubscribe (POST); GET shows the button and changes nothing."""
    subscription = _subscription(token)
    if request.method == "POST":
        if subscription is not None:
            subscription.delete()
        return render(request, "sanctions/alerts/unsubscribed.html")  # a repeat is no error
    if subscription is None:
        return _alert_gone(request)
    context = {"subscription": subscription, **alerts.described(subscription.query)}
    return render(request, "sanctions/alerts/unsubscribe.html", context)
