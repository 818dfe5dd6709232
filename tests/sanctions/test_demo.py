import json
from io import StringIO
from pathlib import Path

import pghistory
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from pghistory.models import Events

from sanctions.demo import DEFAULT_PATH, load_demo
from sanctions.models import (
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

DATASET = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
# The research compilation the dataset was curated from; outside the repository.
CHRONOLOGY = Path(settings.BASE_DIR).parent / "shared" / "data" / "chronology.json"


@pytest.fixture
def loaded(db):
    return load_demo()


def test_the_dataset_file_holds_the_19_chronology_actions():
    assert len(DATASET["actions"]) == 19
    references = [action["reference"] for action in DATASET["actions"]]
    assert len(set(references)) == 19
    assert "pak-2024-12-18-state-eo13382" in references


def test_the_dataset_file_has_one_action_per_chronology_entry():
    if not CHRONOLOGY.exists():
        pytest.skip(f"the shared research data is not at {CHRONOLOGY}")
    chronology = json.loads(CHRONOLOGY.read_text(encoding="utf-8"))
    assert {action["reference"] for action in DATASET["actions"]} == {
        entry["id"].lower() for entry in chronology
    }


def test_every_action_in_the_file_is_loaded_and_published(loaded):
    assert Action.objects.count() == len(DATASET["actions"])
    assert Action.objects.published().count() == len(DATASET["actions"])
    assert not Action.objects.filter(published_at__isnull=True).exists()


def test_the_command_loads_the_file_and_prints_one_line(db):
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert out.getvalue().count("\n") == 1
    assert "19 actions" in out.getvalue()
    assert Action.objects.count() == 19


def test_the_national_development_complex_action_names_its_four_entities(loaded):
    action = Action.objects.get(reference="pak-2024-12-18-state-eo13382")
    assert action.authority.slug == "us-state"
    assert set(action.designations.values_list("entity__name", flat=True)) == {
        "National Development Complex",
        "Akhtar and Sons Private Limited",
        "Affiliates International",
        "Rockside Enterprise",
    }
    assert list(action.legal_bases.values_list("short_name", flat=True)) == ["E.O. 13382"]


def test_the_national_development_complex_action_has_dated_coverage_with_outlets(loaded):
    action = Action.objects.get(reference="pak-2024-12-18-state-eo13382")
    dated = action.coverage.filter(
        article__outlet__isnull=False, article__published_on__isnull=False
    )
    assert dated.count() >= 5


def test_the_finer_remarks_carry_the_ab_news_article(loaded):
    article = Article.objects.get(headline="Pakistan’s Missile Advancements Raise US Concerns")
    assert article.outlet.name == "AB News International"
    assert list(article.coverage.values_list("action__reference", flat=True)) == [
        "pak-2024-12-19-wh-finer-remarks"
    ]
    assert article.coverage.get().action.kind == "statement"


def test_xian_longde_is_one_entity_with_its_april_and_september_2024_actions(loaded):
    entity = Entity.objects.get(name__startswith="Xi'an Longde")
    assert Entity.objects.filter(name__icontains="Longde").count() == 1
    dates = sorted(
        str(day) for day in entity.designations.values_list("action__announced_on", flat=True)
    )
    assert dates == ["2024-04-19", "2024-09-12"]
    assert entity.aliases.filter(name="Lontek").exists()


def test_no_entity_is_created_from_a_group_entry(loaded):
    # Group entries read like "(16 Pakistani entities; names not in stored excerpts)".
    assert not Entity.objects.filter(name__startswith="(").exists()
    assert not Entity.objects.filter(name__icontains="entities").exists()
    group_actions = ["pak-2021-11-24-bis-entity-list", "irn-2025-04-01-treas-state-qai-suppliers"]
    assert not Designation.objects.filter(action__reference__in=group_actions).exists()


def test_an_entity_referenced_but_not_listed_is_named_not_listed(loaded):
    designation = Designation.objects.get(action__reference="pak-2024-10-21-bis-entity-list")
    assert designation.entity.name == "Advanced Engineering Research Organization"
    assert designation.role == "named"


def test_unconfirmed_sources_have_no_url(loaded):
    unconfirmed = Source.objects.filter(notes__contains="URL not confirmed")
    assert unconfirmed.count() >= 10
    assert not unconfirmed.exclude(url="").exists()
    statement = Source.objects.get(
        action__reference="pak-2024-12-18-state-eo13382", kind="press_statement"
    )
    assert not statement.url_confirmed


def test_only_the_chronology_s_confirmed_urls_are_stored(loaded):
    if not CHRONOLOGY.exists():
        pytest.skip(f"the shared research data is not at {CHRONOLOGY}")
    chronology = json.loads(CHRONOLOGY.read_text(encoding="utf-8"))
    confirmed = {
        source["url"]
        for action in chronology
        for source in action["official_sources"]
        if source["confirmed"] and source["url"]
    }
    assert set(Source.objects.exclude(url="").values_list("url", flat=True)) == confirmed


def test_ofac_entry_numbers_are_identifiers(loaded):
    identifier = Identifier.objects.get(scheme="ofac", value="52049")
    assert identifier.entity.name == "National Development Complex"
    assert Identifier.objects.get(scheme="ofac", value="48620").entity.name.startswith("Xi'an")
    assert identifier.entity.aliases.filter(name="NATIONAL DEVELOPMENT CENTRE", kind="listed")


def test_aliases_get_a_script(loaded):
    assert not Alias.objects.filter(script="").exists()


def test_stated_relations_link_the_suppliers_to_the_national_development_complex(loaded):
    suppliers = Relation.objects.filter(
        kind="supplier_to", object__name="National Development Complex"
    )
    assert set(suppliers.values_list("subject__name", flat=True)) == {
        "Akhtar and Sons Private Limited",
        "Affiliates International",
        "Rockside Enterprise",
    }


def test_an_article_under_two_actions_is_one_article_linked_twice(loaded):
    digest = Article.objects.get(url="https://dpscreening.com/index.php/denied-party-digest")
    assert digest.coverage.count() == 2


def test_loading_twice_creates_nothing_and_records_no_history(loaded):
    assert loaded["created"] > 0
    tables = [Action, Entity, Alias, Identifier, Article, Coverage, Designation, Source]
    rows = [model.objects.count() for model in tables]
    events = Events.objects.count()
    assert events >= loaded["created"]  # every insert was recorded

    again = load_demo()

    assert again["created"] == 0
    assert again["updated"] == 0
    assert [model.objects.count() for model in tables] == rows
    assert Events.objects.count() == events


def test_loading_again_restores_an_edited_row_and_records_one_event(loaded):
    action = Action.objects.get(reference="pak-2024-12-18-state-eo13382")
    Action.objects.filter(pk=action.pk).update(title="Edited")
    events = Events.objects.count()

    again = load_demo()

    action.refresh_from_db()
    assert action.title.startswith("State designates Pakistan's National Development Complex")
    assert again["updated"] == 1
    assert Events.objects.count() == events + 1


@pytest.mark.django_db
def test_the_action_list_shows_every_demo_action_and_the_2024_pakistan_ones(client):
    load_demo()
    everything = client.get("/actions/", {"page": 1})
    assert everything.context["page"].paginator.count == Action.objects.count() == 19

    response = client.get(
        "/actions/", {"date_from": "2024-01-01", "date_to": "2024-12-31", "country": "PK"}
    )

    references = {action.reference for action in response.context["page"]}
    pakistan_2024 = set(
        Action.objects.filter(reference__startswith="pak-2024").values_list("reference", flat=True)
    )
    assert references == pakistan_2024
    assert len(references) == 6
    assert not any(reference.startswith("pak-2023") for reference in references)


@pytest.mark.django_db
def test_loading_again_keeps_a_reviewers_unpublishing():
    load_demo()
    action = Action.objects.get(reference="pak-2024-12-18-state-eo13382")
    action.unpublish()

    load_demo()

    assert Action.objects.get(pk=action.pk).status == "draft"


@pytest.mark.django_db
def test_load_demo_if_empty_leaves_an_existing_database_alone():
    load_demo()
    Action.objects.filter(reference="pak-2024-12-18-state-eo13382").update(title="Edited")
    out = StringIO()

    call_command("load_demo", "--if-empty", stdout=out)

    assert "left as it is" in out.getvalue()
    assert Action.objects.filter(title="Edited").exists()


def test_loading_again_leaves_an_editors_change_and_reports_it(loaded):
    editor = User.objects.create_user("editor1", is_staff=True)
    action = Action.objects.get(reference="pak-2024-12-18-state-eo13382")
    with pghistory.context(user=editor.pk):  # as the admin records a signed-in editor
        Action.objects.filter(pk=action.pk).update(title="Corrected by an editor")
    out = StringIO()

    call_command("load_demo", stdout=out)

    assert Action.objects.get(pk=action.pk).title == "Corrected by an editor"
    assert "1 record(s) changed by editors were left as they are" in out.getvalue()
    assert f"action {action.pk}" in out.getvalue() and "differs in title" in out.getvalue()


def test_every_published_demo_action_passes_the_publication_checks(loaded):
    for action in Action.objects.published():
        assert action.publication_problems() == [], action.reference


def test_aero_is_named_not_listed_on_its_page_and_the_entity_list_action_is_partial(loaded, client):
    aero = Entity.objects.get(reference="advanced-engineering-research-organization")
    page = client.get(f"/entities/{aero.pk}/?as_of=2025-01-01").content.decode()
    status = page.split('id="status-heading"')[1].split("</section>")[0]
    assert "BIS Entity List" not in status and "21 Oct 2024" not in status
    assert "No measure in force" in status

    action = Action.objects.get(reference="pak-2024-10-21-bis-entity-list")
    body = client.get(action.get_absolute_url()).content.decode()
    assert "Entities (0 of 26 recorded)" in body
    assert "A partial record" in body
    partial = client.get("/api/v1/actions/", {"partial": "true"}).json()["results"]
    assert action.pk in {row["id"] for row in partial}
    listed = client.get("/actions/", {"partial": "true"}).context["page"]
    assert action in listed.object_list


def test_the_joint_actions_name_both_authorities(loaded, client):
    for reference in ("prk-2022-01-12-ofac-state-eo13382", "irn-2023-01-06-ofac-state-qai-aio"):
        action = Action.objects.get(reference=reference)
        assert [a.slug for a in action.authorities] == ["us-ofac", "us-state"]
        body = client.get(action.get_absolute_url()).content.decode()
        assert "Office of Foreign Assets Control</a> and <a" in body
        assert "U.S. Department of State</a>" in body
        designee = (
            action.designations.get(entity__reference="o-yong-ho")
            if (reference.startswith("prk"))
            else action.designations.first()
        )
        status = designee.entity.status_on(action.announced_on)
        assert [a.slug for a in status[0].authorities] == ["us-ofac", "us-state"]


def test_article_provenance_is_shown_to_readers(loaded, client):
    copy = Article.objects.get(url__startswith="https://defence.pk/")
    assert copy.is_copy and copy.headline_from_url
    action = copy.coverage.first().action
    body = client.get(action.get_absolute_url()).content.decode()
    assert "a copy on defence.pk of an article first published by Reuters" in body
    assert "headline reconstructed from the URL" in body
    api = client.get(f"/api/v1/articles/{copy.pk}/").json()
    assert api["is_copy"] and api["headline_from_url"]
