import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from pghistory.models import MiddlewareEvents

from sanctions.admin import similar_entities
from sanctions.models import Action, ActionStatus, Alias, Entity, Script
from sanctions.search import index_names

from .factories import (
    inline_management,
    make_action,
    make_article,
    make_authority,
    make_entity,
    make_staff,
)

pytestmark = pytest.mark.django_db


def _action_form(action, **changes):
    data = {
        "title": action.title,
        "kind": action.kind,
        "authority": action.authority_id,
        "announced_on": action.announced_on.isoformat(),
        "document_numbers": "",
        "summary": action.summary,
        "notes": "",
        "reference": "",
        **inline_management("designations"),
        **inline_management("sources"),
        **inline_management("coverage"),
    }
    return data | changes


def test_anonymous_users_cannot_reach_the_admin(client):
    action = make_action(published=False)

    for path in [
        "/admin/",
        "/admin/sanctions/action/",
        f"/admin/sanctions/action/{action.pk}/change/",
    ]:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    response = client.post(f"/admin/sanctions/action/{action.pk}/change/", _action_form(action))
    assert response.status_code == 302
    assert Action.objects.get(pk=action.pk).title == action.title


def test_public_pages_refuse_writes(client):
    assert client.post("/actions/").status_code == 405
    assert client.post("/").status_code == 405


def test_editing_an_action_leaves_a_history_entry_naming_the_editor(client):
    editor = make_staff("erin", "editor")
    action = make_action(published=False, title="Before")
    client.force_login(editor)

    response = client.post(
        f"/admin/sanctions/action/{action.pk}/change/", _action_form(action, title="After")
    )

    assert response.status_code == 302, response.content
    event = (
        MiddlewareEvents.objects.tracks(action).filter(pgh_label="update").order_by("-pgh_id")
    ).first()
    assert event.pgh_diff["title"] == ["Before", "After"]
    assert event.user == editor
    history = client.get(f"/admin/sanctions/action/{action.pk}/history/")
    assert "erin" in history.content.decode()
    assert "After" in history.content.decode()


def test_bulk_updates_are_recorded_in_history_too():
    action = make_action(published=False, title="Before")

    Action.objects.filter(pk=action.pk).update(title="Bulk")

    assert MiddlewareEvents.objects.tracks(action).filter(pgh_label="update").exists()


def test_editors_cannot_publish_but_reviewers_can(client):
    action = make_action(published=False)
    data = {"action": "publish", "_selected_action": [action.pk]}

    client.force_login(make_staff("erin", "editor"))
    client.post("/admin/sanctions/action/", data)
    assert Action.objects.get(pk=action.pk).status == ActionStatus.DRAFT

    client.force_login(make_staff("rita", "reviewer"))
    client.post("/admin/sanctions/action/", data)
    published = Action.objects.get(pk=action.pk)
    assert published.status == ActionStatus.PUBLISHED
    assert published.published_at is not None


def test_editors_cannot_change_a_published_action(client):
    action = make_action(published=True, title="Published")
    client.force_login(make_staff("erin", "editor"))

    client.post(f"/admin/sanctions/action/{action.pk}/change/", _action_form(action, title="X"))

    assert Action.objects.get(pk=action.pk).title == "Published"


def test_an_editor_can_enter_an_announcement_with_an_entity_inline(client):
    authority = make_authority()
    entity = make_entity(name="Rockside Enterprise")
    client.force_login(make_staff("erin", "editor"))
    data = {
        "title": "State designates four entities",
        "kind": "designation",
        "authority": authority.pk,
        "announced_on": "2024-12-18",
        "document_numbers": "",
        "summary": "",
        "notes": "",
        "reference": "",
        **inline_management("designations", total=1),
        "designations-0-entity": entity.pk,
        "designations-0-role": "listed",
        "designations-0-position": "0",
        "designations-0-name_as_listed": "ROCKSIDE ENTERPRISE",
        **inline_management("sources", total=1),
        "sources-0-kind": "press_statement",
        "sources-0-title": "Press statement",
        "sources-0-url": "",
        **inline_management("coverage"),
    }

    response = client.post("/admin/sanctions/action/add/", data)

    assert response.status_code == 302, response.context["errors"]
    action = Action.objects.get(title="State designates four entities")
    assert action.status == ActionStatus.DRAFT
    assert action.designations.get().name_as_listed == "ROCKSIDE ENTERPRISE"
    assert action.sources.get().url == ""


def test_adding_an_entity_close_to_an_existing_name_or_alias_warns(client):
    existing = make_entity(name="Akhtar and Sons Private Limited")
    Alias.objects.create(entity=existing, name="AKHTAR AND SONS PVT LTD.")
    index_names(entity_ids=[existing.pk])
    client.force_login(make_staff("erin", "editor"))
    data = {
        "name": "Akhtar & Sons Pvt Ltd",
        "kind": "company",
        "countries": "PK",
        "description": "",
        "reference": "",
        **inline_management("aliases", total=1),
        "aliases-0-name": "اختر اینڈ سنز",
        "aliases-0-kind": "original",
        **inline_management("identifiers"),
        **inline_management("relations"),
    }

    response = client.post("/admin/sanctions/entity/add/", data)

    assert response.status_code == 200  # shown again, nothing saved yet
    warning = response.content.decode()
    assert "Already recorded?" in warning and "Akhtar and Sons Private Limited" in warning
    assert f"/admin/sanctions/entity/{existing.pk}/use/" in warning
    assert not Entity.objects.filter(name="Akhtar & Sons Pvt Ltd").exists()

    response = client.post("/admin/sanctions/entity/add/", data | {"not_a_duplicate": "1"})

    assert response.status_code == 302
    created = Entity.objects.get(name="Akhtar & Sons Pvt Ltd")
    assert created.aliases.get().script == Script.ARABIC


def test_a_distinct_new_entity_gives_no_duplicate_warning(client):
    make_entity(name="Akhtar and Sons Private Limited")
    client.force_login(make_staff("erin", "editor"))
    data = {
        "name": "Minsk Wheel Tractor Plant",
        "kind": "state_body",
        "countries": "BY",
        **inline_management("aliases"),
        **inline_management("identifiers"),
        **inline_management("relations"),
    }

    response = client.post("/admin/sanctions/entity/add/", data)

    assert response.status_code == 302
    assert Entity.objects.filter(name="Minsk Wheel Tractor Plant").exists()


def test_admin_lists_and_searches_render_for_every_model(admin_client):
    make_action(entities=[make_entity()])
    for model in [
        "action",
        "entity",
        "authority",
        "legalbasis",
        "program",
        "outlet",
        "article",
    ]:
        assert admin_client.get(f"/admin/sanctions/{model}/?q=a").status_code == 200
        assert admin_client.get(f"/admin/sanctions/{model}/add/").status_code == 200


def test_possible_duplicates_share_a_name_not_merely_a_word():
    same = make_entity(name="AKHTAR AND SONS PRIVATE LIMITED")
    make_entity(name="Beta Trading Company")
    index_names()

    assert [entity for entity, _ in similar_entities("Akhtar & Sons Pvt. Ltd.")] == [same]
    assert similar_entities("Alpha Trading") == []


def test_an_editors_session_ends_after_a_working_day_without_a_request(client, settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600 and settings.SESSION_SAVE_EVERY_REQUEST
    client.force_login(make_staff("editor1", "editor"))

    response = client.get("/admin/")

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == 8 * 3600  # renewed on every request: idle time counts
    assert cookie["httponly"]


def test_the_production_switch_redirects_to_https_but_lets_health_checks_through(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    client = Client()

    assert client.get("/actions/").status_code == 301
    assert client.get("/healthz").status_code == 200
    proxied = client.get("/actions/", headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200
    assert proxied["Strict-Transport-Security"].startswith("max-age=3600")


def _log_in(client, username, password, address="192.0.2.10"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def test_thirty_wrong_passwords_lock_the_account_until_a_superuser_unlocks_it(client):
    User.objects.create_user("editor1", password="the-right-password", is_staff=True)

    answers = [_log_in(client, "editor1", f"guess-{n}").status_code for n in range(30)]
    right = _log_in(client, "editor1", "the-right-password")
    from_elsewhere = _log_in(client, "editor1", "the-right-password", address="198.51.100.7")

    assert answers[:4] == [200] * 4  # the form again, with its error
    assert set(answers[5:]) == {429}  # locked after five failures
    assert right.status_code == 429 and from_elsewhere.status_code == 429
    assert "_auth_user_id" not in client.session

    superuser = User.objects.create_superuser("admin", password="x")
    admin_client = Client()
    admin_client.force_login(superuser)
    attempts = admin_client.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200 and "editor1" in attempts.content.decode()
    AccessAttempt.objects.filter(username="editor1").delete()  # "delete" in that list

    assert _log_in(client, "editor1", "the-right-password").status_code == 302


def test_an_editor_cannot_change_what_a_published_action_shows(client):
    published = make_action(title="Published designation")
    public_article = make_article(actions=[published], url="https://news.example/real")
    draft_article = make_article(url="https://news.example/draft")
    client.force_login(make_staff("editor1", "editor"))

    # The URL of an article a published action cites: read-only for editors.
    form = client.get(f"/admin/sanctions/article/{public_article.pk}/change/")
    assert form.status_code == 200 and 'name="url"' not in form.content.decode()
    changed = client.post(
        f"/admin/sanctions/article/{public_article.pk}/change/",
        {"url": "https://phishing.example/", "headline": "x"},
    )
    assert changed.status_code == 403
    public_article.refresh_from_db()
    assert public_article.url == "https://news.example/real"

    # Coverage of a published action through a draft article's inline: not a valid choice.
    coverage_form = {
        "url": draft_article.url,
        "headline": draft_article.headline,
        "coverage-TOTAL_FORMS": "1",
        "coverage-INITIAL_FORMS": "0",
        "coverage-0-action": published.pk,
        "coverage-0-relation": "reports",
        "snapshots-TOTAL_FORMS": "0",
        "snapshots-INITIAL_FORMS": "0",
    }
    url = f"/admin/sanctions/article/{draft_article.pk}/change/"
    response = client.post(url, coverage_form)
    assert response.status_code == 200  # the form again, with the error
    assert "Select a valid choice" in response.content.decode()
    assert not published.coverage.filter(article=draft_article).exists()
    reviewer = Client()
    reviewer.force_login(make_staff("reviewer1", "reviewer"))
    assert reviewer.post(url, coverage_form).status_code == 302  # a reviewer may
    assert published.coverage.filter(article=draft_article).exists()

    # Pasting coverage URLs onto the published action.
    paste = client.post(
        f"/admin/sanctions/fetchjob/paste/{published.pk}/", {"urls": "https://news.example/x"}
    )
    assert paste.status_code == 403
    assert not published.fetch_jobs.exists()
