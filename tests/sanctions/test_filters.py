import datetime
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.db.models import F, Max
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sanctions.filters import ActionFilter
from sanctions.models import Action, ActionKind, ActionsChange, Alias, Program
from sanctions.search import index_names

from .factories import make_action, make_authority, make_entity, make_legal_basis

pytestmark = pytest.mark.django_db


@pytest.fixture
def actions():
    state, bis = make_authority(slug="state"), make_authority(slug="bis")
    eo, ear = make_legal_basis(slug="eo"), make_legal_basis(slug="ear")
    npwmd = Program.objects.create(code="NPWMD", name="Non-proliferation")
    pk, cn = make_entity(countries=["PK"]), make_entity(countries=["CN", "HK"])
    made = [
        make_action(
            authority=state,
            legal_bases=[eo],
            entities=[pk, cn],
            announced_on=datetime.date(2024, 12, 18),
        ),
        make_action(
            authority=state,
            legal_bases=[eo],
            entities=[cn],
            announced_on=datetime.date(2023, 10, 20),
        ),
        make_action(
            authority=bis,
            legal_bases=[ear],
            entities=[pk],
            kind=ActionKind.ENTITY_LIST_ADDITION,
            announced_on=datetime.date(2024, 10, 21),
        ),
        make_action(
            authority=bis,
            legal_bases=[eo, ear],
            entities=[pk],
            announced_on=datetime.date(2021, 11, 24),
        ),
        make_action(authority=state, entities=[cn], published=False),
    ]
    made[0].programs.add(npwmd)
    return made


def _facets(client, query):
    return {facet.name: facet for facet in client.get(f"/actions/?{query}").context["facets"]}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "authority=state",
        "country=PK",
        "date_from=2024-01-01&date_to=2024-12-31",
        "legal_basis=eo&kind=designation",
        "program=NPWMD",
        "q=action",
    ],
)
def test_each_facet_count_equals_the_results_its_link_leads_to(client, actions, query):
    facets = _facets(client, query)

    checked = 0
    for facet in facets.values():
        for value in facet.values:
            response = client.get(f"/actions/?{value.query}")
            assert response.context["page"].paginator.count == value.count, (facet.name, value)
            # The same filter in the database (as the API and exports apply it) agrees.
            in_database = ActionFilter(QueryDict(value.query), queryset=Action.objects.published())
            assert in_database.qs.count() == value.count, (facet.name, value)
            checked += 1
    assert checked >= 5


def test_facets_keep_the_other_filters_and_mark_the_active_value(client, actions):
    facets = _facets(client, "authority=state&country=PK")

    authority = {v.label: v for v in facets["authority"].values}
    active = [v for v in facets["authority"].values if v.active]
    assert len(active) == 1 and active[0].count == 1
    assert sum(v.count for v in authority.values()) == 3  # state 1 + bis 2, under country=PK
    countries = {v.label: v.count for v in facets["country"].values}
    assert countries == {"Pakistan": 1, "China": 2, "Hong Kong SAR": 2}
    link = parse_qs(facets["country"].values[0].query)
    assert link["authority"] == ["state"]


def test_the_year_facet_links_to_a_date_range(client, actions):
    years = {v.label: v for v in _facets(client, "")["year"].values}

    assert years["2024"].count == 2
    assert parse_qs(years["2024"].query) == {"date_from": ["2024-01-01"], "date_to": ["2024-12-31"]}


def test_lists_follow_every_change_to_the_actions(client, actions):
    def count(query):
        shown = client.get(f"/actions/?{query}").context["page"].paginator.count
        published = Action.objects.published()
        assert shown == ActionFilter(QueryDict(query), queryset=published).qs.count()
        return shown

    assert count("authority=state") == 2
    Action.objects.filter(pk=actions[4].pk).update(status="published", published_at=timezone.now())
    assert count("authority=state") == 3
    actions[1].legal_bases.clear()
    assert count("legal_basis=eo") == 2
    recent = count("date_from=2024-01-01")
    Action.objects.filter(pk=actions[0].pk).update(announced_on=datetime.date(2020, 1, 1))
    assert count("date_from=2024-01-01") == recent - 1


def test_select_options_are_read_once_per_version_and_follow_a_publish(client, actions):
    def options(name):
        form = client.get("/actions/").context["filter"].form
        return sorted(value for value, _ in form.fields[name].choices)

    assert options("authority") == ["", "bis", "state"]
    with CaptureQueriesContext(connection) as queries:
        client.get("/actions/?page=1")
    assert not [q for q in queries if 'FROM "sanctions_authority"' in q["sql"]]

    newcomer = make_authority(slug="treasury")
    make_action(authority=newcomer)

    assert options("authority") == ["", "bis", "state", "treasury"]


def test_a_select_is_made_once_and_follows_its_value_and_options(client, actions, monkeypatch):
    """Filter selects are kept per options, value and attributes (filters.KeptSelect)."""
    from django import forms

    monkeypatch.setattr("sanctions.filters._kept_selects", {})  # none kept by other tests
    made = []
    render = forms.Select.render
    monkeypatch.setattr(
        forms.Select,
        "render",
        lambda self, name, *args: made.append(name) or render(self, name, *args),
    )

    def select(query):
        return str(client.get(f"/actions/?{query}").context["filter"].form["authority"])

    first = select("")
    assert 'value="state"' in first and "selected" not in first.split('value="state"')[1][:12]
    assert select("country=PK") == first
    assert made.count("authority") == 1
    chosen = select("authority=state")
    assert 'value="state" selected' in chosen and made.count("authority") == 2
    invalid = select("authority=nobody")
    assert 'aria-invalid="true"' in invalid and made.count("authority") == 3

    make_action(authority=make_authority(slug="treasury"))

    assert 'value="treasury"' in select("") and made.count("authority") == 4


def test_the_text_filter_finds_every_action_concerning_an_entity_of_that_name(client):
    actions = [
        make_action(entities=[make_entity(name=f"Zenith Trading {i} LLC")]) for i in range(60)
    ]
    make_action(entities=[make_entity(name="Other Company")])
    index_names()

    response = client.get("/actions/?q=zenith")

    assert response.context["page"].paginator.count == len(actions)
    published = Action.objects.published()
    assert ActionFilter(QueryDict("q=zenith"), queryset=published).qs.count() == len(actions)


def test_the_text_filter_follows_a_new_alias(client):
    entity = make_entity(name="Alpha Industries")
    make_action(entities=[entity])
    index_names()
    assert client.get("/actions/?q=omega").context["page"].paginator.count == 0

    Alias.objects.create(entity=entity, name="Omega Works")
    index_names(entity_ids=[entity.pk])

    assert client.get("/actions/?q=omega").context["page"].paginator.count == 1


def test_only_real_changes_are_recorded_for_the_lists(actions):
    def latest():
        return ActionsChange.objects.aggregate(latest=Max("pk"))["latest"]

    before = latest()
    # Refreshing derived columns to the values they have (as link checks do).
    Action.objects.filter(pk=actions[0].pk).update(title=F("title"))
    assert latest() == before
    Action.objects.filter(pk=actions[0].pk).update(title="Renamed")
    assert latest() > before


# A value of every action filter that the demo record answers with some actions, not all.
EVERY_FILTER = {
    "q": "missile",
    "authority": "us-state",
    "legal_basis": "eo-13382",
    "program": "NPWMD",
    "country": "pk ",
    "kind": "designation",
    "date_from": "2024-01-01",
    "date_to": "2023-12-31",
    "partial": "false",
}


def test_every_action_filter_means_the_same_on_the_page_facets_api_schema_and_feeds(
    demo_record, client
):
    """filters.ActionFilter is the one definition: the list page (its in-memory index),
    the API (its results and its schema's parameters) and the feeds' wording must each
    know every filter it declares. A filter added there and not here fails this test."""
    from sanctions.feeds import FILTER_WORDS
    from sanctions.filters import LIST_OPTIONS

    declared = set(ActionFilter.base_filters) - set(LIST_OPTIONS)
    assert set(EVERY_FILTER) == declared
    assert declared <= set(FILTER_WORDS)
    schema = client.get("/api/schema/?format=json").json()
    parameters = schema["paths"]["/api/v1/actions/"]["get"]["parameters"]
    described = {p["name"] for p in parameters if p.get("description", "").strip()}
    assert set(ActionFilter.base_filters) <= described

    published = Action.objects.published()
    for name, value in EVERY_FILTER.items():
        query = QueryDict(f"{name}={value}")
        wanted = list(ActionFilter(query, queryset=published.order_by("-announced_on", "-pk")).qs)
        assert 0 < len(wanted) < published.count(), name
        page = client.get(f"/actions/?{name}={value}&page_size=100").context["page"]
        api = client.get(f"/api/v1/actions/?{name}={value}&page_size=100").json()["results"]
        assert [a.pk for a in page] == [a.pk for a in wanted], name
        assert [row["id"] for row in api] == [a.pk for a in wanted], name
