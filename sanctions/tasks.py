"""Background work for the Celery worker: small tasks that take ids or strings.

Every task is acknowledged late and requeued if its worker dies (CELERY_TASK_ACKS_LATE,
CELERY_TASK_REJECT_ON_WORKER_LOST in the settings), so each must be safe to run twice.
"""

import logging
import random
import tempfile
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from sanctions import alerts, coverage, exports
from sanctions.fetching import FetchError, fetch
from sanctions.importers import LIST_FORMATS, import_list, list_urls
from sanctions.importers.reading import ImportFailed
from sanctions.models import (
    AlertFrequency,
    Article,
    FetchJob,
    FetchStatus,
    ImportRun,
    ListName,
)

logger = logging.getLogger(__name__)

# Where each list is published: a download's Last-Modified is dated in this zone.
LIST_TIME_ZONES = {
    ListName.OFAC_SDN: "America/New_York",
    ListName.OFAC_CONSOLIDATED: "America/New_York",
    ListName.UN_CONSOLIDATED: "America/New_York",
}
# The SDN list in XML is some 30 MB; leave room to grow.
LIST_MAX_BYTES = 100 * 1024 * 1024


@shared_task(time_limit=120, soft_time_limit=100)
def refresh_lists() -> list[str]:
    """Periodic: queue a download of each configured list."""
    names = list(list_urls())
    for name in names:
        import_list_url.delay(name)
    return names


@shared_task(bind=True, time_limit=900, soft_time_limit=840, max_retries=3)
def import_list_url(self, list_name: str) -> dict:
    """Download one list through the safe fetcher; import it if its SHA-256 changed.

    A redelivered task finds the file already imported and stops, so it does no harm.
    """
    format, url = list_urls()[list_name]
    if format not in LIST_FORMATS:
        raise ValueError(
            f"list {list_name}: unknown format {format!r} (known: {', '.join(LIST_FORMATS)})"
        )
    try:
        result = fetch(url, allow_data=True, max_bytes=LIST_MAX_BYTES)
    except FetchError as exc:
        if exc.transient:
            raise self.retry(exc=exc, countdown=15 * 60) from exc
        logger.warning("list %s not fetched from %s: %s", list_name, url, exc.reason)
        return {"list": list_name, "fetched": False, "reason": exc.reason}
    last = ImportRun.objects.last_completed(list_name)
    if last is not None and last.sha256 == result.sha256:
        return {"list": list_name, "fetched": True, "changed": False, "run": last.pk}
    published_on = last_modified_date(result.headers, list_name)
    with tempfile.TemporaryDirectory() as folder:
        # A name without a date: the file's own date, else published_on, dates the run.
        path = Path(folder) / f"{list_name}.{format[-3:]}"
        path.write_bytes(result.body)
        try:
            run = import_list(
                format,
                [path],
                list_name=list_name,
                published_on=published_on,
                force=False,
                progress=False,
                source_url=url,
            )
        except ImportFailed as exc:
            if getattr(exc, "run", None) is None:  # refused before a run was recorded
                reason = str(exc)
                if published_on is None:
                    reason += " (and the server sent no Last-Modified to date it by)"
                logger.warning("list %s from %s not imported: %s", list_name, url, reason)
                return {"list": list_name, "fetched": True, "changed": True, "reason": reason}
            run = exc.run  # recorded as a failed run, with the reason, for editors
    return {
        "list": list_name,
        "fetched": True,
        "changed": True,
        "run": run.pk,
        "status": run.status,
    }


def last_modified_date(headers: dict[str, str], list_name: str) -> date | None:
    """The day a download's Last-Modified falls on where the list is published."""
    try:
        moment = parsedate_to_datetime(headers.get("last-modified", ""))
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None  # not an HTTP date, which is always in GMT
    zone = ZoneInfo(LIST_TIME_ZONES.get(list_name, "UTC"))
    return moment.astimezone(zone).date()


# The news coverage pipeline (sanctions/coverage.py). Time limits come from the settings
# (CELERY_TASK_*), which keep them below the broker's visibility timeout.

# A transient failure is retried this many times, waiting about 1, 2, 4, 8, 16 minutes.
# The longest wait stays well below the broker's visibility timeout: Redis counts a delayed
# message as unacknowledged, and one held longer than that would be delivered twice.
FETCH_MAX_RETRIES = 5
FETCH_RETRY_BASE = 60  # seconds


def retry_countdown(retries: int, *, base: int = FETCH_RETRY_BASE) -> float:
    """Exponential backoff with jitter: half the delay fixed, half random."""
    delay = base * 2**retries
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 (not cryptographic)


@shared_task(bind=True, max_retries=FETCH_MAX_RETRIES)
def fetch_and_extract(self, job_id: int) -> dict:
    """Fetch a pasted URL, archive it and store the article linked to the job's action.

    The job is claimed with a conditional update, so a redelivered message does nothing
    once the job is done or failed. A job left "fetching" by a killed worker is claimed
    again once its claim is older than the hard time limit, when no attempt can still be
    running; a message that arrives before then comes back when it would be.
    """
    time_limit = self.time_limit or self.app.conf.task_time_limit
    stale_before = timezone.now() - timedelta(seconds=time_limit)
    if not FetchJob.objects.claim(job_id, stale_before=stale_before):
        job = FetchJob.objects.filter(pk=job_id).first()
        if job is None or job.status != FetchStatus.FETCHING:
            return {"job": job_id, "status": job.status if job else "missing"}
        # Look again when the claim would be stale; allowed even when the retries for
        # transient failures are used up, or the job would stay "fetching" for good.
        wait = (job.claimed_at - stale_before).total_seconds() + 1
        raise self.retry(countdown=max(wait, 1), max_retries=self.request.retries + 1)
    job = FetchJob.objects.select_related("action").get(pk=job_id)
    try:
        article, _ = coverage.fetch_article(url=job.normalized_url, action=job.action, job=job)
    except (FetchError, coverage.ExtractionFailed) as exc:
        reason = coverage.in_words(exc)
        if getattr(exc, "transient", False) and self.request.retries < self.max_retries:
            job.release(f"retrying: {reason}")
            raise self.retry(countdown=retry_countdown(self.request.retries)) from exc
        # Refused, a 4xx, no article, or transient failures to the end: the URL stays
        # as a pending article, for the editor to complete by hand or upload.
        if job.fail(reason):
            coverage.keep_pending(job)
        return {"job": job_id, "status": job.status, "reason": reason}
    except Exception as exc:
        job.fail(f"internal error: {exc!r}")  # e.g. the soft time limit; pasting again retries
        raise
    suggest_links.delay_on_commit(article.pk)
    return {"job": job_id, "status": job.status, "article": article.pk}


@shared_task
def suggest_links(article_id: int) -> int:
    """Suggest the entities and actions an article concerns; repeated, it adds nothing."""
    article = Article.objects.filter(pk=article_id).first()
    return coverage.suggest_links(article=article) if article else 0


# Each periodic run queues at most this many checks: a backlog is worked off hour by hour.
LINK_CHECK_BATCH = 500


@shared_task
def check_links() -> int:
    """Periodic: queue a check of each source and article link that is due."""
    due_before = coverage.link_check_due_before()
    due = coverage.due_links(due_before=due_before, limit=LINK_CHECK_BATCH)
    for kind, pk in due:
        check_link.delay(kind, pk, due_before.isoformat())
    return len(due)


@shared_task
def check_link(kind: str, pk: int, due_before: str) -> bool | None:
    """Check one link, unless another check claimed it since it fell due. No retries: a
    failure is itself the result, and the next due check tries again."""
    check = coverage.check_due_link(kind=kind, pk=pk, due_before=datetime.fromisoformat(due_before))
    return None if check is None else check.ok


@shared_task(time_limit=3000, soft_time_limit=2900)
def write_export_dumps() -> str:
    """Periodic: write the full export files and their manifest, for /exports/ to serve.

    Writing them twice (a redelivery) is harmless: the newer manifest wins.
    """
    return exports.write_dumps()["generated_at"]


@worker_ready.connect
def write_missing_export_dumps(**kwargs) -> None:
    """When a worker starts and no export files are being served (a new deployment, or
    files withdrawn while no worker ran), have them written now: the beat schedule's first
    run comes only after its interval, and /exports/ says they are being prepared."""
    if exports.latest_manifest() is None:
        write_export_dumps.delay()


# E-mail alerts (sanctions/alerts.py). Time limits come from the settings (CELERY_TASK_*).


def _hard_time_limit(task) -> int:
    return task.time_limit or task.app.conf.task_time_limit


@shared_task
def send_alert_digests(frequency: str) -> int:
    """Periodic, per frequency: queue a digest for each confirmed subscription that may
    have news. Also marks the claims of senders that died as "unknown" (older than the
    digest task's hard time limit, none can still be at work) and deletes subscriptions
    left unconfirmed."""
    AlertFrequency(frequency)  # ValueError for a frequency that does not exist
    stale_before = timezone.now() - timedelta(seconds=_hard_time_limit(send_alert_digest))
    alerts.mark_lost_deliveries(stale_before=stale_before)
    alerts.delete_expired_subscriptions()
    due = alerts.due_subscriptions(frequency)
    for subscription_id in due:
        send_alert_digest.delay(subscription_id)
    return len(due)


@shared_task
def send_alert_digest(subscription_id: int) -> int:
    """E-mail one subscription its new actions, each at most once (alerts.send_digest)."""
    return alerts.send_digest(subscription_id=subscription_id)


@shared_task
def send_alert_confirmation(subscription_id: int) -> bool:
    """E-mail the link that confirms a subscription (alerts.send_confirmation)."""
    return alerts.send_confirmation(subscription_id=subscription_id)


@shared_task
def send_alert_list(email: str) -> int:
    """E-mail an address the links to its subscriptions, if it has any."""
    return alerts.send_subscription_list(email=email)
