"""The official list importers: parsers, import runs, entity matching, change detection,
proposals and the editors' review of them.

Small slices of the real lists live in tests/fixtures/; the acceptance tests at the end
read the full files from ../shared/data and skip when it is absent.
"""

import csv
import datetime
import io
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

from sanctions.exports import EXPORTS
from sanctions.importers import RECORD_FORMATS, ofac_csv, ofac_xml, reading, un_xml
from sanctions.models import (
    Action,
    ActionKind,
    ActionStatus,
    Alias,
    AliasKind,
    ChangeKind,
    DesignationRole,
    Entity,
    EntityKind,
    Identifier,
    ImportRun,
    ImportStatus,
    ListChange,
    ListEntry,
    ListName,
    ProposedAction,
    SourceKind,
)
from sanctions.search import index_names, match_names

from .factories import make_action, make_authority, make_entity, make_legal_basis
from .processes import BASE_DIR, child_env, manage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OFAC = FIXTURES / "ofac"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

needs_shared_data = pytest.mark.skipif(
    not (SHARED / "ofac").is_dir() or not (SHARED / "un").is_dir(),
    reason=f"the real lists are not in {SHARED} (a checkout without ../shared)",
)


def import_list(*args) -> str:
    out = io.StringIO()
    call_command("import_list", *map(str, args), "--no-progress", stdout=out)
    return out.getvalue()


def entries_of(path, **kwargs) -> dict[str, reading.Entry]:
    return {entry.number: entry for entry in ofac_csv.read(path, **kwargs)}


# Parsers ------------------------------------------------------------------------------


def test_it_reads_an_sdn_csv_row_into_a_clean_entry_beside_its_raw_record():
    entries = entries_of(OFAC / "sdn_2023-10-20_slice.csv")

    gtl = entries["45716"]
    assert gtl.name == "GENERAL TECHNOLOGY LIMITED"
    assert gtl.entry_type == "entity"
    assert gtl.kind == EntityKind.COMPANY  # "Target Type Private Company"
    assert gtl.programs == ["NPWMD"]
    assert ("registration", "2676701", "HK") in [i[:3] for i in gtl.identifiers]
    assert ("ofac", "45716", "", "") in gtl.identifiers
    assert gtl.raw["sdn"][0] == "45716" and gtl.raw["sdn"][2] == "-0- "  # verbatim
    assert len(entries) == 13


def test_it_splits_programs_and_reads_aliases_identifiers_and_countries_from_remarks():
    entries = entries_of(OFAC / "sdn_2023-10-20_slice.csv")

    hesa = entries["11195"]
    assert hesa.programs == ["NPWMD", "IFSR", "IRAN-CON-ARMS-EO"]
    assert ("HESA", AliasKind.AKA) in hesa.aliases
    assert ("SHAHIN CO.", AliasKind.AKA) in hesa.aliases
    vessel = entries["25312"]
    assert vessel.kind == EntityKind.VESSEL
    assert ("imo", "9167265") in [i[:2] for i in vessel.identifiers]
    assert vessel.countries == ["IR"]  # the flag
    person = entries["39096"]
    assert person.kind == EntityKind.PERSON
    assert person.name == "GHOREISHI, Seyed Hojatollah"
    assert "IR" in person.countries  # nationality Iran
    assert entries["34769"].kind == EntityKind.STATE_BODY  # Target Type State-Owned Enterprise


def test_it_reads_addresses_and_aliases_beside_the_names_file():
    entries = entries_of(
        OFAC / "sdn_2021-04_slice.csv",
        addresses=OFAC / "add_2021-04_slice.csv",
        aliases=OFAC / "alt_2021-04_slice.csv",
    )

    bank = entries["306"]
    assert sorted(bank.countries) == ["CH", "ES", "JP", "PA"]
    assert ("BNC", AliasKind.AKA) in bank.aliases  # from the remarks
    assert ("NATIONAL BANK OF CUBA", AliasKind.AKA) in bank.aliases  # from alt.csv
    assert len(bank.raw["add"]) == 4 and len(bank.raw["alt"]) == 1
    assert entries["2674"].raw["add"] == [["2674", "1832", "-0- ", "-0- ", "-0- ", "-0- "]]


def test_it_refuses_an_address_file_from_another_day(tmp_path):
    names = tmp_path / "sdn.csv"
    rows = (OFAC / "sdn_2021-04_slice.csv").read_bytes().split(b"\r\n")
    names.write_bytes(b"\r\n".join(row for row in rows if not row.startswith(b"306,")))

    with pytest.raises(reading.ListFormatError, match="entry 306, which the names file"):
        list(ofac_csv.read(names, addresses=OFAC / "add_2021-04_slice.csv"))


def test_the_csv_date_comes_from_the_option_else_the_file_name_else_today():
    assert ofac_csv.date_in_name(Path("sdn_scraped_2023-10-20T1843Z.csv")) == datetime.date(
        2023, 10, 20
    )
    assert ofac_csv.date_in_name(Path("sdn.csv")) is None
    assert ofac_csv.date_in_name(Path("sdn_2023-02-30.csv")) is None


def test_it_reads_the_sdnlist_xml_header_and_entries():
    header = reading.Header()
    entries = list(ofac_xml.read(OFAC / "consolidated_2018-04-06_slice.xml", header))

    assert header.published_on == datetime.date(2018, 4, 6)
    assert header.declared_count == 5
    bank = entries[0]
    assert (bank.number, bank.name, bank.programs) == (
        "4632",
        "BANK MARKAZI JOMHOURI ISLAMI IRAN",
        ["IRAN"],
    )
    assert ("CENTRAL BANK OF IRAN", AliasKind.AKA) in bank.aliases
    assert set(bank.countries) == {"IR"}
    assert bank.raw["xml"].startswith("<sdnEntry")


def test_it_reads_un_individuals_and_entities_with_their_regime_and_listing_date():
    header = reading.Header()
    entries = {
        e.number: e
        for e in un_xml.read(FIXTURES / "un" / "consolidated_2024-09-26_slice.xml", header)
    }

    assert header.published_on == datetime.date(2024, 9, 26)
    komid = entries["KPe.001"]
    assert komid.name == "KOREA MINING DEVELOPMENT TRADING CORPORATION"
    assert (komid.entry_type, komid.programs) == ("entity", ["DPRK"])
    assert komid.listed_on == datetime.date(2009, 4, 24)
    assert ("un", "KPe.001", "", "") in komid.identifiers
    person = entries["TAi.005"]
    assert person.kind == EntityKind.PERSON
    assert person.name == "MUHAMMAD TAHER ANWARI"
    assert ("محمد طاهر أنوري", AliasKind.ORIGINAL) in person.aliases
    assert ("Haji Mudir", AliasKind.WEAK) in person.aliases  # quality Low
    assert person.countries == ["AF"]


# Import runs --------------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


@pytestmark_db
def test_a_first_import_is_the_lists_baseline_and_proposes_nothing():
    out = import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-18_slice.csv")

    run = ImportRun.objects.get()
    assert run.status == ImportStatus.COMPLETED
    assert (run.list_name, run.published_on) == (ListName.OFAC_SDN, datetime.date(2023, 10, 18))
    assert (run.entry_count, run.created, run.updated, run.unchanged) == (9, 9, 0, 0)
    assert len(run.sha256) == 64 and run.files[0]["name"] == "sdn_2023-10-18_slice.csv"
    assert run.previous is None
    assert not run.changes.exists() and not Action.objects.exists()
    assert ListEntry.objects.count() == Entity.objects.count() == 9
    assert "baseline" in out
    # Imported names are in search's index, aliases included.
    minsk = ListEntry.objects.get(number="34769").entity_id
    assert minsk in {match.entity_id for match in match_names("volat")}


@pytestmark_db
def test_reimporting_the_same_file_proposes_nothing():
    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")
    out = import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")

    run = ImportRun.objects.first()
    assert run.previous is not None
    assert (run.created, run.updated, run.unchanged) == (0, 0, 13)
    assert not ListChange.objects.exists() and not Action.objects.exists()
    assert "0 added, 0 removed, 0 with changed programs; 0 actions proposed" in out


@pytestmark_db
def test_additions_become_one_proposed_action_per_program_and_removals_a_delisting():
    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-18_slice.csv")
    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")

    run = ImportRun.objects.first()
    changes = {(c.kind, c.entry.number) for c in run.changes.select_related("entry")}
    assert changes == {
        (ChangeKind.ADDED, "44802"),
        (ChangeKind.ADDED, "44803"),
        (ChangeKind.ADDED, "45716"),
        (ChangeKind.ADDED, "45717"),
        (ChangeKind.ADDED, "45718"),
        (ChangeKind.REMOVED, "7703"),
    }
    proposals = {a.title: a for a in run.proposals.all()}
    assert set(proposals) == {
        "OFAC SDN List: 3 entries added under NPWMD",
        "OFAC SDN List: 2 entries added under BALKANS-EO14033",
        "OFAC SDN List: 1 entry removed from BALKANS",
    }
    npwmd = proposals["OFAC SDN List: 3 entries added under NPWMD"]
    assert npwmd.status == ActionStatus.DRAFT and npwmd.kind == ActionKind.DESIGNATION
    assert npwmd.announced_on == datetime.date(2023, 10, 20)
    assert npwmd.authority.slug == "us-ofac"
    assert [p.code for p in npwmd.programs.all()] == ["NPWMD"]
    assert [d.name_as_listed for d in npwmd.designations.all()] == [
        "GENERAL TECHNOLOGY LIMITED",
        "BEIJING LUO LUO TECHNOLOGY DEVELOPMENT CO LTD",
        "CHANGZHOU UTEK COMPOSITE COMPANY LTD",
    ]
    source = npwmd.sources.get()
    assert source.kind == SourceKind.LIST_UPDATE
    assert source.published_on == datetime.date(2023, 10, 20)
    assert run.sha256 in source.notes and source.url == ""  # a file has no confirmed URL
    delisting = proposals["OFAC SDN List: 1 entry removed from BALKANS"]
    assert delisting.kind == ActionKind.DELISTING
    assert delisting.designations.get().role == DesignationRole.DELISTED
    assert ListEntry.objects.get(number="7703").removed_by == run
    assert not Action.objects.published().exists()


@pytestmark_db
def test_a_program_change_becomes_a_proposed_amendment():
    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")
    import_list("ofac-sdn-csv", OFAC / "sdn_2024-04-19_slice.csv")

    run = ImportRun.objects.first()
    change = run.changes.get(kind=ChangeKind.PROGRAMS)
    assert (change.name, change.programs_before, change.programs_after) == (
        "MINSK WHEEL TRACTOR PLANT",
        ["BELARUS-EO14038"],
        ["NPWMD", "BELARUS-EO14038"],
    )
    amendment = run.proposals.get(kind=ActionKind.AMENDMENT)
    assert amendment.title == "OFAC SDN List: 1 entry gain NPWMD"
    assert amendment.designations.get().role == DesignationRole.AMENDED
    additions = run.proposals.get(kind=ActionKind.DESIGNATION)
    assert additions.designations.count() == 3


@pytestmark_db
def test_an_older_file_is_refused_unless_forced():
    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")

    with pytest.raises(CommandError, match="older than the last import"):
        import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-18_slice.csv")
    refused = ImportRun.objects.first()
    assert refused.status == ImportStatus.FAILED and "--force" in refused.error
    assert ListEntry.objects.count() == 13 and not Action.objects.exists()

    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-18_slice.csv", "--force")
    forced = ImportRun.objects.first()
    assert forced.status == ImportStatus.COMPLETED and forced.forced
    assert forced.previous == ImportRun.objects.completed().last()  # not the refused run
    assert forced.changes.filter(kind=ChangeKind.ADDED).get().entry.number == "7703"


@pytestmark_db
def test_a_file_whose_entry_count_moves_by_more_than_half_is_refused_unless_forced(tmp_path):
    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")
    rows = (OFAC / "sdn_2023-10-20_slice.csv").read_bytes().split(b"\r\n")
    small = tmp_path / "sdn_2023-10-21.csv"
    small.write_bytes(b"\r\n".join(rows[:5]) + b"\r\n\x1a")

    with pytest.raises(CommandError, match="5 entries against 13"):
        import_list("ofac-sdn-csv", small)
    assert ListEntry.objects.filter(removed_by__isnull=True).count() == 13

    import_list("ofac-sdn-csv", small, "--force")
    assert ImportRun.objects.first().changes.filter(kind=ChangeKind.REMOVED).count() == 8


@pytestmark_db
def test_an_xml_file_whose_record_count_disagrees_is_refused_even_when_forced(tmp_path):
    wrong = tmp_path / "consolidated.xml"
    text = (OFAC / "consolidated_2018-04-06_slice.xml").read_text()
    wrong.write_text(text.replace("<Record_Count>5<", "<Record_Count>6<"))

    with pytest.raises(CommandError, match="states 6 records but holds 5"):
        import_list("ofac-xml", wrong, "--force")
    run = ImportRun.objects.get()
    assert (run.status, run.declared_count) == (ImportStatus.FAILED, 6)
    assert not ListEntry.objects.exists() and not Entity.objects.exists()


@pytestmark_db
def test_a_run_that_fails_midway_changes_nothing_and_records_why(tmp_path):
    bad = tmp_path / "sdn_2023-10-20.csv"
    text = (OFAC / "sdn_2023-10-20_slice.csv").read_bytes()
    bad.write_bytes(text.replace(b"\x1a", b'99999,"TRUNCATED ROW"\r\n\x1a'))

    with pytest.raises(CommandError, match="line 14: 2 columns, expected 12"):
        import_list("ofac-sdn-csv", bad)
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.FAILED and "line 14" in run.error
    assert run.finished_at is not None
    assert not Entity.objects.exists() and not ListEntry.objects.exists()
    assert not Identifier.objects.exists()


@pytestmark_db
def test_import_list_dispatches_ftm_to_its_importer(monkeypatch, tmp_path):
    calls = []

    def import_ftm(path, *, stdout, progress=True):
        calls.append((path, progress))
        return {"created": 2, "updated": 1, "skipped": 0}

    monkeypatch.setitem(RECORD_FORMATS, "ftm", import_ftm)
    data = tmp_path / "entities.ftm.json"
    data.write_text("{}\n")

    out = import_list("ftm", data)

    assert calls == [(data, False)]
    assert "entities.ftm.json: 2 created, 1 updated, 0 skipped" in out


def test_import_list_checks_its_arguments(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        import_list("un-xml", tmp_path / "missing.xml")
    with pytest.raises(CommandError, match="takes one file"):
        xml = OFAC / "consolidated_2018-04-06_slice.xml"
        import_list("un-xml", xml, xml)


# Entity matching ----------------------------------------------------------------------


@pytestmark_db
def test_an_entity_holding_the_entry_number_is_kept_and_completed_not_duplicated():
    gtl = make_entity(name="General Technology Limited", countries=["CN", "HK"])
    gtl.identifiers.create(scheme="ofac", value="45716")

    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")

    assert ListEntry.objects.get(number="45716").entity == gtl
    gtl.refresh_from_db()
    assert gtl.name == "General Technology Limited"  # an editor's name stays
    assert gtl.countries == ["CN", "HK"]
    assert gtl.aliases.get().name == "GENERAL TECHNOLOGY LIMITED"
    assert gtl.aliases.get().kind == AliasKind.LISTED
    assert set(gtl.identifiers.values_list("scheme", "value")) == {
        ("ofac", "45716"),
        ("registration", "2676701"),
    }
    assert Entity.objects.filter(name__iexact="general technology limited").count() == 1
    assert ImportRun.objects.get().updated == 1


@pytestmark_db
def test_an_entity_is_matched_by_its_normalised_name_when_only_one_bears_it():
    utek = make_entity(name="Changzhou Utek Composite Company, Ltd.")
    twins = [make_entity(name="Beijing Luo Luo Technology Development Co. Ltd") for _ in "ab"]
    parnia = make_entity(name="Parnia", kind=EntityKind.COMPANY)  # the entry is a vessel

    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")

    assert ListEntry.objects.get(number="45718").entity == utek
    assert utek.identifiers.get(scheme="ofac").value == "45718"
    assert ListEntry.objects.get(number="45717").entity not in twins  # ambiguous: a new one
    assert ListEntry.objects.get(number="25312").entity != parnia
    assert ListEntry.objects.get(number="25312").entity.kind == EntityKind.VESSEL


@pytestmark_db
def test_a_person_is_matched_by_the_words_of_a_name_or_alias_in_any_order():
    dodik = make_entity(name="Igor Dodik", kind=EntityKind.PERSON)
    ghoreishi = make_entity(name="Hojatollah Ghoreishi", kind=EntityKind.PERSON)
    ghoreishi.aliases.create(name="Seyed Hojatollah Ghoreishi", kind=AliasKind.AKA)
    index_names(entity_ids=[ghoreishi.pk])  # as the admin does after saving aliases
    longer = make_entity(name="Gorica Dodik Jovanovic", kind=EntityKind.PERSON)
    company = make_entity(name="Ghassem Damavandian", kind=EntityKind.COMPANY)

    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")

    assert ListEntry.objects.get(number="44802").entity == dodik  # "DODIK, Igor"
    assert ListEntry.objects.get(number="39096").entity == ghoreishi
    assert ListEntry.objects.get(number="44803").entity != longer  # "DODIK, Gorica"
    assert ListEntry.objects.get(number="40416").entity != company  # a person's name


@pytestmark_db
def test_an_imported_entity_follows_the_lists_renaming_but_an_editors_name_stays(tmp_path):
    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")
    curated = ListEntry.objects.get(number="45717").entity
    curated.name = "Beijing Luo Luo Technology Development Co., Ltd."
    curated.save()
    renamed = tmp_path / "sdn_2023-10-21.csv"
    text = (OFAC / "sdn_2023-10-20_slice.csv").read_bytes()
    text = text.replace(b"GENERAL TECHNOLOGY LIMITED", b"GENERAL TECHNOLOGY LTD")
    renamed.write_bytes(
        text.replace(b"BEIJING LUO LUO TECHNOLOGY DEVELOPMENT CO LTD", b"BEIJING LUO LUO TECH CO")
    )

    import_list("ofac-sdn-csv", renamed)

    assert ListEntry.objects.get(number="45716").entity.name == "GENERAL TECHNOLOGY LTD"
    curated.refresh_from_db()
    assert curated.name == "Beijing Luo Luo Technology Development Co., Ltd."
    assert curated.aliases.filter(name="BEIJING LUO LUO TECH CO", kind=AliasKind.LISTED).exists()
    assert ImportRun.objects.first().updated == 2


# The editors' review ------------------------------------------------------------------


def _staff(username, group):
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def _propose():
    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-18_slice.csv")
    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-20_slice.csv")
    return ProposedAction.objects.get(title__endswith="added under NPWMD")


@pytestmark_db
def test_editors_see_the_proposals_waiting_for_them(client):
    proposal = _propose()
    make_action(title="Something already published")
    client.force_login(_staff("editor1", "editor"))

    response = client.get("/admin/sanctions/proposedaction/")

    assert response.status_code == 200
    assert proposal.title in response.text
    assert "Something already published" not in response.text
    assert client.get(f"/admin/sanctions/proposedaction/{proposal.pk}/change/").status_code == 200
    runs = client.get("/admin/sanctions/importrun/")
    assert "5 added, 1 removed, 0 program changes" in runs.text
    run = proposal.proposed_by
    assert run.sha256 in client.get(f"/admin/sanctions/importrun/{run.pk}/change/").text
    entry = ListEntry.objects.get(number="45716")
    assert (
        "Registration Number 2676701"
        in client.get(f"/admin/sanctions/listentry/{entry.pk}/change/").text
    )  # the raw record
    assert client.get(f"/admin/sanctions/importrun/{run.pk}/delete/").status_code == 403


@pytestmark_db
def test_attaching_a_proposal_moves_its_designations_onto_the_announcement(client):
    proposal = _propose()
    gtl = proposal.designations.get(position=0).entity
    state = make_action(
        title="State designates three PRC suppliers of Pakistan's missile program",
        authority=make_authority(name="U.S. Department of State"),
        announced_on=datetime.date(2023, 10, 20),
        entities=[gtl],
        published=False,
    )
    client.force_login(_staff("editor1", "editor"))
    form = {"action": "attach_to_existing", "_selected_action": [proposal.pk]}

    page = client.post("/admin/sanctions/proposedaction/", form)
    assert page.status_code == 200 and "Existing action" in page.text
    found = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "sanctions",
            "model_name": "listchange",
            "field_name": "action",
            "term": "PRC",
        },
    ).json()
    assert [int(result["id"]) for result in found["results"]] == [state.pk]
    response = client.post(
        "/admin/sanctions/proposedaction/", form | {"apply": "yes", "target": state.pk}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/admin/sanctions/action/{state.pk}/change/"
    assert not Action.objects.filter(pk=proposal.pk).exists()
    assert state.designations.count() == 3
    assert state.designations.get(entity=gtl).name_as_listed == gtl.name  # the editor's stays
    assert state.sources.get().kind == SourceKind.LIST_UPDATE
    changes = ListChange.objects.filter(entry__number__in=["45716", "45717", "45718"])
    assert {change.action_id for change in changes} == {state.pk}


@pytestmark_db
def test_a_reviewer_publishes_a_proposal_from_the_queue_once_it_is_complete(client):
    proposal = _propose()
    client.force_login(_staff("reviewer1", "reviewer"))

    def publish():
        return client.post(
            "/admin/sanctions/proposedaction/",
            {"action": "publish", "_selected_action": [proposal.pk]},
            follow=True,
        )

    refused = publish().content.decode()
    assert "was not published: no legal basis" in refused
    assert "no official source with a URL" in refused
    proposal.refresh_from_db()
    assert not proposal.is_published

    proposal.legal_bases.add(make_legal_basis())
    proposal.sources.update(url="https://ofac.treasury.gov/recent-actions/20231020")
    response = publish()

    assert response.status_code == 200
    proposal.refresh_from_db()
    assert proposal.is_published and proposal.proposed_by is not None
    assert not ProposedAction.objects.filter(pk=proposal.pk, status=ActionStatus.DRAFT).exists()


@pytestmark_db
def test_an_editor_without_publish_rights_cannot_publish_a_proposal(client):
    proposal = _propose()
    client.force_login(_staff("editor1", "editor"))

    client.post(
        "/admin/sanctions/proposedaction/",
        {"action": "publish", "_selected_action": [proposal.pk]},
    )

    proposal.refresh_from_db()
    assert not proposal.is_published


# Acceptance, on the full real files ---------------------------------------------------


def _ground_truth(after: str) -> set[tuple[str, str]]:
    """(event, entry number) of the changes the ground truth dates to the later copy."""
    with open(SHARED / "ofac" / "sdn_changes_2021-08-18_to_2024-05-03.csv", newline="") as f:
        return {
            (row["event"], row["ent_num"])
            for row in csv.DictReader(f)
            if row["scrape_after_utc"].startswith(after)
        }


@needs_shared_data
@pytestmark_db
def test_the_2023_10_pair_proposes_exactly_the_additions_of_the_ground_truth():
    import_list("ofac-sdn-csv", SHARED / "ofac" / "sdn_scraped_2023-10-18T1843Z.csv")
    import_list("ofac-sdn-csv", SHARED / "ofac" / "sdn_scraped_2023-10-20T1843Z.csv")

    run = ImportRun.objects.first()
    found = {(c.kind, c.entry.number) for c in run.changes.select_related("entry")}
    expected = {
        ({"added": ChangeKind.ADDED, "removed": ChangeKind.REMOVED}.get(event, event), number)
        for event, number in _ground_truth("2023-10-20T18:43")
    }
    assert found == expected
    assert len([kind for kind, _ in found if kind == ChangeKind.ADDED]) == 9
    npwmd = run.proposals.get(title__endswith="added under NPWMD")
    assert sorted(npwmd.designations.values_list("entity__list_entries__number", flat=True)) == [
        "45716",
        "45717",
        "45718",
    ]
    assert run.proposals.filter(kind=ActionKind.DESIGNATION).count() == 2
    assert run.entry_count == 13165


@needs_shared_data
@pytestmark_db
def test_the_2024_04_pair_gives_six_additions_and_the_minsk_program_change():
    import_list("ofac-sdn-csv", SHARED / "ofac" / "sdn_scraped_2024-04-18T1843Z.csv")
    import_list("ofac-sdn-csv", SHARED / "ofac" / "sdn_scraped_2024-04-19T1843Z.csv")

    run = ImportRun.objects.first()
    found = {(c.kind, c.entry.number) for c in run.changes.select_related("entry")}
    expected = {
        ({"program_changed": ChangeKind.PROGRAMS}.get(event, event), number)
        for event, number in _ground_truth("2024-04-19T18:43")
    }
    assert found == expected
    assert sum(1 for kind, _ in found if kind == ChangeKind.ADDED) == 6
    minsk = run.proposals.get(kind=ActionKind.AMENDMENT)
    assert minsk.title == "OFAC SDN List: 1 entry gain NPWMD"
    assert minsk.designations.get().name_as_listed == "MINSK WHEEL TRACTOR PLANT"
    npwmd = run.proposals.get(title__endswith="added under NPWMD")
    assert npwmd.designations.count() == 3  # 48620-48622, the Pakistan missile suppliers


@needs_shared_data
@pytestmark_db
def test_the_consolidated_xml_imports_its_639_entries():
    import_list("ofac-xml", SHARED / "ofac" / "ofac_consolidated_nonsdn_2018-04-06.xml")

    run = ImportRun.objects.get()
    assert (run.list_name, run.declared_count, run.entry_count) == (
        ListName.OFAC_CONSOLIDATED,
        639,
        639,
    )
    assert ListEntry.objects.filter(list_name=ListName.OFAC_CONSOLIDATED).count() == 639


@needs_shared_data
@pytestmark_db
def test_the_un_list_imports_682_individuals_and_193_entities():
    import_list("un-xml", SHARED / "un" / "un_consolidated_2024-09-26.xml")

    entries = ListEntry.objects.filter(list_name=ListName.UN_CONSOLIDATED)
    assert entries.filter(entry_type="individual").count() == 682
    assert entries.filter(entry_type="entity").count() == 193
    assert entries.filter(programs__contains=["DPRK"]).count() == 155
    assert Identifier.objects.filter(scheme="un").count() == 875


@needs_shared_data
@pytestmark_db
def test_after_the_demo_data_general_technology_limited_stays_one_entity():
    from sanctions.demo import load_demo

    load_demo()
    gtl = Entity.objects.get(reference="general-technology-limited")
    before = Entity.objects.count()

    import_list("ofac-sdn-csv", SHARED / "ofac" / "sdn_2024-05-03.csv")

    assert Entity.objects.filter(name__iexact="general technology limited").count() == 1
    assert Alias.objects.filter(name__iexact="general technology limited").count() == 1
    assert ListEntry.objects.get(number="45716").entity == gtl
    assert set(gtl.identifiers.values_list("scheme", "value")) >= {
        ("ofac", "45716"),
        ("registration", "2676701"),
    }
    assert gtl.aliases.filter(kind=AliasKind.LISTED, name="GENERAL TECHNOLOGY LIMITED").exists()
    # Every demo entity holding an entry number of the file is that entry's entity.
    numbers = ListEntry.objects.values_list("number", flat=True)
    demo = Identifier.objects.filter(
        scheme="ofac", value__in=numbers, entity__reference__isnull=False
    )
    assert demo.count() > 10
    for identifier in demo:
        assert ListEntry.objects.get(number=identifier.value).entity_id == identifier.entity_id
    assert Entity.objects.count() == before + ImportRun.objects.get().created


@pytestmark_db
def test_a_proposals_instructions_for_editors_appear_nowhere_public(
    client, fresh_cache_and_storage
):
    proposal = _propose()
    assert proposal.editor_notes.startswith("Proposed by import run")
    assert proposal.notes == ""
    proposal.legal_bases.add(make_legal_basis())
    proposal.sources.update(url="https://ofac.treasury.gov/recent-actions/20231020")
    proposal.publish()
    ProposedAction.objects.filter(pk=proposal.pk).update(
        editor_notes=proposal.editor_notes + " Checked: complete this later."
    )

    public = [
        proposal.get_absolute_url(),
        f"/actions/{proposal.pk}/history/",
        f"/api/v1/actions/{proposal.pk}/",
        "/api/v1/actions/",
        # every export of actions the site offers (FtM's where followthemoney is installed)
        *(
            f"/exports/{name}"
            for name in ("actions.csv", "actions.json", "ftm.jsonl")
            if name in EXPORTS
        ),
        "/feeds/actions.atom",
        f"/actions/{proposal.pk}/cite.json",
    ]
    for url in public:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert proposal.title.encode() in body or url.startswith("/exports/ftm"), url
        assert b"Proposed by import run" not in body, url
        assert b"complete it" not in body, url


# Files that cannot be trusted: undated, cut short, not CSV ------------------------------


def sdn_csv(path: Path, rows: list[tuple]) -> Path:
    """An sdn.csv as OFAC writes it: 12 columns, `-0-` for empty, CRLF, a closing \\x1a."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for number, name, sdn_type, programs, remarks in rows:
        cells = [number, name, sdn_type or "-0- ", programs, *["-0- "] * 7, remarks or "-0- "]
        writer.writerow(cells)
    path.write_bytes(out.getvalue().encode() + b"\x1a")
    return path


def nothing_stored() -> bool:
    return not (ImportRun.objects.exists() or Entity.objects.exists() or ListEntry.objects.exists())


@pytestmark_db
def test_a_file_without_a_date_is_refused_unless_its_date_is_given(tmp_path):
    undated = tmp_path / "sdn.csv"
    undated.write_bytes((OFAC / "sdn_2023-10-18_slice.csv").read_bytes())

    with pytest.raises(CommandError, match="states no date.*--published-on YYYY-MM-DD"):
        import_list("ofac-sdn-csv", undated)
    assert nothing_stored()

    import_list("ofac-sdn-csv", undated, "--published-on", "2023-10-18")
    assert ImportRun.objects.get().published_on == datetime.date(2023, 10, 18)


@pytestmark_db
def test_a_file_cut_inside_a_quoted_field_is_refused_and_stores_nothing(tmp_path):
    text = (OFAC / "sdn_2023-10-20_slice.csv").read_bytes()
    cut = tmp_path / "sdn_2023-10-20.csv"
    cut.write_bytes(text[: text.rindex(b"NPWMD")])  # inside the last row's quoted program

    with pytest.raises(CommandError, match="truncated: its last line stops part-way inside"):
        import_list("ofac-sdn-csv", cut)
    assert nothing_stored()


@pytestmark_db
def test_a_file_without_the_end_mark_is_refused_unless_forced(tmp_path):
    text = (OFAC / "sdn_2023-10-20_slice.csv").read_bytes()
    unmarked = tmp_path / "sdn_2023-10-20.csv"
    unmarked.write_bytes(text.removesuffix(b"\x1a"))

    with pytest.raises(CommandError, match="lacks the end-of-file mark"):
        import_list("ofac-sdn-csv", unmarked)
    assert nothing_stored()
    import_list("ofac-sdn-csv", unmarked, "--force")
    assert ImportRun.objects.get().status == ImportStatus.COMPLETED


@pytestmark_db
def test_random_bytes_give_a_one_line_error(tmp_path):
    noise = tmp_path / "sdn_2024-01-01.csv"
    noise.write_bytes(bytes(range(256)) * 40)

    with pytest.raises(CommandError) as refused:
        import_list("ofac-sdn-csv", noise)
    assert "not a CSV text file" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytestmark_db
def test_a_large_share_of_removals_is_refused_unless_forced(tmp_path):
    rows = [(str(n), f"COMPANY {n} LTD", "", "NPWMD", "") for n in range(100, 113)]
    import_list("ofac-sdn-csv", sdn_csv(tmp_path / "sdn_2024-01-01.csv", rows))
    shrunk = sdn_csv(tmp_path / "sdn_2024-01-02.csv", rows[:7])

    with pytest.raises(CommandError, match="would remove 6 of the 13 entries"):
        import_list("ofac-sdn-csv", shrunk)
    assert ListEntry.objects.filter(removed_by__isnull=True).count() == 13

    import_list("ofac-sdn-csv", shrunk, "--force")
    assert ListEntry.objects.filter(removed_by__isnull=True).count() == 7


@pytestmark_db
def test_identifiers_two_entries_share_are_kept_on_both_and_alt_ones_are_read(tmp_path):
    remarks = "Registration Number 0912345 (Pakistan); alt. Registration Number 0998877 (Pakistan)"
    long_name = "NATIONAL " + "DEVELOPMENT " * 40 + "COMPLEX"
    rows = [
        ("52049", long_name, "", "NPWMD", remarks),
        ("52050", "AKHTAR AND SONS PRIVATE LIMITED", "", "NPWMD", "Registration Number 0912345"),
    ]

    import_list("ofac-sdn-csv", sdn_csv(tmp_path / "sdn_2024-12-18.csv", rows))

    ndc = ListEntry.objects.get(number="52049").entity
    akhtar = ListEntry.objects.get(number="52050").entity
    assert set(ndc.identifiers.filter(scheme="registration").values_list("value", flat=True)) == {
        "0912345",
        "0998877",
    }
    assert akhtar.identifiers.filter(scheme="registration", value="0912345").exists()
    assert ndc.name == long_name  # whole, not cut to a column's length
    assert ListEntry.objects.get(number="52049").name == long_name


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_mid_run_is_marked_failed_by_the_next_one(tmp_path):
    rows = [(str(n), f"COMPANY {n} LIMITED", "", "NPWMD", "") for n in range(1000, 61000)]
    big = sdn_csv(tmp_path / "sdn_2024-01-01.csv", rows)
    child = subprocess.Popen(
        manage("import_list", "ofac-sdn-csv", str(big), "--no-progress"),
        env=child_env(),
        cwd=BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not ImportRun.objects.filter(status=ImportStatus.RUNNING).exists():
            assert child.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    stale = ImportRun.objects.get()
    assert stale.status == ImportStatus.RUNNING  # what a killed process leaves behind

    import_list("ofac-sdn-csv", OFAC / "sdn_2023-10-18_slice.csv")

    stale.refresh_from_db()
    assert stale.status == ImportStatus.FAILED and stale.finished_at is not None
    assert "stopped before it finished" in stale.error
    assert ImportRun.objects.completed().count() == 1
    # Nothing of the killed run was kept.
    assert ListEntry.objects.count() == len(entries_of(OFAC / "sdn_2023-10-18_slice.csv"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-12-18", datetime.date(2024, 12, 18)),
        ("2024-12-18T09:30:00.123Z", datetime.date(2024, 12, 18)),
        ("2024-12", None),  # a partial date is no full date
        ("2024-13-01", None),
        ("", None),
        (None, None),
    ],
)
def test_iso_date_reads_the_full_date_a_value_begins_with(value, expected):
    assert reading.iso_date(value) == expected


def test_every_list_format_has_the_one_interface_import_list_uses():
    """import_list() and list_urls() treat the formats alike: none may differ."""
    import inspect

    from sanctions.importers import LIST_FORMATS, list_urls

    parameters = None
    for name, module in LIST_FORMATS.items():
        assert name == module.FORMAT
        assert isinstance(module.MANY_FILES, bool)
        signature = inspect.signature(module.import_run)
        assert list(signature.parameters)[0] == "paths"
        if parameters is not None:
            assert list(signature.parameters) == parameters, name
        parameters = list(signature.parameters)
    assert set(list_urls()) == set(ListName)
    for name, (format, url) in list_urls().items():
        assert LIST_FORMATS[format].URLS[name] == url


def test_a_one_file_format_refuses_two_files(tmp_path):
    from sanctions.importers import import_list as import_files

    with pytest.raises(reading.ImportRefused, match="un-xml takes one file"):
        import_files("un-xml", [tmp_path / "a.xml", tmp_path / "b.xml"])
