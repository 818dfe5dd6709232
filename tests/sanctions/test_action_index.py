"""The list's in-memory index of published actions follows each change without a rebuild
on the request (issue: no request pays for a rebuild)."""

import datetime
import time

import numpy as np
import pytest

from sanctions import facets
from sanctions.facets import ActionIndex, action_index
from sanctions.models import Action, ActionKind, ActionsChange, Program
from sanctions.search import index_names

from .factories import make_action, make_authority, make_entity, make_legal_basis


@pytest.fixture
def full_reads(monkeypatch):
    """Counts the index's whole reads, still reading (a spy, not a stand-in)."""
    calls = []
    read = ActionIndex.read.__func__

    def counted(cls, version):
        calls.append(version)
        return read(cls, version)

    monkeypatch.setattr(ActionIndex, "read", classmethod(counted))
    return calls


def _same(kept: ActionIndex, fresh: ActionIndex):
    """Two indexes answer alike: rows in order, every column, every facet's pairs."""
    assert kept.ids.tolist() == fresh.ids.tolist()
    for column in ("authority", "kind", "day", "partial", "entity_total", "year"):
        assert getattr(kept, column).tolist() == getattr(fresh, column).tolist(), column
    assert kept.years.values == fresh.years.values
    everything = np.ones(fresh.size, dtype=bool)
    for name in ("country", "legal_basis", "program"):
        assert kept.count_by(name, everything) == fresh.count_by(name, everything), name
    for sort in ("newest", "oldest", "entities"):
        assert kept.order(sort).tolist() == fresh.order(sort).tolist(), sort


@pytest.mark.django_db
def test_publishing_editing_and_unpublishing_update_the_index_in_place(full_reads):
    bis, eo = make_authority(slug="bis"), make_legal_basis(slug="eo")
    npwmd = Program.objects.create(code="NPWMD", name="Non-proliferation")
    pk, cn = make_entity(countries=["PK"]), make_entity(countries=["CN"])
    first = make_action(authority=bis, entities=[pk], announced_on=datetime.date(2024, 1, 5))
    second = make_action(authority=bis, entities=[cn], published=False)
    index, current = action_index()  # reference data was added: read whole
    assert current and index.ids.tolist() == [first.pk]
    assert action_index()[0] is index, "nothing changed: the same index"
    reads = len(full_reads)

    second.announced_on, second.legal_basis_not_stated = datetime.date(2024, 12, 18), False
    second.save()
    second.legal_bases.add(eo)
    second.programs.add(npwmd)
    second.publish()
    index, current = action_index()
    assert current and index.ids.tolist() == [second.pk, first.pk]
    assert len(full_reads) == reads, "a publish is merged, not read whole"
    _same(index, ActionIndex.read(index.version))

    # An edit of a published action's list columns: a designation added (countries,
    # entity count) and its kind changed.
    make_entity(countries=["IR"]).designations.create(
        action=first, position=1, name_as_listed="Added", role=first.designations.get().role
    )
    Action.objects.filter(pk=first.pk).update(kind=ActionKind.ENTITY_LIST_ADDITION)
    index, _ = action_index()
    everything = np.ones(index.size, dtype=bool)
    assert index.count_by("country", everything) == {"CN": 1, "IR": 1, "PK": 1}
    assert index.entity_total[index.ids == first.pk].tolist() == [2]
    _same(index, ActionIndex.read(index.version))

    # A name changed (what text queries match) keeps the rows and drops the matches.
    index.matching("x", lambda: [first.pk])
    pk.aliases.create(name="Renamed Works")
    index_names(entity_ids=[pk.pk])  # as the admin and the importers do
    renamed, _ = action_index()
    assert renamed is not index and renamed.ids is index.ids and renamed._matching == {}

    second.unpublish()
    index, _ = action_index()
    assert index.ids.tolist() == [first.pk]
    _same(index, ActionIndex.read(index.version))
    assert len(full_reads) == reads + 3  # only the comparisons above read whole


@pytest.mark.django_db
def test_a_publish_is_in_the_next_list_without_reading_every_action(client, full_reads):
    bis = make_authority(slug="bis")
    make_action(authority=bis, title="Already listed")
    assert "Already listed" in client.get("/actions/").content.decode()
    reads = len(full_reads)
    draft = make_action(authority=bis, title="Just published", published=False)
    draft.publish()
    response = client.get("/actions/?authority=bis")
    assert "Just published" in response.content.decode()
    assert len(full_reads) == reads
    assert "no-store" not in response.get("Cache-Control", "")
    # The unfiltered list's counts, kept with the index, are those of the new version.
    unfiltered = client.get("/actions/").context
    [authority] = [facet for facet in unfiltered["facets"] if facet.name == "authority"]
    assert [value.count for value in authority.values] == [2]
    assert sum(total for _, _, total in unfiltered["chart"].years) == 2


@pytest.mark.django_db
def test_each_change_logs_the_actions_it_touched():
    action = make_action()
    latest = ActionsChange.objects.latest("pk").pk
    Action.objects.filter(pk=action.pk).update(title="Renamed")
    Action.objects.filter(pk=action.pk).update(title="Renamed")  # the same values again
    logged = list(ActionsChange.objects.filter(pk__gt=latest).values_list("actions", flat=True))
    assert logged == [[action.pk]]
    make_authority()
    assert ActionsChange.objects.latest("pk").actions is None  # reference data: everything


def _rebuilt():
    """Waits for the thread rebuilding the index, if one is."""
    deadline = time.monotonic() + 10
    while facets._rebuilding is not None and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_reference_data_changes_rebuild_in_a_thread_while_lists_answer(client, full_reads):
    bis = make_authority(slug="bis", name="Bureau of Industry and Security")
    make_action(authority=bis, title="Listed by BIS")
    action_index()
    _rebuilt()
    assert action_index()[1]
    reads = len(full_reads)

    bis.name = "Bureau of Industry and Security (renamed)"
    bis.save()
    response = client.get("/actions/")
    # Answered at once from the index it had, kept by no cache while the new one builds.
    assert response.status_code == 200
    assert "Listed by BIS" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    _rebuilt()
    assert len(full_reads) == reads + 1
    response = client.get("/actions/")
    assert "renamed" in response.content.decode()
    assert "no-store" not in response.get("Cache-Control", "")
