"""Bulk exports of the published record: CSV, JSON and FollowTheMoney, with constant memory.

Two ways out, one writer per format:

- a request with filters (the query string of /actions/ or /entities/) streams live from
  the database: rows come through a server-side cursor in chunks, each chunk's related
  rows in one query per relation, and each chunk is sent as soon as it is written;
- a request without filters gets the latest full dump: `write_dumps()` (the
  `export_dumps` command, run periodically) writes every file into Django's storage
  with a manifest giving its size, record count, SHA-256 and generation time, which the
  /exports/ page lists. Serving a file costs nothing; a live stream of everything costs
  the database a full scan per request. Without a dump yet, the full stream is live.
"""

import csv
import hashlib
import io
import itertools
import json
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, QuerySet
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.dateparse import parse_datetime
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import require_safe
from rest_framework.throttling import AnonRateThrottle

from . import api, ftm
from .filters import ActionFilter, EntityFilter
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
)

CHUNK_SIZE = 2000  # rows fetched per round trip; memory is bounded by this, not the total
DUMP_DIR = "exports"
DUMPS_KEPT = 2  # the previous dump survives a regeneration, for downloads in progress

# Spreadsheets run a cell beginning with one of these as a formula. Such a cell is written
# with a leading apostrophe; so is one that begins with an apostrophe, so that removing
# one leading apostrophe always gives back the stored text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0", "'")
LIST_SEPARATOR = "; "


def neutralise(value: str) -> str:
    """The text of a CSV cell, made inert for spreadsheets."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _cell(value) -> str:
    return neutralise(value) if isinstance(value, str) else value


def _joined(values: Iterable) -> str:
    return neutralise(LIST_SEPARATOR.join(str(value) for value in values))


def _chunks(rows: Iterable, size: int = CHUNK_SIZE) -> Iterator[list]:
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def _grouped(pairs: Iterable[tuple]) -> dict:
    """{key: [values...]} from (key, value...) rows, in the rows' order."""
    groups = defaultdict(list)
    for key, *value in pairs:
        groups[key].append(value[0] if len(value) == 1 else tuple(value))
    return groups


def page_url(kind: str, pk: int) -> str:
    return f"{settings.SITE_ROOT}/{kind}/{pk}/"


# The rows of actions, one chunk at a time, with what each export needs of them.


def action_chunks(actions: QuerySet) -> Iterator[list[dict]]:
    """Actions as dicts in chunks, newest first, each with designations and citations."""
    rows = actions.order_by("-announced_on", "-pk").values(
        "pk",
        "reference",
        "title",
        "kind",
        "announced_on",
        "effective_on",
        "gazetted_on",
        "document_numbers",
        "authority__slug",
        "authority__name",
        "authority__jurisdiction",
    )
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK_SIZE)):
        ids = [action["pk"] for action in chunk]
        through = Action.legal_bases.through.objects.filter(action_id__in=ids)
        legal_bases = _grouped(
            through.order_by("legalbasis__name").values_list(
                "action_id", "legalbasis__slug", "legalbasis__name"
            )
        )
        programs = _grouped(
            Action.programs.through.objects.filter(action_id__in=ids)
            .order_by("program__code")
            .values_list("action_id", "program__code")
        )
        sources = _grouped(
            Source.objects.filter(action_id__in=ids)
            .exclude(url="")
            .order_by("published_on", "pk")
            .values_list("action_id", "url")
        )
        designations = _grouped(
            Designation.objects.filter(action_id__in=ids)
            .order_by("position", "pk")
            .values_list(
                "action_id",
                "entity_id",
                "entity__reference",
                "entity__name",
                "entity__kind",
                "entity__countries",
                "role",
                "name_as_listed",
                "legal_basis__slug",
                "legal_basis__name",
                "measures",
                "reason",
            )
        )
        for action in chunk:
            pk = action["pk"]
            action["legal_bases"] = legal_bases.get(pk, [])
            action["programs"] = programs.get(pk, [])
            action["source_urls"] = sources.get(pk, [])
            action["designations"] = designations.get(pk, [])
        yield chunk


# actions.csv: one row per designation

ACTION_COLUMNS = [
    ("action_id", "The action's number on this site."),
    ("action_reference", "The action's stable external key, where it has one."),
    ("action_url", "The action's page."),
    ("announced_on", "Date of the announcement (ISO 8601)."),
    ("effective_on", "Date the measure took effect, where known."),
    ("gazetted_on", "Federal Register / Official Journal publication date, where known."),
    ("authority", "The acting authority's slug (the `authority` filter)."),
    ("authority_name", "The acting authority's name."),
    ("kind", "What the action does: designation, delisting, entity_list_addition..."),
    ("title", "The action's title."),
    ("legal_bases", "Slugs of the instruments the action cites, separated by '; '."),
    ("programs", "Program codes (e.g. NPWMD), separated by '; '."),
    ("document_numbers", "Federal Register citations, docket or regulation numbers."),
    ("source_urls", "Confirmed URLs of the official sources, separated by '; '."),
    ("entity_id", "The entity's number on this site; empty for an action naming none."),
    ("entity_reference", "The entity's stable external key, where it has one."),
    ("entity_name", "The entity's primary name."),
    ("entity_kind", "organization, company, state_body, person, vessel or aircraft."),
    ("entity_countries", "ISO 3166-1 alpha-2 codes, separated by '; '."),
    ("role", "The entity's part in the action: listed, delisted, amended, identified, named."),
    ("name_as_listed", "The name exactly as the announcement gave it."),
    ("designation_legal_basis", "Slug of this designation's own legal basis, if it differs."),
    ("measures", "The measures the announcement names for this entity."),
    ("reason", "The conduct the announcement gives."),
]


def action_csv_rows(actions: QuerySet) -> Iterator[list[list]]:
    """Chunks of actions.csv rows: one per designation, one for an action naming none."""
    for chunk in action_chunks(actions):
        rows = []
        for action in chunk:
            head = [
                action["pk"],
                _cell(action["reference"]),
                page_url("actions", action["pk"]),
                action["announced_on"],
                action["effective_on"],
                action["gazetted_on"],
                action["authority__slug"],
                _cell(action["authority__name"]),
                action["kind"],
                _cell(action["title"]),
                _joined(slug for slug, _ in action["legal_bases"]),
                _joined(action["programs"]),
                _joined(action["document_numbers"]),
                _joined(action["source_urls"]),
            ]
            if not action["designations"]:
                rows.append(head + [None] * 10)
            for d in action["designations"]:
                # (entity id, reference, name, kind, countries, role, name as listed,
                #  legal basis slug, legal basis name, measures, reason)
                rows.append(
                    head
                    + [
                        d[0],
                        _cell(d[1]),
                        _cell(d[2]),
                        d[3],
                        _joined(d[4]),
                        d[5],
                        _cell(d[6]),
                        d[7],
                        _cell(d[9]),
                        _cell(d[10]),
                    ]
                )
        yield rows


# entities.csv: one row per entity

ENTITY_COLUMNS = [
    ("entity_id", "The entity's number on this site."),
    ("entity_reference", "The entity's stable external key, where it has one."),
    ("entity_url", "The entity's page."),
    ("name", "The primary name, in Latin script."),
    ("kind", "organization, company, state_body, person, vessel or aircraft."),
    ("countries", "ISO 3166-1 alpha-2 codes, separated by '; '."),
    ("aliases", "Other names in every script, separated by '; '."),
    ("identifiers", "scheme:value pairs (ofac:12345; imo:9123456), separated by '; '."),
    ("description", "What the entity is."),
    ("action_count", "Published actions naming the entity."),
    ("first_announced_on", "Date of the earliest of those actions."),
    ("last_announced_on", "Date of the latest of those actions."),
    ("authorities", "Slugs of the authorities that acted, separated by '; '."),
]


def entity_chunks(entities: QuerySet) -> Iterator[list[dict]]:
    """Entities as dicts in chunks, by id, each with its names and identifiers."""
    rows = entities.order_by("pk").values(
        "pk", "reference", "name", "kind", "countries", "description"
    )
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK_SIZE)):
        ids = [entity["pk"] for entity in chunk]
        aliases = _grouped(
            Alias.objects.filter(entity_id__in=ids)
            .order_by("name")
            .values_list("entity_id", "name", "kind")
        )
        identifiers = _grouped(
            Identifier.objects.filter(entity_id__in=ids)
            .order_by("scheme", "value")
            .values_list("entity_id", "scheme", "value", "country")
        )
        for entity in chunk:
            entity["aliases"] = aliases.get(entity["pk"], [])
            entity["identifiers"] = identifiers.get(entity["pk"], [])
        yield chunk


def entity_csv_rows(entities: QuerySet) -> Iterator[list[list]]:
    for chunk in entity_chunks(entities):
        ids = [entity["pk"] for entity in chunk]
        timelines = {
            row["entity_id"]: row
            for row in Designation.objects.filter(entity_id__in=ids, action__status="published")
            .values("entity_id")
            .annotate(
                count=Count("action_id"),
                first=Min("action__announced_on"),
                last=Max("action__announced_on"),
            )
        }
        authorities = _grouped(
            Designation.objects.filter(entity_id__in=ids, action__status="published")
            .values_list("entity_id", "action__authority__slug")
            .order_by("entity_id", "action__authority__slug")
            .distinct()
        )
        rows = []
        for entity in chunk:
            timeline = timelines.get(entity["pk"], {})
            rows.append(
                [
                    entity["pk"],
                    _cell(entity["reference"]),
                    page_url("entities", entity["pk"]),
                    _cell(entity["name"]),
                    entity["kind"],
                    _joined(entity["countries"]),
                    _joined(name for name, _ in entity["aliases"]),
                    _joined(f"{scheme}:{value}" for scheme, value, _ in entity["identifiers"]),
                    _cell(entity["description"]),
                    timeline.get("count", 0),
                    timeline.get("first"),
                    timeline.get("last"),
                    _joined(authorities.get(entity["pk"], [])),
                ]
            )
        yield rows


def csv_stream(columns, row_chunks: Iterable[list[list]]) -> Iterator[tuple[bytes, int]]:
    """RFC 4180 CSV in UTF-8 (CRLF line ends, quotes where needed), chunk by chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(name for name, _ in columns)
    yield buffer.getvalue().encode(), 0
    for rows in row_chunks:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        yield buffer.getvalue().encode(), len(rows)


def actions_csv(actions: QuerySet):
    return csv_stream(ACTION_COLUMNS, action_csv_rows(actions))


def entities_csv(entities: QuerySet):
    return csv_stream(ENTITY_COLUMNS, entity_csv_rows(entities))


# actions.json: the API's representation of each action, in one JSON array


def actions_json(actions: QuerySet) -> Iterator[tuple[bytes, int]]:
    """A JSON array of actions, each as /api/v1/actions/<id>/ gives it."""
    actions = api.action_queryset().filter(pk__in=actions.values("pk"))
    separator = "[\n"
    count = 0
    for chunk in _chunks(actions.iterator(chunk_size=500), 500):
        data = api.ActionSerializer(chunk, many=True).data
        text = ",\n".join(json.dumps(item, ensure_ascii=False) for item in data)
        yield (separator + text).encode(), len(chunk)
        separator = ",\n"
        count += len(chunk)
    yield ("[]\n" if not count else "\n]\n").encode(), 0


# ftm.jsonl: FollowTheMoney entities, one a line (the mapping is in ftm.py)


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
        yield [record for entity in chunk for record in ftm.entity_records(entity)]

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
            ftm.relation_record(ftm.entity_id(s, s_ref), ftm.entity_id(o, o_ref), kind, text)
            for s, s_ref, o, o_ref, kind, text in chunk
        ]

    for chunk in action_chunks(actions):
        yield [
            ftm.sanction_record(action, designation)
            for action in chunk
            for designation in action["designations"]
        ]

    articles = (
        Article.objects.filter(
            Exists(Coverage.objects.filter(article=OuterRef("pk"), action__in=selected))
        )
        .order_by("pk")
        .values(
            "pk", "url", "headline", "published_on", "author", "language", "excerpt", "outlet__name"
        )
    )
    for chunk in _chunks(articles.iterator(chunk_size=CHUNK_SIZE)):
        yield list(_ftm_article_records(chunk, selected, entities))


def _ftm_article_records(chunk: list[dict], selected, entities) -> Iterator[dict]:
    ids = [article["pk"] for article in chunk]
    # FtM links an article to entities, not to an announcement: coverage of an action
    # becomes Documentation of each of its entities, carrying the action's key.
    covered = _grouped(
        Coverage.objects.filter(article_id__in=ids, action__in=selected)
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
    mentioned = _grouped(
        Article.entities.through.objects.filter(article_id__in=ids, entity__in=entities)
        .order_by("entity_id")
        .values_list("article_id", "entity_id", "entity__reference")
    )
    for article in chunk:
        id = ftm.article_id(article["url"])
        yield ftm.article_record(article)
        for action, reference, relation, entity, entity_reference in covered.get(article["pk"], []):
            yield ftm.coverage_record(
                id,
                ftm.entity_id(entity, entity_reference),
                relation,
                ftm.action_key(action, reference),
            )
        for entity, entity_reference in mentioned.get(article["pk"], []):
            yield ftm.mention_record(id, ftm.entity_id(entity, entity_reference))


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
    columns: list | None = None


EXPORTS = {
    export.name: export
    for export in [
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


# Dumps: every export unfiltered, written into storage with a manifest


def write_dumps(*, storage=None) -> dict:
    """Write every export unfiltered into storage, then its manifest; return the manifest."""
    storage = storage or default_storage
    generated_at = timezone.now().replace(microsecond=0)
    folder = f"{DUMP_DIR}/{generated_at:%Y%m%dT%H%M%SZ}"
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
    for old in _dump_folders(storage)[DUMPS_KEPT:]:
        for name in storage.listdir(f"{DUMP_DIR}/{old}")[1]:
            storage.delete(f"{DUMP_DIR}/{old}/{name}")
    return manifest


def _dump_folders(storage) -> list[str]:
    """Dump folders with a manifest, newest first."""
    if not storage.exists(DUMP_DIR):
        return []
    folders = sorted(storage.listdir(DUMP_DIR)[0], reverse=True)
    return [f for f in folders if storage.exists(f"{DUMP_DIR}/{f}/manifest.json")]


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
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield from write(rows)


# Views


class ExportThrottle(AnonRateThrottle):
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
        },
    )


@require_safe
def download(request, name):
    export = EXPORTS.get(name)
    if export is None:
        raise Http404("No such export; /exports/ lists them.")
    # A filter this file does not take, or a malformed value, is refused: answering with
    # the unfiltered data would pass for the filtered.
    allowed = export.filterset.base_filters
    errors = {
        key: [f"Not a filter of {name}; use {', '.join(allowed)}."]
        for key in request.GET
        if key not in allowed
    }
    filterset = export.filterset(request.GET, queryset=export.rows())
    if not filterset.is_valid():
        errors |= {
            field: [error["message"] for error in field_errors]
            for field, field_errors in filterset.errors.get_json_data().items()
        }
    if errors:
        return JsonResponse(errors, status=400)
    if not any(value not in (None, "") for value in filterset.form.cleaned_data.values()):
        manifest = latest_manifest()
        file = next((f for f in manifest["files"] if f["name"] == name), None) if manifest else None
        if file:
            return _serve_dump(request, export, file, manifest["generated_at"])
    throttle = ExportThrottle()
    if not throttle.allow_request(request, None):
        response = HttpResponse("Too many live exports; try again later.\n", status=429)
        response["Retry-After"] = str(int(throttle.wait() or 1))
        return response
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
