"""The public, read-only REST API under /api/v1/.

Only published actions are public, and entities and articles only through them
(`Entity.objects.visible()`, `Article.objects.visible()`). The list endpoints filter
with the FilterSets of the web pages, so a query string means the same on both.
"""

import hashlib
from functools import cached_property

from django.conf import settings
from django.db.models import F, Prefetch
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date, quote_etag
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework import generics, pagination, routers, serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.status import HTTP_301_MOVED_PERMANENTLY

from .api_rows import (
    action_columns,
    action_rows,
    article_columns,
    article_coverage,
    article_entities,
    article_rows,
    entity_aliases,
    entity_columns,
    entity_identifiers,
    entity_inverse_relations,
    entity_relations,
    entity_rows,
    published_designations,
    shared,
)
from .caching import VersionedPaginator, latest_change
from .filters import MAX_PAGE_SIZE, ActionFilter, EntityFilter
from .links import absolute_url, site_root
from .models import (
    Action,
    Alias,
    Article,
    Authority,
    Coverage,
    Designation,
    Effect,
    Entity,
    Identifier,
    LegalBasis,
    Program,
    Relation,
    Source,
    status_date,
)
from .search import QueryTooLong, clean_query

# Querysets: each serializer below reads only what these load, so a page costs a fixed
# number of queries however many rows it holds.


def action_queryset():
    """Published actions with everything ActionSerializer shows, newest first."""
    return Action.objects.published().with_details(lists=True).order_by("-announced_on", "-pk")


def entity_queryset():
    """Visible entities with everything EntitySerializer shows, by name."""
    # Into lists (to_attr): a prefetch into a related manager clones a queryset per row.
    return (
        Entity.objects.visible()
        .prefetch_related(
            Prefetch("aliases", queryset=entity_aliases(), to_attr="alias_list"),
            Prefetch("identifiers", queryset=entity_identifiers(), to_attr="identifier_list"),
            Prefetch("relations", queryset=entity_relations(), to_attr="relation_list"),
            Prefetch(
                "inverse_relations",
                queryset=entity_inverse_relations(),
                to_attr="inverse_relation_list",
            ),
            Prefetch(
                "designations", queryset=published_designations(), to_attr="published_designations"
            ),
        )
        .order_by("name", "pk")
    )


def article_queryset():
    """Visible articles with the published actions they cover, newest first."""
    return (
        Article.objects.visible()
        .select_related("outlet")
        .prefetch_related(
            Prefetch("coverage", queryset=article_coverage(), to_attr="published_coverage"),
            Prefetch("entities", queryset=article_entities()),
        )
        .order_by(F("published_on").desc(nulls_last=True), "-pk")
    )


# Serializers


class OptionalURLField(serializers.URLField):
    """A URL column that may be blank; blank is given as null ("not confirmed")."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return value or None


class PageURLField(serializers.URLField):
    """The record's public page on this site."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value):
        # The site's root once per serializer: a page of the API links a thousand records.
        if "_root" not in self.__dict__:
            self._root = site_root(self.context.get("request"))
        return self._root + value.get_absolute_url()


class AuthoritySerializer(serializers.ModelSerializer):
    url = OptionalURLField(help_text="The authority's website.")

    class Meta:
        model = Authority
        fields = ["id", "slug", "name", "short_name", "jurisdiction", "url", "description"]


class AuthorityRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Authority
        fields = ["slug", "short_name", "name"]


class LegalBasisSerializer(serializers.ModelSerializer):
    url = OptionalURLField(help_text="The text of the instrument.")

    class Meta:
        model = LegalBasis
        fields = ["id", "slug", "name", "short_name", "citation", "url", "description"]


class LegalBasisRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = LegalBasis
        fields = ["slug", "short_name", "name"]


class ProgramSerializer(serializers.ModelSerializer):
    authority = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Program
        fields = ["id", "code", "name", "authority", "description"]


class ProgramRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = ["code", "name"]


class EntityRefSerializer(serializers.ModelSerializer):
    html_url = PageURLField()

    class Meta:
        model = Entity
        fields = ["id", "name", "kind", "countries", "html_url"]


class ActionRefSerializer(serializers.ModelSerializer):
    html_url = PageURLField()
    authority = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Action
        fields = ["id", "title", "kind", "authority", "announced_on", "html_url"]


# What a reader should know of an article's provenance, wherever an article is shown.
ARTICLE_PROVENANCE = ["is_copy", "headline_from_url", "notes"]


class ArticleRefSerializer(serializers.ModelSerializer):
    outlet = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = Article
        fields = ["id", "headline", "url", "outlet", "published_on", *ARTICLE_PROVENANCE]


class DesignationSerializer(serializers.ModelSerializer):
    entity = EntityRefSerializer()
    legal_basis = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="Only where it differs from the action's.",
    )

    class Meta:
        model = Designation
        fields = [
            "entity",
            "role",
            "name_as_listed",
            "reason",
            "legal_basis",
            "measures",
            "regime",
            "ends_on",
        ]


class SourceSerializer(serializers.ModelSerializer):
    url = OptionalURLField(help_text="Null when no URL could be confirmed.")
    url_confirmed = serializers.BooleanField(read_only=True)

    class Meta:
        model = Source
        fields = [
            "kind",
            "title",
            "publisher",
            "url",
            "url_confirmed",
            "published_on",
            "document_number",
        ]


class CoverageSerializer(serializers.ModelSerializer):
    article = ArticleRefSerializer()

    class Meta:
        model = Coverage
        fields = ["relation", "article"]


class ActionSerializer(serializers.ModelSerializer):
    html_url = PageURLField()
    authority = AuthorityRefSerializer()
    other_authorities = AuthorityRefSerializer(
        many=True,
        source="other_authorities_list",
        help_text="Other authorities that made the announcement jointly.",
    )
    recorded_entity_count = serializers.IntegerField(
        read_only=True, help_text="Entities recorded as listed, removed, amended or identified."
    )
    partial = serializers.BooleanField(
        read_only=True,
        help_text="The announcement names more entities than are recorded.",
    )
    # The lists of action_queryset() (Action.objects.with_details(lists=True)).
    legal_bases = LegalBasisRefSerializer(many=True, source="legal_bases_list")
    programs = ProgramRefSerializer(many=True, source="programs_list")
    designations = DesignationSerializer(many=True)
    sources = SourceSerializer(many=True, source="sources_list")
    coverage = CoverageSerializer(many=True, source="coverage_list")

    class Meta:
        model = Action
        fields = [
            "id",
            "reference",
            "html_url",
            "title",
            "kind",
            "regime",
            "authority",
            "other_authorities",
            "legal_bases",
            "legal_basis_not_stated",
            "programs",
            "announced_on",
            "effective_on",
            "gazetted_on",
            "ends_on",
            "document_numbers",
            "summary",
            "notes",
            "source_unconfirmed",
            "announced_entity_count",
            "recorded_entity_count",
            "partial",
            "designations",
            "sources",
            "coverage",
            "published_at",
            "updated_at",
        ]


class AliasSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alias
        fields = ["name", "kind", "script", "language"]


class IdentifierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Identifier
        fields = ["scheme", "value", "country", "note"]


class RelationSerializer(serializers.ModelSerializer):
    object = EntityRefSerializer()

    class Meta:
        model = Relation
        fields = ["kind", "object", "description"]


class InverseRelationSerializer(serializers.ModelSerializer):
    subject = EntityRefSerializer()

    class Meta:
        model = Relation
        fields = ["subject", "kind", "description"]


class EntityActionSerializer(serializers.ModelSerializer):
    """One of the entity's designations, seen from the entity."""

    action = ActionRefSerializer()
    legal_basis = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Designation
        fields = ["action", "role", "name_as_listed", "reason", "legal_basis", "measures"]


class StatusLineSerializer(serializers.Serializer):
    regime = serializers.CharField(help_text="The list or measures regime, e.g. ofac_sdn.")
    regime_label = serializers.CharField()
    status = serializers.ChoiceField(choices=Effect.choices)
    since = serializers.DateField()
    until = serializers.DateField(
        allow_null=True, help_text="Scheduled end of a listing in force, where known."
    )
    action = ActionRefSerializer(help_text="The action that set this status.")
    authorities = serializers.SerializerMethodField(
        help_text="Slugs of the authorities that acted."
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_authorities(self, line):
        return [authority.slug for authority in line.authorities]


class EntitySerializer(serializers.ModelSerializer):
    html_url = PageURLField()
    status = serializers.SerializerMethodField(
        help_text="Standing under each regime on ?as_of=YYYY-MM-DD (default today), derived"
        " from the published actions."
    )
    aliases = AliasSerializer(many=True, source="alias_list")
    identifiers = IdentifierSerializer(many=True, source="identifier_list")
    relations = RelationSerializer(
        many=True,
        source="relation_list",
        help_text="This entity's stated links to others (subject → object).",
    )
    inverse_relations = InverseRelationSerializer(
        many=True,
        source="inverse_relation_list",
        help_text="Other entities' stated links to this one.",
    )
    actions = EntityActionSerializer(
        many=True, source="published_designations", help_text="Oldest first."
    )

    class Meta:
        model = Entity
        fields = [
            "id",
            "reference",
            "html_url",
            "name",
            "kind",
            "countries",
            "description",
            "aliases",
            "identifiers",
            "relations",
            "inverse_relations",
            "status",
            "actions",
            "updated_at",
        ]

    @cached_property
    def _status_lines(self):
        """One serializer for every row's status lines: one made per row costs a copy of
        its fields each time."""
        return StatusLineSerializer(many=True, context=self.context)

    @extend_schema_field(StatusLineSerializer(many=True))
    def get_status(self, entity):
        as_of = self.context.get("as_of") or status_date("")
        lines = entity.status_on(as_of, entity.published_designations)
        return self._status_lines.to_representation(lines)


class MergedEntitySerializer(serializers.Serializer):
    """The answer for an entity found to be another and merged into it."""

    detail = serializers.CharField(help_text="Always `merged`.")
    merged_into = serializers.IntegerField(help_text="The id of the entity it was merged into.")
    url = serializers.URLField(help_text="That entity's API URL, as in the Location header.")


class ArticleCoverageSerializer(serializers.ModelSerializer):
    action = ActionRefSerializer()

    class Meta:
        model = Coverage
        fields = ["relation", "action"]


class ArticleSerializer(serializers.ModelSerializer):
    outlet = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    actions = ArticleCoverageSerializer(many=True, source="published_coverage")
    entities = EntityRefSerializer(many=True, help_text="Entities the article mentions.")

    class Meta:
        model = Article
        fields = [
            "id",
            "url",
            "headline",
            "outlet",
            "published_on",
            *ARTICLE_PROVENANCE,
            "author",
            "language",
            "excerpt",
            "actions",
            "entities",
            "updated_at",
        ]


# Views


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema: generated once per process, as it changes only with the code
    (100 ms a request otherwise). It is the same for everyone and cheap: not rate-limited."""

    throttle_classes = []
    _generated: dict = {}

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        if version not in self._generated:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            self._generated[version] = generator.get_schema(request=request, public=True)
        filename = self._get_filename(request, version)
        return Response(
            data=self._generated[version],
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )


class Pagination(pagination.PageNumberPagination):
    """Page numbers; `page_size` is capped at MAX_PAGE_SIZE (filters.py, as on the pages),
    and a malformed one is refused."""

    page_size = settings.PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    django_paginator_class = VersionedPaginator

    def get_page_size(self, request):
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        return min(_positive_int(self.page_size_query_param, value), self.max_page_size)

    def get_page_number(self, request, paginator):
        value = request.query_params.get(self.page_query_param)
        if value is None or value in self.last_page_strings:
            return super().get_page_number(request, paginator)
        return _positive_int(self.page_query_param, value)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page: {self.page_size} unless given, "
                    f"at most {self.max_page_size} (larger values are capped)."
                )
        return parameters


def _positive_int(name: str, value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ValidationError({name: ["Give a whole number of 1 or more."]})
    return int(value)


class ConditionalGetMixin:
    """ETag (a digest of the body) and Last-Modified on every 200; 304 when they match.

    The ETag is exact whatever changed. Last-Modified is the time of the latest change to
    what the public sees; a client that sends both gets the ETag's answer.
    """

    changes_daily = False

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in ("GET", "HEAD") or response.status_code != 200:
            return response
        response.render()
        # The body is made, and what it was made from goes now: DRF's response holds
        # itself (in its renderer context), so a page's thousands of records would wait
        # for the cyclic collector, and a later request would pay for freeing them.
        response.data = None
        response["ETag"] = quote_etag(hashlib.blake2b(response.content, digest_size=16).hexdigest())
        changed = latest_change()[1]
        if self.changes_daily:  # a status on "today" changes at midnight too
            midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
            changed = max(filter(None, [changed, midnight]))
        timestamp = int(changed.timestamp()) if changed else None
        if timestamp:
            response["Last-Modified"] = http_date(timestamp)
        # Caches may keep a copy but must revalidate it: the data changes at any time.
        patch_cache_control(response, public=True, no_cache=True)
        return get_conditional_response(
            request, etag=response["ETag"], last_modified=timestamp, response=response
        )


class ReadOnlyViewSet(ConditionalGetMixin, viewsets.ReadOnlyModelViewSet):
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend]
    # Any path segment reaches the view, so a malformed key gets the API's JSON 404.
    lookup_value_regex = "[^/\x00]+"  # PostgreSQL text cannot hold NUL


@extend_schema_view(
    list=extend_schema(summary="Published actions, newest first"),
    retrieve=extend_schema(summary="One published action"),
)
class ActionViewSet(ReadOnlyViewSet):
    """Published actions with their designations, legal bases, sources and coverage."""

    serializer_class = ActionSerializer
    filterset_class = ActionFilter

    def get_queryset(self):
        return action_queryset()

    def list(self, request, *args, **kwargs):
        # Read as values (api_rows.py): the same answer as the serializer's, without
        # a model instance for each of a page's 2,600 records.
        serializer = shared(self.get_serializer_class())
        actions = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(action_columns(actions, serializer))
        return self.get_paginated_response(action_rows(page, serializer, site_root(request)))


_AS_OF = OpenApiParameter(
    "as_of", OpenApiTypes.DATE, description="The date `status` is given for (default today)."
)


@extend_schema_view(
    list=extend_schema(
        summary="Entities named in published actions, by name",
        parameters=[_AS_OF],
    ),
    retrieve=extend_schema(
        summary="One entity",
        parameters=[_AS_OF],
        responses={
            200: EntitySerializer,
            301: OpenApiResponse(
                MergedEntitySerializer,
                description="The entity was merged into another: the Location header and "
                "`url` give the other's API URL, for good.",
            ),
        },
    ),
)
class EntityViewSet(ReadOnlyViewSet):
    """Entities with their names, identifiers, relations and published actions.

    An entity merged into another answers 301, pointing at that one.
    """

    serializer_class = EntitySerializer
    filterset_class = EntityFilter
    changes_daily = True

    def get_queryset(self):
        return entity_queryset()

    def list(self, request, *args, **kwargs):
        # Read as values (api_rows.py), as the action list is; statuses and designations
        # from the models, which define them.
        serializer = self.get_serializer()
        entities = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(entity_columns(entities, serializer))
        return self.get_paginated_response(entity_rows(page, serializer, site_root(request)))

    def retrieve(self, request, *args, **kwargs):
        try:
            return super().retrieve(request, *args, **kwargs)
        except Http404:
            visible = Entity.objects.visible()
            survivor = generics.get_object_or_404(visible, merged_entities=self.kwargs["pk"])
        url = absolute_url(reverse("api-entity-detail", args=[survivor.pk]), request)
        if request.query_params:
            url += f"?{request.query_params.urlencode()}"
        body = {"detail": "merged", "merged_into": survivor.pk, "url": url}
        # Revalidated before reuse, as every answer here is: a merge can be undone.
        headers = {"Location": url, "Cache-Control": "public, no-cache"}
        return Response(body, status=HTTP_301_MOVED_PERMANENTLY, headers=headers)

    def get_serializer_context(self):
        value = self.request.query_params.get("as_of", "") if self.request else ""
        try:
            as_of = status_date(value)
        except ValueError:
            raise ValidationError({"as_of": ["Give a date as YYYY-MM-DD."]}) from None
        return {**super().get_serializer_context(), "as_of": as_of}


_ARTICLE_QUERY = OpenApiParameter(
    "q", OpenApiTypes.STR, description="Words in the headline or the outlet's name."
)


@extend_schema_view(
    list=extend_schema(summary="Coverage of published actions", parameters=[_ARTICLE_QUERY]),
    retrieve=extend_schema(summary="One article"),
)
class ArticleViewSet(ReadOnlyViewSet):
    """News and analysis covering published actions, newest first."""

    serializer_class = ArticleSerializer

    def get_queryset(self):
        articles = article_queryset()
        try:
            query = clean_query(self.request.query_params.get("q", ""))
        except QueryTooLong as exc:
            raise ValidationError({"q": [str(exc)]}) from None
        if self.action == "list" and query:
            articles = articles.matching(query)
        return articles

    def list(self, request, *args, **kwargs):
        # Read as values (api_rows.py), as the action list is.
        serializer = shared(self.get_serializer_class())
        articles = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(article_columns(articles, serializer))
        return self.get_paginated_response(article_rows(page, serializer, site_root(request)))


class AuthorityViewSet(ReadOnlyViewSet):
    """Bodies that take sanctions actions."""

    queryset = Authority.objects.public().order_by("name", "pk")
    serializer_class = AuthoritySerializer
    lookup_field = "slug"


class LegalBasisViewSet(ReadOnlyViewSet):
    """Instruments actions are taken under."""

    queryset = LegalBasis.objects.public().order_by("short_name", "pk")
    serializer_class = LegalBasisSerializer
    lookup_field = "slug"


class ProgramViewSet(ReadOnlyViewSet):
    """List tags and regimes."""

    queryset = Program.objects.public().select_related("authority").order_by("code", "pk")
    serializer_class = ProgramSerializer
    lookup_field = "code"


class Router(routers.DefaultRouter):
    include_format_suffixes = False


router = Router()
router.register("actions", ActionViewSet, basename="api-action")
router.register("entities", EntityViewSet, basename="api-entity")
router.register("articles", ArticleViewSet, basename="api-article")
router.register("authorities", AuthorityViewSet, basename="api-authority")
router.register("legal-bases", LegalBasisViewSet, basename="api-legal-basis")
router.register("programs", ProgramViewSet, basename="api-program")


def complete_schema(result, generator, request, public):
    """drf-spectacular hook: what every operation shares but the views cannot state.

    Each operation can answer 400, 404 and 429; the filters accept an empty value (an
    empty field of the web pages' filter form means "any").
    """
    errors = {
        "400": "A malformed or unknown filter value, page or page size; the body names it.",
        "404": "No such public record, or a page past the last.",
        "429": "Too many requests; retry after the seconds in the Retry-After header.",
    }
    error_body = {"application/json": {"schema": {"type": "object", "additionalProperties": True}}}
    for path in result["paths"].values():
        for operation in path.values():
            for status, description in errors.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": error_body}
                )
            operation["responses"]["429"]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}
            }
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["name"] not in ("page", "page_size"):
                    parameter["allowEmptyValue"] = True
    return result
