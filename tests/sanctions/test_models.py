import datetime

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from sanctions.models import (
    Action,
    ActionKind,
    ActionStatus,
    Alias,
    Designation,
    Entity,
    Identifier,
    IdentifierScheme,
    Relation,
    RelationKind,
    Script,
    detect_script,
)

from .factories import make_action, make_authority, make_entity, make_source

pytestmark = pytest.mark.django_db


def test_publish_and_unpublish_keep_the_publication_time_consistent():
    action = make_action(published=False)

    action.publish()
    assert action.status == ActionStatus.PUBLISHED
    assert action.published_at is not None

    action.unpublish()
    assert action.status == ActionStatus.DRAFT
    assert action.published_at is None


def test_a_published_action_needs_a_publication_time():
    action = make_action(published=False)

    with pytest.raises(IntegrityError), transaction.atomic():
        Action.objects.filter(pk=action.pk).update(status=ActionStatus.PUBLISHED)


def test_an_entity_cited_by_a_designation_cannot_be_deleted():
    entity = make_entity()
    make_action(entities=[entity])

    with pytest.raises(ProtectedError):
        entity.delete()


def test_identifiers_are_unique_per_scheme_and_relations_cannot_point_to_themselves():
    entity = make_entity()
    Identifier.objects.create(entity=entity, scheme=IdentifierScheme.OFAC_ENT_NUM, value="52049")

    with pytest.raises(IntegrityError), transaction.atomic():
        Identifier.objects.create(
            entity=make_entity(), scheme=IdentifierScheme.OFAC_ENT_NUM, value="52049"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Relation.objects.create(subject=entity, object=entity, kind=RelationKind.FRONT_FOR)


def test_status_on_a_date_is_derived_from_listing_and_delisting_actions():
    state = make_authority(name="U.S. Department of State")
    bis = make_authority(name="BIS")
    entity = make_entity()
    make_action(authority=state, entities=[entity], announced_on=datetime.date(2023, 10, 20))
    make_action(
        authority=state,
        entities=[entity],
        kind=ActionKind.DELISTING,
        announced_on=datetime.date(2025, 1, 10),
    )
    make_action(
        authority=bis,
        entities=[entity],
        kind=ActionKind.ENTITY_LIST_ADDITION,
        announced_on=datetime.date(2024, 1, 5),
        effective_on=datetime.date(2024, 1, 8),
    )
    make_action(authority=bis, entities=[entity], kind=ActionKind.STATEMENT)
    make_action(
        authority=state, entities=[entity], published=False, announced_on=datetime.date(2025, 6, 1)
    )

    def status(day):
        return {line.authority.name: (line.status, line.since) for line in entity.status_on(day)}

    assert status(datetime.date(2023, 10, 19)) == {}
    assert status(datetime.date(2024, 1, 7)) == {
        "U.S. Department of State": ("listed", datetime.date(2023, 10, 20))
    }
    assert status(datetime.date(2024, 6, 1))["BIS"] == ("listed", datetime.date(2024, 1, 8))
    assert status(datetime.date(2025, 7, 1)) == {
        "BIS": ("listed", datetime.date(2024, 1, 8)),
        "U.S. Department of State": ("lifted", datetime.date(2025, 1, 10)),
    }


def test_an_actions_countries_follow_its_entities():
    pakistani = make_entity(countries=["PK"])
    action = make_action(entities=[pakistani])
    assert Action.objects.get(pk=action.pk).countries == ["PK"]

    chinese = make_entity(countries=["CN", "HK"])
    Designation.objects.create(action=action, entity=chinese)
    assert Action.objects.get(pk=action.pk).countries == ["CN", "HK", "PK"]

    Entity.objects.filter(pk=chinese.pk).update(countries=["BY"])
    assert Action.objects.get(pk=action.pk).countries == ["BY", "PK"]

    Designation.objects.filter(entity=pakistani).delete()
    assert Action.objects.get(pk=action.pk).countries == ["BY"]


def test_an_actions_document_covers_its_reasons_and_source_titles():
    entity = make_entity()
    action = make_action(title="State designates suppliers", entities=[entity])

    def matches(words):
        return Action.objects.filter(search_vector=words, pk=action.pk).exists()

    assert matches("designate")
    assert not matches("filament")
    action.designations.update(reason="supplied a filament winding machine")
    assert matches("filament")
    make_source(action, title="Federal Register notice on brazing materials")
    assert matches("brazing")


def test_detect_script_names_the_dominant_script():
    assert detect_script("Минский завод") == Script.CYRILLIC
    assert detect_script("西安龙德科技") == Script.HAN
    assert detect_script("اختر اینڈ سنز") == Script.ARABIC
    assert detect_script("Akhtar and Sons") == Script.LATIN
    assert Alias(name="x").script == ""


def test_an_actions_countries_include_the_countries_whose_programs_it_addresses():
    action = make_action(entities=[make_entity(countries=["CN"])])

    Action.objects.filter(pk=action.pk).update(subject_countries=["PK"])

    assert Action.objects.get(pk=action.pk).countries == ["CN", "PK"]
