"""The coverage pipeline with a real Celery worker process and Redis.

The worker runs `celery -A tracker worker` in its own process group, on the test
database (DATABASE_URL), reading a queue of its own so that other test runs sharing the
Redis database cannot take its messages. The test process sends tasks through the same
broker: editors paste URLs in the admin, which queues them after commit.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis

from sanctions import tasks
from sanctions.models import Article, Coverage, FetchJob, FetchStatus, Snapshot
from tests.sanctions.factories import make_action
from tests.sanctions.newsserver import Page, article_html
from tests.sanctions.processes import BASE_DIR, child_env
from tracker.celery import app

BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
if not BROKER_URL.startswith("redis://"):
    BROKER_URL = "redis://127.0.0.1:6379/15"


def _redis_unreachable() -> str:
    try:
        redis.Redis.from_url(BROKER_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {BROKER_URL}: {exc}"
    return ""


pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(bool(_redis_unreachable()), reason=_redis_unreachable() or "-"),
    pytest.mark.django_db(transaction=True),
]

# Short limits so that a message left unacknowledged by a killed worker comes back within
# seconds: fetch total < soft limit < hard limit < visibility timeout, as settings require.
SHORT_LIMITS = {
    "FETCH_TOTAL_TIMEOUT": "3",
    "CELERY_TASK_SOFT_TIME_LIMIT": "4",
    "CELERY_TASK_TIME_LIMIT": "5",
    "CELERY_VISIBILITY_TIMEOUT": "6",
}


def _reset_connections():
    app._pool = None
    app.__dict__.pop("amqp", None)  # rebuilt with the queue now configured


@pytest.fixture
def queue():
    """This test's own queue on the test Redis, used by the test process and the worker."""
    name = f"coverage-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    keys = ("broker_url", "broker_transport_options", "task_default_queue")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(broker_url=BROKER_URL, broker_transport_options={}, task_default_queue=name)
    _reset_connections()
    yield name
    app.conf.update(saved)
    _reset_connections()
    redis.Redis.from_url(BROKER_URL).delete(name)


class Worker:
    """A Celery worker process on the test database; `kill()` is SIGKILL to its group."""

    def __init__(self, *, queue, news, tmp_path, limits=None):
        self.log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.env = child_env(
            CELERY_BROKER_URL=BROKER_URL,
            CELERY_QUEUE=queue,
            FETCH_ALLOWLIST=news.host,
            MEDIA_ROOT=str(tmp_path / "media"),
            **(limits or {}),
        )
        self.queue = queue
        self.process = None

    def start(self):
        command = [sys.executable, "-m", "celery", "-A", "tracker", "worker"]
        command += ["--pool=prefork", "--concurrency=1", "-Q", self.queue, "-l", "INFO"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        command += ["--logfile", str(self.log)]
        self.process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=self.env,
            start_new_session=True,  # its own process group: the pool child dies with it
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)

    def stop(self):
        self.kill(signal.SIGTERM)

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else "(no log)"


@pytest.fixture
def workers(transactional_db, queue, news, tmp_path):
    """Starts workers; stops them before the test database is flushed."""
    started = []

    def start(**options):
        worker = Worker(queue=queue, news=news, tmp_path=tmp_path, **options).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(condition, *, timeout, what, worker):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log_text()[-4000:]}")


def test_three_pasted_urls_become_three_linked_articles_and_running_again_adds_nothing(
    admin_client, news, workers
):
    paths = ["/world/one", "/world/two", "/analysis/three"]
    for n, path in enumerate(paths):
        news.pages[path] = Page(article_html(f"Sanctions story {n}", published=f"2024-12-1{n}"))
    action = make_action()
    worker = workers()

    pasted = "\n".join(news.url(path) + "?utm_source=test" for path in paths)
    response = admin_client.post(f"/admin/sanctions/fetchjob/paste/{action.pk}/", {"urls": pasted})
    assert response.status_code == 302

    def all_done():
        return FetchJob.objects.filter(status=FetchStatus.DONE).count() == 3

    wait_for(all_done, timeout=50, what="three fetch jobs to be done", worker=worker)
    articles = Article.objects.order_by("headline")
    assert [a.headline for a in articles] == [f"Sanctions story {n}" for n in range(3)]
    assert sorted(a.url for a in articles) == sorted(news.url(path) for path in paths)
    for article in articles:
        snapshot = article.snapshots.get()
        assert snapshot.file.storage.exists(snapshot.file.name)
        assert list(article.coverage.values_list("action", flat=True)) == [action.pk]

    # The same tasks again, and the same paste again: nothing new.
    sent = [tasks.fetch_and_extract.delay(job.pk).id for job in FetchJob.objects.all()]
    admin_client.post(f"/admin/sanctions/fetchjob/paste/{action.pk}/", {"urls": pasted})
    wait_for(
        lambda: all(f"[{task_id}] succeeded" in worker.log_text() for task_id in sent),
        timeout=30,
        what="the repeated tasks to finish",
        worker=worker,
    )
    assert "'status': 'done'}" in worker.log_text()
    assert (Article.objects.count(), Snapshot.objects.count(), Coverage.objects.count()) == (
        3,
        3,
        3,
    )
    assert FetchJob.objects.count() == 3
    assert all(news.hits[path] == 1 for path in paths)


def test_a_worker_killed_mid_fetch_leaves_the_article_stored_exactly_once(
    admin_client, news, workers
):
    # The first request hangs until the worker is killed; the next one answers at once.
    news.pages["/slow"] = [
        Page(article_html("Slow story"), delay=20),
        Page(article_html("Slow story")),
    ]
    action = make_action()
    first = workers(limits=SHORT_LIMITS)
    admin_client.post(f"/admin/sanctions/fetchjob/paste/{action.pk}/", {"urls": news.url("/slow")})
    job = FetchJob.objects.get()

    fetching = news.requested.setdefault("/slow", threading.Event())
    assert fetching.wait(timeout=40), first.log_text()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (FetchStatus.FETCHING, 1)
    first.kill()  # SIGKILL to the whole group: main process and pool child, mid-fetch

    # Unacknowledged, the message is restored once the visibility timeout has passed; the
    # new worker finds the job "fetching" with a claim older than the time limit.
    second = workers(limits=SHORT_LIMITS)
    wait_for(
        lambda: FetchJob.objects.filter(status=FetchStatus.DONE).exists(),
        timeout=45,
        what="the job to be done after the restart",
        worker=second,
    )
    job.refresh_from_db()
    assert job.attempts == 2
    assert news.hits["/slow"] == 2
    assert Article.objects.count() == 1
    assert Snapshot.objects.count() == 1
    assert job.article.coverage.get().action == action
