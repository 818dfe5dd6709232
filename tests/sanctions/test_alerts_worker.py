"""E-mail alerts with a real Celery worker process and Redis: a worker killed while
sending a digest, and the message redelivered to another, send each action to each
subscription once (the worker is started as in test_coverage_worker)."""

import email.policy
import re
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from sanctions import tasks
from sanctions.models import AlertDelivery, DeliveryState, Subscription
from tests.sanctions import test_coverage_worker
from tests.sanctions.factories import make_action, make_authority
from tests.sanctions.processes import child_env
from tests.sanctions.test_coverage_worker import BROKER_URL, Worker, _redis_unreachable, wait_for

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(bool(_redis_unreachable()), reason=_redis_unreachable() or "-"),
    pytest.mark.django_db(transaction=True),
]

SITE = "https://tracker.example"
# A message left unacknowledged by a killed worker comes back after the visibility
# timeout; by then the hard time limit has passed, so its claims count as lost.
LIMITS = {
    "FETCH_TOTAL_TIMEOUT": "3",
    "CELERY_TASK_SOFT_TIME_LIMIT": "6",
    "CELERY_TASK_TIME_LIMIT": "7",
    "CELERY_VISIBILITY_TIMEOUT": "8",
}


# This test's own queue on the test Redis, for the test process and its workers.
queue = test_coverage_worker.queue


class MailWorker(Worker):
    """A worker whose e-mails are files under ``outbox``."""

    def __init__(self, *, queue, tmp_path, outbox, **env):
        self.log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.env = child_env(
            CELERY_BROKER_URL=BROKER_URL,
            CELERY_QUEUE=queue,
            MEDIA_ROOT=str(tmp_path / "media"),
            SITE_ROOT=SITE,
            EMAIL_FILE_PATH=str(outbox),
            **LIMITS,
            **env,
        )
        self.queue = queue
        self.process = None


@pytest.fixture
def workers(transactional_db, queue, tmp_path):
    started = []

    def start(**env):
        worker = MailWorker(queue=queue, tmp_path=tmp_path, outbox=tmp_path / "mail", **env)
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()


def sent_mail(outbox) -> list:
    """Every message the file backend wrote, parsed."""
    separator = b"\n" + b"-" * 79 + b"\n"
    return [
        email.message_from_bytes(chunk, policy=email.policy.default)
        for path in sorted(outbox.glob("*.log"))
        for chunk in path.read_bytes().split(separator)
        if chunk.strip()
    ]


def told(outbox) -> Counter:
    """How many times each address was sent each action."""
    return Counter(
        (message["To"], int(pk))
        for message in sent_mail(outbox)
        for pk in re.findall(rf"{SITE}/actions/(\d+)/", message.get_content())
    )


def succeeded(worker, task_id) -> bool:
    return f"[{task_id}] succeeded" in worker.log_text()


def test_a_worker_killed_mid_send_leaves_one_email_per_subscription_and_action(workers, tmp_path):
    outbox = tmp_path / "mail"
    authority = make_authority(name="Department of State")
    started = timezone.now() - timedelta(hours=1)
    first, second = (
        Subscription.objects.create(
            email=address, frequency="immediate", query=query, confirmed_at=started, since=started
        )
        for address, query in [
            ("first@example.org", ""),
            ("second@example.org", f"authority={authority.slug}"),
        ]
    )
    both = make_action(title="Named in both digests", authority=authority)
    only_first = make_action(title="Only in the first digest")

    killed = tasks.send_alert_digest.delay(first.pk).id
    waiting = tasks.send_alert_digest.delay(second.pk).id  # behind it: one task at a time
    hanging = workers(EMAIL_BACKEND="tests.sanctions.slow_mail.HangingFileBackend")
    wait_for(
        lambda: told(outbox), timeout=40, what="the first digest to be written", worker=hanging
    )
    states = set(AlertDelivery.objects.filter(subscription=first).values_list("state", flat=True))
    assert states == {DeliveryState.CLAIMED}
    hanging.kill()  # SIGKILL to the group: sent, not yet marked sent

    # The second digest is sent, and the first's message, redelivered once the visibility
    # timeout has passed, finds every action claimed: nothing is sent again.
    worker = workers(EMAIL_BACKEND="file")
    wait_for(
        lambda: succeeded(worker, waiting) and succeeded(worker, killed),
        timeout=40,
        what="the waiting digest and the redelivered one",
        worker=worker,
    )
    # The next periodic run queues both again; the dead sender's claims, older than the
    # hard time limit, are marked unknown.
    periodic = tasks.send_alert_digests.delay("immediate").id
    wait_for(
        lambda: (
            succeeded(worker, periodic)
            and len(re.findall(r"send_alert_digest\[[^]]+\] succeeded", worker.log_text())) == 4
        ),
        timeout=20,
        what="the periodic run and the digests it queued",
        worker=worker,
    )

    assert told(outbox) == {
        ("first@example.org", both.pk): 1,
        ("first@example.org", only_first.pk): 1,
        ("second@example.org", both.pk): 1,
    }
    assert len(sent_mail(outbox)) == 2
    states = dict(AlertDelivery.objects.values_list("subscription", "state").distinct())
    assert states == {first.pk: DeliveryState.UNKNOWN, second.pk: DeliveryState.SENT}
