"""/exports/record.json: the whole public record, read back with nothing lost."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from sanctions.demo import load_demo
from sanctions.models import Action, Article, Entity, Source

from .factories import make_action, make_entity, make_source, wipe

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache_and_storage")]


def export(client) -> bytes:
    response = client.get("/exports/record.json")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_the_record_round_trips_through_an_empty_database(client, tmp_path):
    load_demo()
    # Records without a reference of their own, and a draft that must stay out.
    extra = make_entity(name="Unreferenced Trading Co", description="Made by hand.")
    action = make_action(entities=[extra], title="Entered by hand", summary="By hand.")
    make_source(action, url="https://www.state.gov/by-hand", notes="Checked by phone.")
    make_action(title="A draft", published=False, editor_notes="Not for the public.")
    first = export(client)
    data = json.loads(first)
    path = tmp_path / "record.json"
    path.write_bytes(first)

    wipe()
    out = io.StringIO()
    call_command("import_list", "record-json", str(path), stdout=out)
    second = export(client)

    again = json.loads(second)
    for a, b in zip(data["actions"], again["actions"], strict=True):
        diff = {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}
        assert not diff, (a["reference"], diff)
    assert again == data
    assert Action.objects.count() == Action.objects.published().count() == 20
    assert Source.objects.count() == sum(len(a["sources"]) for a in data["actions"])
    assert Entity.objects.count() == len(data["entities"])
    assert Article.objects.count() == len(data["articles"])
    ndc = Action.objects.get(reference="pak-2024-12-18-state-eo13382")
    assert ndc.summary and ndc.notes and ndc.regime == "ofac_sdn"
    assert b"A draft" not in first and b"Not for the public" not in first
    assert "20 actions" in out.getvalue()
    # Its keys are another site's ids: never read into a database that has records.
    with pytest.raises(CommandError, match="empty database"):
        call_command("import_list", "record-json", str(path), stdout=io.StringIO())
