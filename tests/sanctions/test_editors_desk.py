"""The editor's desk: finding entities before creating them, catching duplicates,
publishing from the form, previewing drafts, coverage URLs and uploads on one page."""

import datetime
import json

import pytest
from django.test import Client

from sanctions.demo import load_demo
from sanctions.models import Action, Entity, Identifier, IdentifierScheme

from .factories import make_action, make_authority, make_entity, make_staff

pytestmark = pytest.mark.django_db

AUTOCOMPLETE = "/admin/autocomplete/"


@pytest.fixture
def demo():
    load_demo()


@pytest.fixture
def editor_client():
    client = Client()
    client.force_login(make_staff("erin", "editor"))
    return client


def _autocomplete(client, term, *, model="designation", field="entity"):
    response = client.get(
        AUTOCOMPLETE,
        {"term": term, "app_label": "sanctions", "model_name": model, "field_name": field},
    )
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("Natinal Developmnt", "National Development Complex"),
        ("Akhtar & Sons", "Akhtar and Sons Private Limited"),
        ("Changzou Utek", "Changzhou Utek Composite Company Ltd"),
        ("西安龙德", "Xi'an Longde Technology Development Company Limited"),
    ],
)
def test_the_designation_entity_picker_finds_entities_by_typo_or_chinese_name(
    demo, editor_client, term, expected
):
    results = _autocomplete(editor_client, term)

    assert results, f"nothing found for {term!r}"
    assert results[0]["text"].startswith(expected)


@pytest.mark.parametrize(("model", "field"), [("relation", "object"), ("article", "entities")])
def test_every_entity_picker_searches_names_the_same_way(demo, editor_client, model, field):
    results = _autocomplete(editor_client, "Natinal Developmnt", model=model, field=field)

    assert results[0]["text"].startswith("National Development Complex")


def test_picker_results_show_kind_country_and_identifiers(demo, editor_client):
    longde = Entity.objects.get(name__startswith="Xi'an Longde")

    (first, *_) = _autocomplete(editor_client, "Xi'an Longde")

    assert first["id"] == str(longde.pk)
    assert first["text"] == (
        "Xi'an Longde Technology Development Company Limited · Company · CN"
        " · OFAC SDN entry number 48620 · Company registration number 91610131742838531E"
    )


def _inline_management(prefix, total=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def _new_entity(name, **fields):
    return {
        "name": name,
        "kind": "company",
        "countries": "CN",
        **_inline_management("aliases"),
        **_inline_management("identifiers"),
        **_inline_management("relations"),
        **fields,
    }


def test_the_name_field_lists_close_entities_while_the_editor_types(editor_client):
    existing = make_entity(name="Changzhou Utek Composite Company Ltd")

    response = editor_client.get(
        "/admin/sanctions/entity/similar/", {"name": "Changzou Utek", "_popup": "1"}
    )

    (result,) = response.json()["results"]
    assert result["text"].startswith("Changzhou Utek Composite Company Ltd")
    assert result["use_url"] == (
        f"/admin/sanctions/entity/{existing.pk}/use/?_popup=1&_to_field=id"
    )
    assert editor_client.get(
        "/admin/sanctions/entity/similar/", {"name": "Minsk Wheel Tractor"}
    ).json() == {"results": []}


def test_use_this_one_picks_the_existing_entity_in_the_pickers_popup(editor_client):
    existing = make_entity(name="Changzhou Utek Composite Company Ltd")

    response = editor_client.get(
        f"/admin/sanctions/entity/{existing.pk}/use/", {"_popup": "1", "_to_field": "id"}
    )

    assert response.status_code == 200
    assert response.context["popup_response_data"] == json.dumps(
        {"value": str(existing.pk), "obj": existing.name}
    )
    opened = editor_client.get(f"/admin/sanctions/entity/{existing.pk}/use/")
    assert opened["Location"] == f"/admin/sanctions/entity/{existing.pk}/change/"


def test_an_identifier_another_entity_holds_is_caught_before_saving(editor_client):
    holder = make_entity(name="Beijing Luo Luo Technology Development Co Ltd")
    Identifier.objects.create(entity=holder, scheme=IdentifierScheme.TAX, value="9111")
    Identifier.objects.create(entity=holder, scheme=IdentifierScheme.OFAC_ENT_NUM, value="45717")
    tax = {
        **_inline_management("identifiers", total=1),
        "identifiers-0-scheme": "tax",
        "identifiers-0-value": "9111",
    }

    warned = editor_client.post("/admin/sanctions/entity/add/", _new_entity("BLL", **tax))
    saved = editor_client.post(
        "/admin/sanctions/entity/add/", _new_entity("BLL", **tax, not_a_duplicate="1")
    )

    assert warned.status_code == 200
    assert f"/admin/sanctions/entity/{holder.pk}/change/" in warned.content.decode()
    assert saved.status_code == 302
    listed = tax | {"identifiers-0-scheme": "ofac", "identifiers-0-value": "45717"}
    refused = editor_client.post(
        "/admin/sanctions/entity/add/", _new_entity("BLL 2", **listed, not_a_duplicate="1")
    )
    assert refused.status_code == 200  # a list entry number is one entity's, whatever is ticked
    assert "belongs to one entity" in refused.content.decode()
    assert not Entity.objects.filter(name="BLL 2").exists()


def _new_action(authority, entities, **fields):
    data = {
        "title": "State designates suppliers again",
        "kind": "designation",
        "regime": "ofac_sdn",
        "authority": authority.pk,
        "announced_on": "2024-04-19",
        "document_numbers": "",
        "summary": "",
        "notes": "",
        "reference": "",
        "editor_notes": "",
        **_inline_management("designations", total=len(entities)),
        **_inline_management("sources"),
        **_inline_management("coverage"),
    }
    for n, entity in enumerate(entities):
        data |= {
            f"designations-{n}-entity": entity.pk,
            f"designations-{n}-role": "listed",
            f"designations-{n}-position": n,
        }
    return data | fields


def test_saving_an_action_twice_warns_and_links_the_first(editor_client):
    state = make_authority(short_name="State")
    longde, granpect = make_entity(name="Xi'an Longde"), make_entity(name="Granpect")
    first = make_action(
        authority=state, announced_on=datetime.date(2024, 4, 19), entities=[longde, granpect]
    )

    warned = editor_client.post("/admin/sanctions/action/add/", _new_action(state, [longde]))

    assert warned.status_code == 200
    page = warned.content.decode()
    assert "Already entered?" in page
    assert f"/admin/sanctions/action/{first.pk}/change/" in page
    assert Action.objects.count() == 1

    other_day = _new_action(state, [longde], announced_on="2024-04-20")
    assert editor_client.post("/admin/sanctions/action/add/", other_day).status_code == 302
    confirmed = _new_action(state, [longde], not_a_duplicate="1")
    assert editor_client.post("/admin/sanctions/action/add/", confirmed).status_code == 302
    assert Action.objects.count() == 3
