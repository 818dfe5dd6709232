"""Atom feeds of published actions, filtered by the same ActionFilter as the lists.

Links and ids are built on SITE_ROOT when it is set, so an entry keeps its id whichever
host name the feed was fetched through; unset, they are paths that the syndication
framework completes with the host the feed was served from.
"""

import dataclasses
import datetime
import html
import re
from collections import defaultdict

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import Exists, OuterRef
from django.http import HttpResponseBadRequest, HttpResponseNotAllowed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import linebreaks
from django.utils.http import urlencode

from .fetching import is_web_url
from .filters import LIST_OPTIONS, ActionFilter, strict_filterset
from .links import site_root
from .models import Action, ActionKind, Designation, Entity

FEED_SIZE = 50

# How each filter reads in a feed's title; a filter added to ActionFilter later is
# described by its form label until it gets a word here.
FILTER_WORDS = {
    "q": "text",
    "authority": "authority",
    "legal_basis": "legal basis",
    "program": "program",
    "country": "country",
    "kind": "kind",
    "date_from": "from",
    "date_to": "to",
    "partial": "partial records",
}

# XML 1.0 cannot carry these; one pasted into a title would break every feed listing it.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)


def describe_filters(filterset: ActionFilter) -> str:
    """A valid filterset's active filters as "authority: U.S. Department of State;
    country: PK" (feeds' titles, e-mail alerts)."""
    parts = []
    for name, value in filterset.form.cleaned_data.items():
        if value in (None, ""):
            continue
        if name == "kind":
            value = ActionKind(value).label
        elif name == "q":
            value = f"“{value}”"
        elif isinstance(value, datetime.date):
            value = value.isoformat()
        word = FILTER_WORDS.get(name) or str(filterset.form[name].label).lower()
        parts.append(f"{word}: {value}")
    return "; ".join(parts)


class InvalidFilters(Exception):
    """The query string names an unknown filter or a value the filter refuses."""


@dataclasses.dataclass(frozen=True)
class FeedRequest:
    """One request's validated filters, and the entity when the feed is an entity's."""

    filterset: ActionFilter
    query: str  # the filter parameters given, in ActionFilter's order, empty ones left out
    path: str
    root: str  # links.site_root() of the request
    entity: Entity | None = None

    @property
    def self_url(self) -> str:
        return self.root + self.path + (f"?{self.query}" if self.query else "")

    def describe_filters(self) -> str:
        return describe_filters(self.filterset)


def filter_actions(request, actions) -> FeedRequest:
    """Apply the request's filters with ActionFilter; raise InvalidFilters, never ignore one."""
    filterset, problems = strict_filterset(ActionFilter, request.GET, queryset=actions)
    if problems:
        raise InvalidFilters(
            "\n".join(
                f"{key}: {message}" for key, messages in problems.items() for message in messages
            )
        )
    # The list's sort and page size, set aside by strict_filterset, stay out of its id.
    allowed = [name for name in ActionFilter.base_filters if name not in LIST_OPTIONS]
    query = urlencode(
        [(name, request.GET[name]) for name in allowed if request.GET.get(name, "").strip()]
    )
    return FeedRequest(filterset=filterset, query=query, path=request.path, root=site_root(request))


class ActionFeed(Feed):
    """The newest published actions matching the list filters, newest first."""

    feed_type = Atom1Feed

    def __call__(self, request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        try:
            response = super().__call__(request, *args, **kwargs)
        except InvalidFilters as error:
            # An unfiltered feed would pass for the filtered one: refuse, and say why.
            return HttpResponseBadRequest(f"{error}\n", content_type="text/plain; charset=utf-8")
        # The feed generator writes the XML a few bytes at a time, and the server sends
        # each write as its own packet: a cached feed took 6 ms to send, a page 1 ms.
        response.content = response.content
        return response

    def get_object(self, request):
        return filter_actions(request, Action.objects.for_list())

    def title(self, obj: FeedRequest) -> str:
        filters = obj.describe_filters()
        return _xml_text(f"{settings.SITE_NAME}: actions" + (f" — {filters}" if filters else ""))

    def subtitle(self, obj: FeedRequest) -> str:
        filters = obj.describe_filters()
        matching = f" matching {filters}" if filters else ""
        return _xml_text(
            f"The newest {FEED_SIZE} published sanctions actions{matching}, "
            "by date of announcement."
        )

    def link(self, obj: FeedRequest) -> str:
        url = obj.root + reverse("action_list")
        return url + (f"?{obj.query}" if obj.query else "")

    def feed_url(self, obj: FeedRequest) -> str:
        return obj.self_url

    def feed_guid(self, obj: FeedRequest) -> str:
        return obj.self_url

    def author_name(self) -> str:
        return settings.SITE_NAME

    def items(self, obj: FeedRequest) -> list[Action]:
        actions = list(obj.filterset.qs[:FEED_SIZE])
        # Each entry names the entities: their names and countries, nothing else, read
        # as values (a feed of large actions names hundreds).
        named = defaultdict(list)
        rows = (
            Designation.objects.filter(action__in=[action.pk for action in actions])
            .order_by("position", "pk")
            .values_list("action_id", "entity__name", "entity__countries")
        )
        for action_id, name, countries in rows:
            named[action_id].append((name, countries))
        for action in actions:
            action.entities_named = named[action.pk]
        return actions

    def item_title(self, action: Action) -> str:
        # Atom titles are text: Django's default would escape them a second time.
        return _xml_text(action.title)

    def item_link(self, action: Action) -> str:
        # A path, unless SITE_ROOT is set: the framework adds the host the feed is served
        # from, and uses the link as the entry's id.
        return settings.SITE_ROOT + action.get_absolute_url()

    def item_pubdate(self, action: Action) -> datetime.datetime:
        return datetime.datetime.combine(action.announced_on, datetime.time(), tzinfo=datetime.UTC)

    def item_updateddate(self, action: Action) -> datetime.datetime:
        return action.updated_at

    def item_author_name(self, action: Action) -> str:
        return _xml_text(action.authority.name)

    def item_author_link(self, action: Action) -> str | None:
        return action.authority.url if is_web_url(action.authority.url) else None

    def item_description(self, action: Action) -> str:
        """HTML (the generator escapes it into the XML): the summary, then the entities."""
        entities = action.entities_named
        parts = [linebreaks(action.summary, autoescape=True)] if action.summary else []
        if entities:
            parts.append(f"<p>Entities ({len(entities)}):</p><ul>")
            # html.escape is what Django's escape() applies, without its wrapper for lazy
            # strings: a feed of large actions names hundreds of entities.
            for name, countries in entities:
                where = f" ({', '.join(countries)})" if countries else ""
                parts.append(f"<li>{html.escape(name)}{html.escape(where)}</li>")
            parts.append("</ul>")
        else:
            parts.append("<p>This action names no individual entity.</p>")
        return _xml_text("".join(parts))

    def item_categories(self, action: Action) -> list[str]:
        return [
            *(_xml_text(name) for name in action.legal_basis_names),
            *(_xml_text(code) for code in action.program_codes),
            action.get_kind_display(),
        ]


class EntityActionFeed(ActionFeed):
    """The published actions concerning one entity; the list filters narrow it further."""

    def get_object(self, request, pk):
        entity = Entity.objects.visible().get(pk=pk)  # DoesNotExist answers 404
        concerning = Exists(Designation.objects.filter(action=OuterRef("pk"), entity=entity))
        obj = filter_actions(request, Action.objects.for_list().filter(concerning))
        return dataclasses.replace(obj, entity=entity)

    def title(self, obj: FeedRequest) -> str:
        filters = obj.describe_filters()
        title = f"{settings.SITE_NAME}: actions concerning {obj.entity.name}"
        return _xml_text(title + (f" — {filters}" if filters else ""))

    def subtitle(self, obj: FeedRequest) -> str:
        return _xml_text(
            f"The newest {FEED_SIZE} published sanctions actions naming {obj.entity.name}."
        )

    def link(self, obj: FeedRequest) -> str:
        return obj.root + obj.entity.get_absolute_url()
