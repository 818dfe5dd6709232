import datetime

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.http import http_date
from hypothesis import HealthCheck, Phase, settings
from rest_framework.throttling import AnonRateThrottle
from schemathesis.specs.openapi.checks import positive_data_acceptance

from sanctions.models import (
    Action,
    ActionStatus,
    Alias,
    AliasKind,
    Identifier,
    IdentifierScheme,
    Program,
    PublicChange,
    Relation,
    RelationKind,
)
from tracker.wsgi import application

from .factories import (
    data_queries,
    make_action,
    make_article,
    make_authority,
    make_entity,
    make_legal_basis,
    make_source,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache_and_storage")]


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def make_actions(count, **fields):
    """Published actions in one query, for tests that need many rows."""
    authority = make_authority()
    now = timezone.now()
    return Action.objects.bulk_create(
        Action(
            title=f"Bulk {n}",
            kind="designation",
            authority=authority,
            announced_on=datetime.date(2020, 1, 1) + datetime.timedelta(days=n),
            status=ActionStatus.PUBLISHED,
            published_at=now,
            **fields,
        )
        for n in range(count)
    )


def test_action_list_shows_published_actions_with_everything_they_cite(client):
    eo = make_legal_basis(slug="eo-13382", short_name="E.O. 13382")
    ndc = make_entity(name="National Development Complex", countries=["PK"])
    action = make_action(
        title="Designation of NDC",
        entities=[ndc],
        legal_bases=[eo],
        announced_on=datetime.date(2024, 12, 18),
    )
    action.programs.add(Program.objects.create(code="NPWMD", name="Nonproliferation"))
    make_source(action, title="Press statement", url="https://www.state.gov/x")
    make_source(action, title="Fact sheet")  # no confirmed URL
    article = make_article(actions=[action], headline="U.S. sanctions NDC")
    make_action(title="Hidden draft", published=False)

    response = client.get("/api/v1/actions/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    [row] = body["results"]
    assert row["title"] == "Designation of NDC"
    assert row["announced_on"] == "2024-12-18"
    assert row["html_url"].endswith(f"/actions/{action.pk}/")
    assert [b["slug"] for b in row["legal_bases"]] == ["eo-13382"]
    assert [p["code"] for p in row["programs"]] == ["NPWMD"]
    assert row["designations"][0]["entity"]["name"] == "National Development Complex"
    assert row["designations"][0]["entity"]["countries"] == ["PK"]
    assert [(s["title"], s["url"], s["url_confirmed"]) for s in row["sources"]] == [
        ("Press statement", "https://www.state.gov/x", True),
        ("Fact sheet", None, False),
    ]
    assert row["coverage"][0]["article"]["id"] == article.pk
    assert client.get(f"/api/v1/actions/{action.pk}/").json() == row


def test_drafts_and_what_only_drafts_cite_are_not_public(client):
    secret = make_entity(name="Only in a draft")
    draft = make_action(title="Draft", entities=[secret], published=False)
    article = make_article(actions=[draft])

    assert client.get(f"/api/v1/actions/{draft.pk}/").status_code == 404
    assert client.get(f"/api/v1/entities/{secret.pk}/").status_code == 404
    assert client.get(f"/api/v1/articles/{article.pk}/").status_code == 404
    assert ids(client.get("/api/v1/entities/")) == []
    assert ids(client.get("/api/v1/articles/")) == []


@pytest.mark.parametrize(
    "query",
    [
        "authority=us-bis",
        "legal_basis=eo-13382",
        "program=NPWMD",
        "country=pk",
        "kind=entity_list_addition",
        "date_from=2024-01-01&date_to=2024-06-30",
        "q=rockside",
        "authority=us-bis&country=PK",
    ],
)
def test_action_filters_select_what_the_action_list_page_selects(client, query):
    bis = make_authority(slug="us-bis")
    eo = make_legal_basis(slug="eo-13382")
    npwmd = Program.objects.create(code="NPWMD", name="Nonproliferation")
    pakistani = make_entity(name="Rockside Enterprise", countries=["PK"])
    chinese = make_entity(name="Beijing Luo Luo", countries=["CN"])
    make_action(authority=bis, entities=[pakistani], announced_on=datetime.date(2024, 3, 1))
    make_action(
        legal_bases=[eo], entities=[chinese], kind="entity_list_addition",
        announced_on=datetime.date(2024, 9, 1),
    )  # fmt: skip
    make_action(authority=bis, entities=[chinese]).programs.add(npwmd)
    make_action(entities=[pakistani], legal_bases=[eo], announced_on=datetime.date(2023, 5, 5))

    page = client.get(f"/actions/?{query}")
    api = client.get(f"/api/v1/actions/?{query}")

    expected = [action.pk for action in page.context["page"]]
    assert expected, "the query should select something"
    assert ids(api) == expected


@pytest.mark.parametrize(
    "query, field",
    [
        ("country=Pakistan", "country"),
        ("date_from=2024-13-45", "date_from"),
        ("date_to=yesterday", "date_to"),
        ("authority=no-such-authority", "authority"),
        ("kind=massacre", "kind"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=0", "page"),
        ("page_size=abc", "page_size"),
        ("page_size=-5", "page_size"),
    ],
)
def test_malformed_values_answer_400_naming_the_parameter(client, query, field):
    make_action()

    response = client.get(f"/api/v1/actions/?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_entity_filters_refuse_a_country_name(client):
    response = client.get("/api/v1/entities/?country=Pakistan")

    assert response.status_code == 400
    assert "two-letter" in response.json()["country"][0]


def test_page_size_is_capped_at_100_and_limit_is_ignored(client):
    make_actions(130)

    big_page = client.get("/api/v1/actions/?page_size=100000").json()
    limited = client.get("/api/v1/actions/?limit=1000000000").json()
    last = client.get("/api/v1/actions/?page_size=100&page=2").json()

    assert big_page["count"] == 130
    assert len(big_page["results"]) == 100
    assert big_page["next"].endswith("page=2&page_size=100000")
    assert len(limited["results"]) == 25
    assert len(last["results"]) == 30
    assert client.get("/api/v1/actions/?page=99").status_code == 404


def test_writes_answer_405(client):
    action = make_action()

    assert client.post("/api/v1/actions/", {}).status_code == 405
    for method in (client.put, client.patch, client.delete):
        assert method(f"/api/v1/actions/{action.pk}/").status_code == 405
    assert client.post("/api/v1/entities/", {}).status_code == 405
    assert Action.objects.filter(pk=action.pk).exists()


@pytest.mark.parametrize("query", ["q=Гранпект", "q=granpect", "country=cn", "kind=person"])
def test_entity_filters_and_name_search_select_what_the_entity_list_page_selects(client, query):
    entity = make_entity(name="Granpect Company Limited")
    Alias.objects.create(entity=entity, name="Гранпект Компани", script="Cyrl")
    person = make_entity(name="Li Fangwei", kind="person", countries=["CN"])
    make_action(entities=[entity, person, make_entity(name="Beijing Luo Luo")])

    expected = [e.pk for e in client.get(f"/entities/?{query}").context["page"]]

    assert expected
    assert ids(client.get(f"/api/v1/entities/?{query}")) == expected
    if query.startswith("q="):
        assert expected == [entity.pk]


def test_entity_shows_names_identifiers_public_relations_and_actions(client):
    ndc = make_entity(name="National Development Complex", countries=["PK"])
    Alias.objects.create(entity=ndc, name="NDC", kind=AliasKind.AKA, script="Latn")
    Identifier.objects.create(entity=ndc, scheme=IdentifierScheme.OFAC_ENT_NUM, value="12345")
    parent = make_entity(name="NESCOM")
    supplier = make_entity(name="Affiliates International")
    hidden = make_entity(name="Not in any published action")
    Relation.objects.create(subject=ndc, object=parent, kind=RelationKind.SUBSIDIARY_OF)
    Relation.objects.create(subject=ndc, object=hidden, kind=RelationKind.ASSOCIATED_WITH)
    Relation.objects.create(subject=supplier, object=ndc, kind=RelationKind.SUPPLIER_TO)
    older = make_action(entities=[ndc, parent], announced_on=datetime.date(2023, 1, 1))
    newer = make_action(entities=[ndc, supplier], announced_on=datetime.date(2024, 12, 18))
    make_action(entities=[ndc], published=False)

    row = client.get(f"/api/v1/entities/{ndc.pk}/").json()

    assert row["aliases"] == [{"name": "NDC", "kind": "aka", "script": "Latn", "language": ""}]
    assert row["identifiers"][0]["scheme"] == "ofac"
    assert row["identifiers"][0]["value"] == "12345"
    assert [(r["kind"], r["object"]["name"]) for r in row["relations"]] == [
        ("subsidiary_of", "NESCOM")
    ]
    assert [(r["subject"]["name"], r["kind"]) for r in row["inverse_relations"]] == [
        ("Affiliates International", "supplier_to")
    ]
    assert [a["action"]["id"] for a in row["actions"]] == [older.pk, newer.pk]


def test_articles_show_the_published_actions_they_cover_and_public_entities(client):
    ndc = make_entity(name="NDC")
    hidden = make_entity(name="Hidden")
    action = make_action(entities=[ndc])
    draft = make_action(published=False)
    article = make_article(actions=[action, draft], headline="Missile suppliers sanctioned")
    article.entities.add(ndc, hidden)

    rows = client.get("/api/v1/articles/").json()["results"]
    found = client.get("/api/v1/articles/?q=missile").json()["results"]

    assert [row["id"] for row in rows] == [article.pk]
    assert [c["action"]["id"] for c in rows[0]["actions"]] == [action.pk]
    assert [e["name"] for e in rows[0]["entities"]] == ["NDC"]
    assert found == rows
    assert client.get("/api/v1/articles/?q=nothing-like-it").json()["count"] == 0


def test_reference_lists_are_found_by_slug_and_code(client):
    state = make_authority(slug="us-state", name="U.S. Department of State")
    inksna = make_legal_basis(slug="inksna", short_name="INKSNA")
    program = Program.objects.create(code="DPRK3", name="North Korea", authority=state)
    make_action(authority=state, legal_bases=[inksna]).programs.add(program)

    assert client.get("/api/v1/authorities/us-state/").json()["name"] == state.name
    assert client.get("/api/v1/authorities/us-state/").json()["url"] is None
    assert client.get("/api/v1/legal-bases/inksna/").json()["short_name"] == "INKSNA"
    assert client.get("/api/v1/programs/DPRK3/").json()["authority"] == "us-state"
    assert client.get("/api/v1/").status_code == 200


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(data_queries(queries))


def _add_rows(n):
    """n published actions, each with two entities (aliases, identifiers) and an article."""
    for _ in range(n):
        first, second = make_entity(), make_entity()
        Alias.objects.create(entity=first, name=f"Alias of {first.name}")
        Identifier.objects.create(entity=first, scheme="other", value=first.name)
        Relation.objects.create(subject=first, object=second, kind=RelationKind.FRONT_FOR)
        action = make_action(entities=[first, second], legal_bases=[make_legal_basis()])
        make_source(action)
        make_article(actions=[action]).entities.add(first)


@pytest.mark.parametrize("url", ["/api/v1/actions/", "/api/v1/entities/", "/api/v1/articles/"])
def test_list_query_count_does_not_grow_with_rows(client, url):
    _add_rows(2)
    few = _queries(client, url)
    _add_rows(6)
    many = _queries(client, url)

    assert few == many
    assert many <= 9


@pytest.mark.parametrize("url", ["/api/v1/actions/", "/api/v1/entities/", "/api/v1/articles/"])
def test_a_rendered_page_lets_go_of_the_records_it_was_made_from(client, url):
    """DRF's response holds itself (its renderer context), so the records kept in it
    would wait for the cyclic collector: a 20-50 ms pause in some later request."""
    _add_rows(2)

    response = client.get(url)

    assert len(response.json()["results"]) >= 2  # the body is whole
    assert response.data is None


def test_an_entitys_query_count_does_not_grow_with_its_relations(client):
    entity = make_entity()
    make_action(entities=[entity])

    def relate(n):
        for _ in range(n):
            other = make_entity()
            make_action(entities=[other])
            Relation.objects.create(subject=entity, object=other, kind=RelationKind.FRONT_FOR)
            Relation.objects.create(subject=other, object=entity, kind=RelationKind.OWNED_BY)

    relate(1)
    few = _queries(client, f"/api/v1/entities/{entity.pk}/")
    relate(3)
    many = _queries(client, f"/api/v1/entities/{entity.pk}/")

    assert few == many


def test_unchanged_responses_answer_304_to_etag_and_last_modified(client):
    action = make_action(title="Before")
    url = "/api/v1/actions/"

    first = client.get(url)
    etag, last_modified = first["ETag"], first["Last-Modified"]
    by_etag = client.get(url, HTTP_IF_NONE_MATCH=etag)
    by_date = client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified)
    Action.objects.filter(pk=action.pk).update(title="After")
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert by_etag.status_code == 304
    assert by_etag.content == b""
    assert by_etag["ETag"] == etag
    assert by_date.status_code == 304
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["results"][0]["title"] == "After"


def test_anonymous_clients_over_the_rate_get_429_with_retry_after(client, monkeypatch):
    monkeypatch.setattr(AnonRateThrottle, "rate", "3/min", raising=False)

    statuses = [client.get("/api/v1/authorities/").status_code for _ in range(4)]
    throttled = client.get("/api/v1/authorities/")

    assert statuses == [200, 200, 200, 429]
    assert int(throttled["Retry-After"]) > 0


def test_schema_and_docs_are_served_without_any_cdn(client):
    schema = client.get("/api/schema/?format=json")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/actions/", "/api/v1/entities/", "/api/v1/articles/"} <= set(paths)
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "https://" not in html.split("<body", 1)[0]


# Schemathesis: generated requests against every operation of /api/schema/, each
# response checked against the schema (status, content type, headers, body).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def published_records(monkeypatch):
    monkeypatch.setattr(AnonRateThrottle, "rate", "100000/min", raising=False)
    # As Django's test client does: a request must not close the test's transaction.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    _add_rows(3)
    Program.objects.create(code="NPWMD", name="Nonproliferation", authority=make_authority())
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
    database=None,
)
def test_api_answers_every_generated_request_as_its_schema_says(case, published_records):
    # Every check but "schema-valid data is accepted": an authority, legal basis or program
    # slug that is well formed but unknown is refused with 400, as the web pages refuse it.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/articles/?q=a%00b",
        "/api/v1/authorities/a%00b/",
        "/api/v1/programs/a%00b/",
        "/search/?q=a%00b",
        "/articles/?q=a%00b",
    ],
)
def test_nul_bytes_in_queries_and_keys_never_give_a_server_error(client, path):
    assert client.get(path).status_code < 500


def test_spoofed_forwarded_for_headers_do_not_escape_the_rate_limit(client):
    statuses = [
        client.get(
            "/api/v1/authorities/", headers={"X-Forwarded-For": f"198.51.100.{n % 250}"}
        ).status_code
        for n in range(300)
    ]

    assert statuses.count(200) == 120 and statuses.count(429) == 180
    # The counts live in the shared cache (a database table here), not in this process.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sanctions_cache WHERE cache_key LIKE '%throttle%'")
        assert cursor.fetchone()[0] >= 1


def test_behind_a_trusted_proxy_each_client_is_counted_by_the_address_it_appended(
    client, settings, monkeypatch
):
    settings.TRUSTED_PROXIES = 1
    monkeypatch.setattr(AnonRateThrottle, "rate", "5/min", raising=False)

    def get(client_address, spoofed):
        forwarded = f"{spoofed}, {client_address}"  # the proxy appends what it saw
        return client.get("/api/v1/authorities/", headers={"X-Forwarded-For": forwarded})

    first = [get("203.0.113.9", f"10.0.0.{n}").status_code for n in range(8)]
    second = [get("203.0.113.10", "10.0.0.1").status_code for _ in range(5)]

    assert first == [200] * 5 + [429] * 3
    assert second == [200] * 5


def test_a_name_query_of_too_many_words_is_refused_with_a_reason(client):
    words = " ".join(["supplier"] * 600)

    response = client.get("/api/v1/entities/", {"q": words})

    assert response.status_code == 400
    assert "at most 16 words" in response.json()["q"][0]
    assert client.get("/api/v1/actions/", {"q": words}).status_code == 400
    assert client.get("/api/v1/articles/", {"q": "x" * 201}).status_code == 400


def test_reference_data_of_a_draft_stays_private_until_the_action_is_published(client):
    basis = make_legal_basis(short_name="Draft-only Act", slug="draft-only-act")
    program = Program.objects.create(code="DRAFTPROG", name="A program only a draft cites")
    authority = make_authority(name="Draft-only Office", slug="draft-only-office")
    draft = make_action(authority=authority, legal_bases=[basis], published=False, title="A draft")
    draft.programs.add(program)
    make_action(title="Published elsewhere")  # the lists are not empty

    def public():
        return (
            [r["slug"] for r in client.get("/api/v1/legal-bases/").json()["results"]],
            [r["code"] for r in client.get("/api/v1/programs/").json()["results"]],
            [r["slug"] for r in client.get("/api/v1/authorities/").json()["results"]],
            client.get("/actions/").content.decode(),
        )

    legal_bases, programs, authorities, page = public()
    assert "draft-only-act" not in legal_bases and "DRAFTPROG" not in programs
    assert "draft-only-office" not in authorities
    assert "Draft-only Act" not in page and "DRAFTPROG" not in page
    assert "Draft-only Office" not in page
    assert client.get("/api/v1/actions/", {"legal_basis": "draft-only-act"}).status_code == 400

    draft.publish()

    legal_bases, programs, authorities, page = public()
    assert "draft-only-act" in legal_bases and "DRAFTPROG" in programs
    assert "draft-only-office" in authorities and "Draft-only Act" in page


def test_last_modified_moves_with_public_changes_only(client):
    entity = make_entity(name="Published Co")
    published = make_action(entities=[entity], title="Published")
    draft_entity = make_entity(name="Draft Co")
    draft = make_action(entities=[draft_entity], published=False, title="Draft")

    def public_changes():
        return PublicChange.objects.count()

    before = public_changes()
    Action.objects.filter(pk=draft.pk).update(notes="a draft's notes")
    draft_entity.name = "Draft Co Ltd"
    draft_entity.save()
    Alias.objects.create(entity=draft_entity, name="Draft alias")
    assert public_changes() == before  # nothing the public sees moved

    # Each public write moves it (a publish also shows its entities: more than one row).
    for public_write in (
        lambda: Alias.objects.create(entity=entity, name="Published alias"),
        lambda: Action.objects.filter(pk=published.pk).update(summary="Corrected"),
        published.unpublish,
        draft.publish,
    ):
        public_write()
        assert public_changes() > before
        before = public_changes()

    response = client.get("/api/v1/actions/")
    latest = PublicChange.objects.latest("at").at
    assert response["Last-Modified"] == http_date(int(latest.timestamp()))


def test_action_pages_read_as_rows_equal_the_serializer(demo_record, client, rf):
    """The action list is read as values (sanctions/api_rows.py); each row must be
    what ActionSerializer gives for the same action, key for key, in the same order."""
    from sanctions.api import ActionSerializer, action_queryset

    response = client.get("/api/v1/actions/?page_size=100")
    rows = response.json()["results"]
    request = rf.get("/api/v1/actions/")
    expected = ActionSerializer(action_queryset(), many=True, context={"request": request}).data

    assert len(rows) == len(expected) > 10
    assert any(row["designations"] and row["coverage"] and row["sources"] for row in rows)
    assert any(row["other_authorities"] for row in rows)
    for row, wanted in zip(rows, expected, strict=True):
        assert list(row) == list(wanted)
        assert row == wanted


@pytest.mark.parametrize("as_of", ["", "2024-06-01"])
def test_entity_pages_read_as_rows_equal_the_serializer(demo_record, client, rf, as_of):
    """The entity list is read as values too; each row must be what EntitySerializer
    gives for the same entity, key for key, status on the same date included."""
    from sanctions.api import EntitySerializer, entity_queryset
    from sanctions.models import status_date

    response = client.get("/api/v1/entities/", {"page_size": 100, "as_of": as_of})
    rows = response.json()["results"]
    context = {"request": rf.get("/api/v1/entities/"), "as_of": status_date(as_of)}
    expected = EntitySerializer(entity_queryset(), many=True, context=context).data

    assert len(rows) == len(expected) > 10
    for name in ["relations", "inverse_relations", "status"]:
        assert any(row[name] for row in rows), name
    for name in ["aliases", "identifiers", "actions"]:  # in their order
        assert any(len(row[name]) > 1 for row in rows), name
    for row, wanted in zip(rows, expected, strict=True):
        assert list(row) == list(wanted)
        assert row == wanted


def test_article_pages_read_as_rows_equal_the_serializer(demo_record, client, rf):
    """The article list is read as values too; each row must be what ArticleSerializer
    gives for the same article, key for key, in the same order."""
    from sanctions.api import ArticleSerializer, article_queryset

    response = client.get("/api/v1/articles/?page_size=100")
    rows = response.json()["results"]
    request = rf.get("/api/v1/articles/")
    expected = ArticleSerializer(article_queryset(), many=True, context={"request": request}).data

    assert len(rows) == len(expected) > 10
    assert any(len(row["actions"]) > 1 for row in rows)
    assert any(len(row["entities"]) > 1 for row in rows)
    for row, wanted in zip(rows, expected, strict=True):
        assert list(row) == list(wanted)
        assert row == wanted
