"""Bulk exports of the published record: CSV, JSON and FollowTheMoney, with constant memory.

Two ways out, one writer per format:

- a request with filters (the query string of /actions/ or /entities/, through the same
  FilterSets) streams live from the database. The CSV files are written by PostgreSQL
  (COPY ... TO STDOUT) and relayed row block by row block; the JSON and FtM writers read
  their main rows and each relation through server-side cursors in the same order and
  merge them, a chunk at a time. Memory is bounded by a chunk, never by the total;
- a request without filters gets the latest full dump: `write_dumps()` (the periodic
  `write_export_dumps` task, also queued when a worker starts and finds none, or
  `manage.py export_dumps`) writes every file into
  Django's storage with a manifest giving its size, record count, SHA-256 and
  generation time, which the /exports/ page lists. Serving a file costs nothing; a live
  stream of everything costs the database a full scan per request. Without a dump
  yet, the full stream is live.

Every live export runs in one REPEATABLE READ transaction, so its parts agree.
"""

import hashlib
import itertools
import json
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.dateparse import parse_datetime
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import require_safe

from . import api, ftm_mapping, record
from .filters import ActionFilter, EntityFilter, strict_filterset
from .links import site_root
from .models import (
    Action,
    Alias,
    Article,
    Coverage,
    Designation,
    Entity,
    Identifier,
    Relation,
    Source,
    StatusHistory,
)
from .throttling import ClientRateThrottle, over_rate

CHUNK_SIZE = 2000  # rows fetched per round trip; memory is bounded by this, not the total
DUMP_DIR = "exports"
DUMPS_KEPT = 2  # the previous dump survives a regeneration, for downloads in progress
FOLDER_TIME = "%Y%m%dT%H%M%S.%fZ"  # a dump's folder: when it began, sortable as text
WITHDRAWN = f"{DUMP_DIR}/withdrawn"  # when the dumps were last withdrawn, as FOLDER_TIME

# Spreadsheets run a cell beginning with one of these as a formula, also after leading
# spaces, and some read the full-width forms as the ASCII ones. Such a cell is written
# with a leading apostrophe; so is one that begins with a tab, a carriage return or an
# apostrophe, so that removing one leading apostrophe always gives back the stored text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
ALWAYS_QUOTED = ("\t", "\r", "\0", "'")
# The spaces a spreadsheet skips before a formula (the same set in SQL below).
LEADING_SPACE = " \t\n\r\x0b\x0c\u00a0\u3000"
LIST_SEPARATOR = "; "


def _chunks(rows: Iterable, size: int = CHUNK_SIZE) -> Iterator[list]:
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


class _Following:
    """Rows of a second cursor read in step with a first one sorted the same way.

    Each export reads its main rows and their related rows (designations, aliases...)
    through server-side cursors in the same order and merges them here, so no query
    depends on the size of a chunk and none repeats per chunk. Related rows must be
    filtered to the main rows' keys.
    """

    def __init__(self, queryset: QuerySet):
        self.rows = queryset.iterator(chunk_size=CHUNK_SIZE)
        self.row = next(self.rows, None)

    def take(self, key) -> list[tuple]:
        """The rows of `key`, without their key column."""
        found = []
        while self.row is not None and self.row[0] == key:
            found.append(self.row[1:])
            self.row = next(self.rows, None)
        return found


# The rows of actions, one chunk at a time, with what each export needs of them.


def action_chunks(actions: QuerySet) -> Iterator[list[dict]]:
    """Actions as dicts in chunks, by id, with what their FtM Sanctions say: legal bases,
    programs, source URLs and designations."""
    selected = actions.values("pk")
    legal_bases = _Following(
        Action.legal_bases.through.objects.filter(action__in=selected)
        .order_by("action_id", "legalbasis__name")
        .values_list("action_id", "legalbasis__name")
    )
    programs = _Following(
        Action.programs.through.objects.filter(action__in=selected)
        .order_by("action_id", "program__code")
        .values_list("action_id", "program__code")
    )
    sources = _Following(
        Source.objects.filter(action__in=selected)
        .exclude(url="")
        .order_by("action_id", "published_on", "pk")
        .values_list("action_id", "url")
    )
    designations = _Following(
        Designation.objects.filter(action__in=selected)
        .order_by("action_id", "position", "pk")
        .values_list(
            "action_id",
            "entity_id",
            "entity__reference",
            "role",
            "name_as_listed",
            "legal_basis__name",
            "measures",
            "reason",
            "pk",
        )
    )
    rows = actions.order_by("pk").values(
        "pk",
        "reference",
        "title",
        "kind",
        "announced_on",
        "effective_on",
        "gazetted_on",
        "document_numbers",
        "authority__name",
        "authority__jurisdiction",
    )
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK_SIZE)):
        for action in chunk:
            pk = action["pk"]
            action["legal_bases"] = [name for (name,) in legal_bases.take(pk)]
            action["programs"] = [code for (code,) in programs.take(pk)]
            action["source_urls"] = [url for (url,) in sources.take(pk)]
            action["designations"] = designations.take(pk)
        yield chunk


def entity_chunks(entities: QuerySet) -> Iterator[list[dict]]:
    """Entities as dicts in chunks, by id, each with its names and identifiers."""
    selected = entities.values("pk")
    aliases = _Following(
        Alias.objects.filter(entity__in=selected)
        .order_by("entity_id", "name")
        .values_list("entity_id", "name", "kind")
    )
    identifiers = _Following(
        Identifier.objects.filter(entity__in=selected)
        .order_by("entity_id", "scheme", "value")
        .values_list("entity_id", "scheme", "value", "country")
    )
    rows = entities.order_by("pk").values(
        "pk", "reference", "name", "kind", "countries", "description"
    )
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK_SIZE)):
        for entity in chunk:
            entity["aliases"] = aliases.take(entity["pk"])
            entity["identifiers"] = identifiers.take(entity["pk"])
        yield chunk


# CSV files, written by PostgreSQL itself: COPY (SELECT ...) TO STDOUT (FORMAT csv) quotes
# as RFC 4180 wants and sends one message per row, so Python only turns the line ends
# into CRLF. Each column is (name, SQL expression, meaning); text that a spreadsheet
# could run is neutralised in the query (_text).


def _sql_escapes(chars) -> str:
    """Characters as the body of a U&'' literal: no quoting to get wrong."""
    return "".join(f"\\{ord(c):04x}" for c in chars if c != "\0")  # text cannot hold NUL


def _sql_chars(chars) -> str:
    return ", ".join(f"U&'{_sql_escapes(c)}'" for c in chars if c != "\0")


_SQL_ALWAYS = _sql_chars(ALWAYS_QUOTED)
_SQL_TRIGGERS = _sql_chars(FORMULA_TRIGGERS)
_SQL_SPACE = f"U&'{_sql_escapes(LEADING_SPACE)}'"


def _text(expression: str) -> str:
    """The text of a CSV cell, made inert for spreadsheets: the SQL of the cell."""
    return (
        f"CASE WHEN left({expression}, 1) IN ({_SQL_ALWAYS})"
        f" OR left(ltrim({expression}, {_SQL_SPACE}), 1) IN ({_SQL_TRIGGERS})"
        f" THEN '''' || {expression} ELSE {expression} END"
    )


def _list(expression: str) -> str:
    return _text(f"array_to_string({expression}, '{LIST_SEPARATOR}')")


ACTION_COLUMNS = [
    ("action_id", "a.id", "The action's number on this site."),
    ("action_reference", _text("a.reference"), "The action's stable external key, if any."),
    ("action_url", "%(site)s || '/actions/' || a.id || '/'", "The action's page."),
    ("announced_on", "a.announced_on", "Date of the announcement (ISO 8601)."),
    ("effective_on", "a.effective_on", "Date the measure took effect, where known."),
    ("gazetted_on", "a.gazetted_on", "Federal Register / Official Journal date, where known."),
    ("authority", "au.slug", "The acting authority's slug (the `authority` filter)."),
    ("authority_name", _text("au.name"), "The acting authority's name."),
    (
        "other_authorities",
        _list("cited.other_authorities"),
        "Slugs of the authorities that made the announcement jointly.",
    ),
    ("kind", "a.kind", "What the action does: designation, delisting, entity_list_addition..."),
    (
        "regime",
        "coalesce(nullif(d.regime, ''), a.regime)",
        "The list or measures regime acted on: ofac_sdn, bis_entity_list, inksna, missile...",
    ),
    ("title", _text("a.title"), "The action's title."),
    ("legal_bases", _list("cited.legal_bases"), "Slugs of the instruments the action cites."),
    ("programs", _list("cited.programs"), "Program codes, e.g. NPWMD."),
    ("document_numbers", _list("a.document_numbers"), "Federal Register citations, dockets."),
    ("source_urls", _list("cited.source_urls"), "Confirmed URLs of the official sources."),
    ("entity_id", "e.id", "The entity's number on this site; empty for an action naming none."),
    ("entity_reference", _text("e.reference"), "The entity's stable external key, if any."),
    ("entity_name", _text("e.name"), "The entity's primary name."),
    ("entity_kind", "e.kind", "organization, company, state_body, person, vessel or aircraft."),
    ("entity_countries", _list("e.countries"), "ISO 3166-1 alpha-2 codes."),
    ("role", "d.role", "The entity's part: listed, delisted, amended, identified or named."),
    ("name_as_listed", _text("d.name_as_listed"), "The name exactly as the announcement gave it."),
    ("designation_legal_basis", "dlb.slug", "This designation's own legal basis, if it differs."),
    ("measures", _text("d.measures"), "The measures the announcement names for this entity."),
    ("reason", _text("d.reason"), "The conduct the announcement gives."),
    (
        "ends_on",
        "coalesce(d.ends_on, a.ends_on)",
        "Scheduled end of the measures, where set; not in force from that day.",
    ),
    (
        "announced_entity_count",
        "a.announced_entity_count",
        "How many entities the announcement names, where more than are recorded.",
    ),
]

ACTIONS_SQL = """
SELECT {columns}
  FROM sanctions_action a
  JOIN sanctions_authority au ON au.id = a.authority_id
  CROSS JOIN LATERAL (
      SELECT ARRAY(SELECT l.slug FROM sanctions_action_legal_bases x
                     JOIN sanctions_legalbasis l ON l.id = x.legalbasis_id
                    WHERE x.action_id = a.id ORDER BY l.name) AS legal_bases,
             ARRAY(SELECT p.code FROM sanctions_action_programs x
                     JOIN sanctions_program p ON p.id = x.program_id
                    WHERE x.action_id = a.id ORDER BY p.code) AS programs,
             ARRAY(SELECT s.url FROM sanctions_source s
                    WHERE s.action_id = a.id AND s.url <> ''
                    ORDER BY s.published_on, s.id) AS source_urls,
             ARRAY(SELECT o.slug FROM sanctions_action_other_authorities x
                     JOIN sanctions_authority o ON o.id = x.authority_id
                    WHERE x.action_id = a.id ORDER BY o.slug) AS other_authorities
      OFFSET 0  -- computed once per action, not once per designation
  ) AS cited
  LEFT JOIN sanctions_designation d ON d.action_id = a.id
  LEFT JOIN sanctions_entity e ON e.id = d.entity_id
  LEFT JOIN sanctions_legalbasis dlb ON dlb.id = d.legal_basis_id
 WHERE a.id IN ({selected})
 ORDER BY a.id, d.position, d.id
"""

ENTITY_COLUMNS = [
    ("entity_id", "e.id", "The entity's number on this site."),
    ("entity_reference", _text("e.reference"), "The entity's stable external key, if any."),
    ("entity_url", "%(site)s || '/entities/' || e.id || '/'", "The entity's page."),
    ("name", _text("e.name"), "The primary name, in Latin script."),
    ("kind", "e.kind", "organization, company, state_body, person, vessel or aircraft."),
    ("countries", _list("e.countries"), "ISO 3166-1 alpha-2 codes."),
    ("aliases", _list("names.aliases"), "Other names, in every script."),
    ("identifiers", _list("names.identifiers"), "scheme:value pairs, e.g. ofac:12345."),
    ("description", _text("e.description"), "What the entity is."),
    ("action_count", "timeline.actions", "Published actions naming the entity."),
    ("first_announced_on", "timeline.first", "Date of the earliest of those actions."),
    ("last_announced_on", "timeline.last", "Date of the latest of those actions."),
    ("authorities", _list("timeline.authorities"), "Slugs of the authorities that acted."),
]

ENTITIES_SQL = """
SELECT {columns}
  FROM sanctions_entity e
  CROSS JOIN LATERAL (
      SELECT ARRAY(SELECT al.name FROM sanctions_alias al
                    WHERE al.entity_id = e.id ORDER BY al.name) AS aliases,
             ARRAY(SELECT i.scheme || ':' || i.value FROM sanctions_identifier i
                    WHERE i.entity_id = e.id ORDER BY i.scheme, i.value) AS identifiers
      OFFSET 0  -- computed once, not once per use of each column
  ) AS names
  CROSS JOIN LATERAL (
      SELECT count(*) AS actions, min(a.announced_on) AS first, max(a.announced_on) AS last,
             coalesce(array_agg(DISTINCT au.slug ORDER BY au.slug), '{{}}') AS authorities
        FROM sanctions_designation d
        JOIN sanctions_action a ON a.id = d.action_id AND a.status = 'published'
        JOIN sanctions_authority au ON au.id = a.authority_id
       WHERE d.entity_id = e.id
  ) AS timeline
 WHERE e.id IN ({selected})
 ORDER BY e.id
"""


def copy_csv(template: str, columns: list, rows: QuerySet) -> Iterator[tuple[bytes, int]]:
    """The query's rows as CSV from PostgreSQL: UTF-8, CRLF line ends, ~1,000 rows a block.

    `rows`, a filtered queryset, selects the ids; its parameters, and the site root, are
    bound by psycopg on the client, as COPY takes none.
    """
    try:
        selected, params = rows.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # e.g. a name search that matched nothing: the header only
        selected, params = "SELECT NULL::bigint AS pk WHERE false", ()
    select = ", ".join(f'{sql} AS "{name}"' for name, sql, _ in columns)
    params = [site_root()] * select.count("%(site)s") + list(params)
    query = template.format(columns=select.replace("%(site)s", "%s"), selected=selected)
    statement = f"COPY ({query}) TO STDOUT (FORMAT csv, HEADER, ENCODING 'UTF8')"
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        rows = iter(copy)
        yield bytes(next(rows)[:-1]) + b"\r\n", 0  # the header
        block = []
        for row in rows:
            block.append(row[:-1])  # each row ends with a lone LF; RFC 4180 wants CRLF
            if len(block) == 1000:
                yield b"\r\n".join(block) + b"\r\n", len(block)
                block = []
        if block:
            yield b"\r\n".join(block) + b"\r\n", len(block)


def actions_csv(actions: QuerySet):
    return copy_csv(ACTIONS_SQL, ACTION_COLUMNS, actions)


def entities_csv(entities: QuerySet):
    return copy_csv(ENTITIES_SQL, ENTITY_COLUMNS, entities)


# actions.json: the API's representation of each action, in one JSON array


def actions_json(actions: QuerySet) -> Iterator[tuple[bytes, int]]:
    """A JSON array of actions, each as /api/v1/actions/<id>/ gives it."""
    actions = api.action_queryset().filter(pk__in=actions.values("pk")).order_by("pk")
    separator = "[\n"
    count = 0
    for chunk in _chunks(actions.iterator(chunk_size=500), 500):
        data = api.ActionSerializer(chunk, many=True).data
        text = ",\n".join(json.dumps(item, ensure_ascii=False) for item in data)
        yield (separator + text).encode(), len(chunk)
        separator = ",\n"
        count += len(chunk)
    yield ("[]\n" if not count else "\n]\n").encode(), 0


# ftm.jsonl: FollowTheMoney entities, one a line (the mapping is in ftm_mapping.py)


def ftm_records(actions: QuerySet) -> Iterator[list[dict]]:
    """Chunks of FtM records: entities, their links, Sanctions, Articles, Documentation.

    Each record references only records of the same file: the entities are those the
    actions name, and relations and mentions are kept only between them.
    """
    selected = actions.values("pk")
    entities = Entity.objects.filter(
        Exists(Designation.objects.filter(entity=OuterRef("pk"), action__in=selected))
    )
    for chunk in entity_chunks(entities):
        yield [record for entity in chunk for record in ftm_mapping.entity_records(entity)]

    relations = (
        Relation.objects.filter(subject__in=entities, object__in=entities)
        .order_by("pk")
        .values_list(
            "subject_id",
            "subject__reference",
            "object_id",
            "object__reference",
            "kind",
            "description",
        )
    )
    for chunk in _chunks(relations.iterator(chunk_size=CHUNK_SIZE)):
        yield [
            ftm_mapping.relation_record(
                ftm_mapping.entity_id(s, s_ref), ftm_mapping.entity_id(o, o_ref), kind, text
            )
            for s, s_ref, o, o_ref, kind, text in chunk
        ]

    for chunk in action_chunks(actions):
        periods = listing_periods({d[0] for action in chunk for d in action["designations"]})
        yield [
            ftm_mapping.sanction_record(action, designation, periods.get(designation[-1]))
            for action in chunk
            for designation in action["designations"]
        ]

    articles = Article.objects.filter(
        Exists(Coverage.objects.filter(article=OuterRef("pk"), action__in=selected))
    )
    # FtM links an article to entities, not to an announcement: coverage of an action
    # becomes Documentation of each of its entities, carrying the action's key.
    covered = _Following(
        Coverage.objects.filter(article__in=articles.values("pk"), action__in=selected)
        .exclude(action__designations=None)
        .order_by("article_id", "action_id", "action__designations__position", "pk")
        .values_list(
            "article_id",
            "action_id",
            "action__reference",
            "relation",
            "action__designations__entity_id",
            "action__designations__entity__reference",
        )
    )
    mentioned = _Following(
        Article.entities.through.objects.filter(
            article__in=articles.values("pk"), entity__in=entities.values("pk")
        )
        .order_by("article_id", "entity_id")
        .values_list("article_id", "entity_id", "entity__reference")
    )
    rows = articles.order_by("pk").values(
        "pk", "url", "headline", "published_on", "author", "language", "excerpt", "outlet__name"
    )
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK_SIZE)):
        records = []
        for article in chunk:
            id = ftm_mapping.article_id(article["url"])
            records.append(ftm_mapping.article_record(article))
            for action, reference, relation, entity, entity_ref in covered.take(article["pk"]):
                key = ftm_mapping.action_key(action, reference)
                entity = ftm_mapping.entity_id(entity, entity_ref)
                records.append(ftm_mapping.coverage_record(id, entity, relation, key))
            for entity, entity_ref in mentioned.take(article["pk"]):
                records.append(
                    ftm_mapping.mention_record(id, ftm_mapping.entity_id(entity, entity_ref))
                )
        yield records


def listing_periods(entity_ids) -> dict[int, tuple]:
    """For each published designation that listed one of these entities: when its listing
    took effect and when it stopped, as ``Entity.status_on`` derives them."""
    designations = defaultdict(list)
    rows = (
        Designation.objects.published()
        .filter(entity_id__in=entity_ids)
        .select_related("action")
        .only(*STATUS_FIELDS)
    )
    for designation in rows.iterator(chunk_size=CHUNK_SIZE):
        designations[designation.entity_id].append(designation)
    periods = {}
    for rows in designations.values():
        periods.update(StatusHistory.walk(rows).periods)
    return periods


# What deriving a status reads of a designation and its action.
STATUS_FIELDS = [
    "entity_id",
    "role",
    "regime",
    "ends_on",
    "action__status",
    "action__kind",
    "action__regime",
    "action__authority",
    "action__announced_on",
    "action__effective_on",
    "action__ends_on",
]


def ftm_jsonl(actions: QuerySet) -> Iterator[tuple[bytes, int]]:
    for records in ftm_records(actions):
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        yield lines.encode(), len(records)


# The catalogue: each file, how it is filtered and written


@dataclass(frozen=True)
class Export:
    name: str
    title: str
    record: str  # what one record is, for the index page
    content_type: str
    filterset: type
    rows: Callable[[], QuerySet]  # the public rows, before filters
    write: Callable[[QuerySet], Iterator[tuple[bytes, int]]]
    description: str
    columns: list | None = None  # CSV: (name, SQL, meaning)

    @property
    def documented_columns(self) -> list[tuple[str, str]]:
        return [(name, meaning) for name, _, meaning in self.columns or []]


EXPORTS = {
    export.name: export
    for export in [
        Export(
            name="record.json",
            title="The whole record, exactly (for mirrors and copies)",
            record="action",
            content_type="application/json",
            filterset=ActionFilter,
            rows=lambda: Action.objects.published(),
            write=record.record_json,
            description="Every public field of the published actions and of what they show "
            "(reference data, entities with their names, identifiers and relations, "
            "articles, sources, coverage), in the tracker's own format: "
            "`python manage.py import_list record-json FILE` reads it back into an empty "
            "database with nothing lost.",
        ),
        Export(
            name="actions.csv",
            title="Actions, one row per designation",
            record="designation",
            content_type="text/csv; charset=utf-8; header=present",
            filterset=ActionFilter,
            rows=lambda: Action.objects.published(),
            write=actions_csv,
            description="Each entity's part in each published action, with the action's "
            "authority, legal bases, programs and sources repeated on each row. An action "
            "that names no entity has one row with the entity columns empty.",
            columns=ACTION_COLUMNS,
        ),
        Export(
            name="entities.csv",
            title="Entities, one row per entity",
            record="entity",
            content_type="text/csv; charset=utf-8; header=present",
            filterset=EntityFilter,
            rows=lambda: Entity.objects.visible(),
            write=entities_csv,
            description="Every entity named in a published action, with its names, "
            "identifiers and a summary of its actions.",
            columns=ENTITY_COLUMNS,
        ),
        Export(
            name="actions.json",
            title="Actions as JSON",
            record="action",
            content_type="application/json",
            filterset=ActionFilter,
            rows=lambda: Action.objects.published(),
            write=actions_json,
            description="A JSON array of published actions, each exactly as the API's "
            "/api/v1/actions/<id>/ gives it: designations, legal bases, programs, sources "
            "and coverage included.",
        ),
        Export(
            name="ftm.jsonl",
            title="FollowTheMoney entities",
            record="FollowTheMoney entity",
            content_type="application/x-ndjson; charset=utf-8",
            filterset=ActionFilter,
            rows=lambda: Action.objects.published(),
            write=ftm_jsonl,
            description="One FollowTheMoney entity per line, for OpenSanctions' tools "
            "(yente, nomenklatura) and Aleph: each entity as Organization, Company, "
            "PublicBody, Person, Vessel or Airplane; identifiers without a property of "
            "their own as Identification; relations as Ownership or UnknownLink; each "
            "designation as a Sanction; each article as an Article, linked to entities "
            "by Documentation.",
        ),
    ]
}

if ftm_mapping.model is None:  # without followthemoney, no FtM entities to write
    del EXPORTS["ftm.jsonl"]

# Dumps: every export unfiltered, written into storage with a manifest


def write_dumps(*, storage=None) -> dict:
    """Write every export unfiltered into storage, then its manifest; return the manifest."""
    storage = storage or default_storage
    began = timezone.now()
    generated_at = began.replace(microsecond=0)
    folder = f"{DUMP_DIR}/{began:{FOLDER_TIME}}"
    files = []
    for export in EXPORTS.values():
        digest = hashlib.sha256()
        records = size = 0
        with tempfile.TemporaryFile() as spool:
            for data, count in _consistent(export.write, export.rows()):
                spool.write(data)
                digest.update(data)
                records += count
                size += len(data)
            spool.seek(0)
            path = storage.save(f"{folder}/{export.name}", File(spool, name=export.name))
        files.append(
            {
                "name": export.name,
                "path": path,
                "size": size,
                "records": records,
                "sha256": digest.hexdigest(),
            }
        )
    manifest = {
        "generated_at": generated_at.isoformat(),
        "license": settings.DATA_LICENSE,
        "files": files,
    }
    # Written last: a dump without its manifest is never served.
    storage.save(f"{folder}/manifest.json", ContentFile(json.dumps(manifest, indent=2)))
    # The newest kept; older ones deleted, withdrawn ones too.
    for old in sorted(storage.listdir(DUMP_DIR)[0], reverse=True)[DUMPS_KEPT:]:
        for name in storage.listdir(f"{DUMP_DIR}/{old}")[1]:
            storage.delete(f"{DUMP_DIR}/{old}/{name}")
    return manifest


def withdraw_dumps(*, storage=None) -> None:
    """Stop serving every dump written so far: the public record changed (an action was
    published or unpublished). Until the next dump, unfiltered downloads stream live."""
    storage = storage or default_storage
    if storage.exists(WITHDRAWN):
        storage.delete(WITHDRAWN)
    storage.save(WITHDRAWN, ContentFile(f"{timezone.now():{FOLDER_TIME}}"))


def _dump_folders(storage) -> list[str]:
    """Dump folders with a manifest, newest first, begun after the last withdrawal: a
    dump begun before it may hold an action since unpublished."""
    if not storage.exists(DUMP_DIR):
        return []
    withdrawn = ""
    if storage.exists(WITHDRAWN):
        with storage.open(WITHDRAWN) as f:
            withdrawn = f.read().decode()
    folders = sorted(storage.listdir(DUMP_DIR)[0], reverse=True)
    return [f for f in folders if f > withdrawn and storage.exists(f"{DUMP_DIR}/{f}/manifest.json")]


def latest_manifest(storage=None) -> dict | None:
    storage = storage or default_storage
    for folder in _dump_folders(storage):
        with storage.open(f"{DUMP_DIR}/{folder}/manifest.json") as f:
            return json.load(f)
    return None


def _consistent(write, rows: QuerySet) -> Iterator[tuple[bytes, int]]:
    """The writer's output, read in one transaction so every chunk sees the same data.

    In a transaction the server-side cursor also streams, where outside one PostgreSQL
    would first copy the whole result (a WITH HOLD cursor).
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        # Whole-table sorts and hashes: in memory rather than in temporary files.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # One statement streams the whole record: the web's statement timeout is for pages.
        cursor.execute("SET LOCAL statement_timeout = 0")
        yield from write(rows)


# Views


class ExportThrottle(ClientRateThrottle):
    """Anonymous live exports per hour; serving a dump file is not counted."""

    scope = "exports"


@require_safe
def index(request):
    manifest = latest_manifest()
    files = {file["name"]: file for file in manifest["files"]} if manifest else {}
    generated_at = parse_datetime(manifest["generated_at"]) if manifest else None
    exports = [(export, files.get(export.name)) for export in EXPORTS.values()]
    return render(
        request,
        "sanctions/exports_index.html",
        {
            "exports": exports,
            "generated_at": generated_at,
            "license": settings.DATA_LICENSE,
            "every_hours": settings.CELERY_BEAT_SCHEDULE["write-export-dumps"]["schedule"] // 3600,
            "ftm_export": "ftm.jsonl" in EXPORTS,
        },
    )


@require_safe
def download(request, name):
    export = EXPORTS.get(name)
    if export is None:
        raise Http404("No such export; /exports/ lists them.")
    filterset, problems = strict_filterset(export.filterset, request.GET, queryset=export.rows())
    if problems:
        return JsonResponse(problems, status=400)
    if not any(value not in (None, "") for value in filterset.form.cleaned_data.values()):
        manifest = latest_manifest()
        file = next((f for f in manifest["files"] if f["name"] == name), None) if manifest else None
        if file:
            return _serve_dump(request, export, file, manifest["generated_at"])
    if refused := over_rate(request, ExportThrottle(), "Too many live exports; try again later."):
        return refused
    stream = (data for data, _ in _consistent(export.write, filterset.qs))
    response = StreamingHttpResponse(stream, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _serve_dump(request, export, file, generated_at):
    validators = HttpResponse()
    validators["ETag"] = quote_etag(file["sha256"])
    last_modified = int(parse_datetime(generated_at).timestamp())
    validators["Last-Modified"] = http_date(last_modified)
    conditional = get_conditional_response(
        request, etag=validators["ETag"], last_modified=last_modified, response=validators
    )
    if conditional is not validators:
        return conditional  # 304 Not Modified, or 412
    try:
        handle = default_storage.open(file["path"])
    except FileNotFoundError:
        raise Http404("The dump was replaced; reload /exports/.") from None
    response = FileResponse(handle, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.name}"'
    for header in ("ETag", "Last-Modified"):
        response[header] = validators[header]
    return response
