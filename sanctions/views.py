"""Public, read-only pages. Only published actions, and what they cite, are shown."""

import datetime
from collections import defaultdict

from django.conf import settings
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.db.models import Count, Prefetch, Q
from django.db.models.functions import ExtractYear
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .filters import ActionFilter, EntityFilter
from .models import (
    Action,
    ActionStatus,
    Article,
    Coverage,
    CoverageRelation,
    Designation,
    Entity,
    Relation,
    Snapshot,
)


def site_context(request):
    return {"site_name": settings.SITE_NAME}


def _page(request, queryset):
    return Paginator(queryset, settings.PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request):
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def counts_by_year_and_authority(actions):
    """Rows of (year, {authority short name: count}, total) and the authority columns."""
    rows = (
        actions.order_by()
        .values("authority__short_name", year=ExtractYear("announced_on"))
        .annotate(n=Count("pk"))
    )
    table: dict[int, dict[str, int]] = defaultdict(dict)
    columns = set()
    for row in rows:
        table[row["year"]][row["authority__short_name"]] = row["n"]
        columns.add(row["authority__short_name"])
    columns = sorted(columns)
    years = [
        (year, [table[year].get(c, 0) for c in columns], sum(table[year].values()))
        for year in sorted(table)
    ]
    return columns, years


@require_safe
def home(request):
    published = Action.objects.published()
    columns, years = counts_by_year_and_authority(published)
    return render(
        request,
        "sanctions/home.html",
        {
            "latest": Action.objects.for_list()[:8],
            "columns": columns,
            "years": years,
            "action_count": published.count(),
            "entity_count": Entity.objects.visible().count(),
            "article_count": Article.objects.visible().count(),
        },
    )


@require_safe
def action_list(request):
    filterset = ActionFilter(request.GET or None, queryset=Action.objects.for_list())
    page = _page(request, filterset.qs)
    return render(
        request,
        "sanctions/action_list.html",
        {"filter": filterset, "page": page, "query": _query_without_page(request)},
    )


@require_safe
def action_detail(request, pk):
    designations = Designation.objects.select_related("entity", "legal_basis")
    coverage = (
        Coverage.objects.select_related("article__outlet")
        .prefetch_related("article__snapshots")
        .order_by("article__published_on", "article__pk")
    )
    action = get_object_or_404(
        Action.objects.published()
        .select_related("authority")
        .prefetch_related(
            "legal_bases",
            "programs",
            "sources__snapshots",
            Prefetch("designations", queryset=designations),
            Prefetch("coverage", queryset=coverage),
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
    return render(
        request,
        "sanctions/action_detail.html",
        {"action": action, "coverage_groups": coverage_groups},
    )


@require_safe
def entity_list(request):
    entities = Entity.objects.visible().annotate(
        action_count=Count(
            "designations", filter=Q(designations__action__status=ActionStatus.PUBLISHED)
        )
    )
    filterset = EntityFilter(request.GET or None, queryset=entities.order_by("name"))
    page = _page(request, filterset.qs)
    return render(
        request,
        "sanctions/entity_list.html",
        {"filter": filterset, "page": page, "query": _query_without_page(request)},
    )


@require_safe
def entity_detail(request, pk):
    entity = get_object_or_404(
        Entity.objects.visible().prefetch_related("aliases", "identifiers"), pk=pk
    )
    designations = list(
        entity.designations.filter(action__status=ActionStatus.PUBLISHED)
        .select_related("action__authority")
        .prefetch_related("action__legal_bases")
        .order_by("action__announced_on", "action__pk")
    )
    visible = Entity.objects.visible()
    relations = Relation.objects.select_related("subject", "object").filter(
        (Q(subject=entity) & Q(object__in=visible)) | (Q(object=entity) & Q(subject__in=visible))
    )
    action_ids = [d.action_id for d in designations]
    articles = (
        Article.objects.visible()
        .filter(Q(entities=entity) | Q(coverage__action__in=action_ids))
        .select_related("outlet")
        .prefetch_related("snapshots")
        .distinct()
        .order_by("-published_on", "-pk")
    )
    aliases_by_script = defaultdict(list)
    for alias in entity.aliases.all():
        aliases_by_script[alias.get_script_display() or "Unknown script"].append(alias)
    return render(
        request,
        "sanctions/entity_detail.html",
        {
            "entity": entity,
            "designations": designations,
            "status": entity.status_on(datetime.date.today(), designations),
            "relations": relations,
            "articles": articles,
            "aliases_by_script": sorted(aliases_by_script.items()),
        },
    )


@require_safe
def article_list(request):
    published_coverage = Coverage.objects.filter(
        action__status=ActionStatus.PUBLISHED
    ).select_related("action__authority")
    articles = (
        Article.objects.visible()
        .select_related("outlet")
        .prefetch_related(Prefetch("coverage", queryset=published_coverage))
    )
    query = request.GET.get("q", "").strip()
    if query:
        articles = articles.filter(
            Q(headline__unaccent__icontains=query) | Q(outlet__name__unaccent__icontains=query)
        )
    return render(
        request,
        "sanctions/article_list.html",
        {"page": _page(request, articles), "q": query, "query": _query_without_page(request)},
    )


@require_safe
def snapshot_download(request, pk):
    """An archived page, as a download only: it is someone else's HTML, never run here."""
    snapshots = Snapshot.objects.all() if request.user.is_staff else Snapshot.objects.public()
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


@never_cache
@require_safe
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")
