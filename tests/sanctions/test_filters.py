import datetime
from urllib.parse import parse_qs

import pytest
from django.http import QueryDict
from django.utils import timezone

from sanctions.facets import action_facets
from sanctions.filters import ActionFilter
from sanctions.models import Action, ActionKind, Program

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
    facets = action_facets(QueryDict(query))

    checked = 0
    for facet in facets:
        for value in facet.values:
            response = client.get(f"/actions/?{value.query}")
            assert response.context["page"].paginator.count == value.count, (facet.name, value)
            # The same filter in the database (as the API and exports apply it) agrees.
            in_database = ActionFilter(QueryDict(value.query), queryset=Action.objects.published())
            assert in_database.qs.count() == value.count, (facet.name, value)
            checked += 1
    assert checked >= 5


def test_facets_keep_the_other_filters_and_mark_the_active_value(actions):
    facets = {f.name: f for f in action_facets(QueryDict("authority=state&country=PK"))}

    authority = {v.label: v for v in facets["authority"].values}
    active = [v for v in facets["authority"].values if v.active]
    assert len(active) == 1 and active[0].count == 1
    assert sum(v.count for v in authority.values()) == 3  # state 1 + bis 2, under country=PK
    countries = {v.label: v.count for v in facets["country"].values}
    assert countries == {"Pakistan": 1, "China": 2, "Hong Kong SAR": 2}
    link = parse_qs(facets["country"].values[0].query)
    assert link["authority"] == ["state"]


def test_the_year_facet_links_to_a_date_range(actions):
    years = {v.label: v for v in {f.name: f for f in action_facets(QueryDict())}["year"].values}

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
