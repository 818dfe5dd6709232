"""Load a dataset in the tracker's own format into the database: the bundled demo
(sanctions/data/demo.json), or a copy of a public record (/exports/record.json, written
by sanctions/record.py; ``import_list record-json FILE``).

Every row is matched on its natural key and brought up to date, so loading the file
again changes nothing. A row an editor changed since (its history names a user) is left
as the editor made it and reported as a conflict: the file is older news than the editor.
Rows the file no longer lists are left alone: deleting is an editor's decision, and most
rows are protected anyway.
"""

import datetime
import json
from collections import Counter
from pathlib import Path

import pghistory
from django.db import models, transaction
from pghistory.models import Events

from sanctions.models import (
    Action,
    ActionStatus,
    Alias,
    Article,
    Authority,
    Coverage,
    Designation,
    Entity,
    Identifier,
    IdentifierScheme,
    LegalBasis,
    Outlet,
    Program,
    Relation,
    Source,
    detect_script,
)
from sanctions.search import index_names

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "demo.json"


class Counts(Counter):
    """Rows created, updated and unchanged, and the conflicts left as editors made them."""

    def __init__(self):
        super().__init__(created=0, updated=0, unchanged=0)
        self.conflicts: list[str] = []


def load_demo(*, path: Path = DEFAULT_PATH) -> dict:
    """Create or update every record in the file, in one transaction; return the counts
    and, under "conflicts", the rows left alone because an editor changed them."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    counts = Counts()
    with transaction.atomic(), pghistory.context(load_demo=True):
        authorities = {
            item["slug"]: _sync(
                Authority,
                counts,
                lookup={"slug": item["slug"]},
                values=_pick(item, "name", "short_name", "jurisdiction", "url", "description"),
            )
            for item in data["authorities"]
        }
        legal_bases = {
            item["slug"]: _sync(
                LegalBasis,
                counts,
                lookup={"slug": item["slug"]},
                values=_pick(item, "name", "short_name", "citation", "url", "description"),
            )
            for item in data["legal_bases"]
        }
        programs = {
            item["code"]: _sync(
                Program,
                counts,
                lookup={"code": item["code"]},
                values={
                    **_pick(item, "name", "description"),
                    "authority": authorities.get(item.get("authority")),
                },
            )
            for item in data["programs"]
        }
        outlets = {
            item["name"]: _sync(
                Outlet,
                counts,
                lookup={"name": item["name"]},
                values=_pick(item, "domain", "country"),
            )
            for item in data["outlets"]
        }
        entities = {item["reference"]: _load_entity(item, counts) for item in data["entities"]}
        for item in data["entities"]:
            for relation in item.get("relations", []):
                _sync(
                    Relation,
                    counts,
                    lookup={
                        "subject": entities[item["reference"]],
                        "object": entities[relation["object"]],
                        "kind": relation["kind"],
                    },
                    values=_pick(relation, "description"),
                )
        articles = {
            item["url"]: _load_article(item, outlets, entities, counts) for item in data["articles"]
        }
        for item in data["actions"]:
            _load_action(item, authorities, legal_bases, programs, entities, articles, counts)
        index_names(entity_ids=[entity.pk for entity in entities.values()])
    return {
        "actions": len(data["actions"]),
        "entities": len(data["entities"]),
        "articles": len(data["articles"]),
        **counts,
        "conflicts": counts.conflicts,
    }


def _load_entity(item: dict, counts: Counter) -> Entity:
    _adopt_imported_entity(item)
    entity = _sync(
        Entity,
        counts,
        lookup={"reference": item["reference"]},
        values={
            "kind": item["kind"],
            "name": item["name"],
            "countries": item.get("countries", []),
            "description": item.get("description", ""),
        },
    )
    for alias in item.get("aliases", []):
        _sync(
            Alias,
            counts,
            lookup={"entity": entity, "name": alias["name"]},
            values={
                "kind": alias.get("kind", "aka"),
                "script": alias.get("script") or detect_script(alias["name"]),
                "language": alias.get("language", ""),
            },
        )
    for identifier in item.get("identifiers", []):
        _sync(
            Identifier,
            counts,
            lookup={"entity": entity, "scheme": identifier["scheme"], "value": identifier["value"]},
            values=_pick(identifier, "country", "note"),
        )
    return entity


def _adopt_imported_entity(item: dict) -> None:
    """Give our reference to an entity an OFAC list import already created, not a twin."""
    if Entity.objects.filter(reference=item["reference"]).exists():
        return
    entry_numbers = [
        i["value"]
        for i in item.get("identifiers", [])
        if i["scheme"] == IdentifierScheme.OFAC_ENT_NUM
    ]
    imported = Entity.objects.filter(
        reference__isnull=True,
        identifiers__scheme=IdentifierScheme.OFAC_ENT_NUM,
        identifiers__value__in=entry_numbers,
    ).first()
    if imported is not None:
        imported.reference = item["reference"]
        imported.save(update_fields=["reference", "updated_at"])


def _load_article(item: dict, outlets: dict, entities: dict, counts: Counter) -> Article:
    article = _sync(
        Article,
        counts,
        lookup={"url": item["url"]},
        values={
            **_pick(item, "headline", "author", "language", "excerpt", "notes"),
            "outlet": outlets.get(item.get("outlet")),
            "is_copy": item.get("is_copy", False),
            "headline_from_url": item.get("headline_from_url", False),
            "published_on": _date(item.get("published_on")),
        },
    )
    _sync_m2m(article, "entities", [entities[ref] for ref in item.get("mentions", [])], counts)
    return article


def _load_action(
    item: dict,
    authorities: dict,
    legal_bases: dict,
    programs: dict,
    entities: dict,
    articles: dict,
    counts: Counter,
) -> Action:
    announced_on = _date(item["announced_on"])
    status = item.get("status", ActionStatus.DRAFT)
    action = _sync(
        Action,
        counts,
        lookup={"reference": item["reference"]},
        values={
            **_pick(item, "title", "kind", "regime", "summary", "notes", "source_unconfirmed"),
            "authority": authorities[item["authority"]],
            "legal_basis_not_stated": item.get("legal_basis_not_stated", False),
            "announced_entity_count": item.get("announced_entity_count"),
            "announced_on": announced_on,
            "effective_on": _date(item.get("effective_on")),
            "gazetted_on": _date(item.get("gazetted_on")),
            "ends_on": _date(item.get("ends_on")),
            "document_numbers": item.get("document_numbers", []),
            "subject_countries": item.get("subject_countries", []),
        },
        # Publication is the reviewers' call once the action exists: a re-load must not
        # publish again what they withdrew.
        initial={
            "status": status,
            "published_at": (
                _datetime(item.get("published_at"))
                or datetime.datetime.combine(announced_on, datetime.time(), tzinfo=datetime.UTC)
                if status == ActionStatus.PUBLISHED
                else None
            ),
        },
    )
    _sync_m2m(action, "legal_bases", [legal_bases[s] for s in item.get("legal_bases", [])], counts)
    _sync_m2m(
        action,
        "other_authorities",
        [authorities[slug] for slug in item.get("other_authorities", [])],
        counts,
    )
    _sync_m2m(action, "programs", [programs[code] for code in item.get("programs", [])], counts)
    for designation in item.get("designations", []):
        _sync(
            Designation,
            counts,
            lookup={"action": action, "entity": entities[designation["entity"]]},
            values={
                **_pick(designation, "role", "name_as_listed", "reason", "measures", "regime"),
                "ends_on": _date(designation.get("ends_on")),
                "position": designation.get("position", 0),
                "legal_basis": legal_bases.get(designation.get("legal_basis")),
            },
        )
    for source in item.get("sources", []):
        # Sources have no natural key of their own; the title is unique within an action.
        _sync(
            Source,
            counts,
            lookup={"action": action, "title": source["title"]},
            values={
                **_pick(source, "kind", "publisher", "url", "document_number", "notes"),
                "published_on": _date(source.get("published_on")),
            },
        )
    for coverage in item.get("coverage", []):
        _sync(
            Coverage,
            counts,
            lookup={"action": action, "article": articles[coverage["article"]]},
            values={"relation": coverage.get("relation", "reports")},
        )
    return action


def _sync(
    model: type[models.Model],
    counts: Counter,
    *,
    lookup: dict,
    values: dict,
    initial: dict | None = None,
):
    """update_or_create() that saves only when a value differs; `initial` only on create.

    update_or_create() saves on every call, and each save is a history event (updated_at
    alone changes), so a second load would fill the history tables with empty edits.
    """
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        counts["created"] += 1
        return model.objects.create(**lookup, **values, **(initial or {}))
    changed = [name for name, value in values.items() if _differs(obj, name, value)]
    if not changed:
        counts["unchanged"] += 1
        return obj
    if _edited_by_editor(obj):
        counts.conflicts.append(
            f"{model._meta.verbose_name} {obj.pk} “{obj}”: an editor changed it; the file"
            f" differs in {', '.join(changed)}"
        )
        return obj
    for name in changed:
        setattr(obj, name, values[name])
    obj.save()
    counts["updated"] += 1
    return obj


def _edited_by_editor(obj: models.Model) -> bool:
    """Whether the row's latest recorded change was made by a signed-in user."""
    latest = Events.objects.tracks(obj).order_by("-pgh_created_at", "-pgh_id").first()
    return latest is not None and (latest.pgh_context or {}).get("user") is not None


def _differs(obj: models.Model, name: str, value) -> bool:
    field = obj._meta.get_field(name)
    if field.is_relation:
        # Compare keys: reading the relation itself would cost a query per field.
        return getattr(obj, field.attname) != (value.pk if value is not None else None)
    return getattr(obj, name) != value


def _sync_m2m(obj: models.Model, name: str, objs: list[models.Model], counts: Counts) -> None:
    """Set a many-to-many relation of a row, unless an editor changed the row since."""
    manager = getattr(obj, name)
    if set(manager.values_list("pk", flat=True)) == {o.pk for o in objs}:
        return
    if _edited_by_editor(obj):
        counts.conflicts.append(
            f"{obj._meta.verbose_name} {obj.pk} “{obj}”: an editor changed it; the file"
            f" differs in {name}"
        )
        return
    manager.set(objs)


def _pick(item: dict, *keys: str) -> dict:
    """The given text fields of a file record; a missing one is empty."""
    return {key: item.get(key, "") for key in keys}


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _datetime(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None
