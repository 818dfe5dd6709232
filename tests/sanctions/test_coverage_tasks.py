"""The coverage pipeline's Celery tasks, run in-process (the real worker: test_coverage_worker)."""

from datetime import timedelta
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.conf import settings as django_settings
from django.utils import timezone

from sanctions import coverage, tasks
from sanctions.fetching import canonical_url
from sanctions.models import Article, FetchJob, FetchStatus, Snapshot, Source
from tests.sanctions.factories import make_action, make_entity, make_source
from tests.sanctions.newsserver import Page, article_html

pytestmark = pytest.mark.django_db


def make_job(url, action=None, **fields) -> FetchJob:
    return FetchJob.objects.create(
        url=url, normalized_url=canonical_url(url), action=action, **fields
    )


def run(job) -> dict:
    """Run the fetch task as the worker would, retries included (eagerly, without waiting)."""
    result = tasks.fetch_and_extract.apply(args=[job.pk])
    job.refresh_from_db()
    return result.get(propagate=False)


def test_the_fetch_task_stores_the_article_and_queues_suggestions_after_commit(
    news, django_capture_on_commit_callbacks
):
    news.pages["/story"] = Page(article_html("Rosatom suppliers sanctioned"))
    make_entity(name="Rosatom")
    action = make_action()
    job = make_job(news.url("/story?utm_source=feed"), action)

    with django_capture_on_commit_callbacks() as callbacks:  # not run: nothing is sent
        outcome = run(job)

    article = Article.objects.get()
    assert outcome == {"job": job.pk, "status": "done", "article": article.pk}
    assert (job.status, job.article, job.attempts, job.reason) == ("done", article, 1, "")
    assert job.finished_at is not None
    assert list(article.coverage.values_list("action", flat=True)) == [action.pk]
    assert article.snapshots.count() == 1
    (queued,) = callbacks
    assert queued.func.__self__.name == "sanctions.tasks.suggest_links"
    assert queued.args == (article.pk,)


def test_a_redelivered_or_repeated_task_does_nothing_more(news):
    news.pages["/story"] = Page(article_html("Sanctions story"))
    job = make_job(news.url("/story"), make_action())
    run(job)

    assert run(job) == {"job": job.pk, "status": "done"}
    assert news.hits["/story"] == 1
    assert (Article.objects.count(), Snapshot.objects.count(), job.attempts) == (1, 1, 1)


def test_the_same_url_pasted_on_two_actions_makes_one_article_linked_to_both(news):
    news.pages["/story"] = Page(article_html("Sanctions story"))
    first, second = make_action(), make_action()
    run(make_job(news.url("/story"), first))
    run(make_job(news.url("/story"), second))

    article = Article.objects.get()
    assert set(article.coverage.values_list("action", flat=True)) == {first.pk, second.pk}
    assert Snapshot.objects.count() == 1


def test_a_job_left_fetching_by_a_killed_worker_is_taken_again_after_the_time_limit(news):
    news.pages["/story"] = Page(article_html("Sanctions story"))
    stale = timezone.now() - timedelta(seconds=django_settings.CELERY_TASK_TIME_LIMIT + 5)
    job = make_job(news.url("/story"), status=FetchStatus.FETCHING, claimed_at=stale, attempts=1)

    run(job)

    assert (job.status, job.attempts) == ("done", 2)


def test_a_job_another_worker_is_fetching_is_looked_at_again_when_its_claim_is_stale(news):
    job = make_job(news.url("/story"), status=FetchStatus.FETCHING, claimed_at=timezone.now())

    with (
        mock.patch.object(tasks.fetch_and_extract, "retry", side_effect=Retry) as retry,
        pytest.raises(Retry),
    ):
        tasks.fetch_and_extract.run(job.pk)

    countdown = retry.call_args.kwargs["countdown"]
    assert (
        django_settings.CELERY_TASK_TIME_LIMIT - 5
        < countdown
        <= (django_settings.CELERY_TASK_TIME_LIMIT + 1)
    )
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("fetching", 0)
    assert news.hits["/story"] == 0


def test_a_transient_failure_is_retried(news):
    news.pages["/story"] = [Page(b"busy", status=503), Page(article_html("Sanctions story"))]
    job = make_job(news.url("/story"))

    with mock.patch.object(tasks, "retry_countdown", return_value=0) as countdown:
        run(job)

    assert (job.status, job.attempts) == ("done", 2)
    countdown.assert_called_once_with(0)


def test_transient_failures_are_given_up_after_the_last_retry(news):
    news.pages["/story"] = Page(b"busy", status=503)
    job = make_job(news.url("/story"))

    run(job)

    assert (job.status, job.reason) == (
        "failed",
        "the site answered with an error (HTTP 503)",
    )
    assert job.attempts == tasks.FETCH_MAX_RETRIES + 1
    assert news.hits["/story"] == tasks.FETCH_MAX_RETRIES + 1


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (Page(b"gone", status=404), "the page is not there (gone or mistyped) (HTTP 404)"),
        (Page(b"no", status=403), "the site refused to serve the page (a paywall or a block?)"),
        (
            Page(b"PK\x03\x04", content_type="application/zip"),
            "not an article: not a web page (content type 'application/zip'",
        ),
        (
            Page(b"%PDF-1.4", content_type="application/pdf"),
            "not an article: a PDF (upload it instead)",
        ),
        (
            Page(b"", status=302, location="http://10.1.2.3/admin"),
            "refused: private address (address refused: 10.1.2.3 is private",
        ),
    ],
)
def test_a_refused_url_or_a_4xx_fails_at_once_and_says_why_in_words(news, page, reason):
    news.pages["/sanctions-on-missile-suppliers"] = page
    job = make_job(news.url("/sanctions-on-missile-suppliers"), make_action(published=False))

    with mock.patch.object(tasks.fetch_and_extract, "retry") as retry:
        run(job)

    retry.assert_not_called()
    assert job.status == "failed"
    assert job.reason.startswith(reason)
    assert (job.attempts, news.hits["/sanctions-on-missile-suppliers"]) == (1, 1)
    # The URL stays as a pending article for the editor to complete or upload.
    assert job.article.headline == "Sanctions on missile suppliers"
    assert job.article.headline_from_url
    assert not job.article.snapshots.exists()
    assert list(job.article.coverage.values_list("action", flat=True)) == [job.action_id]


def test_a_page_without_an_article_fails_with_its_reason(news):
    news.pages["/story"] = Page(b"<html><body></body></html>")
    job = make_job(news.url("/story"))

    run(job)

    assert job.status == "failed"
    assert job.reason.startswith("not an article: the page holds no article text")


def test_retry_countdowns_grow_exponentially_with_jitter():
    for retries in range(5):
        delays = [tasks.retry_countdown(retries) for _ in range(50)]
        full = tasks.FETCH_RETRY_BASE * 2**retries
        assert all(full / 2 <= delay <= full for delay in delays)
        assert len(set(delays)) > 1


def test_the_periodic_check_queues_each_due_link_and_each_is_checked_once(news):
    news.pages["/release"] = Page(article_html("Press release"))
    source = make_source(make_action(), url=news.url("/release"))

    with mock.patch.object(tasks.check_link, "delay") as delay:
        assert tasks.check_links.apply().get() == 1
    (kind, pk, due_before), _ = delay.call_args

    assert tasks.check_link.apply(args=[kind, pk, due_before]).get() is True
    assert tasks.check_link.apply(args=[kind, pk, due_before]).get() is None  # claimed
    source = Source.objects.get(pk=source.pk)
    assert source.link_checked_at is not None
    assert source.link_checks.count() == 1


def test_the_suggestion_task_takes_an_article_id(news):
    news.pages["/story"] = Page(article_html("Rosatom named again"))
    make_entity(name="Rosatom")
    article, _ = coverage.fetch_article(url=news.url("/story"))

    assert tasks.suggest_links.apply(args=[article.pk]).get() == 1
    assert tasks.suggest_links.apply(args=[article.pk]).get() == 0
    assert tasks.suggest_links.apply(args=[article.pk + 1000]).get() == 0


def test_every_periodic_task_is_registered_and_tasks_use_json():
    from tracker.celery import app

    app.loader.import_default_modules()
    for entry in django_settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    for task in (tasks.fetch_and_extract, tasks.suggest_links, tasks.check_links):
        assert task.acks_late and task.reject_on_worker_lost
    assert django_settings.CELERY_TASK_TIME_LIMIT < django_settings.CELERY_VISIBILITY_TIMEOUT
    longest_wait = tasks.FETCH_RETRY_BASE * 2 ** (tasks.FETCH_MAX_RETRIES - 1)
    assert longest_wait < django_settings.CELERY_VISIBILITY_TIMEOUT
