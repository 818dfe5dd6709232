import datetime
import re
from pathlib import Path

import pghistory
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sanctions.models import (
    ActionKind,
    Alias,
    Article,
    Authority,
    Program,
    Relation,
    RelationKind,
    Source,
)
from sanctions.search import index_names
from sanctions.throttling import SearchThrottle

from .factories import (
    make_action,
    make_article,
    make_authority,
    make_entity,
    make_legal_basis,
    make_source,
)

pytestmark = pytest.mark.django_db


def test_home_shows_latest_actions_and_counts_by_year_and_authority(client):
    state = make_authority(short_name="State")
    make_action(title="Older", authority=state, announced_on=datetime.date(2023, 10, 20))
    make_action(title="Newer", authority=state, announced_on=datetime.date(2024, 12, 18))
    make_action(title="Hidden draft", authority=state, published=False)

    response = client.get("/")

    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("Newer") < body.index("Older")
    assert "Hidden draft" not in body
    assert response.context["chart"].columns == ["State"]
    assert response.context["chart"].years == [(2023, [1], 1), (2024, [1], 1)]


def test_action_list_shows_published_actions_newest_first(client):
    make_action(title="First", announced_on=datetime.date(2023, 1, 1))
    make_action(title="Second", announced_on=datetime.date(2024, 1, 1))
    make_action(title="Draft", published=False)

    response = client.get("/actions/")

    titles = [action.title for action in response.context["page"]]
    assert titles == ["Second", "First"]


def test_a_list_row_tags_its_legal_bases_and_programs_in_the_action_pages_order(client):
    action = make_action(
        legal_bases=[
            make_legal_basis(short_name="NPPA"),
            make_legal_basis(short_name="E.O. 13382"),
        ]
    )
    for code in ("SDGT", "NPWMD"):
        action.programs.add(Program.objects.create(code=code, name=code))
    make_action(legal_bases=[make_legal_basis(short_name="INKSNA")])

    for path in ("/actions/", "/"):
        body = client.get(path).content.decode()
        row = body[body.index(action.get_absolute_url()) :]
        row = row[: row.index("</li>")]
        tags = re.findall(r'<span class="tag[^"]*">([^<]+)</span>', row)
        assert tags == ["E.O. 13382", "NPPA", "NPWMD", "SDGT"]


def test_action_list_filters_by_country_and_date_range(client):
    pakistani = make_entity(name="National Development Complex", countries=["PK"])
    chinese = make_entity(name="Beijing Luo Luo", countries=["CN"])
    make_action(title="PK 2024", entities=[pakistani], announced_on=datetime.date(2024, 12, 18))
    make_action(title="CN 2024", entities=[chinese], announced_on=datetime.date(2024, 4, 19))
    make_action(title="PK 2023", entities=[pakistani], announced_on=datetime.date(2023, 10, 20))

    response = client.get("/actions/?date_from=2024-01-01&date_to=2024-12-31&country=pk")

    assert [a.title for a in response.context["page"]] == ["PK 2024"]


def test_action_list_filters_by_authority_legal_basis_kind_and_text(client):
    bis = make_authority(slug="us-bis")
    eo = make_legal_basis(slug="eo-13382")
    entity = make_entity(name="Rockside Enterprise")
    make_action(title="Match", authority=bis, legal_bases=[eo], entities=[entity])
    make_action(title="Other authority", legal_bases=[eo], entities=[entity])
    make_action(title="Other kind", authority=bis, kind=ActionKind.ENTITY_LIST_ADDITION)

    def titles(query):
        return [a.title for a in client.get(f"/actions/?{query}").context["page"]]

    assert titles("authority=us-bis&legal_basis=eo-13382") == ["Match"]
    assert titles("authority=us-bis&kind=entity_list_addition") == ["Other kind"]
    assert sorted(titles("q=rockside")) == ["Match", "Other authority"]


def test_action_list_reports_bad_filter_values_without_failing(client):
    make_action(title="Kept")

    response = client.get("/actions/?date_from=yesterday&country=Pakistan&authority=nope")

    assert response.status_code == 200
    errors = response.context["filter"].form.errors
    assert set(errors) == {"date_from", "country", "authority"}
    assert "two-letter ISO 3166-1 country code" in response.content.decode()


def test_action_list_paginates(client, settings):
    settings.PAGE_SIZE = 2
    for day in range(1, 6):
        make_action(announced_on=datetime.date(2024, 1, day))

    response = client.get("/actions/?page=3")

    assert response.context["page"].number == 3
    assert len(response.context["page"]) == 1


def test_a_draft_action_answers_404_to_the_public(client):
    draft = make_action(published=False)

    assert client.get(draft.get_absolute_url()).status_code == 404


def test_action_page_shows_entities_sources_and_grouped_coverage(client):
    eo = make_legal_basis(short_name="E.O. 13382")
    ndc = make_entity(name="National Development Complex", countries=["PK"])
    action = make_action(entities=[ndc], legal_bases=[eo])
    action.designations.update(name_as_listed="NATIONAL DEVELOPMENT COMPLEX")
    make_source(action, title="Fact sheet", url="https://www.state.gov/fact-sheet")
    make_source(action, title="Press statement", url="")
    make_article(actions=[action], headline="US sanctions Pakistani missile agency")

    response = client.get(action.get_absolute_url())

    body = response.content.decode()
    assert "National Development Complex" in body
    assert "NATIONAL DEVELOPMENT COMPLEX" in body
    assert "E.O. 13382" in body
    assert 'href="https://www.state.gov/fact-sheet"' in body
    assert "URL not confirmed" in body
    assert response.context["coverage_groups"][0][0] == "Reports"
    assert "US sanctions Pakistani missile agency" in body


def test_pages_escape_stored_text(client):
    entity = make_entity(name="<script>alert(1)</script>")
    action = make_action(title="<b>bold</b>", entities=[entity])

    body = client.get(action.get_absolute_url()).content.decode()

    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>bold</b>" not in body


def test_entity_search_ignores_case_and_accents_and_matches_aliases(client):
    entity = make_entity(name="Société Générale de Missiles")
    Alias.objects.create(entity=entity, name="НДК")
    index_names(entity_ids=[entity.pk])
    make_action(entities=[entity])
    make_action(entities=[make_entity(name="Unrelated")])

    def names(q):
        return [e.name for e in client.get("/entities/", {"q": q}).context["page"]]

    assert names("societe generale") == ["Société Générale de Missiles"]
    assert names("ндк") == ["Société Générale de Missiles"]


def test_entities_only_in_drafts_are_hidden(client):
    hidden = make_entity(name="Draft-only entity")
    make_action(entities=[hidden], published=False)

    assert client.get(hidden.get_absolute_url()).status_code == 404
    assert "Draft-only entity" not in client.get("/entities/").content.decode()


def test_entity_page_shows_timeline_in_date_order_and_status_today(client):
    longde = make_entity(name="Xi'an Longde Technology Development Company Limited")
    state = make_authority(name="U.S. Department of State")
    make_action(
        title="Second action",
        authority=state,
        entities=[longde],
        announced_on=datetime.date(2024, 9, 12),
    )
    make_action(
        title="First action",
        authority=state,
        entities=[longde],
        announced_on=datetime.date(2024, 4, 19),
        legal_bases=[
            make_legal_basis(short_name="NPPA"),
            make_legal_basis(short_name="E.O. 13382"),
        ],
    )

    response = client.get(longde.get_absolute_url())

    body = response.content.decode()
    assert body.index("First action") < body.index("Second action")
    entry = body[body.index("First action") :]
    assert " · E.O. 13382 · NPPA</span>" in entry[: entry.index("</li>")]
    [status] = response.context["status"]
    assert status.authorities == [state] and status.regime == "ofac_sdn"
    assert status.since == datetime.date(2024, 4, 19)


def test_entity_timeline_marks_escape_titles_and_link_only_web_urls(client):
    entity = make_entity()
    action = make_action(title="Listing <b>&</b> more", entities=[entity])
    make_article(actions=[action], headline="A <i>scoop</i>", url="ftp://files.example/a")

    body = client.get(entity.get_absolute_url()).content.decode()
    start = body.index('id="timeline-title"')
    svg = body[start : body.index("</svg>", start)]

    assert "Listing &lt;b&gt;&amp;&lt;/b&gt; more" in svg and "<b>" not in svg
    assert "A &lt;i&gt;scoop&lt;/i&gt;" in svg
    assert f'<a href="{action.get_absolute_url()}">' in svg
    assert '<a href="">' in svg and "ftp://" not in svg


def test_entity_page_shows_relations_to_published_entities_only(client):
    ndc = make_entity(name="National Development Complex")
    supplier = make_entity(name="Akhtar and Sons")
    secret = make_entity(name="Unpublished supplier")
    make_action(entities=[ndc, supplier])
    make_action(entities=[secret], published=False)
    Relation.objects.create(subject=supplier, object=ndc, kind=RelationKind.SUPPLIER_TO)
    Relation.objects.create(subject=secret, object=ndc, kind=RelationKind.SUPPLIER_TO)

    body = client.get(ndc.get_absolute_url()).content.decode()

    assert "Akhtar and Sons" in body
    assert "Unpublished supplier" not in body


def test_article_list_shows_articles_of_published_actions(client):
    published = make_action(title="Published")
    draft = make_action(title="Draft", published=False)
    make_article(actions=[published], headline="Visible story")
    make_article(actions=[draft], headline="Story about a draft")

    body = client.get("/articles/").content.decode()

    assert "Visible story" in body
    assert "Story about a draft" not in body


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_healthz_answers_503_when_the_database_is_down(client, settings):
    connection.close()
    settings_dict = connection.settings_dict
    original_port = settings_dict.get("PORT")
    original_host = settings_dict.get("HOST")
    settings_dict["HOST"] = "127.0.0.1"
    settings_dict["PORT"] = "1"  # nothing listens there
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        settings_dict["HOST"] = original_host
        settings_dict["PORT"] = original_port

    assert response.status_code == 503


def _populate(n):
    authority = make_authority()
    basis = make_legal_basis()
    for i in range(n):
        entity = make_entity(countries=["PK"])
        Alias.objects.create(entity=entity, name=f"Alias {i}")
        index_names(entity_ids=[entity.pk])
        other = make_entity()
        Relation.objects.create(subject=other, object=entity, kind=RelationKind.SUPPLIER_TO)
        action = make_action(
            authority=authority,
            legal_bases=[basis],
            entities=[entity, other],
            announced_on=datetime.date(2020 + i % 5, 1, 1),
        )
        make_source(action)
        article = make_article(actions=[action])
        article.entities.add(entity)
    return entity, action


PAGES = [
    lambda entity, action: "/",
    lambda entity, action: "/actions/",
    lambda entity, action: "/actions/?country=PK&date_from=2020-01-01&q=entity",
    lambda entity, action: action.get_absolute_url(),
    lambda entity, action: "/entities/",
    lambda entity, action: "/entities/?q=alias",
    lambda entity, action: entity.get_absolute_url(),
    lambda entity, action: "/articles/",
    lambda entity, action: f"/actions/{action.pk}/history/",
    lambda entity, action: f"/entities/{entity.pk}/history/",
]


def _query_counts(client, entity, action):
    counts = []
    for page in PAGES:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page(entity, action)).status_code == 200
        counts.append(len(queries))
    return counts


def test_each_page_runs_the_same_number_of_queries_however_many_rows(client):
    # The process's action index is read whole once, then merged with each change: read
    # it first, so that both counts below merge (alone, this test read it for `few`).
    client.get("/actions/")
    few = _query_counts(client, *_populate(2))
    many = _query_counts(client, *_populate(12))

    assert few == many, (few, many)
    # The name search (/entities/?q=) runs the most: 13; /actions/ 6, its rows' tags
    # read with the rows.
    assert max(many) <= 13, many


def test_entity_status_as_of_a_date_follows_its_actions(client):
    entity = make_entity()
    state = make_authority(name="U.S. Department of State")
    make_action(authority=state, entities=[entity], announced_on=datetime.date(2023, 10, 20))
    make_action(
        authority=state,
        entities=[entity],
        kind=ActionKind.DELISTING,
        announced_on=datetime.date(2025, 1, 10),
    )

    def status(as_of):
        response = client.get(entity.get_absolute_url(), {"as_of": as_of})
        return [(line.regime_label, line.status) for line in response.context["status"]]

    assert status("2023-10-19") == []
    assert status("2024-06-01") == [("OFAC SDN List", "listed")]
    assert status("2025-02-01") == [("OFAC SDN List", "lifted")]
    bad = client.get(entity.get_absolute_url(), {"as_of": "June"})
    assert bad.status_code == 200
    assert "is not a date" in bad.content.decode()


def test_detail_pages_carry_citation_metadata_and_cite_downloads(client):
    entity = make_entity(name="Rockside Enterprise")
    action = make_action(title="State designates four entities", entities=[entity])

    body = client.get(action.get_absolute_url()).content.decode()
    assert '<meta name="citation_title" content="State designates four entities' in body
    for fmt, content_type in [
        ("bib", "application/x-bibtex"),
        ("ris", "application/x-research-info-systems"),
        ("json", "application/vnd.citationstyles.csl+json"),
    ]:
        response = client.get(f"/actions/{action.pk}/cite.{fmt}")
        assert response["Content-Type"].startswith(content_type)
        assert "attachment" in response["Content-Disposition"]
        assert client.get(f"/entities/{entity.pk}/cite.{fmt}").status_code == 200
    assert client.get(f"/actions/{action.pk}/cite.pdf").status_code == 404
    draft = make_action(published=False)
    assert client.get(f"/actions/{draft.pk}/cite.bib").status_code == 404


def test_public_history_lists_changes_without_naming_editors(client, django_user_model):
    editor = django_user_model.objects.create_user("erin-the-editor")
    action = make_action(title="Before")
    with pghistory.context(user=editor.pk):
        action.title = "After"
        action.save()

    response = client.get(f"/actions/{action.pk}/history/")

    body = response.content.decode()
    assert "Before" in body and "After" in body
    assert "by an editor" in body
    assert "erin-the-editor" not in body
    draft = make_action(published=False)
    assert client.get(f"/actions/{draft.pk}/history/").status_code == 404


def test_public_history_hides_what_drafts_say(client):
    entity = make_entity(name="Rockside Enterprise")
    make_action(entities=[entity])
    draft = make_action(entities=[entity], published=False)
    draft.designations.update(reason="SECRET REASON")

    entity_history = client.get(f"/entities/{entity.pk}/history/").content.decode()

    assert "Rockside Enterprise" in entity_history
    assert "SECRET REASON" not in entity_history


def test_pictures_have_text_alternatives(client):
    ndc = make_entity(name="National Development Complex")
    supplier = make_entity(name="Akhtar and Sons")
    Relation.objects.create(subject=supplier, object=ndc, kind=RelationKind.SUPPLIER_TO)
    make_action(entities=[ndc, supplier], announced_on=datetime.date(2024, 12, 18))
    make_article(actions=[], headline="Coverage").entities.add(ndc)

    home = client.get("/").content.decode()
    assert "<svg" in home and "<table" in home
    entity_page = client.get(ndc.get_absolute_url()).content.decode()
    assert entity_page.count("<svg") == 2
    # Pictures holding links are groups of them (an image's links would be lost).
    assert 'role="group" aria-labelledby="network-title"' in entity_page
    assert "Akhtar and Sons</a> is supplier to this entity" in entity_page


def test_filter_values_with_nul_bytes_are_refused_not_crashing(client):
    make_action()

    for param in ["authority", "legal_basis", "program", "q", "country", "kind"]:
        response = client.get("/actions/", {param: "a\x00b"})
        assert response.status_code == 200
        assert param in response.context["filter"].form.errors


@pytest.mark.parametrize(
    "bad_url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<b>x</b>",
        "java\tscript:alert(1)",
    ],
)
def test_a_url_that_is_not_http_is_never_rendered_as_a_link(client, bad_url):
    entity = make_entity(name="Rockside Enterprise")
    action = make_action(title="Designation of Rockside", entities=[entity])
    # Straight into the database, past the forms' validation.
    make_source(action, title="Fact sheet", url="https://www.state.gov/ok")
    Source.objects.filter(action=action).update(url=bad_url)
    article = make_article(actions=[action], headline="Rockside designated")
    Article.objects.filter(pk=article.pk).update(url=bad_url)
    Authority.objects.filter(pk=action.authority_id).update(url=bad_url)

    pages = [
        action.get_absolute_url(),
        entity.get_absolute_url(),
        "/articles/",
        "/search/?q=Rockside",
        "/feeds/actions.atom",
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert "Rockside" in body, url
        assert 'href="javascript' not in body.lower() and 'href="data:' not in body, url
        assert "java\tscript" not in body and "java&#x9;script" not in body, url


def test_public_history_does_not_show_a_change_to_the_editors_notes(client):
    action = make_action(title="Designation of Rockside")
    editor = User.objects.create_user("reviewer1", is_staff=True)
    before = client.get(f"/actions/{action.pk}/history/").content.decode().count("<tr>")
    with pghistory.context(user=editor.pk):  # as an admin save records it
        action.editor_notes = "Ask State for the fact sheet URL."
        action.save()

    history = client.get(f"/actions/{action.pk}/history/").content.decode()

    assert "fact sheet URL" not in history and "editor_notes" not in history
    assert history.count("<tr>") == before


def test_the_search_pages_are_rate_limited_and_refuse_overlong_queries(client, monkeypatch):
    monkeypatch.setattr(SearchThrottle, "rate", "3/min", raising=False)
    statuses = [client.get("/search/", {"q": "missile"}).status_code for _ in range(3)]
    limited = client.get("/entities/", {"q": "missile"})

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert client.get("/entities/").status_code == 200  # browsing is not searching

    cache.clear()
    words = " ".join(["supplier"] * 600)
    page = client.get("/search/", {"q": words})
    assert page.status_code == 400 and "at most 16 words" in page.content.decode()
    entities = client.get("/entities/", {"q": words})
    assert "at most 16 words" in entities.content.decode()


def test_about_says_where_the_data_comes_from_how_it_is_kept_and_how_to_cite_it(client):
    make_action(authority=make_authority(name="U.S. Department of State"))
    make_action(authority=make_authority(name="Drafted Only Authority"), published=False)

    response = client.get("/about/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "U.S. Department of State" in page and "Drafted Only Authority" not in page
    for said in [
        "URL not confirmed",
        "4 of 26 entities recorded",
        "OFAC SDN List",  # the lists the importers follow...
        "downloaded every 6 hours",  # ...and how often, as configured
        "once every 24 hours",  # link checks
        "failed 3 checks in a row",
        "rewritten every 6 hours",  # export files
        "BibTeX, RIS and CSL-JSON",
        "SHA-256",
    ]:
        assert said in page, said
    assert 'href="/about/" aria-current="page"' in page


def test_every_page_links_to_search_exports_api_docs_and_about_and_searches_from_its_header(
    client,
):
    page = client.get("/articles/").content.decode()

    header = page.split("<header", 1)[1].split("</header>", 1)[0]
    assert 'action="/search/" method="get" role="search"' in header
    assert '<label for="site-q"' in header and 'name="q"' in header
    for url in ["/search/", "/exports/", "/api/docs/", "/about/"]:
        assert f'href="{url}"' in page


def test_an_unknown_page_is_a_404_in_the_site_layout(client, settings):
    settings.DEBUG = False

    response = client.get("/no/such/page/")

    page = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in page and "/no/such/page/" in page
    assert 'class="site-header"' in page and "site.css" in page
    assert 'action="/search/"' in page


def test_the_server_error_page_is_in_the_site_layout_and_needs_no_database(
    rf, settings, django_db_blocker
):
    """Rendered as Django renders it after an unhandled error: without the request's
    context, and here without the database too."""
    from django.views.defaults import server_error

    settings.DEBUG = False

    with django_db_blocker.block():
        response = server_error(rf.get("/actions/"))

    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page
    assert 'class="site-header"' in page and "site.css" in page


def test_an_unhandled_error_answers_the_styled_500_page(client, settings, monkeypatch):
    from sanctions import views

    settings.DEBUG = False
    client.raise_request_exception = False

    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.Entity.objects, "visible", fail)

    response = client.get("/entities/")

    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_robots_txt_keeps_crawlers_out_of_the_admin_api_and_downloads_only(client):
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    rules = [
        line.split(":", 1)
        for line in response.content.decode().splitlines()
        if line and not line.startswith("#")
    ]
    disallowed = {value.strip() for field, value in rules if field == "Disallow"}
    assert {"/admin/", "/api/v1/", "/exports/", "/snapshots/"} <= disallowed
    assert not any(rule.startswith(("/actions", "/entities", "/articles")) for rule in disallowed)
    assert "Sitemap" not in dict(rules)  # there is none
    # Each rule names a path the site has (or the start of a family of them), no guess.
    for rule in disallowed - {"/*?q=", "/*&q="}:
        assert any(_resolves(rule + more) for more in ["", "1/", "x"]), rule


def _resolves(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def test_the_favicon_is_an_svg_linked_from_every_page_and_at_favicon_ico(client):
    from django.contrib.staticfiles import finders

    page = client.get("/").content.decode()
    redirect = client.get("/favicon.ico")

    assert '<link rel="icon" href="/static/sanctions/favicon.svg" type="image/svg+xml">' in page
    assert redirect.status_code == 302
    assert redirect["Location"] == "/static/sanctions/favicon.svg"
    svg = Path(finders.find("sanctions/favicon.svg")).read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "<script" not in svg


def test_the_day_filter_writes_a_day_as_the_date_filter_would(settings):
    from django.template import Context, Template

    settings.TIME_ZONE = "Asia/Karachi"  # a late UTC evening is the next day there
    by_date_filter = Template(
        """<time datetime="{{ v|date:'Y-m-d' }}">{{ v|date:"j M Y" }}</time>"""
    )
    by_day = Template("{% load tracker %}{{ v|day }}")
    moment = datetime.datetime(2024, 12, 18, 21, 30, tzinfo=datetime.UTC)
    for value in (datetime.date(2024, 9, 3), moment, None):
        context = Context({"v": value})
        assert by_day.render(context) == (by_date_filter.render(context) if value else "")
    assert by_day.render(Context({"v": moment})) == (
        '<time datetime="2024-12-19">19 Dec 2024</time>'
    )
