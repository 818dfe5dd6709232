"""Background tasks: the periodic list download imports a list only when its file changed."""

import datetime
import hashlib
from pathlib import Path

import pytest

from sanctions import tasks
from sanctions.fetching import FetchFailed, FetchRefused
from sanctions.models import ImportRun, ListName, Source, SourceKind

OFAC = Path(__file__).resolve().parents[1] / "fixtures" / "ofac"
URL = "https://lists.example/SDN.CSV"


# OFAC's server dates its files; 02:00 GMT on the 21st is still the 20th in Washington.
LAST_MODIFIED = "Sat, 21 Oct 2023 02:00:00 GMT"


class FakeFetch:
    """Stands in for sanctions.fetching.fetch: serves given bodies, records the calls."""

    def __init__(self, *bodies, last_modified=LAST_MODIFIED):
        self.bodies = list(bodies)
        self.headers = {"last-modified": last_modified} if last_modified else {}
        self.calls = []

    def __call__(self, url, *, allow_pdf=False, allow_data=False, max_bytes=None):
        assert allow_data, "list files are CSV or XML: the real fetcher refuses them otherwise"
        self.calls.append(url)
        body = self.bodies.pop(0)
        if isinstance(body, Exception):
            raise body
        sha256 = hashlib.sha256(body).hexdigest()
        return type("Result", (), {"body": body, "sha256": sha256, "headers": self.headers})


@pytest.fixture(autouse=True)
def _one_list(settings):
    settings.SANCTIONS_LIST_URLS = {ListName.OFAC_SDN: ("ofac-sdn-csv", URL)}


@pytest.mark.django_db
def test_a_downloaded_list_is_imported_only_when_its_file_changed(monkeypatch):
    before = (OFAC / "sdn_2023-10-18_slice.csv").read_bytes()
    after = (OFAC / "sdn_2023-10-20_slice.csv").read_bytes()
    fake = FakeFetch(before, before, after)
    monkeypatch.setattr(tasks, "fetch", fake)

    first = tasks.import_list_url(ListName.OFAC_SDN)
    again = tasks.import_list_url(ListName.OFAC_SDN)
    changed = tasks.import_list_url(ListName.OFAC_SDN)

    assert fake.calls == [URL] * 3
    assert first["changed"] and not again["changed"] and changed["changed"]
    assert again["run"] == first["run"]
    assert ImportRun.objects.count() == 2
    run = ImportRun.objects.get(pk=changed["run"])
    assert run.files[0]["url"] == URL
    assert run.published_on == datetime.date(2023, 10, 20)  # in the list's own time zone
    assert run.proposals.count() == 3
    assert set(Source.objects.values_list("kind", "url")) == {(SourceKind.LIST_UPDATE, URL)}


@pytest.mark.django_db
def test_a_csv_download_without_a_date_is_not_imported_rather_than_dated_today(monkeypatch):
    body = (OFAC / "sdn_2023-10-18_slice.csv").read_bytes()
    monkeypatch.setattr(tasks, "fetch", FakeFetch(body, last_modified=None))

    result = tasks.import_list_url(ListName.OFAC_SDN)

    assert "no Last-Modified" in result["reason"]
    assert not ImportRun.objects.exists()


@pytest.mark.django_db
def test_a_refused_download_is_reported_and_nothing_is_imported(monkeypatch):
    monkeypatch.setattr(tasks, "fetch", FakeFetch(FetchRefused("content type 'x' refused")))

    result = tasks.import_list_url(ListName.OFAC_SDN)

    assert result == {
        "list": ListName.OFAC_SDN,
        "fetched": False,
        "reason": "content type 'x' refused",
    }
    assert not ImportRun.objects.exists()


@pytest.mark.django_db
def test_a_transient_failure_is_left_for_a_retry(monkeypatch):
    monkeypatch.setattr(tasks, "fetch", FakeFetch(FetchFailed("HTTP 503", transient=True)))

    # Called directly, Celery re-raises instead of queueing the retry.
    with pytest.raises(FetchFailed):
        tasks.import_list_url(ListName.OFAC_SDN)
    assert not ImportRun.objects.exists()


def test_a_list_of_an_unknown_format_is_refused_before_its_download(monkeypatch, settings):
    settings.SANCTIONS_LIST_URLS = {ListName.UN_CONSOLIDATED: ("un-json", URL)}
    fake = FakeFetch()
    monkeypatch.setattr(tasks, "fetch", fake)

    with pytest.raises(ValueError, match="unknown format 'un-json'"):
        tasks.import_list_url(ListName.UN_CONSOLIDATED)
    assert fake.calls == []


def test_refresh_lists_queues_one_download_per_configured_list(monkeypatch, settings):
    settings.SANCTIONS_LIST_URLS = {
        ListName.OFAC_SDN: ("ofac-sdn-csv", URL),
        ListName.UN_CONSOLIDATED: ("un-xml", "https://lists.example/un.xml"),
    }
    queued = []
    monkeypatch.setattr(tasks.import_list_url, "delay", queued.append)

    tasks.refresh_lists()

    assert queued == [ListName.OFAC_SDN, ListName.UN_CONSOLIDATED]


def test_the_tasks_are_safe_to_redeliver():
    for task in (tasks.refresh_lists, tasks.import_list_url):
        assert task.acks_late and task.reject_on_worker_lost
        assert task.time_limit and task.soft_time_limit < task.time_limit
