"""The API's pages of actions read as rows: what ActionSerializer gives, without a model
instance per row.

A page of 100 actions holds some 2,600 records (designations, entities, coverage,
articles, sources, ...). Building a model instance for each and serialising it field by
field cost more than the database spends finding them (90 ms a page at full scale).
Here each table is read once with ``values_list()`` and the rows are put together as
dicts. The serializers in api.py stay the definition of the answer: the keys are their
fields, in their order; values JSON cannot carry as they are (dates, times) go through
the serializer's own field; tests/sanctions/test_api.py checks the two give the same
JSON for every action of the demo record, so a field added to a serializer and not
here fails there.
"""

import datetime
from collections import defaultdict

from .links import record_path, site_root
from .models import Action, Authority, Coverage, Designation, LegalBasis, Program, Source

# The columns behind each nested serializer's fields, in the serializer's field order.
AUTHORITY = ["slug", "short_name", "name"]
LEGAL_BASIS = ["slug", "short_name", "name"]
PROGRAM = ["code", "name"]
ENTITY = ["entity_id", "entity__name", "entity__kind", "entity__countries"]  # + html_url
DESIGNATION = [
    "role",
    "name_as_listed",
    "reason",
    "legal_basis__slug",
    "measures",
    "regime",
    "ends_on",
]
SOURCE = ["kind", "title", "publisher", "url", "url", "published_on", "document_number"]
ARTICLE = [
    "article_id",
    "article__headline",
    "article__url",
    "article__outlet__name",
    "article__published_on",
    "article__is_copy",
    "article__headline_from_url",
    "article__notes",
]
ACTION = [
    "id",
    "reference",
    "title",
    "kind",
    "regime",
    "legal_basis_not_stated",
    "announced_on",
    "effective_on",
    "gazetted_on",
    "ends_on",
    "document_numbers",
    "summary",
    "notes",
    "source_unconfirmed",
    "announced_entity_count",
    "partial",  # with_partial()'s annotation
    "published_at",
    "updated_at",
]


def action_columns(actions):
    """The actions as the tuples action_rows() reads: ACTION, then the authority's."""
    return actions.values_list(*ACTION, *(f"authority__{column}" for column in AUTHORITY))


def action_rows(actions: list[tuple], serializer) -> list[dict]:
    """ActionSerializer's representation of `actions` (rows of action_columns()), in
    their order. `serializer` is an ActionSerializer (its context gives the request)."""
    ids = [row[0] for row in actions]
    fields = serializer.fields
    root = site_root(serializer.context.get("request"))
    when = _converter(fields["published_at"])

    def page_url(view_name, pk):
        return root + record_path(view_name, pk)

    authorities = _by_action(
        Authority, "joint_actions", ids, AUTHORITY, _keyed(fields, "other_authorities")
    )
    legal_bases = _by_action(LegalBasis, "actions", ids, LEGAL_BASIS, _keyed(fields, "legal_bases"))
    programs = _by_action(Program, "actions", ids, PROGRAM, _keyed(fields, "programs"))

    designations = defaultdict(list)
    entity_keys = list(fields["designations"].child.fields["entity"].fields)
    designation_keys = list(fields["designations"].child.fields)[1:]
    for action_id, entity_id, *row in (
        Designation.objects.filter(action__in=ids)
        .order_by("position", "pk")
        .values_list("action_id", *ENTITY, *DESIGNATION)
    ):
        entity, rest = row[:3], row[3:]
        designations[action_id].append(
            {
                "entity": dict(
                    zip(
                        entity_keys,
                        [entity_id, *entity, page_url("entity_detail", entity_id)],
                        strict=True,
                    )
                ),
                **dict(zip(designation_keys, map(_plain, rest), strict=True)),
            }
        )

    sources = defaultdict(list)
    source_keys = list(fields["sources"].child.fields)
    for action_id, *row in (
        Source.objects.filter(action__in=ids)
        .order_by("published_on", "pk")
        .values_list("action_id", *SOURCE)
    ):
        row[3], row[4] = row[3] or None, bool(row[3])  # url (null when blank), url_confirmed
        sources[action_id].append(dict(zip(source_keys, map(_plain, row), strict=True)))

    coverage = defaultdict(list)
    article_keys = list(fields["coverage"].child.fields["article"].fields)
    for action_id, relation, *article in (
        Coverage.objects.filter(action__in=ids)
        .order_by("article__published_on", "article_id")
        .values_list("action_id", "relation", *ARTICLE)
    ):
        coverage[action_id].append(
            {
                "relation": relation,
                "article": dict(zip(article_keys, map(_plain, article), strict=True)),
            }
        )

    keys = list(fields)
    rows = []
    for row in actions:
        value = dict(zip(ACTION, row[: len(ACTION)], strict=True))
        pk = value["id"]
        value.update(
            html_url=page_url("action_detail", pk),
            authority=dict(zip(AUTHORITY, row[len(ACTION) :], strict=True)),
            other_authorities=authorities[pk],
            legal_bases=legal_bases[pk],
            programs=programs[pk],
            designations=designations[pk],
            sources=sources[pk],
            coverage=coverage[pk],
            recorded_entity_count=Action.recorded_count(d["role"] for d in designations[pk]),
            published_at=when(value["published_at"]),
            updated_at=when(value["updated_at"]),
        )
        rows.append({key: _plain(value[key]) for key in keys})
    return rows


def _keyed(fields, name) -> list[str]:
    return list(fields[name].child.fields)


def _by_action(model, query_name, ids, columns, keys) -> dict[int, list[dict]]:
    """The rows of `model` linked to each action (many-to-many), in the model's order,
    as a prefetch reads them."""
    linked = defaultdict(list)
    for action_id, *row in model.objects.filter(**{f"{query_name}__in": ids}).values_list(
        query_name, *columns
    ):
        linked[action_id].append(dict(zip(keys, row, strict=True)))
    return linked


def _converter(field):
    def convert(value):
        return None if value is None else field.to_representation(value)

    return convert


def _plain(value):
    """A value as JSON carries it: dates as ISO 8601 (DRF's default DATE_FORMAT)."""
    if type(value) is datetime.date:
        return value.isoformat()
    return value
