"""Import FollowTheMoney entities: python manage.py import_list ftm FILE.

Reads a JSON-lines file of FtM entities (ftm.jsonl from /exports/, an OpenSanctions
export) with the vocabulary of sanctions/ftm_mapping.py, so that our own export imports back
into the same records. Two passes over the file keep memory flat whatever its size:

1. entities (Organization, Company, PublicBody, Person, Vessel, Airplane, LegalEntity)
   and Articles, each matched on its FtM id (kept as Entity.reference) or its URL;
2. what links them: Sanction (→ an action, regrouped on its recordId, and a
   designation), Documentation (→ coverage, or a mention), Identification, Ownership
   and UnknownLink. Other schemata (Address, ...) are counted as skipped.

Running it again changes nothing. An existing entity gains the names and identifiers
it lacks; its name, kind and countries stay as editors left them. Sanctions become
published actions: an FtM file records measures already announced, and our own exports
hold only published actions. A malformed line stops the import, which then stores
nothing, with an error naming the line.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pghistory
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from followthemoney import model
from followthemoney.exc import InvalidData
from rigour.langs import iso_639_alpha2

from sanctions import ftm_mapping
from sanctions.importers.reading import ListFormatError, iso_date, progress_bar
from sanctions.models import (
    LIST_NUMBER_SCHEMES,
    Action,
    ActionKind,
    ActionStatus,
    Alias,
    AliasKind,
    Article,
    Authority,
    Coverage,
    CoverageRelation,
    Designation,
    DesignationRole,
    Entity,
    EntityKind,
    Identifier,
    IdentifierScheme,
    Jurisdiction,
    LegalBasis,
    Outlet,
    Program,
    Relation,
    RelationKind,
    Source,
    SourceKind,
    detect_script,
)
from sanctions.search import index_names

# The most specific first: a schema is read as the first it is a kind of.
KIND_BY_SCHEMA = [
    ("Vessel", EntityKind.VESSEL),
    ("Airplane", EntityKind.AIRCRAFT),
    ("Person", EntityKind.PERSON),
    ("PublicBody", EntityKind.STATE_BODY),
    ("Company", EntityKind.COMPANY),
    ("Organization", EntityKind.ORGANIZATION),
    ("LegalEntity", EntityKind.ORGANIZATION),
]
ALIAS_KIND = {"alias": AliasKind.AKA, "previousName": AliasKind.FKA, "weakAlias": AliasKind.WEAK}
IDENTIFIER_SCHEME = {prop: scheme for scheme, prop in ftm_mapping.IDENTIFIER_PROPERTY.items()} | {
    "innCode": IdentifierScheme.TAX,
    "ogrnCode": IdentifierScheme.REGISTRATION,
    "idNumber": IdentifierScheme.OTHER,
}
COUNTRY_PROPERTIES = ("country", "nationality", "jurisdiction", "flag")
JURISDICTION = {
    code.lower(): code for code in Jurisdiction.values if code != ftm_mapping.NO_COUNTRY
}

ACTION_KIND_BY_LABEL = {kind.label: kind for kind in ActionKind}
ROLE_BY_LABEL = {role.label: role for role in DesignationRole}
COVERAGE_BY_LABEL = {relation.label: relation for relation in CoverageRelation}
RELATION_BY_LABEL = {kind.label: kind for kind in RelationKind}
SCHEME_BY_LABEL = {scheme.label: scheme for scheme in IdentifierScheme}


def import_ftm(path: Path, *, stdout, progress: bool = True) -> dict:
    """Import an FtM JSON-lines file; return how many records were created, updated, skipped."""
    importer = _Importer(path, stdout)
    with pghistory.context(importer="ftm", file=path.name), transaction.atomic():
        for line, proxy in importer.read(progress=progress, stage="entities"):
            importer.count(importer.import_thing(line, proxy))
        for line, proxy in importer.read(progress=progress, stage="links"):
            if proxy.schema.is_a("Interval"):
                importer.count(importer.import_link(line, proxy))
        index_names(entity_ids=importer.named)
    return importer.counts


class _Importer:
    def __init__(self, path: Path, stdout):
        self.path = path
        self.stdout = stdout
        self.counts = {"created": 0, "updated": 0, "skipped": 0}
        # FtM id -> Article pk: articles have no reference column to find them by.
        self.articles: dict[str, int] = {}
        # Entities whose names changed, for search's name index.
        self.named: list[int] = []

    def count(self, outcome: str | None):
        if outcome:
            self.counts[outcome] += 1

    def warn(self, line: int, message: str):
        self.stdout.write(f"{self.path.name} line {line}: {message}")

    def read(self, *, progress: bool, stage: str) -> Iterator[tuple[int, object]]:
        """(line number, EntityProxy) for each non-blank line; ListFormatError names a bad one."""
        with open(self.path, "rb") as f, progress_bar(self.path, enabled=progress) as bar:
            bar.set_description(f"{self.path.name} ({stage})")
            for number, raw in enumerate(f, start=1):
                bar.update(len(raw))
                if raw.strip():
                    yield number, self._parse(number, raw)

    def _parse(self, number: int, raw: bytes):
        where = f"{self.path.name} line {number}"
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ListFormatError(f"{where}: not UTF-8 ({exc.reason})") from None
        except json.JSONDecodeError as exc:
            raise ListFormatError(f"{where}: not JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(data, dict) or not data.get("id") or not data.get("schema"):
            raise ListFormatError(f"{where}: not an FtM entity (no id or schema)")
        if model.get(data["schema"]) is None:
            raise ListFormatError(f"{where}: unknown FtM schema {data['schema']!r}")
        if not isinstance(data.get("properties", {}), dict):
            raise ListFormatError(f"{where}: properties must be an object")
        try:
            return model.get_proxy(data, cleaned=False)
        except (InvalidData, TypeError, ValueError) as exc:
            raise ListFormatError(f"{where}: {exc}") from None

    # Pass 1: entities and articles

    def import_thing(self, line: int, proxy) -> str:
        kind = next((k for name, k in KIND_BY_SCHEMA if proxy.schema.is_a(name)), None)
        if kind:
            return self.import_entity(line, proxy, kind)
        if proxy.schema.is_a("Article"):
            return self.import_article(line, proxy)
        if proxy.schema.is_a("Interval"):
            return None  # links: the second pass counts them
        return "skipped"

    def import_entity(self, line: int, proxy, kind: str) -> str:
        names = [n for n in proxy.get("name") if len(n) <= 300]
        if not names:
            self.warn(line, f"{proxy.schema.name} {proxy.id} has no usable name; skipped")
            return "skipped"
        identifiers = [
            (IDENTIFIER_SCHEME[prop], value)
            for prop in IDENTIFIER_SCHEME
            for value in proxy.get(prop, quiet=True)
            if len(value) <= 100
        ]
        description = "\n\n".join(proxy.get("description") or proxy.get("notes"))
        entity = Entity.objects.by_reference(_reference(proxy.id))
        created = entity is None
        if created:
            entity = Entity.objects.create(
                reference=_reference(proxy.id),
                kind=kind,
                name=_primary_name(proxy, names),
                countries=_countries(proxy),
                description=description,
            )
        aliases = {}
        for prop in ("name", *ALIAS_KIND):
            for alias in proxy.get(prop, quiet=True):
                if alias != entity.name and len(alias) <= 300:
                    aliases.setdefault(alias, ALIAS_KIND.get(prop, AliasKind.AKA))
        changed = False
        if not entity.description and description:
            entity.description = description
            entity.save(update_fields=["description", "updated_at"])
            changed = True
        known = set(entity.aliases.values_list("name", flat=True))
        new_aliases = [
            Alias(entity=entity, name=alias, kind=alias_kind, script=detect_script(alias))
            for alias, alias_kind in aliases.items()
            if alias not in known
        ]
        Alias.objects.bulk_create(new_aliases)
        changed |= bool(new_aliases)
        if created or new_aliases:
            self.named.append(entity.pk)
        for scheme, value in identifiers:
            changed |= self._add_identifier(line, entity, scheme, value, "")
        return "created" if created else "updated" if changed else "skipped"

    def import_article(self, line: int, proxy) -> str:
        url = proxy.first("sourceUrl")
        if not url or len(url) > 1000:
            self.warn(line, f"Article {proxy.id} has no usable sourceUrl; skipped")
            return "skipped"
        article = Article.objects.filter(url=url).first()
        if article:
            self.articles[proxy.id] = article.pk
            return "skipped"
        publisher = proxy.first("publisher")
        language = proxy.first("language")
        article = Article.objects.create(
            url=url,
            headline=(proxy.first("title") or proxy.first("name") or url)[:500],
            outlet=Outlet.objects.get_or_create(name=publisher[:200])[0] if publisher else None,
            published_on=iso_date(proxy.first("publishedAt")),
            author=(proxy.first("author") or "")[:300],
            language=(iso_639_alpha2(language) or language)[:10] if language else "",
            excerpt="\n\n".join(proxy.get("summary") or proxy.get("description")),
        )
        self.articles[proxy.id] = article.pk
        return "created"

    # Pass 2: what links them

    def import_link(self, line: int, proxy) -> str:
        if proxy.schema.is_a("Sanction"):
            return self.import_sanction(line, proxy)
        if proxy.schema.is_a("Documentation"):
            return self.import_documentation(line, proxy)
        if proxy.schema.is_a("Identification"):
            return self.import_identification(line, proxy)
        if proxy.schema.is_a("Ownership"):
            return self.import_relation(line, proxy, "asset", "owner", RelationKind.OWNED_BY)
        if proxy.schema.is_a("UnknownLink"):
            return self.import_relation(line, proxy, "subject", "object", None)
        return "skipped"

    def import_sanction(self, line: int, proxy) -> str:
        entity = self._entity(line, proxy, "entity")
        authority_name = proxy.first("authority")
        announced_on = next(
            filter(None, (iso_date(proxy.first(p)) for p in ("listingDate", "startDate", "date"))),
            None,
        )
        if entity is None or not authority_name or announced_on is None:
            if entity is not None:
                self.warn(line, f"Sanction {proxy.id} lacks an authority or a full date; skipped")
            return "skipped"
        statuses = proxy.get("status")
        provisions = proxy.get("provisions")
        legal_bases = [
            _legal_basis(p.removeprefix(ftm_mapping.LEGAL_BASIS_PREFIX))
            for p in provisions
            if p.startswith(ftm_mapping.LEGAL_BASIS_PREFIX)
        ]
        key = proxy.first("recordId") or ftm_mapping.make_id(
            "action", authority_name, *sorted(proxy.get("program")), announced_on
        )
        action, action_created = self._action(proxy, key, authority_name, announced_on, statuses)
        # The first Sanction of an action gives the action's legal bases; a later one
        # citing another single legal basis has it as the designation's own.
        if action_created:
            action.legal_bases.set(legal_bases)
        action_bases = set(action.legal_bases.all())
        own_basis = None
        if set(legal_bases) != action_bases:
            if len(legal_bases) == 1:
                own_basis = legal_bases[0]
            else:
                self.warn(line, f"Sanction {proxy.id}: legal bases differ from its action's")
        role = next(
            (ROLE_BY_LABEL[s] for s in statuses if s in ROLE_BY_LABEL), DesignationRole.LISTED
        )
        fields = {
            "role": role,
            # A listing's endDate is when it stopped: its scheduled end, or the status
            # derived from later actions; either way it is not in force from that day.
            "ends_on": iso_date(proxy.first("endDate")) if role == DesignationRole.LISTED else None,
            "name_as_listed": proxy.first("namesMentioned") or "",
            "reason": "\n\n".join(proxy.get("reason")),
            "measures": "; ".join(
                p for p in provisions if not p.startswith(ftm_mapping.LEGAL_BASIS_PREFIX)
            ),
            "legal_basis": own_basis,
        }
        designation = Designation.objects.filter(action=action, entity=entity).first()
        if designation is None:
            position = action.designations.count()
            Designation.objects.create(action=action, entity=entity, position=position, **fields)
            return "created"
        changed = {k: v for k, v in fields.items() if getattr(designation, k) != v}
        if not changed:
            return "skipped"
        for name, value in changed.items():
            setattr(designation, name, value)
        designation.save(update_fields=list(changed))
        return "updated"

    def _action(self, proxy, key: str, authority_name: str, announced_on, statuses):
        reference = _reference(key)
        action = Action.objects.filter(reference=reference).select_related("authority").first()
        if action:
            return action, False
        country = proxy.first("country")
        authority = Authority.objects.filter(name=authority_name[:200]).first()
        if authority is None:
            authority = Authority.objects.create(
                name=authority_name[:200],
                short_name=authority_name[:60],
                slug=_unique_slug(Authority, authority_name),
                jurisdiction=JURISDICTION.get(country, Jurisdiction.OTHER),
            )
        programs = [
            Program.objects.get_or_create(code=code, defaults={"name": code})[0]
            for code in proxy.get("program")
            if len(code) <= 40
        ]
        action = Action.objects.create(
            reference=reference,
            title=(proxy.first("summary") or f"{authority_name}: {announced_on}")[:300],
            kind=next(
                (ACTION_KIND_BY_LABEL[s] for s in statuses if s in ACTION_KIND_BY_LABEL),
                ActionKind.DESIGNATION,
            ),
            status=ActionStatus.PUBLISHED,
            published_at=timezone.now(),
            authority=authority,
            announced_on=announced_on,
            effective_on=iso_date(proxy.first("startDate")),
            # Without a listingDate, `date` is the announcement's (see sanctions.ftm_mapping).
            gazetted_on=iso_date(proxy.first("date")) if proxy.has("listingDate") else None,
            document_numbers=[n for n in proxy.get("authorityId") if len(n) <= 100],
        )
        action.programs.set(programs)
        Source.objects.bulk_create(
            Source(action=action, kind=SourceKind.OTHER, title=url[:500], url=url)
            for url in proxy.get("sourceUrl")
            if len(url) <= 1000
        )
        return action, True

    def import_documentation(self, line: int, proxy) -> str:
        article = self.articles.get(proxy.first("document"))
        entity = self._entity(line, proxy, "entity")
        if article is None or entity is None:
            return "skipped"
        relation = next(
            (COVERAGE_BY_LABEL[r] for r in proxy.get("role") if r in COVERAGE_BY_LABEL), None
        )
        key = proxy.first("recordId")
        if relation and key:
            action = Action.objects.filter(reference=_reference(key)).first()
            if action is None:
                self.warn(line, f"Documentation {proxy.id}: no action {key!r}; skipped")
                return "skipped"
            _, created = Coverage.objects.get_or_create(
                action=action, article_id=article, defaults={"relation": relation}
            )
            return "created" if created else "skipped"
        through = Article.entities.through
        _, created = through.objects.get_or_create(article_id=article, entity_id=entity.pk)
        return "created" if created else "skipped"

    def import_identification(self, line: int, proxy) -> str:
        entity = self._entity(line, proxy, "holder")
        number = proxy.first("number")
        if entity is None or not number or len(number) > 100:
            return "skipped"
        scheme = next(
            (SCHEME_BY_LABEL[t] for t in proxy.get("type") if t in SCHEME_BY_LABEL),
            IdentifierScheme.PASSPORT if proxy.schema.is_a("Passport") else IdentifierScheme.OTHER,
        )
        country = (proxy.first("country") or "").upper()
        added = self._add_identifier(
            line, entity, scheme, number, country if len(country) == 2 else ""
        )
        return "created" if added else "skipped"

    def import_relation(self, line: int, proxy, subject_prop, object_prop, default) -> str:
        subject = self._entity(line, proxy, subject_prop)
        other = self._entity(line, proxy, object_prop)
        if subject is None or other is None or subject == other:
            return "skipped"
        roles = proxy.get("role")
        kind = next((RELATION_BY_LABEL[r] for r in roles if r in RELATION_BY_LABEL), None)
        description = "; ".join(proxy.get("description"))
        if kind is None:
            kind = default or RelationKind.ASSOCIATED_WITH
            description = description or "; ".join(roles)
        _, created = Relation.objects.get_or_create(
            subject=subject, object=other, kind=kind, defaults={"description": description[:300]}
        )
        return "created" if created else "skipped"

    # Helpers

    def _entity(self, line: int, proxy, prop: str) -> Entity | None:
        """The entity a property references, or None with a warning."""
        id = proxy.first(prop)
        entity = Entity.objects.by_reference(_reference(id)) if id else None
        if entity is None:
            self.warn(line, f"{proxy.schema.name} {proxy.id}: {prop} {id!r} not imported; skipped")
        return entity

    def _add_identifier(self, line, entity, scheme, value, country) -> bool:
        holders = set(
            Identifier.objects.filter(scheme=scheme, value=value).values_list(
                "entity_id", flat=True
            )
        )
        if entity.pk in holders:
            return False
        if holders and scheme in LIST_NUMBER_SCHEMES:
            self.warn(line, f"{scheme} {value} already belongs to entity {min(holders)}; not added")
            return False
        if holders:
            # Kept on both: two records may share a number; an editor may merge them.
            others = ", ".join(map(str, sorted(holders)))
            self.warn(line, f"{scheme} {value} is also held by entity {others}; kept on both")
        Identifier.objects.create(entity=entity, scheme=scheme, value=value, country=country)
        return True


def _primary_name(proxy, names: list[str]) -> str:
    """The caption if it is among the names, preferring a name in Latin script."""
    caption = proxy.context.get("caption") or proxy.caption
    ordered = sorted(names, key=lambda n: n != caption)
    return next((n for n in ordered if detect_script(n) == "Latn"), ordered[0])


def _countries(proxy) -> list[str]:
    codes = [c.upper() for p in COUNTRY_PROPERTIES for c in proxy.get(p, quiet=True)]
    return list(dict.fromkeys(c for c in codes if len(c) == 2))


def _reference(id: str) -> str:
    """The reference that holds an FtM id: the id itself unless it is too long."""
    return id if len(id) <= 100 else ftm_mapping.make_id("ref", id)


def _legal_basis(name: str) -> LegalBasis:
    basis = LegalBasis.objects.filter(name=name[:200]).first()
    return basis or LegalBasis.objects.create(
        name=name[:200], short_name=name[:60], slug=_unique_slug(LegalBasis, name)
    )


def _unique_slug(model_class, text: str) -> str:
    base = slugify(text)[:50] or "imported"
    slug, n = base, 1
    while model_class.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug
