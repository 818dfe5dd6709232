"""The coverage pipeline's functions: URLs, storing articles, suggestions, link checks, pages."""

import datetime
import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from sanctions import coverage
from sanctions.fetching import FetchFailed, FetchRefused, canonical_url
from sanctions.models import (
    Alias,
    AliasKind,
    Article,
    Coverage,
    LinkCheck,
    Outlet,
    Snapshot,
    Suggestion,
    SuggestionStatus,
)
from sanctions.search import index_names
from tests.sanctions.factories import make_action, make_article, make_entity, make_source
from tests.sanctions.newsserver import Page, article_html

pytestmark = pytest.mark.django_db


def serve_article(news, path, headline="US sanctions missile suppliers", **fields):
    body = article_html(headline, **fields)
    news.pages[path] = Page(body)
    return body


# URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.COM/News/Story", "https://www.example.com/News/Story"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a/", "https://example.com/a/"),
        ("https://example.com", "https://example.com/"),
        (
            "https://example.com/a?id=7&utm_source=tw&UTM_MEDIUM=x&fbclid=abc&gclid=1&p=2",
            "https://example.com/a?id=7&p=2",
        ),
        ("https://example.com/a?utm_campaign=x", "https://example.com/a"),
        ("https://example.com/a?q=a%20b&page=2", "https://example.com/a?q=a%20b&page=2"),
        ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),
        ("https://example.com/ü?q=é", "https://example.com/%C3%BC?q=%C3%A9"),
    ],
)
def test_canonical_url_keeps_only_what_identifies_the_page(url, expected):
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # once is enough


# Storing articles


def test_fetch_article_stores_the_article_its_snapshot_and_the_link(news):
    body = serve_article(news, "/world/sanctions-1", headline="US sanctions missile suppliers")
    action = make_action()

    article, snapshot = coverage.fetch_article(url=news.url("/world/sanctions-1"), action=action)

    article.refresh_from_db()
    assert article.url == news.url("/world/sanctions-1")
    assert article.headline == "US sanctions missile suppliers"
    assert article.outlet.name == "Example Post"
    assert article.outlet.domain == "127.0.0.1"
    assert article.published_on == datetime.date(2024, 12, 19)
    assert article.author == "Jane Reporter"
    assert article.language == "en"
    assert "ballistic missile program" in article.text
    assert article.excerpt and len(article.excerpt) < len(article.text)
    assert article.final_url == news.url("/world/sanctions-1")
    assert Coverage.objects.get(article=article).action == action
    assert snapshot.article == article
    assert snapshot.sha256 == hashlib.sha256(body).hexdigest()
    assert snapshot.status == 200
    assert snapshot.content_type == "text/html"
    assert snapshot.size == len(body)
    with snapshot.file.open("rb") as file:
        assert file.read() == body


def test_fetching_again_creates_nothing_new(news):
    serve_article(news, "/a")
    action = make_action()
    first, _ = coverage.fetch_article(url=news.url("/a"), action=action)
    again, _ = coverage.fetch_article(url=news.url("/a?utm_source=newsletter"), action=action)

    assert again == first
    assert Article.objects.count() == 1
    assert Snapshot.objects.count() == 1
    assert Coverage.objects.count() == 1
    assert Outlet.objects.count() == 1


def test_two_urls_of_one_page_make_one_article_under_its_canonical_url(news):
    canonical = news.url("/story")
    serve_article(news, "/story", canonical=canonical)
    serve_article(news, "/amp/story", canonical=canonical + "?utm_medium=amp")

    first, _ = coverage.fetch_article(url=news.url("/amp/story"))
    second, _ = coverage.fetch_article(url=news.url("/story"))

    assert first == second
    assert first.url == canonical
    assert first.final_url == news.url("/amp/story")


def test_a_canonical_url_on_another_site_is_ignored(news):
    serve_article(news, "/copied", canonical="https://other.example/original")

    article, _ = coverage.fetch_article(url=news.url("/copied"))

    assert article.url == news.url("/copied")


def test_redirects_are_followed_and_the_article_stored_under_the_final_url(news):
    news.pages["/short"] = Page(b"", status=301, location="/long/story")
    serve_article(news, "/long/story")

    article, snapshot = coverage.fetch_article(url=news.url("/short"))

    assert article.url == news.url("/long/story")
    assert snapshot.url == news.url("/short")
    assert snapshot.final_url == news.url("/long/story")


def test_an_article_entered_by_an_editor_keeps_what_the_editor_wrote(news):
    serve_article(news, "/entered", headline="Extracted headline")
    entered = make_article(url=news.url("/entered"), headline="Headline as the editor typed it")

    article, _ = coverage.fetch_article(url=news.url("/entered"))

    article.refresh_from_db()
    assert article == entered
    assert article.headline == "Headline as the editor typed it"
    assert article.published_on == entered.published_on
    assert "ballistic missile program" in article.text  # was empty: filled in


def test_fetching_an_article_already_stored_creates_no_outlet(news):
    serve_article(news, "/known")
    entered = make_article(url=news.url("/known"))

    coverage.fetch_article(url=news.url("/known"))

    assert list(Outlet.objects.all()) == [entered.outlet]


def test_a_page_without_an_article_stores_nothing(news):
    news.pages["/empty"] = Page(b"<html><head><title>x</title></head><body></body></html>")

    with pytest.raises(coverage.ExtractionFailed):
        coverage.fetch_article(url=news.url("/empty"), action=make_action())

    assert not Article.objects.exists()
    assert not Snapshot.objects.exists()
    assert not Outlet.objects.exists()


def test_a_missing_page_stores_nothing(news):
    with pytest.raises(FetchFailed) as raised:
        coverage.fetch_article(url=news.url("/gone"), action=make_action())

    assert raised.value.status == 404
    assert not raised.value.transient
    assert not Article.objects.exists()


def test_a_private_address_is_refused_and_nothing_stored(settings):
    settings.FETCH_ALLOWLIST = []
    with pytest.raises(FetchRefused):
        coverage.fetch_article(url="http://10.0.0.1/story")
    assert not Article.objects.exists()


# Pasting


def test_queue_urls_creates_one_job_per_url_and_reports_bad_lines(news):
    action = make_action()
    lines = [
        news.url("/a"),
        "",
        "   " + news.url("/b") + "#top  ",
        news.url("/a?utm_source=x"),  # the same page as line 1
        "ftp://example.com/file",
        "http://169.254.169.254/latest/meta-data/",
        "http://user:secret@example.com/",
    ]

    result = coverage.queue_urls(lines=lines, action=action)

    assert sorted(job.normalized_url for job in result.queued) == [
        news.url("/a"),
        news.url("/b"),
    ]
    assert [number for number, _, _ in result.errors] == [5, 6, 7]
    assert "scheme 'ftp' refused" in result.errors[0][2]
    assert "metadata" in result.errors[1][2]
    assert "credentials" in result.errors[2][2]

    again = coverage.queue_urls(lines=lines, action=action)
    assert again.queued == []
    assert len(again.existing) == 2
    assert action.fetch_jobs.count() == 2


def test_queue_urls_takes_a_url_and_its_percent_encoded_form_as_one(news):
    action = make_action()
    lines = [news.url("/nachrichten/müller"), news.url("/nachrichten/m%C3%BCller")]

    result = coverage.queue_urls(lines=lines, action=action)

    assert [job.normalized_url for job in result.queued] == [news.url("/nachrichten/m%C3%BCller")]
    again = coverage.queue_urls(lines=lines[::-1], action=action)
    assert again.queued == []
    assert action.fetch_jobs.count() == 1


def test_queue_urls_takes_a_url_without_scheme_as_https():
    result = coverage.queue_urls(lines=["www.example.com/story"], action=None)
    assert result.queued[0].normalized_url == "https://www.example.com/story"


# Suggestions


@pytest.fixture
def named_entities():
    akhtar = make_entity(name="Akhtar & Sons Pvt. Ltd.")
    rosatom = make_entity(name="Rosatom")
    Alias.objects.create(entity=rosatom, name="Росатом")
    roe = make_entity(name="Rosoboronexport")
    Alias.objects.create(entity=roe, name="Рособоронэкспорт")
    cpmiec = make_entity(name="China Precision Machinery Import-Export Corporation")
    Alias.objects.create(entity=cpmiec, name="中国精密机械进出口总公司")
    Alias.objects.create(entity=cpmiec, name="CPMIEC")
    weak = make_entity(name="Unrelated Trading FZE")
    Alias.objects.create(entity=weak, name="Global", kind=AliasKind.WEAK)
    index_names()  # as the admin and the importers do after saving names
    return {"akhtar": akhtar, "rosatom": rosatom, "roe": roe, "cpmiec": cpmiec, "weak": weak}


def test_entities_are_found_by_name_or_alias_in_any_script(named_entities):
    text = (
        "Washington named AKHTAR AND SONS PRIVATE LIMITED on Wednesday. "
        "В заявлении упоминаются Росатом и Рособоронэкспорт. "
        "中国精密机械进出口总公司再次受到制裁。 "
        "Global markets were calm."
    )

    found = coverage.entities_named_in(text)

    assert found == {
        named_entities["akhtar"].pk: "Akhtar & Sons Pvt. Ltd.",
        # Росатом and Rosatom share one key; the first name with it is given.
        named_entities["rosatom"].pk: "Rosatom",
        named_entities["roe"].pk: "Рособоронэкспорт",  # its Latin name is spelled otherwise
        named_entities["cpmiec"].pk: "中国精密机械进出口总公司",
    }


def test_names_match_whole_words_only(named_entities):
    found = coverage.entities_named_in("Rosatomflot operates icebreakers; see also CPMIECS.")
    assert found == {}


def test_suggests_named_entities_and_their_actions_near_the_article_date(named_entities):
    rosatom, akhtar = named_entities["rosatom"], named_entities["akhtar"]
    near = make_action(entities=[rosatom], announced_on=datetime.date(2024, 12, 10))
    far = make_action(entities=[rosatom], announced_on=datetime.date(2024, 6, 1))
    covered = make_action(entities=[akhtar], announced_on=datetime.date(2024, 12, 18))
    article = make_article(
        actions=[covered],
        published_on=datetime.date(2024, 12, 19),
        headline="New measures",
        text="Rosatom and Akhtar & Sons were named.",
    )
    article.entities.add(akhtar)

    assert coverage.suggest_links(article=article) == 2

    suggestions = {(s.entity_id, s.action_id): s.matched_name for s in article.suggestions.all()}
    assert suggestions == {(rosatom.pk, None): "Rosatom", (None, near.pk): "Rosatom"}
    assert far.pk not in {s.action_id for s in article.suggestions.all()}


def test_suggesting_again_adds_nothing_and_dismissed_suggestions_stay_dismissed(named_entities):
    article = make_article(text="Rosatom was named.")
    coverage.suggest_links(article=article)
    article.suggestions.get().dismiss()

    assert coverage.suggest_links(article=article) == 0
    assert article.suggestions.get().status == SuggestionStatus.DISMISSED


def test_accepting_suggestions_makes_the_links(named_entities):
    rosatom = named_entities["rosatom"]
    action = make_action(entities=[rosatom], announced_on=datetime.date(2024, 1, 5))
    article = make_article(text="Rosatom was named.", published_on=datetime.date(2024, 1, 2))
    coverage.suggest_links(article=article)
    entity_suggestion = article.suggestions.get(entity=rosatom)
    action_suggestion = article.suggestions.get(action=action)

    assert entity_suggestion.accept()
    assert action_suggestion.accept()
    assert not action_suggestion.accept()  # decided already

    assert list(article.entities.all()) == [rosatom]
    assert Coverage.objects.get(article=article).action == action
    assert Coverage.objects.get(article=article).relation == "reports"
    assert set(Suggestion.objects.values_list("status", flat=True)) == {"accepted"}


# Link checks


def test_a_link_is_dead_after_repeated_failures_and_alive_again_after_a_success(news, settings):
    settings.LINK_DEAD_AFTER = 3
    article = make_article(url=news.url("/fragile"), actions=[make_action()])

    checks = [coverage.check_link(record=article) for _ in range(2)]
    assert [c.ok for c in checks] == [False, False]
    assert checks[0].status == 404 and checks[0].reason == "HTTP 404"
    assert article.link_failures == 2 and not article.link_is_dead

    third = coverage.check_link(record=article)
    article.refresh_from_db()
    assert article.link_failures == 3
    assert article.link_dead_since == checks[0].checked_at
    assert article.link_checked_at == third.checked_at

    serve_article(news, "/fragile")
    coverage.check_link(record=article)
    article.refresh_from_db()
    assert (article.link_failures, article.link_dead_since) == (0, None)
    assert LinkCheck.objects.filter(article=article).count() == 4


def test_a_successful_check_archives_a_record_that_has_no_snapshot_yet(news):
    body = serve_article(news, "/press-release")
    source = make_source(make_action(), url=news.url("/press-release"))

    coverage.check_link(record=source)
    coverage.check_link(record=source)

    snapshot = source.snapshots.get()
    assert snapshot.sha256 == hashlib.sha256(body).hexdigest()


def test_an_official_file_the_fetcher_will_not_archive_is_still_alive(news):
    news.pages["/sdn.csv"] = Page(b"1,NAME", content_type="text/csv")
    source = make_source(make_action(), url=news.url("/sdn.csv"))

    check = coverage.check_link(record=source)

    assert check.ok
    assert "content type" in check.reason
    assert not source.snapshots.exists()


def test_a_file_too_large_to_archive_is_still_alive(news, settings):
    settings.FETCH_MAX_BYTES = 10
    serve_article(news, "/report")
    source = make_source(make_action(), url=news.url("/report"))

    check = coverage.check_link(record=source)

    assert check.ok
    assert "body larger" in check.reason
    assert not source.snapshots.exists()


def test_a_link_redirecting_somewhere_refused_is_not_alive(news):
    news.pages["/moved"] = Page(b"", status=301, location="http://10.0.0.1/story")
    source = make_source(make_action(), url=news.url("/moved"))

    check = coverage.check_link(record=source)

    assert not check.ok
    assert "address refused" in check.reason


def test_due_links_are_public_ones_not_checked_recently(news):
    now = timezone.now()
    published, draft = make_action(), make_action(published=False)
    fresh = make_source(published, url="https://example.com/fresh")
    stale = make_source(published, url="https://example.com/stale")
    never = make_article(actions=[published])
    make_source(published, url="")  # nothing to check
    make_source(draft, url="https://example.com/draft")
    make_article(actions=[draft])
    type(fresh).objects.filter(pk=fresh.pk).update(link_checked_at=now - timedelta(hours=1))
    type(stale).objects.filter(pk=stale.pk).update(link_checked_at=now - timedelta(days=3))

    due = coverage.due_links(due_before=now - timedelta(days=1))

    assert due == [("article", never.pk), ("source", stale.pk)]
    assert coverage.claim_link_check(kind="source", pk=stale.pk, due_before=now - timedelta(days=1))
    assert not coverage.claim_link_check(
        kind="source", pk=stale.pk, due_before=now - timedelta(days=1)
    )


# Public pages


def test_the_action_page_shows_when_links_were_checked_and_the_archived_copy_of_dead_ones(
    client, news
):
    serve_article(news, "/story")
    action = make_action()
    source = make_source(action, url="https://example.gov/release")
    article, snapshot = coverage.fetch_article(url=news.url("/story"), action=action)
    checked = timezone.make_aware(datetime.datetime(2025, 3, 4, 12))
    type(source).objects.filter(pk=source.pk).update(link_checked_at=checked)
    Article.objects.filter(pk=article.pk).update(
        link_checked_at=checked, link_dead_since=checked - timedelta(days=2), link_failures=3
    )

    page = client.get(action.get_absolute_url()).content.decode()

    assert page.count('checked <time datetime="2025-03-04">4 Mar 2025</time>') == 2
    assert 'link dead since <time datetime="2025-03-02">2 Mar 2025</time>' in page
    assert f'<a href="/snapshots/{snapshot.pk}/" download>archived copy</a>' in page
    assert article.text not in page  # the full text is never public

    entity_page = client.get(make_entity_with_coverage(action, article)).content.decode()
    assert f'<a href="/snapshots/{snapshot.pk}/" download>archived copy</a>' in entity_page


def make_entity_with_coverage(action, article):
    entity = make_entity()
    action.designations.create(entity=entity)
    article.entities.add(entity)
    return entity.get_absolute_url()


def test_snapshots_are_served_only_as_a_sandboxed_download(client, news):
    body = serve_article(news, "/story")
    _, snapshot = coverage.fetch_article(url=news.url("/story"), action=make_action())

    response = client.get(f"/snapshots/{snapshot.pk}/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == body
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"snapshot-{snapshot.pk}-" in response["Content-Disposition"]
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_snapshots_of_unpublished_records_are_not_public(client, admin_client, news):
    serve_article(news, "/draft-story")
    _, snapshot = coverage.fetch_article(
        url=news.url("/draft-story"), action=make_action(published=False)
    )

    assert client.get(f"/snapshots/{snapshot.pk}/").status_code == 404
    assert admin_client.get(f"/snapshots/{snapshot.pk}/").status_code == 200
