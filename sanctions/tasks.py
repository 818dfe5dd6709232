"""Background work for the Celery worker: small tasks that take ids or strings."""

import logging
import tempfile
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from sanctions.fetching import FetchError, fetch
from sanctions.importers import ofac_csv, ofac_xml, un_xml
from sanctions.importers.lists import ImportFailed
from sanctions.models import ImportRun, ListName

logger = logging.getLogger(__name__)

# The official lists `refresh_lists` follows: list -> (format, URL), as OFAC and the UN
# publish them. settings.SANCTIONS_LIST_URLS, if set, replaces this table.
LIST_SOURCES = {
    ListName.OFAC_SDN: (
        "ofac-sdn-csv",
        "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/SDN.CSV",
    ),
    ListName.OFAC_CONSOLIDATED: (
        "ofac-xml",
        "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/CONSOLIDATED.XML",
    ),
    ListName.UN_CONSOLIDATED: (
        "un-xml",
        "https://scsanctions.un.org/resources/xml/en/consolidated.xml",
    ),
}
# The SDN list in XML is some 30 MB; leave room to grow.
LIST_MAX_BYTES = 100 * 1024 * 1024


def list_sources() -> dict[str, tuple[str, str]]:
    return getattr(settings, "SANCTIONS_LIST_URLS", None) or LIST_SOURCES


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=120, soft_time_limit=100)
def refresh_lists() -> list[str]:
    """Periodic: queue a download of each configured list."""
    names = list(list_sources())
    for name in names:
        import_list_url.delay(name)
    return names


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=900,
    soft_time_limit=840,
    max_retries=3,
)
def import_list_url(self, list_name: str) -> dict:
    """Download one list through the safe fetcher; import it if its SHA-256 changed.

    A redelivered task finds the file already imported and stops, so it does no harm.
    """
    format, url = list_sources()[list_name]
    try:
        result = fetch(url, max_bytes=LIST_MAX_BYTES)
    except FetchError as exc:
        if exc.transient:
            raise self.retry(exc=exc, countdown=15 * 60) from exc
        logger.warning("list %s not fetched from %s: %s", list_name, url, exc.reason)
        return {"list": list_name, "fetched": False, "reason": exc.reason}
    last = ImportRun.objects.last_completed(list_name)
    if last is not None and last.sha256 == result.sha256:
        return {"list": list_name, "fetched": True, "changed": False, "run": last.pk}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{list_name}_{timezone.localdate():%Y-%m-%d}.{format[-3:]}"
        path.write_bytes(result.body)
        options = {"force": False, "progress": False, "source_url": url}
        try:
            if format == "ofac-sdn-csv":
                run = ofac_csv.import_csv([path], list_name=list_name, **options)
            elif format == "ofac-xml":
                run = ofac_xml.import_xml(path, list_name=list_name, **options)
            else:
                run = un_xml.import_xml(path, **options)
        except ImportFailed as exc:
            if getattr(exc, "run", None) is None:
                raise
            run = exc.run  # recorded as a failed run, with the reason, for editors
    return {
        "list": list_name,
        "fetched": True,
        "changed": True,
        "run": run.pk,
        "status": run.status,
    }
