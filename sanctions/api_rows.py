"""The API's list pages read as rows: what ActionSerializer, ArticleSerializer and
EntitySerializer give, without a model instance per row (but for the designations that
define an entity's status).

A page of 100 actions holds some 2,600 records (designations, entities, coverage,
articles, sources, ...); one of 100 articles or entities some 600. Building a model
instance for each and serialising it field by field cost more than the database spends
finding them (90 ms a page of actions at full scale). Here each table is read once with
``values_list()`` (the page's ids as one array parameter, lookups.py) and the rows are
put together as dicts. The serializers in api.py stay the definition of the answer: the
columns read are their fields' sources (``columns()``), in their order; only the fields
that are no column (``is_column()``) are made here; values JSON cannot carry as they are
(dates, times) go through the serializer's own field. tests/sanctions/test_api.py checks
the two give the same JSON for every action, article and entity of the demo record.
"""

from collections import defaultdict
from functools import cache

from rest_framework import serializers

from .links import record_path
from .models import (
    Action,
    Alias,
    Authority,
    Coverage,
    Designation,
    Entity,
    Identifier,
    LegalBasis,
    Program,
    Relation,
    Source,
)

# Fields made from other values of their row.
DERIVED = {
    "recorded_entity_count",  # Action.recorded_count of the designations' roles
    "url_confirmed",  # a source's url, not blank
}


@cache
def shared(serializer_class):
    """One instance of a serializer whose fields the rows read, built once per process:
    building ActionSerializer's 80 fields (nested ones included) cost 3-6 ms a page. It
    holds no request; the site's root comes with each call. Not for a serializer whose
    own fields read the request (EntitySerializer's status reads ``as_of``)."""
    return serializer_class()


def is_column(name: str, field) -> bool:
    """Whether a serializer field is read as a column of its row: it is no nested record
    or list of records (each read from its table below), no field of the whole record
    (its page's URL, made from its id) and not derived from other values."""
    return not (
        isinstance(field, serializers.BaseSerializer) or field.source == "*" or name in DERIVED
    )


def columns(serializer, prefix: str = "") -> list[str]:
    """The values() paths of a serializer's fields that are columns, in field order: a
    field's source, or for a slug reference the slug's path."""
    paths = []
    for name, field in serializer.fields.items():
        if not is_column(name, field):
            continue
        path = prefix + field.source.replace(".", "__")
        if isinstance(field, serializers.SlugRelatedField):
            path += f"__{field.slug_field}"
        paths.append(path)
    return paths


def action_columns(actions, serializer):
    """The actions as the tuples action_rows() reads: the action's columns, then its
    authority's."""
    authority = serializer.fields["authority"]
    return actions.values_list(*columns(serializer), *columns(authority, "authority__"))


def action_rows(actions: list[tuple], serializer, root: str) -> list[dict]:
    """ActionSerializer's representation of `actions` (rows of action_columns()), in
    their order. `serializer` is an ActionSerializer; `root` the site's (links.site_root)."""
    fields = serializer.fields
    own = [name for name, field in fields.items() if is_column(name, field)]
    id_column = own.index("id")
    ids = [row[id_column] for row in actions]
    when = _converter(fields["published_at"])

    # Many-to-many, in the models' order, as a prefetch reads them.
    linked = {
        name: _grouped(
            model.objects.filter(**{f"{query_name}__any": ids}),
            query_name,
            fields[name].child,
            root,
        )
        for name, model, query_name in [
            ("other_authorities", Authority, "joint_actions"),
            ("legal_bases", LegalBasis, "actions"),
            ("programs", Program, "actions"),
        ]
    }

    designations = _linked(
        Designation.objects.filter(action__any=ids).order_by("position", "pk"),
        "action_id",
        fields["designations"].child,
        "entity",
        root,
    )

    sources = defaultdict(list)
    source = fields["sources"].child
    source_named = _naming(source)
    for action_id, *row in (
        Source.objects.filter(action__any=ids)
        .order_by("published_on", "pk")
        .values_list("action_id", *columns(source))
    ):
        value = source_named(row)
        value["url_confirmed"] = bool(value["url"])
        value["url"] = value["url"] or None  # OptionalURLField: blank is null
        sources[action_id].append({name: value[name] for name in source.fields})

    coverage = _linked(
        Coverage.objects.filter(action__any=ids).order_by("article__published_on", "article_id"),
        "action_id",
        fields["coverage"].child,
        "article",
        root,
    )

    action_named, authority_named = _naming(serializer), _naming(fields["authority"])
    rows = []
    for row in actions:
        value = action_named(row[: len(own)])
        pk = value["id"]
        value.update(
            html_url=root + record_path("action_detail", pk),
            authority=authority_named(row[len(own) :]),
            designations=designations[pk],
            sources=sources[pk],
            coverage=coverage[pk],
            recorded_entity_count=Action.recorded_count(d["role"] for d in designations[pk]),
            published_at=when(value["published_at"]),
            updated_at=when(value["updated_at"]),
            **{name: by_action[pk] for name, by_action in linked.items()},
        )
        rows.append({name: value[name] for name in fields})
    return rows


# What an article's record holds beside its own columns, in its order: for the rows and
# for api.article_queryset()'s prefetches alike.


def article_coverage():
    """An article's coverage of published actions, oldest action first."""
    return Coverage.objects.published().with_actions().order_by("action__announced_on", "action_id")


def article_entities():
    """The visible entities an article mentions, by name."""
    return Entity.objects.visible().order_by("name", "pk")


def article_columns(articles, serializer):
    """The articles as the tuples article_rows() reads: the article's columns."""
    return articles.values_list(*columns(serializer))


def article_rows(articles: list[tuple], serializer, root: str) -> list[dict]:
    """ArticleSerializer's representation of `articles` (rows of article_columns()), in
    their order, as article_queryset() would give it: its published coverage oldest
    action first, its visible entities by name. `root` is the site's (links.site_root)."""
    fields = serializer.fields
    article_named = _naming(serializer)
    rows = [article_named(row) for row in articles]
    ids = [row["id"] for row in rows]
    when = _converter(fields["updated_at"])

    coverage = _linked(
        article_coverage().filter(article__any=ids),
        "article_id",
        fields["actions"].child,
        "action",
        root,
    )

    entities = _grouped(
        article_entities().filter(articles__any=ids), "articles", fields["entities"].child, root
    )

    for value in rows:
        pk = value["id"]
        value.update(
            actions=coverage[pk], entities=entities[pk], updated_at=when(value["updated_at"])
        )
    return [{name: value[name] for name in fields} for value in rows]


# What an entity's record holds beside its own columns, in its order: for the API's
# entity pages read as rows and for its prefetches (api.entity_queryset) alike.


def entity_aliases():
    return Alias.objects.order_by("name", "pk")


def entity_identifiers():
    return Identifier.objects.order_by("scheme", "value", "pk")


def entity_relations():
    """An entity's links to visible others."""
    visible = Entity.objects.visible()
    return (
        Relation.objects.filter(object__in=visible).select_related("object").order_by("kind", "pk")
    )


def entity_inverse_relations():
    """Visible others' links to an entity."""
    visible = Entity.objects.visible()
    return (
        Relation.objects.filter(subject__in=visible)
        .select_related("subject")
        .order_by("kind", "pk")
    )


def published_designations():
    """An entity's designations in published actions, oldest first, each with what its
    status (Entity.status_on) and its reference to the action read."""
    return (
        Designation.objects.published()
        .with_authorities()
        .select_related("legal_basis")
        .order_by("action__announced_on", "action_id")
    )


def entity_columns(entities, serializer):
    """The entities as the tuples entity_rows() reads: the entity's columns."""
    return entities.values_list(*columns(serializer))


def entity_rows(entities: list[tuple], serializer, root: str) -> list[dict]:
    """EntitySerializer's representation of `entities` (rows of entity_columns()), in
    their order, as entity_queryset() would give it. Names, identifiers and relations are
    read as values; the published designations as models, which define the status they
    give (``status`` and ``actions`` are the serializer's own fields, read with the
    serializer's context: its ``as_of``). `root` is the site's (links.site_root)."""
    fields = serializer.fields
    entity_named = _naming(serializer)
    rows = [entity_named(row) for row in entities]
    ids = [row["id"] for row in rows]
    when = _converter(fields["updated_at"])

    aliases = _grouped(
        entity_aliases().filter(entity__any=ids), "entity_id", fields["aliases"].child, root
    )
    identifiers = _grouped(
        entity_identifiers().filter(entity__any=ids), "entity_id", fields["identifiers"].child, root
    )

    relations = _linked(
        entity_relations().filter(subject__any=ids),
        "subject_id",
        fields["relations"].child,
        "object",
        root,
    )
    inverse_relations = _linked(
        entity_inverse_relations().filter(object__any=ids),
        "object_id",
        fields["inverse_relations"].child,
        "subject",
        root,
    )

    designations = defaultdict(list)
    for designation in published_designations().filter(entity__any=ids):
        designations[designation.entity_id].append(designation)

    for value in rows:
        pk = value["id"]
        entity = Entity(pk=pk)
        entity.published_designations = designations[pk]
        value.update(
            html_url=root + record_path("entity_detail", pk),
            aliases=aliases[pk],
            identifiers=identifiers[pk],
            relations=relations[pk],
            inverse_relations=inverse_relations[pk],
            status=fields["status"].to_representation(entity),
            actions=fields["actions"].to_representation(designations[pk]),
            updated_at=when(value["updated_at"]),
        )
    return [{name: value[name] for name in fields} for value in rows]


def _linked(links, key: str, serializer, nested: str, root: str) -> dict[int, list[dict]]:
    """`serializer`'s representation of each row of `links` (a queryset), grouped by the
    column `key`, in the queryset's order. Each row holds a reference to another record,
    the serializer's field `nested`, read in the same query; with its page's URL when the
    reference shows one."""
    reference = serializer.fields[nested]
    own, referenced = columns(serializer), columns(reference, f"{nested}__")
    link_named, reference_named = _naming(serializer), _naming(reference, root)
    order, split = list(serializer.fields), len(own)
    linked = defaultdict(list)
    for key_value, *row in links.values_list(key, *own, *referenced):
        value = link_named(row[:split])
        value[nested] = reference_named(row[split:])
        linked[key_value].append({name: value[name] for name in order})
    return linked


def _grouped(records, key: str, serializer, root: str) -> dict[int, list[dict]]:
    """`serializer`'s representation of each row of `records` (a queryset), grouped by
    the column `key`, in the queryset's order; with its page's URL where it shows one."""
    named = _naming(serializer, root)
    grouped = defaultdict(list)
    for key_value, *row in records.values_list(key, *columns(serializer)):
        grouped[key_value].append(named(row))
    return grouped


def _naming(serializer, root: str | None = None):
    """A function turning a row of columns(serializer) into {field name: value}, with
    dates as JSON carries them (ISO 8601, DRF's default DATE_FORMAT) and, given the
    site's `root`, the record's page (``html_url``, its model's detail page, the last of
    a reference's fields) where the serializer shows one. What to do is worked out once,
    not for each of a page's thousands of rows."""
    fields = serializer.fields
    names = [name for name, field in fields.items() if is_column(name, field)]
    dates = [name for name in names if isinstance(fields[name], serializers.DateField)]
    page = None
    if root is not None and "html_url" in fields:
        page = f"{serializer.Meta.model._meta.model_name}_detail"

    def named(row) -> dict:
        value = dict(zip(names, row, strict=True))
        for name in dates:
            if value[name] is not None:
                value[name] = value[name].isoformat()
        if page:
            value["html_url"] = root + record_path(page, value["id"])
        return value

    return named


def _converter(field):
    def convert(value):
        return None if value is None else field.to_representation(value)

    return convert
