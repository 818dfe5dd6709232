"""The editor's desk: finding entities before creating them, catching duplicates,
publishing from the form, previewing drafts, coverage URLs and uploads on one page."""

import datetime
import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sanctions import coverage
from sanctions.models import (
    Action,
    ActionStatus,
    Article,
    Entity,
    FetchJob,
    FetchStatus,
    Identifier,
    IdentifierScheme,
)

from .factories import inline_management, make_action, make_authority, make_entity, make_staff
from .newsserver import article_html

pytestmark = pytest.mark.django_db

AUTOCOMPLETE = "/admin/autocomplete/"


def _autocomplete(client, term, *, model="designation", field="entity"):
    response = client.get(
        AUTOCOMPLETE,
        {"term": term, "app_label": "sanctions", "model_name": model, "field_name": field},
    )
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("Natinal Developmnt", "National Development Complex"),
        ("Akhtar & Sons", "Akhtar and Sons Private Limited"),
        ("Changzou Utek", "Changzhou Utek Composite Company Ltd"),
        ("西安龙德", "Xi'an Longde Technology Development Company Limited"),
    ],
)
def test_the_designation_entity_picker_finds_entities_by_typo_or_chinese_name(
    demo_record, editor_client, term, expected
):
    results = _autocomplete(editor_client, term)

    assert results, f"nothing found for {term!r}"
    assert results[0]["text"].startswith(expected)


@pytest.mark.parametrize(("model", "field"), [("relation", "object"), ("article", "entities")])
def test_every_entity_picker_searches_names_the_same_way(demo_record, editor_client, model, field):
    results = _autocomplete(editor_client, "Natinal Developmnt", model=model, field=field)

    assert results[0]["text"].startswith("National Development Complex")


def test_picker_results_show_kind_country_and_identifiers(demo_record, editor_client):
    longde = Entity.objects.get(name__startswith="Xi'an Longde")

    (first, *_) = _autocomplete(editor_client, "Xi'an Longde")

    assert first["id"] == str(longde.pk)
    assert first["text"] == (
        "Xi'an Longde Technology Development Company Limited · Company · CN"
        " · OFAC SDN entry number 48620 · Company registration number 91610131742838531E"
    )


def _new_entity(name, **fields):
    return {
        "name": name,
        "kind": "company",
        "countries": "CN",
        **inline_management("aliases"),
        **inline_management("identifiers"),
        **inline_management("relations"),
        **fields,
    }


def test_the_name_field_lists_close_entities_while_the_editor_types(editor_client):
    existing = make_entity(name="Changzhou Utek Composite Company Ltd")

    response = editor_client.get(
        "/admin/sanctions/entity/similar/", {"name": "Changzou Utek", "_popup": "1"}
    )

    (result,) = response.json()["results"]
    assert result["text"].startswith("Changzhou Utek Composite Company Ltd")
    assert result["use_url"] == (
        f"/admin/sanctions/entity/{existing.pk}/use/?_popup=1&_to_field=id"
    )
    assert editor_client.get(
        "/admin/sanctions/entity/similar/", {"name": "Minsk Wheel Tractor"}
    ).json() == {"results": []}


def test_use_this_one_picks_the_existing_entity_in_the_pickers_popup(editor_client):
    existing = make_entity(name="Changzhou Utek Composite Company Ltd")

    response = editor_client.get(
        f"/admin/sanctions/entity/{existing.pk}/use/", {"_popup": "1", "_to_field": "id"}
    )

    assert response.status_code == 200
    assert response.context["popup_response_data"] == json.dumps(
        {"value": str(existing.pk), "obj": existing.name}
    )
    opened = editor_client.get(f"/admin/sanctions/entity/{existing.pk}/use/")
    assert opened["Location"] == f"/admin/sanctions/entity/{existing.pk}/change/"


def test_an_identifier_another_entity_holds_is_caught_before_saving(editor_client):
    holder = make_entity(name="Beijing Luo Luo Technology Development Co Ltd")
    Identifier.objects.create(entity=holder, scheme=IdentifierScheme.TAX, value="9111")
    Identifier.objects.create(entity=holder, scheme=IdentifierScheme.OFAC_ENT_NUM, value="45717")
    tax = {
        **inline_management("identifiers", total=1),
        "identifiers-0-scheme": "tax",
        "identifiers-0-value": "9111",
    }

    warned = editor_client.post("/admin/sanctions/entity/add/", _new_entity("BLL", **tax))
    saved = editor_client.post(
        "/admin/sanctions/entity/add/", _new_entity("BLL", **tax, not_a_duplicate="1")
    )

    assert warned.status_code == 200
    assert f"/admin/sanctions/entity/{holder.pk}/change/" in warned.content.decode()
    assert saved.status_code == 302
    listed = tax | {"identifiers-0-scheme": "ofac", "identifiers-0-value": "45717"}
    refused = editor_client.post(
        "/admin/sanctions/entity/add/", _new_entity("BLL 2", **listed, not_a_duplicate="1")
    )
    assert refused.status_code == 200  # a list entry number is one entity's, whatever is ticked
    assert "belongs to one entity" in refused.content.decode()
    assert not Entity.objects.filter(name="BLL 2").exists()


def _new_action(authority, entities, **fields):
    data = {
        "title": "State designates suppliers again",
        "kind": "designation",
        "regime": "ofac_sdn",
        "authority": authority.pk,
        "announced_on": "2024-04-19",
        "document_numbers": "",
        "summary": "",
        "notes": "",
        "reference": "",
        "editor_notes": "",
        **inline_management("designations", total=len(entities)),
        **inline_management("sources"),
        **inline_management("coverage"),
    }
    for n, entity in enumerate(entities):
        data |= {
            f"designations-{n}-entity": entity.pk,
            f"designations-{n}-role": "listed",
            f"designations-{n}-position": n,
        }
    return data | fields


def test_saving_an_action_twice_warns_and_links_the_first(editor_client):
    state = make_authority(short_name="State")
    longde, granpect = make_entity(name="Xi'an Longde"), make_entity(name="Granpect")
    first = make_action(
        authority=state, announced_on=datetime.date(2024, 4, 19), entities=[longde, granpect]
    )

    warned = editor_client.post("/admin/sanctions/action/add/", _new_action(state, [longde]))

    assert warned.status_code == 200
    page = warned.content.decode()
    assert "Already entered?" in page
    assert f"/admin/sanctions/action/{first.pk}/change/" in page
    assert Action.objects.count() == 1

    other_day = _new_action(state, [longde], announced_on="2024-04-20")
    assert editor_client.post("/admin/sanctions/action/add/", other_day).status_code == 302
    confirmed = _new_action(state, [longde], not_a_duplicate="1")
    assert editor_client.post("/admin/sanctions/action/add/", confirmed).status_code == 302
    assert Action.objects.count() == 3


def test_coverage_urls_pasted_on_a_new_action_are_queued_once_it_is_saved(
    editor_client, django_capture_on_commit_callbacks
):
    state = make_authority(short_name="State")
    urls = "https://www.example-news.com/world/ndc\nexample-news.com/analysis?utm_source=x"

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = editor_client.post(
            "/admin/sanctions/action/add/",
            _new_action(state, [make_entity()], coverage_urls=urls),
        )

    assert response.status_code == 302
    action = Action.objects.get()
    jobs = list(action.fetch_jobs.order_by("pk").values_list("normalized_url", "status"))
    assert jobs == [
        ("https://www.example-news.com/world/ndc", FetchStatus.QUEUED),
        ("https://example-news.com/analysis", FetchStatus.QUEUED),
    ]
    assert len(callbacks) >= 2  # the fetches, queued after the commit


def test_a_pasted_line_the_server_may_not_fetch_keeps_the_whole_form_unsaved(editor_client):
    state = make_authority(short_name="State")
    urls = "https://www.example-news.com/world/ndc\nhttp://10.0.0.7/intranet"

    response = editor_client.post(
        "/admin/sanctions/action/add/", _new_action(state, [make_entity()], coverage_urls=urls)
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Line 2: http://10.0.0.7/intranet — refused: private address" in page
    assert "https://www.example-news.com/world/ndc\nhttp://10.0.0.7/intranet" in page
    assert not Action.objects.exists() and not FetchJob.objects.exists()


def test_a_failed_url_is_listed_on_the_form_with_its_reason_and_what_to_do(editor_client):
    action = make_action(published=False)
    job = FetchJob.objects.create(
        url="https://www.abnewsint.com/pakistans-missile-advancements",
        normalized_url="https://www.abnewsint.com/pakistans-missile-advancements",
        action=action,
        status=FetchStatus.FAILED,
        reason="the site could not be reached (timed out)",
    )
    pending = coverage.keep_pending(job)

    page = editor_client.get(f"/admin/sanctions/action/{action.pk}/change/").content.decode()

    assert "the site could not be reached (timed out)" in page
    assert f"/admin/sanctions/article/{pending.pk}/change/" in page
    assert f"/admin/sanctions/article/upload/?job={job.pk}" in page
    assert pending.headline == "Pakistans missile advancements"


def _upload(client, job, data, name):
    return client.post(
        f"/admin/sanctions/article/upload/?job={job.pk}",
        {"url": job.url, "action": job.action_id, "file": SimpleUploadedFile(name, data)},
    )


def test_an_uploaded_saved_page_becomes_the_archived_article_of_a_failed_url(
    editor_client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    action = make_action(published=False)
    url = "https://www.abnewsint.com/pakistans-missile-advancements"
    job = FetchJob.objects.create(
        url=url, normalized_url=url, action=action, status=FetchStatus.FAILED, reason="HTTP 403"
    )
    coverage.keep_pending(job)
    html = article_html("Pakistan's Missile Advancements Raise US Concerns")

    response = _upload(editor_client, job, html, "saved.html")

    assert response.status_code == 302, response.context["form"].errors
    article = Article.objects.get()
    assert (article.url, article.headline) == (
        url,
        "Pakistan's Missile Advancements Raise US Concerns",
    )
    assert not article.headline_from_url
    snapshot = article.snapshots.get()
    assert snapshot.sha256 == hashlib.sha256(html).hexdigest()
    assert snapshot.status is None  # uploaded, not fetched
    assert (tmp_path / snapshot.file.name).read_bytes() == html
    assert list(article.coverage.values_list("action", flat=True)) == [action.pk]
    job.refresh_from_db()
    assert (job.status, job.article) == (FetchStatus.DONE, article)


def test_an_uploaded_pdf_is_extracted_and_archived_as_a_pdf(editor_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    action = make_action(published=False)
    url = "https://www.state.gov/fact-sheet-ndc.pdf"
    job = FetchJob.objects.create(
        url=url, normalized_url=url, action=action, status=FetchStatus.FAILED, reason="a PDF"
    )
    pdf = tiny_pdf("Fact sheet: missile suppliers", ["National Development Complex"])

    response = _upload(editor_client, job, pdf, "fact-sheet.pdf")

    assert response.status_code == 302
    article = Article.objects.get()
    assert article.headline == "Fact sheet: missile suppliers"
    assert "National Development Complex" in article.text
    snapshot = article.snapshots.get()
    assert (snapshot.content_type, snapshot.sha256) == (
        "application/pdf",
        hashlib.sha256(pdf).hexdigest(),
    )
    assert snapshot.file.name.endswith(".pdf")


def test_a_file_holding_no_article_is_refused_with_the_reason(editor_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    action = make_action(published=False)
    url = "https://www.example-news.com/story"
    job = FetchJob.objects.create(
        url=url, normalized_url=url, action=action, status=FetchStatus.FAILED, reason="HTTP 403"
    )

    response = _upload(editor_client, job, b"\x89PNG not a page", "photo.png")

    assert response.status_code == 200
    assert "no article found in the file" in response.content.decode()
    assert not Article.objects.exists()


def test_editors_may_not_upload_coverage_of_a_published_action(editor_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    action = make_action()
    url = "https://www.example-news.com/story"
    job = FetchJob.objects.create(
        url=url, normalized_url=url, action=action, status=FetchStatus.FAILED, reason="HTTP 403"
    )

    response = _upload(editor_client, job, article_html("A story"), "saved.html")

    assert response.status_code == 403
    assert not Article.objects.exists()


def test_a_reviewer_publishes_from_the_action_form(reviewer_client):
    draft = make_action(published=False)
    form = _new_action(draft.authority, [], title=draft.title, legal_basis_not_stated="on")
    form["source_unconfirmed"] = draft.source_unconfirmed

    response = reviewer_client.post(
        f"/admin/sanctions/action/{draft.pk}/change/", form | {"_publish": "Save and publish"}
    )

    assert response["Location"] == f"/admin/sanctions/action/{draft.pk}/change/"
    draft.refresh_from_db()
    assert draft.status == ActionStatus.PUBLISHED

    page = reviewer_client.get(f"/admin/sanctions/action/{draft.pk}/change/").content.decode()
    assert 'name="_unpublish"' in page
    reviewer_client.post(
        f"/admin/sanctions/action/{draft.pk}/change/", form | {"_unpublish": "Save and unpublish"}
    )
    draft.refresh_from_db()
    assert draft.status == ActionStatus.DRAFT


def test_publishing_an_incomplete_action_from_the_form_saves_it_and_says_what_is_missing(
    reviewer_client,
):
    draft = make_action(published=False, source_unconfirmed="", legal_basis_not_stated=False)
    form = _new_action(draft.authority, [], title="Renamed draft")

    response = reviewer_client.post(
        f"/admin/sanctions/action/{draft.pk}/change/", form | {"_publish": "1"}, follow=True
    )

    draft.refresh_from_db()
    assert (draft.title, draft.status) == ("Renamed draft", ActionStatus.DRAFT)
    page = response.content.decode()
    assert "was not published" in page and "legal basis" in page
    assert "Publishing is refused until these are settled" in page


def test_editors_see_no_publish_button_and_cannot_post_one(editor_client):
    draft = make_action(published=False)

    page = editor_client.get(f"/admin/sanctions/action/{draft.pk}/change/").content.decode()
    refused = editor_client.post(
        f"/admin/sanctions/action/{draft.pk}/change/",
        _new_action(draft.authority, [], title=draft.title, _publish="1"),
    )

    assert 'name="_publish"' not in page
    assert refused.status_code == 403
    draft.refresh_from_db()
    assert draft.status == ActionStatus.DRAFT


def test_staff_preview_a_draft_at_its_public_url_and_the_public_gets_404(editor_client, client):
    draft = make_action(published=False, title="Draft designation of suppliers")

    preview = editor_client.get(draft.get_absolute_url())

    assert preview.status_code == 200
    assert "Draft — not public" in preview.content.decode()
    assert "no-store" in preview["Cache-Control"] and "private" in preview["Cache-Control"]
    assert client.get(draft.get_absolute_url()).status_code == 404
    assert editor_client.post(draft.get_absolute_url()).status_code == 405
    published = make_action()
    assert "Draft — not public" not in editor_client.get(published.get_absolute_url()).text


def tiny_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF with a title and lines of text, as a report saved from a site."""
    text = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {text} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title ({title}) >>".encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


EDITOR_MODELS = ["action", "entity", "authority", "legalbasis", "program", "outlet", "article"]


@pytest.mark.parametrize("model_name", EDITOR_MODELS)
def test_every_field_an_editor_fills_has_help_text(rf, model_name):
    from django.apps import apps
    from django.contrib import admin

    request = rf.get("/")
    request.user = make_staff("sam", "reviewer")
    model_admin = admin.site._registry[apps.get_model("sanctions", model_name)]
    forms = [("", model_admin.get_form(request)())]
    for inline in model_admin.get_inline_instances(request):
        if inline.has_add_permission(request, None):
            empty = inline.get_formset(request)().empty_form
            forms.append((f"{inline.model.__name__}.", empty))

    bare = [
        prefix + name
        for prefix, form in forms
        for name, field in form.fields.items()
        if not field.help_text
        and name not in {"DELETE", "id", "position"}
        and not getattr(field.widget, "is_hidden", False)
        and name != getattr(getattr(form, "fk", None), "name", None)
    ]

    assert bare == []


def test_entity_pickers_offer_no_merged_entity(editor_client):
    from sanctions.merge import merge_entities

    survivor = make_entity(name="Changzhou Utek Composite Company Ltd")
    loser = make_entity(name="Changzhou Utek Composite Co")
    merge_entities(survivor=survivor, loser=loser)

    results = _autocomplete(editor_client, "Changzhou Utek Composite")

    assert [result["id"] for result in results] == [str(survivor.pk)]


def test_the_admin_reads_as_this_site_and_lists_all_changes_to_superusers_only(
    editor_client, admin_client
):
    editors_index = editor_client.get("/admin/").content.decode()
    superusers_index = admin_client.get("/admin/").content.decode()

    assert "Sanctions Tracker administration" in editors_index
    assert "/admin/pghistory/events/" not in editors_index
    assert editor_client.get("/admin/pghistory/events/").status_code == 403
    assert "/admin/pghistory/events/" in superusers_index
    assert admin_client.get("/admin/pghistory/events/").status_code == 200
