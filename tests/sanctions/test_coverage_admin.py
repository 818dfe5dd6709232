"""The editors' side of the coverage pipeline: pasting URLs, fetch statuses, suggestions."""

import pytest
from django.contrib.auth.models import User

from sanctions import coverage
from sanctions.models import Article, FetchJob, FetchStatus, Suggestion, SuggestionStatus
from tests.sanctions.factories import make_action, make_article, make_entity, make_staff
from tests.sanctions.newsserver import NewsServer, Page, article_html

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    """A reviewer: coverage of a published action changes what the public sees, so it
    is the reviewers' to add (test_admin pins that editors are refused)."""
    client.force_login(make_staff("reviewer", "reviewer"))
    return client


def paste_url(action):
    return f"/admin/sanctions/fetchjob/paste/{action.pk}/"


def queued_job_ids(callbacks):
    assert {c.func.__self__.name for c in callbacks} <= {"sanctions.tasks.fetch_and_extract"}
    return sorted(c.args[0] for c in callbacks)


def test_the_action_page_links_to_the_paste_form(editor):
    action = make_action(published=False)

    page = editor.get(f"/admin/sanctions/action/{action.pk}/change/").text
    assert f'href="{paste_url(action)}"' in page  # the button above the form
    assert "None pasted yet." in page

    form = editor.get(paste_url(action))
    assert form.status_code == 200
    assert "Paste URLs (one per line)" in form.text
    assert "<textarea" in form.text


def test_pasted_urls_are_queued_after_commit_and_bad_lines_reported(
    editor, django_capture_on_commit_callbacks
):
    action = make_action()  # published: coverage comes after the announcement
    urls = "\n".join(
        [
            "https://www.example-news.com/world/sanctions?utm_source=twitter",
            "http://127.0.0.1:8000/admin/",
            "",
            "www.example-news.com/analysis",
            "ftp://files.example.com/list.csv",
        ]
    )

    with django_capture_on_commit_callbacks() as callbacks:
        response = editor.post(paste_url(action), {"urls": urls})

    jobs = FetchJob.objects.order_by("pk")
    assert [(j.normalized_url, j.status, j.action) for j in jobs] == [
        ("https://www.example-news.com/world/sanctions", FetchStatus.QUEUED, action),
        ("https://www.example-news.com/analysis", FetchStatus.QUEUED, action),
    ]
    assert queued_job_ids(callbacks) == [j.pk for j in jobs]
    assert response.status_code == 200  # the bad lines come back, to be corrected
    page = response.text
    assert "Queued 2 URL(s) to fetch." in page
    assert (
        "Line 2: <code>http://127.0.0.1:8000/admin/</code> — refused: not a web address the"
        " server may fetch (port 8000 refused" in page
    )
    assert "Line 5: <code>ftp://files.example.com/list.csv</code> — refused: not a web" in page
    textarea = page.split("<textarea", 1)[1].split("</textarea>", 1)[0]
    assert "127.0.0.1:8000/admin/\nftp://files.example.com/list.csv" in textarea
    assert "example-news.com" not in textarea

    summary = editor.get(f"/admin/sanctions/action/{action.pk}/change/").text
    assert "2 queued" in summary


def test_pasting_private_addresses_is_refused_and_stores_nothing(
    editor, django_capture_on_commit_callbacks
):
    action = make_action(published=False)
    urls = "http://127.0.0.1/\nhttp://10.0.0.5/intranet\nhttp://[::1]/\nhttp://169.254.169.254/"

    with django_capture_on_commit_callbacks() as callbacks:
        response = editor.post(paste_url(action), {"urls": urls})

    assert not FetchJob.objects.exists()
    assert callbacks == []
    assert response.text.count("address refused") == 4
    assert "metadata" in response.text


def test_pasting_the_same_urls_again_queues_only_failed_ones(
    editor, django_capture_on_commit_callbacks
):
    action = make_action()
    urls = "https://example.com/a\nhttps://example.com/b"
    editor.post(paste_url(action), {"urls": urls})
    done, failed = FetchJob.objects.order_by("pk")
    FetchJob.objects.filter(pk=done.pk).update(
        status=FetchStatus.DONE, article=make_article(actions=[action])
    )
    FetchJob.objects.filter(pk=failed.pk).update(status=FetchStatus.FAILED, reason="HTTP 503")

    with django_capture_on_commit_callbacks() as callbacks:
        response = editor.post(paste_url(action), {"urls": urls + "\n"}, follow=True)

    assert queued_job_ids(callbacks) == [failed.pk]
    assert FetchJob.objects.count() == 2
    assert FetchJob.objects.get(pk=failed.pk).status == FetchStatus.QUEUED
    assert response.redirect_chain[-1][0] == f"/admin/sanctions/action/{action.pk}/change/"
    assert "1 URL(s) were pasted before" in response.text


def test_only_editors_may_paste(client):
    action = make_action()
    outsider = User.objects.create_user("staff", password="pw", is_staff=True)

    assert client.get(paste_url(action)).status_code == 302  # to the login page
    client.force_login(outsider)
    assert client.post(paste_url(action), {"urls": "https://example.com/"}).status_code == 403
    assert not FetchJob.objects.exists()


def test_editors_follow_each_fetch_and_retry_failed_ones(
    editor, django_capture_on_commit_callbacks
):
    action = make_action()
    failed = FetchJob.objects.create(
        url="https://example.com/x",
        normalized_url="https://example.com/x",
        action=action,
        status=FetchStatus.FAILED,
        reason="HTTP 503",
    )
    FetchJob.objects.create(url="https://example.com/y", normalized_url="https://example.com/y")

    listing = editor.get(f"/admin/sanctions/fetchjob/?status=failed&action={action.pk}")
    assert listing.status_code == 200
    assert "https://example.com/x" in listing.text and "HTTP 503" in listing.text
    assert "https://example.com/y" not in listing.text

    with django_capture_on_commit_callbacks() as callbacks:
        editor.post(
            "/admin/sanctions/fetchjob/",
            {"action": "retry_failed", "_selected_action": [failed.pk]},
        )
    assert queued_job_ids(callbacks) == [failed.pk]
    failed.refresh_from_db()
    assert (failed.status, failed.reason) == (FetchStatus.QUEUED, "")


def test_reviewers_accept_and_dismiss_suggestions(editor):
    rosatom, other = make_entity(name="Rosatom"), make_entity(name="Rosoboronexport")
    action = make_action(entities=[rosatom])
    article = make_article(published_on=action.announced_on, text="Rosatom, Rosoboronexport")
    coverage.suggest_links(article=article)
    by_target = {(s.entity_id, s.action_id): s for s in article.suggestions.all()}
    accept = [by_target[(rosatom.pk, None)].pk, by_target[(None, action.pk)].pk]
    dismiss = by_target[(other.pk, None)].pk

    listing = editor.get("/admin/sanctions/suggestion/?status=pending")
    assert listing.status_code == 200 and "Rosoboronexport" in listing.text
    editor.post("/admin/sanctions/suggestion/", {"action": "accept", "_selected_action": accept})
    editor.post(
        "/admin/sanctions/suggestion/", {"action": "dismiss", "_selected_action": [dismiss]}
    )

    assert list(article.entities.all()) == [rosatom]
    assert list(article.coverage.values_list("action", "relation")) == [(action.pk, "reports")]
    assert Suggestion.objects.get(pk=dismiss).status == SuggestionStatus.DISMISSED
    assert set(Suggestion.objects.filter(pk__in=accept).values_list("status", flat=True)) == {
        SuggestionStatus.ACCEPTED
    }


def test_the_article_page_shows_its_snapshots_and_link_status(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with NewsServer() as news:
        settings.FETCH_ALLOWLIST = [news.host]
        news.pages["/story"] = Page(article_html("Sanctions story"))
        article, snapshot = coverage.fetch_article(url=news.url("/story"))
    Article.objects.filter(pk=article.pk).update(link_failures=2)

    page = admin_client.get(f"/admin/sanctions/article/{article.pk}/change/").text

    assert snapshot.sha256 in page
    assert f"href='/snapshots/{snapshot.pk}/'" in page
    assert "Link dead since" in page and "Link failures" in page


def test_an_editor_leaves_suggestions_that_change_public_records_to_a_reviewer(client):
    client.force_login(make_staff("editor", "editor"))
    rosatom = make_entity(name="Rosatom")
    published = make_action(entities=[rosatom])
    article = make_article(published_on=published.announced_on, text="Rosatom")
    coverage.suggest_links(article=article)
    suggestion = article.suggestions.get(action=published)

    response = client.post(
        "/admin/sanctions/suggestion/",
        {"action": "accept", "_selected_action": [suggestion.pk]},
        follow=True,
    )

    assert "a reviewer accepts those" in response.text
    assert not article.coverage.exists()
    assert Suggestion.objects.get(pk=suggestion.pk).status == SuggestionStatus.PENDING
