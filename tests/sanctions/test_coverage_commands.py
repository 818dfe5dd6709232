"""The `fetch_article` and `check_links` commands, through call_command and a real process."""

import io
import json
import subprocess

import pytest
from django.core.management import CommandError, call_command

from sanctions.models import Article, FetchJob, Outlet, Snapshot, Suggestion
from tests.sanctions.factories import make_action, make_article, make_entity, make_source
from tests.sanctions.newsserver import Page, article_html
from tests.sanctions.processes import BASE_DIR, child_env, manage


def fetch_article(*args) -> dict:
    out = io.StringIO()
    call_command("fetch_article", *args, stdout=out)
    return json.loads(out.getvalue())


def nothing_stored():
    return not (
        Article.objects.exists()
        or Snapshot.objects.exists()
        or Outlet.objects.exists()
        or FetchJob.objects.exists()
    )


@pytest.mark.django_db
def test_fetch_article_prints_the_stored_article_as_json(news):
    news.pages["/story"] = Page(article_html("Rosatom subsidiaries sanctioned"))
    make_entity(name="Rosatom")
    action = make_action()

    printed = fetch_article(news.url("/story?fbclid=x#top"), "--action", str(action.pk))

    article = Article.objects.get()
    snapshot = article.snapshots.get()
    assert printed == {
        "id": article.pk,
        "url": news.url("/story"),
        "final_url": news.url("/story"),
        "title": "Rosatom subsidiaries sanctioned",
        "published_on": "2024-12-19",
        "outlet": "Example Post",
        "language": "en",
        "sha256": snapshot.sha256,
        "status": 200,
    }
    assert list(article.coverage.values_list("action", flat=True)) == [action.pk]
    assert Suggestion.objects.get().entity.name == "Rosatom"

    assert fetch_article(news.url("/story"), "--action", str(action.pk)) == printed
    assert (Article.objects.count(), Snapshot.objects.count()) == (1, 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/story", "address refused: 10.0.0.1 is private"),
        ("http://127.0.0.1/story", "address refused: 127.0.0.1 is loopback"),
        ("http://169.254.169.254/latest/", "cloud metadata address"),
        ("file:///etc/passwd", "scheme 'file' refused"),
    ],
)
def test_fetch_article_refuses_private_and_odd_urls_and_stores_nothing(url, reason):
    with pytest.raises(CommandError, match=reason):
        fetch_article(url, "--action", str(make_action().pk))
    assert nothing_stored()


@pytest.mark.django_db
def test_fetch_article_reports_a_failed_fetch_and_stores_nothing(news):
    news.pages["/empty"] = Page(b"<html><body></body></html>")

    with pytest.raises(CommandError, match=r"/gone: HTTP 404$"):
        fetch_article(news.url("/gone"))
    with pytest.raises(CommandError, match="no article found"):
        fetch_article(news.url("/empty"))
    with pytest.raises(CommandError, match="no action with id 999999"):
        fetch_article(news.url("/story"), "--action", "999999")
    assert nothing_stored()


@pytest.mark.django_db(transaction=True)
def test_fetch_article_as_a_process_prints_json_or_exits_non_zero_with_one_line(news, tmp_path):
    news.pages["/story"] = Page(article_html("Sanctions story"))
    env = child_env(FETCH_ALLOWLIST=news.host, MEDIA_ROOT=str(tmp_path / "media"))

    def run(*args):
        return subprocess.run(
            manage("fetch_article", *args),
            env=env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )

    good = run(news.url("/story"))
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["id"] == Article.objects.get().pk

    refused = run("http://192.168.1.1/router")
    assert refused.returncode != 0
    assert refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        "CommandError: http://192.168.1.1/router: address refused: 192.168.1.1 is private"
    ]
    assert Article.objects.count() == 1


@pytest.mark.django_db
def test_check_links_checks_each_due_link_once_and_prints_a_summary(news, settings):
    settings.LINK_DEAD_AFTER = 2
    news.pages["/release"] = Page(article_html("Press release"))
    action = make_action()
    source = make_source(action, url=news.url("/release"))
    article = make_article(actions=[action], url=news.url("/vanished"))

    def check(*args):
        out = io.StringIO()
        call_command("check_links", *args, stdout=out)
        return out.getvalue().splitlines()

    assert check() == [
        f"article {article.pk} failed 1x: {article.url} (HTTP 404)",
        "Checked 2 link(s): 1 ok, 1 failed, 0 of them dead.",
    ]
    assert check() == ["Checked 0 link(s): 0 ok, 0 failed, 0 of them dead."]  # none due
    assert check("--all")[-2:] == [
        f"article {article.pk} dead: {article.url} (HTTP 404)",
        "Checked 2 link(s): 1 ok, 1 failed, 1 of them dead.",
    ]
    article.refresh_from_db()
    assert article.link_is_dead
    assert source.snapshots.count() == 1
