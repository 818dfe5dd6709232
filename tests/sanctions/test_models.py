import datetime

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from sanctions.models import (
    Action,
    ActionStatus,
    Alias,
    Designation,
    Entity,
    Identifier,
    IdentifierScheme,
    IncompleteAction,
    Regime,
    Relation,
    RelationKind,
    Script,
    detect_script,
)

from .factories import make_action, make_entity, make_legal_basis, make_source

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


def test_identifiers_are_unique_per_entity_and_relations_cannot_point_to_themselves():
    entity = make_entity()
    Identifier.objects.create(entity=entity, scheme=IdentifierScheme.OFAC_ENT_NUM, value="52049")

    with pytest.raises(IntegrityError), transaction.atomic():
        Identifier.objects.create(
            entity=entity, scheme=IdentifierScheme.OFAC_ENT_NUM, value="52049"
        )
    # Two records may share a number (a registration number in two SDN entries): each keeps it.
    for holder in (entity, make_entity()):
        Identifier.objects.create(
            entity=holder, scheme=IdentifierScheme.REGISTRATION, value="0912345"
        )
    # A list's entry number belongs to one entity.
    with pytest.raises(IntegrityError), transaction.atomic():
        Identifier.objects.create(
            entity=make_entity(), scheme=IdentifierScheme.OFAC_ENT_NUM, value="52049"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Relation.objects.create(subject=entity, object=entity, kind=RelationKind.FRONT_FOR)


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


def test_publishing_refuses_an_incomplete_action_and_says_what_is_missing():
    entity = make_entity(name="Rockside Enterprise")
    action = make_action(
        entities=[entity],
        published=False,
        regime="",
        legal_basis_not_stated=False,
        source_unconfirmed="",
    )
    action.designations.update(name_as_listed="")
    make_source(action, url="")  # a source whose URL nobody confirmed

    with pytest.raises(IncompleteAction) as refused:
        action.publish()

    assert refused.value.problems == [
        "no legal basis: add one, or tick “legal basis not stated” if the announcement cites none",
        "the name as listed is missing for Rockside Enterprise",
        "no regime: say which list or measures the action acts on",
        "no official source with a URL: add one, or explain in “official source not yet confirmed”",
    ]
    assert not Action.objects.published().exists()

    action.legal_bases.add(make_legal_basis())
    action.designations.update(name_as_listed="ROCKSIDE ENTERPRISE")
    action.regime = Regime.OFAC_SDN
    action.source_unconfirmed = "The fact sheet is quoted in coverage; its URL is not known."
    action.save()
    action.publish()
    assert action.is_published


def test_a_source_with_a_url_or_the_explicit_flags_complete_an_action():
    action = make_action(published=False, legal_basis_not_stated=True, source_unconfirmed="")
    assert action.publication_problems() == [
        "no official source with a URL: add one, or explain in “official source not yet confirmed”"
    ]
    make_source(action, url="https://www.state.gov/fact-sheet")
    assert action.publication_problems() == []


def test_a_name_or_identifier_is_stored_whole_however_long():
    name = "A" * 700
    entity = make_entity(name=name)
    Alias.objects.create(entity=entity, name="B " * 400)
    identifier = Identifier.objects.create(entity=entity, scheme="registration", value="9" * 150)
    entity.refresh_from_db()
    identifier.refresh_from_db()
    assert entity.name == name and len(identifier.value) == 150
    assert entity.aliases.get().name == "B " * 400


def test_publishing_refuses_a_removal_that_removes_nothing_and_contradictions():
    entity = make_entity()
    removal = make_action(
        entities=[entity], kind="delisting", role="listed", published=False, ends_on=None
    )
    assert "a removal that removes nothing" in " ".join(removal.publication_problems())

    both = make_action(published=False, legal_bases=[make_legal_basis()])
    Action.objects.filter(pk=both.pk).update(legal_basis_not_stated=True)
    both.refresh_from_db()
    assert both.publication_problems() == [
        "a legal basis is given and “legal basis not stated” is ticked"
    ]

    backwards = make_action(
        published=False,
        announced_on=datetime.date(2024, 5, 1),
        ends_on=datetime.date(2024, 4, 1),
    )
    assert backwards.publication_problems() == [
        "a scheduled end on or before the day the measures took effect"
    ]
