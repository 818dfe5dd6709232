"""The public record in the tracker's own format: record.json, an exact copy for mirrors.

The format is the one the bundled demo dataset is written in (sanctions/data/demo.json,
read by ``sanctions.demo.load_demo``): reference data, entities with their names,
identifiers and relations, articles, then actions with their designations, sources and
coverage, every public field of each, keyed by natural keys (slugs, codes, names, URLs,
references). ``import_list record-json FILE`` reads it back into a database, so that
export → import → export gives the same file. FollowTheMoney (ftm.jsonl) stays the
format to exchange with other tools; it cannot hold all of this.

A record without a reference of its own is given its export id ("st-entity-12"), which
an import keeps as its reference; so an import is into an empty database only. Drafts,
editors' notes, how sources were confirmed and extracted article texts are not public,
and not in the file.
"""

import datetime
import json
from collections.abc import Iterator

from django.db.models import Prefetch, QuerySet

from .ftm_mapping import action_key, entity_id
from .models import (
    Alias,
    Article,
    Authority,
    Coverage,
    Designation,
    Entity,
    Identifier,
    LegalBasis,
    Outlet,
    Program,
    Relation,
    Source,
)

FORMAT = "record-json"
CHUNK = 500


def record_json(actions: QuerySet) -> Iterator[tuple[bytes, int]]:
    """The file for a set of published actions and what they show, in chunks of bytes."""
    selected = actions.values("pk")
    entities = Entity.objects.filter(designations__action__in=selected).distinct()
    articles = Article.objects.filter(coverage__action__in=selected).distinct()
    yield f'{{\n"format": "{FORMAT}",\n'.encode(), 0
    yield from _section("authorities", Authority.objects.public().order_by("slug"), _authority)
    yield from _section("legal_bases", LegalBasis.objects.public().order_by("slug"), _basis)
    programs = Program.objects.public().select_related("authority").order_by("code")
    yield from _section("programs", programs, _program)
    outlets = Outlet.objects.filter(articles__in=articles).distinct().order_by("name")
    yield from _section("outlets", outlets, _outlet)
    visible = Entity.objects.visible()
    entity_rows = entities.order_by("pk").prefetch_related(
        Prefetch("aliases", queryset=Alias.objects.order_by("name")),
        Prefetch("identifiers", queryset=Identifier.objects.order_by("scheme", "value")),
        Prefetch(
            "relations",
            queryset=Relation.objects.filter(object__in=visible).select_related("object"),
        ),
    )
    yield from _section("entities", entity_rows, _entity)
    article_rows = (
        articles.order_by("pk")
        .select_related("outlet")
        .prefetch_related(Prefetch("entities", queryset=visible.order_by("pk")))
    )
    yield from _section("articles", article_rows, _article)
    action_rows = (
        actions.order_by("pk")
        .select_related("authority")
        .prefetch_related(
            "other_authorities",
            "legal_bases",
            "programs",
            Prefetch(
                "designations",
                queryset=Designation.objects.select_related("entity", "legal_basis").order_by(
                    "position", "pk"
                ),
            ),
            Prefetch("sources", queryset=Source.objects.order_by("published_on", "pk")),
            Prefetch("coverage", queryset=Coverage.objects.select_related("article")),
        )
    )
    yield from _section("actions", action_rows, _action, last=True)
    yield b"}\n", 0


def _section(name, rows, shape, *, last=False) -> Iterator[tuple[bytes, int]]:
    yield f'"{name}": [\n'.encode(), 0
    separator = ""
    for row in rows.iterator(chunk_size=CHUNK):
        yield (separator + json.dumps(shape(row), ensure_ascii=False, default=_iso)).encode(), 1
        separator = ",\n"
    yield ("\n]\n" if last else "\n],\n").encode(), 0


def _iso(value):
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _fields(obj, *names) -> dict:
    return {name: getattr(obj, name) for name in names}


def _authority(a: Authority) -> dict:
    return _fields(a, "slug", "name", "short_name", "jurisdiction", "url", "description")


def _basis(b: LegalBasis) -> dict:
    return _fields(b, "slug", "name", "short_name", "citation", "url", "description")


def _program(p: Program) -> dict:
    authority = p.authority.slug if p.authority else None
    return {**_fields(p, "code", "name", "description"), "authority": authority}


def _outlet(o: Outlet) -> dict:
    return _fields(o, "name", "domain", "country")


def _reference(entity: Entity) -> str:
    return entity.reference or entity_id(entity.pk, None)


def _entity(e: Entity) -> dict:
    return {
        "reference": _reference(e),
        **_fields(e, "kind", "name", "countries", "description"),
        "aliases": [_fields(a, "name", "kind", "script", "language") for a in e.aliases.all()],
        "identifiers": [
            _fields(i, "scheme", "value", "country", "note") for i in e.identifiers.all()
        ],
        "relations": [
            {"object": _reference(r.object), "kind": r.kind, "description": r.description}
            for r in e.relations.all()
        ],
    }


def _article(a: Article) -> dict:
    return {
        **_fields(a, "url", "headline", "published_on", "author", "language", "excerpt"),
        **_fields(a, "notes", "is_copy", "headline_from_url"),
        "outlet": a.outlet.name if a.outlet else None,
        "mentions": [_reference(e) for e in a.entities.all()],
    }


def _action(a) -> dict:
    return {
        "reference": action_key(a.pk, a.reference),
        **_fields(a, "title", "kind", "status", "regime", "published_at"),
        "authority": a.authority.slug,
        "other_authorities": sorted(o.slug for o in a.other_authorities.all()),
        "legal_bases": sorted(b.slug for b in a.legal_bases.all()),
        "legal_basis_not_stated": a.legal_basis_not_stated,
        "programs": sorted(p.code for p in a.programs.all()),
        **_fields(a, "subject_countries", "announced_on", "effective_on", "gazetted_on"),
        **_fields(a, "ends_on", "document_numbers", "summary", "notes", "source_unconfirmed"),
        "announced_entity_count": a.announced_entity_count,
        "designations": [
            {
                "entity": _reference(d.entity),
                **_fields(d, "role", "name_as_listed", "reason", "measures", "regime"),
                **_fields(d, "ends_on", "position"),
                "legal_basis": d.legal_basis.slug if d.legal_basis else None,
            }
            for d in a.designations.all()
        ],
        "sources": [
            _fields(s, "kind", "title", "publisher", "url", "published_on", "document_number")
            for s in a.sources.all()
        ],
        "coverage": sorted(
            ({"article": c.article.url, "relation": c.relation} for c in a.coverage.all()),
            key=lambda c: c["article"],
        ),
    }
