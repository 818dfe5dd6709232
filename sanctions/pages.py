"""What the record pages show, assembled from the models: the views fetch a record,
call one of these and render the result.

- ``entity_page()``: an entity's designations, status, relations, coverage, names and
  the timeline and network drawn from them;
- ``public_history()``: the recorded changes of an action or an entity that the public
  may read (not drafts', not editors' own notes).
"""

import datetime
from collections import defaultdict

from django.db.models import Q
from pghistory.models import MiddlewareEvents

from . import charts
from .models import (
    EDITOR_ONLY_FIELDS,
    LIFTING_KINDS,
    LISTING_KINDS,
    UNSHOWN_ARTICLE_FIELDS,
    Action,
    AliasKind,
    Entity,
    Script,
    archived_copies,
    detect_script,
    legal_basis_names,
)

# Timeline colours: listings red, removals green, everything else blue.
_KIND_COLOURS = {
    **dict.fromkeys(LISTING_KINDS, "#D55E00"),
    **dict.fromkeys(LIFTING_KINDS, "#009E73"),
}


def entity_page(entity: Entity, as_of: datetime.date) -> dict:
    """The template context of an entity's page, its status given on `as_of`."""
    designations = list(
        entity.designations.published()
        .with_authorities()
        .annotate(legal_basis_names=legal_basis_names("action_id"))
        .order_by("action__announced_on", "action__pk")
    )
    relations = list(entity.public_relations().select_related("subject", "object"))
    articles = list(
        entity.public_articles([d.action_id for d in designations])
        .select_related("outlet")
        .defer(*UNSHOWN_ARTICLE_FIELDS)
        .prefetch_related(archived_copies("snapshots"))
    )
    aliases = list(entity.aliases.all())
    aliases_by_script = defaultdict(list)
    for alias in aliases:
        aliases_by_script[alias.get_script_display() or "Unknown script"].append(alias)
    events = [
        (
            d.action.announced_on,
            0,
            _KIND_COLOURS.get(d.action.kind, "#0072B2"),
            f"{d.action.announced_on:%Y-%m-%d} {d.action.get_kind_display()}: {d.action.title}",
            d.action.get_absolute_url(),
        )
        for d in designations
    ]
    events += [
        (a.published_on, 1, "#5b6675", a.headline, a.url) for a in articles if a.published_on
    ]
    neighbours = [
        (r.object.name, r.object.get_absolute_url(), f"this entity is {r.get_kind_display()} it")
        if r.subject_id == entity.pk
        else (r.subject.name, r.subject.get_absolute_url(), f"{r.get_kind_display()} this entity")
        for r in relations
    ]
    return {
        "entity": entity,
        "designations": designations,
        "as_of": as_of,
        "status": entity.status_on(as_of, designations),
        "timeline": charts.timeline(events),
        "network": charts.network((entity.name, entity.get_absolute_url()), neighbours),
        "relations": relations,
        "articles": articles,
        "aliases_by_script": sorted(aliases_by_script.items()),
        "names_as_written": names_as_written(aliases),
    }


# BCP 47 script subtags: where an alias's language is not recorded, `lang` still
# tells browsers and screen readers its script ("und-Hani": some language, in Han).
_SCRIPT_TAGS = {Script.CYRILLIC, Script.ARABIC, Script.HAN, Script.HANGUL}


def names_as_written(aliases) -> list[tuple[str, str]]:
    """(name, lang) of an entity's names in a script other than Latin, its names in the
    original script first, weak aliases left out: shown by its title, as written."""
    written = []
    for alias in aliases:
        script = alias.script or detect_script(alias.name)
        if script == Script.LATIN or alias.kind == AliasKind.WEAK:
            continue
        lang = alias.language or (f"und-{script}" if script in _SCRIPT_TAGS else "")
        written.append((alias.kind != AliasKind.ORIGINAL, alias.name, lang))
    return [(name, lang) for _, name, lang in sorted(written, key=lambda row: row[0])]


# An action's parts with a history; fetch jobs and suggestions also point at actions,
# but are editors' working notes.
ACTION_PARTS = [
    "sanctions.Action",
    "sanctions.Designation",
    "sanctions.Source",
    "sanctions.Coverage",
]
ENTITY_PARTS = ["sanctions.Entity", "sanctions.Alias", "sanctions.Identifier"]


def public_history(record: Action | Entity, *, limit: int = 500) -> list:
    """The record's recorded changes that the public may read, newest first; editors
    stay anonymous, and a change to editors' own notes alone is not shown."""
    events = (
        MiddlewareEvents.objects.references(record)
        .filter(_public_events(record))
        .order_by("-pgh_created_at", "-pgh_id")
        .only("pgh_created_at", "pgh_label", "pgh_obj_model", "pgh_diff", "pgh_context")[:limit]
    )
    shown = []
    for event in events:
        if event.pgh_diff:
            event.pgh_diff = {
                field: change
                for field, change in event.pgh_diff.items()
                if field not in EDITOR_ONLY_FIELDS
            }
            if event.pgh_diff.keys() <= {"updated_at"}:
                continue
        shown.append(event)
    return shown


def _public_events(record: Action | Entity) -> Q:
    if isinstance(record, Action):
        return Q(pgh_obj_model__in=ACTION_PARTS)
    published_actions = list(record.designations.published().values_list("action_id", flat=True))
    relations = record.public_relations().values_list("subject_id", "object_id")
    linked = {pk for pair in relations for pk in pair} | {record.pk}
    return (
        Q(pgh_obj_model__in=ENTITY_PARTS)
        # Designations in drafts, and links to entities known only from drafts, stay hidden.
        | Q(pgh_obj_model="sanctions.Designation", pgh_data__action_id__in=published_actions)
        | Q(
            pgh_obj_model="sanctions.Relation",
            pgh_data__subject_id__in=list(linked),
            pgh_data__object_id__in=list(linked),
        )
    )
