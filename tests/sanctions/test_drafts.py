"""Drafts proposed from documents: a Federal Register notice becomes a draft action with
every entity it lists; a statement or a news page proposes only what is on record."""

import base64
import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sanctions import drafts
from sanctions.models import (
    Action,
    ActionKind,
    ActionStatus,
    Authority,
    DesignationRole,
    Entity,
    Regime,
    SourceKind,
)

from .factories import make_authority, make_entity, make_legal_basis

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "federal_register"
NOTICE = (FIXTURES / "2023-03929.xml").read_bytes()
ARTICLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "articles"
PARTIES = {
    "CPUNTO Inc.": ["CA"],
    "Electronic Network Inc.": ["CA"],
    "AOOK Technology Ltd.": ["CN"],
    "Beijing Ti-Tech Science and Technology Development Co.": ["CN"],
    "Beijing Yunze Technology Co., Ltd.": ["CN"],
    "China HEAD Aerospace Technology Co.": ["CN", "FR", "NL"],
    "Spacety Co., Ltd.": ["CN", "LU"],
    "Dexias Industrial Products and Trade Limited Company": ["RU"],
    "Innovation and Technologies LLC": ["RU"],
    "Promtekhkomplekt JSC": ["RU"],
}


def test_a_federal_register_notice_becomes_a_draft_entity_list_addition(editor_client):
    make_authority(name="U.S. Department of Commerce, BIS", short_name="BIS")
    for name, citation, slug in [
        ("Export Control Reform Act of 2018", "50 U.S.C. 4801 et seq.", "ecra"),
        ("EAR, Entity List (15 CFR 744.11)", "15 CFR 744.11", "ear-entity-list"),
        ("EAR, military end users (15 CFR 744.21)", "15 CFR 744.21", "ear-meu"),
    ]:
        make_legal_basis(name=name, short_name=name[:60], citation=citation, slug=slug)
    spacety = make_entity(name="Spacety Co Ltd", countries=["CN"])
    entities_before = Entity.objects.count()
    url = "/admin/sanctions/action/from-document/"

    preview = editor_client.post(url, {"file": SimpleUploadedFile("rule.xml", NOTICE)})

    assert preview.status_code == 200
    page = preview.content.decode()
    assert "Federal Register document 2023-03929" in page
    assert "the document does not give its publication date" in page
    form = preview.context["draft_form"]
    assert form.initial["kind"] == ActionKind.ENTITY_LIST_ADDITION
    assert form.initial["authority"] == Authority.objects.get(short_name="BIS")

    created = editor_client.post(
        url,
        {
            "document": base64.b64encode(NOTICE).decode(),
            "create": "1",
            "title": "BIS adds 10 entities to the Entity List",
            "authority": form.initial["authority"].pk,
            "kind": ActionKind.ENTITY_LIST_ADDITION,
            "regime": Regime.BIS_ENTITY_LIST,
            "announced_on": "2023-02-27",
            "effective_on": "2023-02-24",
        },
    )

    action = Action.objects.get(title="BIS adds 10 entities to the Entity List")
    assert created["Location"] == f"/admin/sanctions/action/{action.pk}/change/"
    assert (action.status, action.kind, action.regime) == (
        ActionStatus.DRAFT,
        ActionKind.ENTITY_LIST_ADDITION,
        Regime.BIS_ENTITY_LIST,
    )
    assert str(action.effective_on) == "2023-02-24"
    assert action.announced_entity_count == 10
    assert action.document_numbers == ["2023-03929"]
    designations = action.designations.select_related("entity").order_by("position")
    assert {d.name_as_listed: d.entity.countries for d in designations} == PARTIES | {
        "Spacety Co., Ltd.": ["CN"]  # matched to the entity on record, which keeps its own
    }
    assert {d.role for d in designations} == {DesignationRole.LISTED}
    assert designations.get(name_as_listed="Spacety Co., Ltd.").entity == spacety
    assert Entity.objects.count() == entities_before + 9
    head = Entity.objects.get(name="China HEAD Aerospace Technology Co.")
    assert "HEAD Aerospace Netherlands" in set(head.aliases.values_list("name", flat=True))
    source = action.sources.get()
    assert (source.kind, source.url) == (
        SourceKind.FEDERAL_REGISTER,
        "https://www.federalregister.gov/d/2023-03929",
    )
    assert source.document_number == "2023-03929"
    assert set(action.legal_bases.values_list("slug", flat=True)) == {"ear-entity-list", "ecra"}
    assert "Spacety Co., Ltd. → Spacety Co Ltd" in action.editor_notes
    assert action.publication_problems() == []


def test_a_notice_already_recorded_is_flagged_and_its_entities_found(demo_record, editor_client):
    recorded = Action.objects.get(sources__document_number="2023-03929")

    preview = editor_client.post(
        "/admin/sanctions/action/from-document/", {"text": NOTICE.decode()}
    )

    page = preview.content.decode()
    assert "Already recorded?" in page
    assert f"/admin/sanctions/action/{recorded.pk}/change/" in page
    proposal = preview.context["proposal"]
    on_record = {d.entity for d in recorded.designations.all()}
    assert {party.entity for party in proposal.parties} == on_record
    assert proposal.new_parties == []


def test_a_statement_proposes_the_legal_bases_and_entities_on_record_it_names(demo_record):
    statement = (
        b"Today the Department of State is designating the National Development Complex and "
        b"three suppliers, Akhtar and Sons Private Limited, Affiliates International and "
        b"Rockside Enterprise, pursuant to Executive Order 13382. Also named: Acme Widgets."
    )

    proposal = drafts.propose(statement)

    assert proposal.notice is None
    assert [basis.slug for basis in proposal.legal_bases] == ["eo-13382"]
    assert {party.entity.name for party in proposal.parties} == {
        "National Development Complex",
        "Akhtar and Sons Private Limited",
        "Affiliates International",
        "Rockside Enterprise",
    }
    assert proposal.new_parties == []  # "Acme Widgets" is not on record: not proposed


@pytest.mark.skipif(not ARTICLES.is_dir(), reason=f"the news pages are read from {ARTICLES}")
@pytest.mark.parametrize("page", sorted(ARTICLES.glob("*.html")), ids=lambda p: p.name)
def test_news_pages_propose_no_invented_entity(demo_record, page):
    entities_before = Entity.objects.count()
    authority = Authority.objects.get(short_name="State")

    proposal = drafts.propose(page.read_bytes())
    action = drafts.create_draft(
        proposal,
        title=proposal.title or page.name,
        authority=authority,
        kind=ActionKind.STATEMENT,
        regime="",
        announced_on=proposal.published_on or datetime.date(2024, 1, 1),
        effective_on=None,
        gazetted_on=None,
    )

    assert proposal.notice is None
    assert proposal.new_parties == []
    assert Entity.objects.count() == entities_before
    assert all(d.role == DesignationRole.NAMED for d in action.designations.all())
