"""Merging two entities found to be one, through the admin, and undoing it."""

import csv
import io

import pytest
from django.core import serializers
from django.db import IntegrityError, transaction
from django.test import Client
from pghistory.models import Events

from sanctions.merge import MergeRefused, merge_entities, undo_merge
from sanctions.models import (
    Alias,
    Article,
    Entity,
    EntityMerge,
    Identifier,
    IdentifierScheme,
    ImportRun,
    ListEntry,
    Relation,
    RelationKind,
    Suggestion,
)
from sanctions.search import match_names

from .factories import make_action, make_article, make_entity, make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache_and_storage")]


@pytest.fixture
def reviewer():
    client = Client()
    client.force_login(make_staff("rita", "reviewer"))
    return client


@pytest.fixture
def editor():
    client = Client()
    client.force_login(make_staff("erin", "editor"))
    return client


@pytest.fixture
def pair():
    """Two records of one company, each with designations, names, identifiers, links,
    mentions, a list entry and suggestions; some of them the same on both."""
    survivor = make_entity(name="Lion Trading Co", countries=["CN"])
    loser = make_entity(name="Shizi Maoyi", countries=["HK", "CN"], description="A front.")
    third, fourth = make_entity(name="Third Co"), make_entity(name="Fourth Co")
    make_action(entities=[survivor, third, fourth])
    make_action(entities=[loser])
    Alias.objects.create(entity=survivor, name="Lion Ltd")
    Alias.objects.create(entity=loser, name="Lion Ltd")  # the same: folded
    Alias.objects.create(entity=loser, name="狮子贸易", script="Hani")
    Identifier.objects.create(entity=survivor, scheme=IdentifierScheme.REGISTRATION, value="91")
    Identifier.objects.create(entity=loser, scheme=IdentifierScheme.REGISTRATION, value="91")
    Identifier.objects.create(entity=loser, scheme=IdentifierScheme.OFAC_ENT_NUM, value="4242")
    Relation.objects.create(subject=survivor, object=third, kind=RelationKind.OWNED_BY)
    Relation.objects.create(subject=loser, object=third, kind=RelationKind.OWNED_BY)  # same
    Relation.objects.create(subject=loser, object=third, kind=RelationKind.SUPPLIER_TO)
    Relation.objects.create(subject=fourth, object=loser, kind=RelationKind.AGENT_OF)
    Relation.objects.create(subject=loser, object=survivor, kind=RelationKind.FRONT_FOR)
    mentioned, both, suggested = make_article(), make_article(), make_article()
    mentioned.entities.add(loser)
    both.entities.add(loser, survivor)
    Suggestion.objects.create(article=suggested, entity=loser, matched_name="Shizi Maoyi")
    Suggestion.objects.create(article=both, entity=loser, matched_name="Shizi Maoyi")
    Suggestion.objects.create(article=both, entity=survivor, matched_name="Lion Trading")
    run = ImportRun.objects.create(list_name="ofac_sdn", format="ofac-sdn-csv", files=[])
    ListEntry.objects.create(
        list_name="ofac_sdn",
        number="4242",
        name="SHIZI MAOYI",
        entry_type="entity",
        raw={},
        digest="0" * 64,
        entity=loser,
        added_by=run,
    )
    return survivor, loser


def holdings(entity: Entity) -> dict:
    """Every row that belongs to the entity, field by field, ids included."""
    rows = {
        "designations": entity.designations.all(),
        "aliases": entity.aliases.all(),
        "identifiers": entity.identifiers.all(),
        "relations": entity.relations.all(),
        "inverse_relations": entity.inverse_relations.all(),
        "list_entries": entity.list_entries.all(),
        "suggestions": entity.suggestions.all(),
    }
    held = {key: serializers.serialize("python", qs.order_by("pk")) for key, qs in rows.items()}
    mentions = Article.entities.through.objects.filter(entity=entity)
    held["mentions"] = sorted(mentions.values_list("pk", "article_id"))
    held["merged_entities"] = sorted(entity.merged_entities.values_list("pk", flat=True))
    held["fields"] = Entity.objects.values("name", "kind", "countries", "description").get(
        pk=entity.pk
    )
    return held


def merge_through_the_admin(client, *, loser, survivor):
    url = f"/admin/sanctions/entity/{loser.pk}/merge/"
    confirm = client.post(url, {"survivor": survivor.pk})
    assert confirm.status_code == 200, confirm.content
    assert EntityMerge.objects.count() == 0  # nothing happens before the confirmation
    response = client.post(url, {"survivor": survivor.pk, "confirm": "yes"})
    assert response.status_code == 302, response.content
    assert response["Location"] == f"/admin/sanctions/entity/{survivor.pk}/change/"
    return confirm.content.decode()


def test_a_merge_moves_everything_to_the_survivor_and_redirects_the_losers_url(
    client, reviewer, pair
):
    survivor, loser = pair
    before = holdings(survivor), holdings(loser)
    loser_designation = loser.designations.get()

    confirmation = merge_through_the_admin(reviewer, loser=loser, survivor=survivor)

    assert "<li>Designations: 1 moved</li>" in confirmation
    assert "<li>Aliases: 1 moved, 1 folded (the survivor has the name already)</li>" in confirmation
    assert "“Shizi Maoyi” becomes an alias" in confirmation
    after = holdings(survivor)
    assert set(survivor.designations.values_list("pk", flat=True)) == {
        *(d["pk"] for d in before[0]["designations"]),
        loser_designation.pk,
    }
    assert sorted(survivor.aliases.values_list("name", flat=True)) == [
        "Lion Ltd",
        "Shizi Maoyi",
        "狮子贸易",
    ]
    assert sorted(survivor.identifiers.values_list("scheme", "value")) == [
        ("ofac", "4242"),
        ("registration", "91"),
    ]
    assert sorted((r.object.name, r.kind) for r in survivor.relations.all()) == [
        ("Third Co", "owned_by"),
        ("Third Co", "supplier_to"),
    ]
    assert [(r.subject.name, r.kind) for r in survivor.inverse_relations.all()] == [
        ("Fourth Co", "agent_of")
    ]
    assert len(after["mentions"]) == 2
    assert len(after["list_entries"]) == 1
    assert len(after["suggestions"]) == 2
    assert after["fields"]["countries"] == ["CN", "HK"]
    assert after["fields"]["description"] == "A front."
    # Nothing is lost: what was not moved is kept whole on the merge, to be put back.
    done = EntityMerge.objects.get()
    folded = {key: len(rows) for key, rows in done.moved["folded"].items()}
    assert folded == {
        "aliases": 1,
        "identifiers": 1,
        "relations": 2,
        "mentions": 1,
        "suggestions": 1,
    }
    assert {key: holdings(loser)[key] for key in before[1] if key != "fields"} == {
        key: [] for key in before[1] if key != "fields"
    }
    loser.refresh_from_db()
    assert loser.merged_into == survivor
    assert done.merged_by.username == "rita"

    page = client.get(f"/entities/{loser.pk}/?as_of=2024-06-01")
    assert page.status_code == 301
    assert page["Location"] == f"/entities/{survivor.pk}/?as_of=2024-06-01"
    assert "no-cache" in page["Cache-Control"]  # asked again, as a merge can be undone
    api = client.get(f"/api/v1/entities/{loser.pk}/")
    assert api.status_code == 301
    assert api["Location"].endswith(f"/api/v1/entities/{survivor.pk}/")
    assert "no-cache" in api["Cache-Control"]
    assert api.json() == {"detail": "merged", "merged_into": survivor.pk, "url": api["Location"]}
    assert match_names("Shizi Maoyi")[0].entity_id == survivor.pk
    assert loser.pk not in {match.entity_id for match in match_names("Shizi Maoyi")}

    history = reviewer.get(f"/admin/sanctions/entity/{survivor.pk}/history/").content.decode()
    assert "Merged <a" in history and "Shizi Maoyi</a> into <a" in history
    assert "Undo this merge" in history
    moved = Events.objects.tracks(loser_designation).filter(pgh_label="update").get()
    assert moved.pgh_diff["entity_id"] == [loser.pk, survivor.pk]
    assert moved.pgh_context["merged"] == loser.pk
    assert moved.pgh_context["merged_into"] == survivor.pk


def test_a_merged_entity_is_in_no_public_list_search_feed_or_export(client, pair):
    survivor, loser = pair
    merge_entities(survivor=survivor, loser=loser)

    assert loser not in Entity.objects.visible()
    api_ids = [row["id"] for row in client.get("/api/v1/entities/?page_size=100").json()["results"]]
    assert survivor.pk in api_ids and loser.pk not in api_ids
    search = client.get("/search/", {"q": "Shizi Maoyi"}).content.decode()
    assert f"/entities/{survivor.pk}/" in search
    assert f"/entities/{loser.pk}/" not in search
    assert client.get(f"/feeds/entities/{loser.pk}.atom").status_code == 404
    export = client.get("/exports/entities.csv")
    rows = csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    assert str(loser.pk) not in {row["entity_id"] for row in rows}
    # Even named again by mistake, a merged entity stays out of sight.
    make_action(entities=[loser])
    assert loser not in Entity.objects.visible()


def test_an_action_naming_both_keeps_the_survivors_designation_and_the_losers_for_undo(pair):
    survivor, loser = pair
    action = make_action(entities=[survivor, loser])
    action.designations.filter(entity=loser).update(reason="Supplied gyroscopes.")
    losers = serializers.serialize("python", action.designations.filter(entity=loser))

    done = merge_entities(survivor=survivor, loser=loser)

    assert [d.entity_id for d in action.designations.all()] == [survivor.pk]
    assert done.moved["folded"]["designations"][0]["fields"]["reason"] == "Supplied gyroscopes."
    undo_merge(merge=done)
    restored = serializers.serialize("python", action.designations.filter(entity=loser))
    assert restored == losers


def test_undo_puts_back_exactly_what_each_entity_held(client, reviewer, pair):
    survivor, loser = pair
    before = holdings(survivor), holdings(loser)
    merge_through_the_admin(reviewer, loser=loser, survivor=survivor)
    done = EntityMerge.objects.get()

    response = reviewer.post(f"/admin/sanctions/entity/merges/{done.pk}/undo/")

    assert response.status_code == 302
    assert (holdings(survivor), holdings(loser)) == before
    done.refresh_from_db()
    assert done.undone_at is not None and done.undone_by.username == "rita"
    assert client.get(f"/entities/{loser.pk}/").status_code == 200
    assert {match.entity_id for match in match_names("Shizi Maoyi")} == {loser.pk}
    history = reviewer.get(response["Location"]).content.decode()
    assert "undone" in history
    assert "Undo this merge" not in history
    with pytest.raises(MergeRefused, match="undone already"):
        undo_merge(merge=done)


def test_only_reviewers_may_merge_or_undo(editor, reviewer, pair):
    survivor, loser = pair
    merge_url = f"/admin/sanctions/entity/{loser.pk}/merge/"

    change_url = f"/admin/sanctions/entity/{loser.pk}/change/"
    history_url = f"/admin/sanctions/entity/{survivor.pk}/history/"

    assert editor.get(merge_url).status_code == 403
    assert editor.post(merge_url, {"survivor": survivor.pk, "confirm": "yes"}).status_code == 403
    assert "Merge into another entity" not in editor.get(change_url).content.decode()
    assert Entity.objects.get(pk=loser.pk).merged_into is None

    form = reviewer.get(merge_url)
    assert form.status_code == 200
    assert "admin-autocomplete" in form.content.decode()
    assert "Merge into another entity" in reviewer.get(change_url).content.decode()
    done = merge_entities(survivor=survivor, loser=loser)
    undo_url = f"/admin/sanctions/entity/merges/{done.pk}/undo/"
    assert editor.post(undo_url).status_code == 403
    assert "Undo this merge" not in editor.get(history_url).content.decode()
    assert Entity.objects.get(pk=loser.pk).merged_into == survivor
    # A merged entity holds nothing to change: undoing the merge gives it back.
    assert reviewer.get(change_url).context["has_change_permission"] is False


def test_it_refuses_to_merge_an_entity_into_itself_or_into_a_merged_one(reviewer):
    a, b, c = make_entity(name="A Co"), make_entity(name="B Co"), make_entity(name="C Co")

    with pytest.raises(MergeRefused, match="into itself"):
        merge_entities(survivor=a, loser=a)
    merge_entities(survivor=a, loser=b)
    with pytest.raises(MergeRefused, match="merge into that entity"):
        merge_entities(survivor=b, loser=c)
    with pytest.raises(MergeRefused, match="already"):
        merge_entities(survivor=c, loser=b)
    response = reviewer.post(
        f"/admin/sanctions/entity/{c.pk}/merge/", {"survivor": b.pk, "confirm": "yes"}
    )
    assert response.status_code == 200
    assert "was merged into" in response.content.decode()
    assert Entity.objects.get(pk=c.pk).merged_into is None
    with pytest.raises(IntegrityError), transaction.atomic():
        Entity.objects.filter(pk=c.pk).update(merged_into=c)


def test_entities_merged_into_the_loser_follow_it_and_come_back_on_undo(client):
    a, b, c = make_entity(name="A Co"), make_entity(name="B Co"), make_entity(name="C Co")
    make_action(entities=[a])
    first = merge_entities(survivor=b, loser=c)

    second = merge_entities(survivor=a, loser=b)

    assert Entity.objects.get(pk=c.pk).merged_into == a
    assert client.get(f"/entities/{c.pk}/")["Location"] == f"/entities/{a.pk}/"
    with pytest.raises(MergeRefused, match="undo that first"):
        undo_merge(merge=first)
    undo_merge(merge=second)
    assert Entity.objects.get(pk=c.pk).merged_into == b
    undo_merge(merge=first)
    assert Entity.objects.get(pk=c.pk).merged_into is None


def test_the_api_schema_documents_the_merged_answer(client):
    schema = client.get("/api/schema/?format=json").json()

    responses = schema["paths"]["/api/v1/entities/{id}/"]["get"]["responses"]
    assert "merged into another" in responses["301"]["description"]
