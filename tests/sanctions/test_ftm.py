"""FollowTheMoney: /exports/ftm.jsonl is valid FtM, and imports back into the same records."""

import datetime
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

# The FtM export and import need followthemoney (requirements-ftm.txt), which `make
# install` adds where PyICU builds; test_without_ftm.py shows the tracker without it.
model = pytest.importorskip("followthemoney").model

from sanctions import ftm_mapping
from sanctions.importers.ftm import import_ftm
from sanctions.importers.reading import ListFormatError
from sanctions.models import (
    Action,
    Alias,
    AliasKind,
    Article,
    Authority,
    Designation,
    Entity,
    Identifier,
    Jurisdiction,
    LegalBasis,
    Outlet,
    Program,
    Relation,
    RelationKind,
)
from sanctions.search import index_names

from .factories import (
    make_action,
    make_article,
    make_authority,
    make_entity,
    make_legal_basis,
    make_source,
    wipe,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache_and_storage")]

SAMPLE = Path(__file__).resolve().parents[3] / "shared/data/ftm/yente_fixture_t1_entities.ftm.json"
needs_sample = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"{SAMPLE} is absent")


@pytest.fixture
def record():
    """Published actions touching every part of the mapping, and a draft that must not show."""
    state = make_authority(name="U.S. Department of State", jurisdiction=Jurisdiction.US)
    un = make_authority(name="UN Security Council 1718 Committee", jurisdiction=Jurisdiction.UN)
    other = make_authority(name="Some Ministry", jurisdiction=Jurisdiction.OTHER)
    eo = make_legal_basis(name="Executive Order 13382", short_name="E.O. 13382")
    aeca = make_legal_basis(name="Arms Export Control Act, section 73", short_name="AECA 73")
    inksna = make_legal_basis(name="INKSNA", short_name="INKSNA")

    ndc = make_entity(
        name="National Development Complex", kind="state_body", countries=["PK"],
        reference="ndc-pakistan", description="Pakistan's missile developer.",
    )  # fmt: skip
    Alias.objects.create(entity=ndc, name="NDC", kind=AliasKind.AKA)
    Alias.objects.create(entity=ndc, name="نیشنل ڈویلپمنٹ کمپلیکس", kind=AliasKind.ORIGINAL)
    Alias.objects.create(entity=ndc, name="NDC Old Name", kind=AliasKind.FKA)
    Identifier.objects.create(entity=ndc, scheme="ofac", value="41234", country="US")
    company = make_entity(name="Beijing Luo Luo", kind="company", countries=["CN"])
    Alias.objects.create(entity=company, name="北京洛洛科技", kind=AliasKind.LISTED)
    Alias.objects.create(entity=company, name="Luo Luo", kind=AliasKind.WEAK)
    Identifier.objects.create(entity=company, scheme="registration", value="9111-0108")
    Identifier.objects.create(entity=company, scheme="passport", value="P-1")
    person = make_entity(name="Ivan Petrov", kind="person", countries=["RU", "BY"])
    Alias.objects.create(entity=person, name="Иван Петров")
    Identifier.objects.create(entity=person, scheme="passport", value="RU-77")
    Identifier.objects.create(entity=person, scheme="imo", value="IMO-NOT-A-SHIP")
    vessel = make_entity(name="Ocean Star", kind="vessel", countries=["KP"], reference="bad_ref")
    Identifier.objects.create(entity=vessel, scheme="imo", value="9074729")
    Identifier.objects.create(entity=vessel, scheme="registration", value="KP-1")
    wrong = make_entity(name="Sea Breeze", kind="vessel", countries=["KP"])
    Identifier.objects.create(entity=wrong, scheme="imo", value="9123456")  # bad check digit
    plane = make_entity(name="EP-ABC", kind="aircraft", countries=["IR"])
    organization = make_entity(name="=Front Org", kind="organization", countries=[])
    hidden = make_entity(name="Named only in a draft")

    Relation.objects.create(subject=ndc, object=organization, kind=RelationKind.SUBSIDIARY_OF)
    Relation.objects.create(
        subject=company, object=ndc, kind=RelationKind.SUPPLIER_TO, description="Supplied."
    )
    Relation.objects.create(subject=company, object=hidden, kind=RelationKind.FRONT_FOR)

    designation = make_action(
        title="Designation of NDC and three suppliers", authority=state,
        entities=[ndc, company, organization], legal_bases=[eo, aeca],
        announced_on=datetime.date(2024, 12, 18), effective_on=datetime.date(2024, 12, 19),
        gazetted_on=datetime.date(2024, 12, 23), document_numbers=["89 FR 104612"],
        reference="2024-12-18-state-ndc",
    )  # fmt: skip
    designation.programs.add(Program.objects.create(code="NPWMD", name="Nonproliferation"))
    Designation.objects.filter(action=designation, entity=company).update(
        name_as_listed="BEIJING LUO LUO TECHNOLOGY", reason="Supplied equipment.",
        measures="blocking", legal_basis=inksna,
    )  # fmt: skip
    make_source(designation, url="https://www.state.gov/ndc")
    make_source(designation, title="Fact sheet")  # URL not confirmed
    delisting = make_action(
        title="Delisting", authority=un, kind="delisting",
        entities=[person, vessel, wrong, plane],
        announced_on=datetime.date(2023, 5, 1),
    )  # fmt: skip
    Designation.objects.filter(action=delisting).update(role="delisted")
    make_action(title="Other", authority=other, entities=[plane], legal_bases=[inksna])
    draft = make_action(title="Draft", entities=[hidden, ndc], published=False)

    reuters = Outlet.objects.create(name="Reuters")
    article = make_article(
        actions=[designation], headline="U.S. sanctions Pakistan missile developer",
        outlet=reuters, language="en", author="A. Reporter", excerpt="Washington...",
    )  # fmt: skip
    article.entities.add(ndc, hidden)
    make_article(actions=[delisting], url="https://news.example/delisted", language="")
    make_article(actions=[draft], headline="About the draft only")
    index_names()  # the aliases above, as the admin indexes what it saves


def export(client, query="") -> list[dict]:
    response = client.get(f"/exports/ftm.jsonl{query}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def by_id(records):
    return {r["id"]: r for r in records}


def test_every_record_is_valid_followthemoney(client, record):
    records = export(client)

    assert len(by_id(records)) == len(records), "ids are unique"
    for data in records:
        schema = model.get(data["schema"])
        assert schema is not None and not schema.abstract
        proxy = model.get_proxy(data, cleaned=False)  # parses and cleans every value
        assert proxy.to_dict() == data, f"FtM changed {data['id']} when cleaning it"
        assert schema.validate(data) is None
        for name in schema.required:
            assert data["properties"].get(name), f"{data['id']} lacks {name}"


def test_every_reference_points_to_a_record_of_the_file(client, record):
    records = export(client)
    ids = by_id(records)

    for data in records:
        proxy = model.get_proxy(data)
        for prop, value in proxy.itervalues():
            if prop.type.name == "entity":
                assert value in ids, f"{data['id']}.{prop.name} -> {value} is not in the file"
    sanctions = [r for r in records if r["schema"] == "Sanction"]
    assert len(sanctions) == Designation.objects.filter(action__status="published").count()
    assert all(ids[s["properties"]["entity"][0]]["schema"] != "Sanction" for s in sanctions)


def test_entities_map_to_their_schemata_with_names_countries_and_identifiers(client, record):
    records = export(client)
    entities = {r["properties"]["name"][0]: r for r in records if "name" in r["properties"]}

    assert {name: r["schema"] for name, r in entities.items()} == {
        "National Development Complex": "PublicBody",
        "Beijing Luo Luo": "Company",
        "Ivan Petrov": "Person",
        "Ocean Star": "Vessel",
        "Sea Breeze": "Vessel",
        "EP-ABC": "Airplane",
        "=Front Org": "Organization",
    }
    ndc = entities["National Development Complex"]
    assert ndc["id"] == "ndc-pakistan"
    assert ndc["properties"]["alias"] == ["NDC", "نیشنل ڈویلپمنٹ کمپلیکس"]
    assert ndc["properties"]["previousName"] == ["NDC Old Name"]
    assert ndc["properties"]["country"] == ["pk"]
    company = entities["Beijing Luo Luo"]["properties"]
    assert company["registrationNumber"] == ["9111-0108"]
    assert company["weakAlias"] == ["Luo Luo"]
    assert entities["Ocean Star"]["properties"]["imoNumber"] == ["IMO9074729"]
    assert entities["Ocean Star"]["id"].startswith("st-entity-")  # "bad_ref" is no FtM id
    assert entities["Ivan Petrov"]["properties"]["passportNumber"] == ["RU-77"]
    identifications = {
        r["properties"]["number"][0]: r["properties"]
        for r in records
        if r["schema"] == "Identification"
    }
    assert identifications["41234"]["type"] == ["OFAC SDN entry number"]
    assert identifications["41234"]["holder"] == ["ndc-pakistan"]
    assert identifications["P-1"]["type"] == ["Passport number"]  # a Company has no passport
    assert identifications["9123456"]["type"] == ["IMO number"]  # refused by imoNumber
    assert "Named only in a draft" not in json.dumps(records, ensure_ascii=False)


def test_each_designation_is_a_sanction_with_the_actions_facts(client, record):
    records = export(client)
    sanctions = {
        r["properties"]["entity"][0]: r["properties"] for r in records if r["schema"] == "Sanction"
    }

    ndc = sanctions["ndc-pakistan"]
    assert ndc["authority"] == ["U.S. Department of State"]
    assert ndc["country"] == ["us"]
    assert ndc["program"] == ["NPWMD"]
    assert ndc["provisions"] == [
        "Legal basis: Arms Export Control Act, section 73",
        "Legal basis: Executive Order 13382",
    ]
    assert ndc["listingDate"] == ["2024-12-18"]
    assert ndc["startDate"] == ["2024-12-19"]
    assert ndc["date"] == ["2024-12-23"]
    assert ndc["authorityId"] == ["89 FR 104612"]
    assert ndc["sourceUrl"] == ["https://www.state.gov/ndc"]
    assert ndc["recordId"] == ["2024-12-18-state-ndc"]
    assert ndc["status"] == ["Designation", "Listed (designated or added)"]
    company = next(v for k, v in sanctions.items() if k != "ndc-pakistan" and "reason" in v)
    assert company["provisions"] == ["blocking", "Legal basis: INKSNA"]
    assert company["reason"] == ["Supplied equipment."]
    assert company["namesMentioned"] == ["BEIJING LUO LUO TECHNOLOGY"]
    delisted = [
        r["properties"]
        for r in records
        if r["schema"] == "Sanction" and "Removed" in r["properties"]["status"]
    ]
    assert len(delisted) == 4
    assert delisted[0]["country"] == ["un"]
    assert delisted[0]["status"] == ["Delisting", "Removed"]


def test_articles_are_linked_to_entities_by_documentation(client, record):
    records = export(client)
    articles = [r for r in records if r["schema"] == "Article"]
    links = [r["properties"] for r in records if r["schema"] == "Documentation"]

    assert len(articles) == 2  # the draft's article is not public
    main = next(a for a in articles if a["properties"]["publisher"] == ["Reuters"])
    assert main["properties"]["language"] == ["eng"]
    assert main["properties"]["title"] == ["U.S. sanctions Pakistan missile developer"]
    about_main = [link for link in links if link["document"] == [main["id"]]]
    assert sorted(link["role"][0] for link in about_main) == ["Mentioned"] + ["Reports"] * 3
    assert {link["entity"][0] for link in about_main if link["role"] == ["Mentioned"]} == {
        "ndc-pakistan"
    }


def test_relations_between_exported_entities_become_ownership_and_links(client, record):
    records = export(client)

    ownership = [r["properties"] for r in records if r["schema"] == "Ownership"]
    links = [r["properties"] for r in records if r["schema"] == "UnknownLink"]
    assert ownership == [
        {"owner": ownership[0]["owner"], "asset": ["ndc-pakistan"], "role": ["subsidiary of"]}
    ]
    assert len(links) == 1  # the link to the draft-only entity is left out
    assert links[0]["role"] == ["supplier to"]
    assert links[0]["description"] == ["Supplied."]


def test_a_filtered_export_holds_only_what_its_actions_name(client, record):
    records = export(client, "?authority=" + Authority.objects.get(jurisdiction="UN").slug)

    schemata = sorted(r["schema"] for r in records)
    assert schemata.count("Sanction") == 4
    assert "PublicBody" not in schemata
    ids = by_id(records)
    for data in records:
        for prop, value in model.get_proxy(data).itervalues():
            if prop.type.name == "entity":
                assert value in ids


def write(tmp_path, records, name="export.ftm.json") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def test_export_then_import_into_an_empty_database_then_export_gives_the_same_records(
    client, record, tmp_path
):
    first = export(client)
    path = write(tmp_path, first)
    wipe()
    assert export(client) == []

    counts = import_ftm(path, stdout=io.StringIO(), progress=False)
    second = export(client)

    # Every record is new, but an article covering an action shows as one Documentation
    # per entity of the action: the first creates the coverage, the others skip.
    assert counts["updated"] == 0
    assert counts["created"] + counts["skipped"] == len(first)
    assert counts["skipped"] == 2 + 3
    assert by_id(second) == by_id(first)
    assert Action.objects.get(reference="2024-12-18-state-ndc").is_published


def test_importing_the_same_file_again_changes_nothing(client, record, tmp_path):
    path = write(tmp_path, export(client))
    wipe()
    import_ftm(path, stdout=io.StringIO(), progress=False)
    tables = [Entity, Alias, Identifier, Action, Designation, Article, Relation, LegalBasis]
    before = {m.__name__: m.objects.count() for m in tables}

    counts = import_ftm(path, stdout=io.StringIO(), progress=False)

    assert counts["created"] == counts["updated"] == 0
    assert counts["skipped"] == len(path.read_text().splitlines())
    assert {m.__name__: m.objects.count() for m in tables} == before


def test_an_existing_entity_gains_names_and_identifiers_but_keeps_its_name(tmp_path):
    entity = make_entity(name="Editors' name", reference="NK-1", countries=["CN"])
    path = write(
        tmp_path,
        [
            {
                "id": "NK-1",
                "schema": "Company",
                "properties": {"name": ["List name"], "taxNumber": ["7701"], "country": ["ru"]},
            }
        ],
    )

    counts = import_ftm(path, stdout=io.StringIO(), progress=False)

    entity.refresh_from_db()
    assert counts == {"created": 0, "updated": 1, "skipped": 0}
    assert (entity.name, entity.countries) == ("Editors' name", ["CN"])
    assert list(entity.aliases.values_list("name", flat=True)) == ["List name"]
    assert list(entity.identifiers.values_list("scheme", "value")) == [("tax", "7701")]


def test_a_record_of_a_merged_entity_lands_on_the_entity_it_was_merged_into(tmp_path):
    from sanctions.merge import merge_entities

    survivor = make_entity(name="Changzhou Utek Composite Company Ltd")
    loser = make_entity(name="Changzhou Utek", reference="NK-2")
    merge_entities(survivor=survivor, loser=loser)
    path = write(
        tmp_path,
        [{"id": "NK-2", "schema": "Company", "properties": {"name": ["CHANGZHOU UTEK CO"]}}],
    )

    import_ftm(path, stdout=io.StringIO(), progress=False)

    assert "CHANGZHOU UTEK CO" in set(survivor.aliases.values_list("name", flat=True))
    assert not loser.aliases.exists()


@needs_sample
def test_it_imports_the_real_opensanctions_sample_idempotently():
    out = io.StringIO()

    first = import_ftm(SAMPLE, stdout=out, progress=False)
    second = import_ftm(SAMPLE, stdout=io.StringIO(), progress=False)

    assert first == {"created": 6, "updated": 0, "skipped": 1}  # the Address is skipped
    assert second == {"created": 0, "updated": 0, "skipped": 7}
    tobacco = Entity.objects.get(reference="NK-2GdmHtZTeNXjNVrBGEXZNj")
    assert tobacco.kind == "organization"
    assert tobacco.name == "RAB „Inter Tobacco“"
    assert tobacco.countries == ["BY"]
    assert tobacco.identifiers.get().value == "808000714"
    assert "Общество с ограниченной ответственностью “Интер Тобако”" in set(
        tobacco.aliases.values_list("name", flat=True)
    )
    assert tobacco.aliases.get(name__startswith="Общество").script == "Cyrl"
    kuzmenko = Entity.objects.get(reference="NK-2Ka3UvopqbpZmVDFjWd4LA")
    assert (kuzmenko.kind, kuzmenko.name) == ("person", "Vitaly Yurievich KUZMENKO")
    assert kuzmenko.countries == ["RU"]  # from nationality
    assert list(kuzmenko.identifiers.values_list("scheme", "value")) == [("tax", "366510784303")]
    assert not Entity.objects.visible().exists()  # no published action names them yet


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"id": "x", "schema": "Company", "properties": {"name": ["A"]', "not JSON"),
        ('{"id": "x", "schema": "Spaceship", "properties": {}}', "unknown FtM schema"),
        ('{"schema": "Company", "properties": {}}', "not an FtM entity"),
        ('["a list"]', "not an FtM entity"),
        ('{"id": "x", "schema": "Company", "properties": []}', "properties must be an object"),
    ],
)
def test_a_malformed_line_is_named_and_nothing_is_stored(tmp_path, bad_line, message):
    good = '{"id": "ok-1", "schema": "Company", "properties": {"name": ["Good Co"]}}'
    path = tmp_path / "bad.ftm.json"
    path.write_text(f"{good}\n\n{bad_line}\n")

    with pytest.raises(ListFormatError, match=rf"bad.ftm.json line 3: {message}"):
        import_ftm(path, stdout=io.StringIO(), progress=False)

    assert not Entity.objects.exists()


def test_import_list_ftm_runs_the_importer_and_prints_the_summary(client, record, tmp_path):
    path = write(tmp_path, export(client))
    wipe()
    out = io.StringIO()

    call_command("import_list", "ftm", str(path), "--no-progress", stdout=out)

    assert f"{path.name}: " in out.getvalue()
    assert "created, 0 updated, 5 skipped" in out.getvalue()
    assert Entity.objects.filter(reference="ndc-pakistan").exists()


def test_ids_are_stable_digests_of_natural_keys():
    assert ftm_mapping.make_id("article", "https://a.example/") == ftm_mapping.make_id(
        "article", "https://a.example/"
    )
    assert ftm_mapping.entity_id(5, None) == "st-entity-5"
    assert ftm_mapping.entity_id(5, "NK-abc") == "NK-abc"
    assert ftm_mapping.entity_id(5, "not valid") == ftm_mapping.make_id("entity", "not valid")
    assert ftm_mapping.action_key(7, None) == "st-action-7"


@pytest.mark.parametrize(
    "value", ["NK-abc", "st-entity-5", "a", "a.b-c", "not valid", "-a", "a-", "ü", "", "a_b"]
)
def test_an_id_is_valid_as_followthemoney_checks_it(value):
    """ftm_mapping keeps FtM's id rule so that record.json has its ids without FtM."""
    entity_type = model.get("Thing").properties["sanctions"].type

    assert ftm_mapping.ENTITY_ID.pattern == entity_type.REGEX_RAW
    assert ftm_mapping.is_valid_id(value) == (entity_type.clean(value) == value)


def test_import_list_ftm_names_the_malformed_line(tmp_path):
    path = tmp_path / "broken.ftm.json"
    path.write_text('{"id": "a", "schema": "Company", "properties": {"name": ["A"]}}\n{oops\n')

    with pytest.raises((ListFormatError, CommandError), match="broken.ftm.json line 2: not JSON"):
        call_command("import_list", "ftm", str(path), "--no-progress", stdout=io.StringIO())

    assert not Entity.objects.exists()


@needs_sample
def test_the_progress_bar_goes_to_stderr(capsys):
    counts = import_ftm(SAMPLE, stdout=io.StringIO(), progress=True)

    assert counts["created"] == 6
    assert "yente_fixture_t1_entities.ftm.json (links)" in capsys.readouterr().err


@pytest.mark.django_db
def test_imported_entities_are_found_by_name_search(tmp_path):
    from sanctions.search import match_names

    path = tmp_path / "one.ftm.json"
    path.write_text(
        json.dumps(
            {
                "id": "ofac-12345",
                "schema": "Company",
                "properties": {"name": ["Granpect Co. Ltd."], "alias": ["格兰佩克"]},
            }
        )
        + "\n"
    )
    call_command("import_list", "ftm", str(path), stdout=io.StringIO())

    [match] = match_names("Granpect Company")
    assert match.name == "Granpect Co. Ltd."


@pytest.mark.django_db
def test_a_malformed_ftm_file_gives_a_one_line_error(tmp_path):
    path = tmp_path / "bad.ftm.json"
    path.write_text('{"id": "x", "schema": "Company", "properties": {}}\n{not json\n')

    with pytest.raises(CommandError, match="line 2"):
        call_command("import_list", "ftm", str(path), stdout=io.StringIO())


def test_a_sanction_that_ended_in_2016_does_not_list_the_entity_in_2020(client, tmp_path):
    path = write(
        tmp_path,
        [
            {
                "id": "NK-ended",
                "schema": "Company",
                "properties": {"name": ["Ended Trading Co"], "country": ["ir"]},
            },
            {
                "id": "sanction-ended",
                "schema": "Sanction",
                "properties": {
                    "entity": ["NK-ended"],
                    "authority": ["Council of the European Union"],
                    "country": ["eu"],
                    "listingDate": ["2010-07-27"],
                    "startDate": ["2010-07-27"],
                    "endDate": ["2016-01-16"],
                    "program": ["Iran"],
                },
            },
        ],
    )

    import_ftm(path, stdout=io.StringIO(), progress=False)

    entity = Entity.objects.get(reference="NK-ended")
    page = client.get(f"/entities/{entity.pk}/", {"as_of": "2020-01-01"}).content.decode()
    status = page.split('id="status-heading"')[1].split("</section>")[0]
    assert "measures expired" in status and "16 Jan 2016" in status
    assert 'class="status-listed"' not in status
    api = client.get(f"/api/v1/entities/{entity.pk}/", {"as_of": "2020-01-01"}).json()
    assert [(s["status"], s["since"]) for s in api["status"]] == [("expired", "2016-01-16")]
    earlier = client.get(f"/api/v1/entities/{entity.pk}/", {"as_of": "2015-01-01"}).json()
    assert [s["status"] for s in earlier["status"]] == ["listed"]
