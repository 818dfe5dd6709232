"""The tracker's records as FollowTheMoney entities, and the vocabulary to read them back.

exports.py writes ftm.jsonl with these builders; importers/ftm.py reads such files with
the same tables, so that export → import → export gives the same records:

- Entity → Organization, Company, PublicBody (state_body), Person, Vessel or Airplane;
  aliases as alias / previousName / weakAlias; registration, tax, IMO and passport
  numbers as their properties where the schema has them, other identifiers as an
  Identification (type = the scheme's label);
- Relation → Ownership (owner = object) for "subsidiary of" and "owned by", otherwise
  UnknownLink, the kind's label as role;
- Designation → Sanction: authority, country (the authority's jurisdiction), program,
  provisions (the measures, and "Legal basis: <name>" per legal basis), reason,
  for a listing listingDate (announced), startDate (effective), endDate (when the
  listing stopped, as the entity's status derives it) and date (gazetted), for other
  designations date (announced; a removal's endDate is its effect), authorityId
  (document numbers), sourceUrl (confirmed official sources), recordId (the action's
  key, which regroups an action's Sanctions), summary (the action's title), status
  (the action kind's and the role's labels), namesMentioned (the name as listed);
- Article → Article; Coverage → Documentation from the article to each entity of the
  covered action (role = the coverage label, recordId = the action's key); a mention
  → Documentation with role "Mentioned".

Ids are stable: an entity keeps its reference when that is a valid FtM id (an imported
entity keeps its source's id), else "st-entity-<pk>"; the other records have a digest
of their natural key.
"""

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterator

from .models import (
    ActionKind,
    AliasKind,
    CoverageRelation,
    DesignationRole,
    EntityKind,
    IdentifierScheme,
    Jurisdiction,
    RelationKind,
    designation_effect,
)

# What the FtM export and import need, and which may not be installed: PyICU does not
# build everywhere (requirements-ftm.txt).
FTM_PACKAGES = {"followthemoney", "rigour", "normality", "icu"}

try:
    from followthemoney import model
except ModuleNotFoundError as missing:  # followthemoney needs PyICU (requirements-ftm.txt)
    if missing.name.partition(".")[0] not in FTM_PACKAGES:
        raise
    model = None  # no FtM export; the ids below are still the records' keys

SCHEMA_BY_KIND = {
    EntityKind.ORGANIZATION: "Organization",
    EntityKind.COMPANY: "Company",
    EntityKind.STATE_BODY: "PublicBody",
    EntityKind.PERSON: "Person",
    EntityKind.VESSEL: "Vessel",
    EntityKind.AIRCRAFT: "Airplane",
}
ALIAS_PROPERTY = {
    AliasKind.AKA: "alias",
    AliasKind.ORIGINAL: "alias",
    AliasKind.LISTED: "alias",
    AliasKind.FKA: "previousName",
    AliasKind.WEAK: "weakAlias",
}
# Identifier schemes with a property of their own, used where the entity's schema has it.
IDENTIFIER_PROPERTY = {
    IdentifierScheme.REGISTRATION: "registrationNumber",
    IdentifierScheme.TAX: "taxNumber",
    IdentifierScheme.IMO: "imoNumber",
    IdentifierScheme.PASSPORT: "passportNumber",
}
OWNERSHIP_KINDS = {RelationKind.SUBSIDIARY_OF, RelationKind.OWNED_BY}
# FtM has no property for the instrument a sanction was taken under; provisions (the
# "scope of sanctions") carries it after this prefix, beside the measures.
LEGAL_BASIS_PREFIX = "Legal basis: "
MENTION_ROLE = "Mentioned"
# Countries: FtM codes are lower case; Jurisdiction.OTHER ("XX") has no FtM code.
NO_COUNTRY = Jurisdiction.OTHER


def make_id(kind: str, *parts) -> str:
    """A stable id for a record with no key of its own: a digest of its natural key."""
    digest = hashlib.sha1("\x1f".join(map(str, parts)).encode(), usedforsecurity=False)
    return f"st-{kind}-{digest.hexdigest()}"


# FtM's entity id, as followthemoney.types.EntityType checks it (test_ftm.py compares
# the two); written here because record.json keys entities by these ids too.
ENTITY_ID = re.compile(r"^[0-9a-zA-Z]([0-9a-zA-Z\.\-]*[0-9a-zA-Z])?$")


def is_valid_id(value: str) -> bool:
    return ENTITY_ID.match(value) is not None


def entity_id(pk: int, reference: str | None) -> str:
    """The entity's FtM id: its reference where that is a valid id, else derived."""
    if not reference:
        return f"st-entity-{pk}"
    return reference if is_valid_id(reference) else make_id("entity", reference)


def action_key(pk: int, reference: str | None) -> str:
    """The key an action's Sanctions carry as recordId, so an import can regroup them."""
    return reference or f"st-action-{pk}"


def record(schema: str, id: str, properties: dict) -> dict:
    """A cleaned FtM record: values the schema cannot hold are dropped, as FtM does."""
    proxy = model.make_entity(schema)
    proxy.id = id
    for name, values in properties.items():
        proxy.add(name, values, quiet=True)
    return proxy.to_dict()


def entity_records(entity: dict) -> Iterator[dict]:
    """The entity, then an Identification per identifier without a usable property.

    `entity` holds pk, reference, kind, name, countries, description, aliases
    [(name, kind)] and identifiers [(scheme, value, country)].
    """
    schema = model.get(SCHEMA_BY_KIND[entity["kind"]])
    id = entity_id(entity["pk"], entity["reference"])
    properties = defaultdict(list)
    properties["name"] = [entity["name"]]
    properties["country"] = [code.lower() for code in entity["countries"]]
    properties["description"] = [entity["description"]]
    for name, kind in entity["aliases"]:
        properties[ALIAS_PROPERTY[kind]].append(name)
    identifications = []
    for scheme, value, country in entity["identifiers"]:
        prop = schema.properties.get(IDENTIFIER_PROPERTY.get(scheme))
        # A value the property refuses (an IMO number with a wrong check digit) is kept
        # as an Identification rather than dropped.
        if prop is not None and prop.type.clean(value, format=prop.format) is not None:
            properties[prop.name].append(value)
        else:
            identifications.append((scheme, value, country))
    yield record(schema.name, id, properties)
    for scheme, value, country in identifications:
        yield record(
            "Identification",
            make_id("identification", scheme, value),
            {
                "holder": id,
                "number": value,
                "type": IdentifierScheme(scheme).label,
                "country": country.lower(),
            },
        )


def sanction_record(action: dict, designation: tuple, period: tuple | None) -> dict:
    """One designation as a Sanction; `action` and `designation` as exports.action_chunks.

    `period` is when the listing this designation made was in force (start, end or None),
    as ``Entity.status_on`` derives it; None for a designation that listed nothing. Only
    a listing has a listingDate and a startDate; its endDate is when it stopped (lifted,
    waived or expired), so reading the Sanctions gives the status the site shows. A
    removal ends on the day it took effect; a designation that changes nothing (an entity
    named, an entry amended) carries the announcement's date and no interval.
    """
    entity_pk, reference, role, name_as_listed, basis_name, measures, reason, _ = designation
    entity = entity_id(entity_pk, reference)
    key = action_key(action["pk"], action["reference"])
    legal_bases = [basis_name] if basis_name else action["legal_bases"]
    jurisdiction = action["authority__jurisdiction"]
    if period is not None:
        dates = {
            "listingDate": action["announced_on"],
            "startDate": action["effective_on"],
            "endDate": period[1],
            "date": action["gazetted_on"],
        }
    elif designation_effect(action["kind"], role) is not None:  # it lifted or waived
        dates = {
            "date": action["announced_on"],
            "endDate": action["effective_on"] or action["announced_on"],
        }
    else:
        dates = {"date": action["announced_on"]}
    return record(
        "Sanction",
        make_id("sanction", key, entity),
        {
            "entity": entity,
            "authority": action["authority__name"],
            "country": jurisdiction.lower() if jurisdiction != NO_COUNTRY else None,
            "program": action["programs"],
            "provisions": [measures] + [LEGAL_BASIS_PREFIX + name for name in legal_bases],
            "reason": reason,
            **dates,
            "authorityId": action["document_numbers"],
            "sourceUrl": action["source_urls"],
            "recordId": key,
            "summary": action["title"],
            "status": [ActionKind(action["kind"]).label, DesignationRole(role).label],
            "namesMentioned": name_as_listed,
        },
    )


def relation_record(subject: str, object: str, kind: str, description: str) -> dict:
    """A relation between two entities given by their FtM ids."""
    id = make_id("relation", subject, object, kind)
    properties = {"role": RelationKind(kind).label, "description": description}
    if kind in OWNERSHIP_KINDS:
        return record("Ownership", id, {"owner": object, "asset": subject, **properties})
    return record("UnknownLink", id, {"subject": subject, "object": object, **properties})


def article_id(url: str) -> str:
    return make_id("article", url)


def article_record(article: dict) -> dict:
    return record(
        "Article",
        article_id(article["url"]),
        {
            "title": article["headline"],
            "sourceUrl": article["url"],
            "publishedAt": article["published_on"],
            "author": article["author"],
            "language": article["language"],
            "publisher": article["outlet__name"],
            "summary": article["excerpt"],
        },
    )


def coverage_record(article: str, entity: str, relation: str, key: str) -> dict:
    """An article covering an action, as Documentation of one of the action's entities."""
    return record(
        "Documentation",
        make_id("documentation", article, entity, key),
        {
            "document": article,
            "entity": entity,
            "role": CoverageRelation(relation).label,
            "recordId": key,
        },
    )


def mention_record(article: str, entity: str) -> dict:
    return record(
        "Documentation",
        make_id("documentation", article, entity, MENTION_ROLE),
        {"document": article, "entity": entity, "role": MENTION_ROLE},
    )
