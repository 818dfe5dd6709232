"""Plain factory functions: each makes one valid row, with overrides."""

import datetime
import itertools

from django.conf import settings
from django.contrib.auth.models import Group, User

from sanctions.models import (
    LIFTING_KINDS,
    Action,
    ActionKind,
    Article,
    Authority,
    Coverage,
    Designation,
    DesignationRole,
    Entity,
    EntityKind,
    Jurisdiction,
    LegalBasis,
    Outlet,
    Program,
    Regime,
    Relation,
    Source,
    SourceKind,
)
from sanctions.search import index_names

_seq = itertools.count(1)


def make_authority(**fields) -> Authority:
    n = next(_seq)
    defaults = {
        "name": f"Authority {n}",
        "short_name": f"A{n}",
        "slug": f"authority-{n}",
        "jurisdiction": Jurisdiction.US,
    }
    return Authority.objects.create(**(defaults | fields))


def make_legal_basis(**fields) -> LegalBasis:
    n = next(_seq)
    defaults = {"name": f"Executive Order {n}", "short_name": f"E.O. {n}", "slug": f"eo-{n}"}
    return LegalBasis.objects.create(**(defaults | fields))


def make_entity(**fields) -> Entity:
    """An entity, indexed for name search as the admin and importers do."""
    n = next(_seq)
    defaults = {"name": f"Entity {n}", "kind": EntityKind.COMPANY, "countries": ["CN"]}
    entity = Entity.objects.create(**(defaults | fields))
    index_names(entity_ids=[entity.pk])
    return entity


def make_action(*, entities=(), published=True, legal_bases=(), role=None, **fields) -> Action:
    """An action complete enough to publish: a regime, the names as listed, and, unless
    given, the explicit "legal basis not stated" and "source not yet confirmed" notes.
    Its entities are listed, or removed in a removal action, unless `role` says."""
    n = next(_seq)
    defaults = {
        "title": f"Action {n}",
        "kind": ActionKind.DESIGNATION,
        "regime": Regime.OFAC_SDN,
        "announced_on": datetime.date(2024, 1, 1),
        "legal_basis_not_stated": not legal_bases,
        "source_unconfirmed": "Known from the coverage.",
    }
    if "authority" not in fields:
        fields["authority"] = make_authority()
    action = Action.objects.create(**(defaults | fields))
    action.legal_bases.set(legal_bases)
    if role is None:
        lifting = action.kind in LIFTING_KINDS
        role = DesignationRole.DELISTED if lifting else DesignationRole.LISTED
    for position, entity in enumerate(entities):
        Designation.objects.create(
            action=action, entity=entity, position=position, role=role, name_as_listed=entity.name
        )
    if published:
        action.publish()
    return action


def make_source(action, **fields) -> Source:
    defaults = {"kind": SourceKind.PRESS_RELEASE, "title": f"Press release {next(_seq)}"}
    return Source.objects.create(action=action, **(defaults | fields))


def make_article(*, actions=(), **fields) -> Article:
    n = next(_seq)
    if "outlet" not in fields:
        fields["outlet"], _ = Outlet.objects.get_or_create(name=f"Outlet {n}")
    defaults = {
        "url": f"https://news.example/{n}",
        "headline": f"Headline {n}",
        "published_on": datetime.date(2024, 1, 2),
    }
    article = Article.objects.create(**(defaults | fields))
    for action in actions:
        Coverage.objects.create(action=action, article=article)
    return article


def make_staff(username: str, group: str) -> User:
    """A staff user in one of the groups the migrations create (editor, reviewer)."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def data_queries(captured) -> list[str]:
    """The SQL a request ran for its data, from a CaptureQueriesContext: the rate limits'
    reads and writes of the cache table (and their savepoints) aside."""
    return [
        query["sql"]
        for query in captured.captured_queries
        if settings.CACHE_TABLE not in query["sql"] and "SAVEPOINT" not in query["sql"]
    ]


def wipe():
    """Empty every table of the public record, as an empty database would be."""
    Relation.objects.all().delete()
    Action.objects.all().delete()
    Article.objects.all().delete()
    Outlet.objects.all().delete()
    Entity.objects.all().delete()
    for model_class in (Program, LegalBasis, Authority):
        model_class.objects.all().delete()


def inline_management(prefix: str, total: int = 0) -> dict[str, str]:
    """The management form of an admin inline, as a browser posts it."""
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
