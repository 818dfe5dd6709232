"""Who may do what in the admin: anonymous visitors, editors, reviewers and superusers,
on every admin model, for a record the public sees (and, for the curated records, for
one only a draft uses). Published records change only through review."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser, User
from django.test import RequestFactory

from sanctions.models import (
    Action,
    Article,
    Authority,
    Entity,
    FetchJob,
    ImportRun,
    LegalBasis,
    LinkCheck,
    ListChange,
    ListEntry,
    Outlet,
    Program,
    ProposedAction,
    Suggestion,
)

from .factories import make_action, make_article, make_entity, make_legal_basis, make_staff

pytestmark = pytest.mark.django_db

# For each role, per admin model: v(iew) a(dd) c(hange) d(elete) p(ublish), on a record
# the public sees; "draft" rows are the same record kinds used only by a draft.
EXPECTED = {
    "anonymous": dict.fromkeys(
        [
            "action",
            "proposedaction",
            "entity",
            "authority",
            "legalbasis",
            "program",
            "outlet",
            "article",
            "entity (draft)",
            "legalbasis (draft)",
            "article (draft)",
            "importrun",
            "listchange",
            "listentry",
            "fetchjob",
            "suggestion",
            "linkcheck",
        ],
        "",
    ),
    "editor": {
        "action": "va",
        "proposedaction": "vc",
        "entity": "va",
        "authority": "va",
        "legalbasis": "va",
        "program": "va",
        "outlet": "va",
        "article": "va",
        "entity (draft)": "vac",
        "legalbasis (draft)": "vac",
        "article (draft)": "vac",
        "importrun": "v",
        "listchange": "v",
        "listentry": "v",
        "fetchjob": "v",
        "suggestion": "v",
        "linkcheck": "v",
    },
}
READ_ONLY = dict.fromkeys(
    ["importrun", "listchange", "listentry", "fetchjob", "suggestion", "linkcheck"], "v"
)
CURATED = ["authority", "legalbasis", "program", "outlet", "article"]
DRAFTS = ["entity (draft)", "legalbasis (draft)", "article (draft)"]
EXPECTED["reviewer"] = {
    "action": "vacp",
    "proposedaction": "vcp",
    "entity": "vac",
    **dict.fromkeys(CURATED, "vac"),
    **dict.fromkeys(DRAFTS, "vac"),
    **READ_ONLY,
}
EXPECTED["superuser"] = {
    "action": "vacp",  # a published action is unpublished before it can be deleted
    "proposedaction": "vcdp",
    "entity": "vacd",
    **dict.fromkeys(CURATED, "vacd"),
    **dict.fromkeys(DRAFTS, "vacd"),
    **READ_ONLY,
}


@pytest.fixture
def records():
    public_entity = make_entity(name="Shown Publicly Co")
    basis = make_legal_basis()
    action = make_action(entities=[public_entity], legal_bases=[basis])
    article = make_article(actions=[action])
    draft_entity = make_entity(name="Draft Only Co")
    draft_basis = make_legal_basis()
    draft = make_action(entities=[draft_entity], legal_bases=[draft_basis], published=False)
    draft_article = make_article(actions=[draft])
    run = ImportRun.objects.create(list_name="ofac_sdn", format="ofac-sdn-csv", files=[])
    proposal = make_action(published=False, proposed_by=run)
    return {
        "action": action,
        "proposedaction": ProposedAction.objects.get(pk=proposal.pk),
        "entity": public_entity,
        "authority": action.authority,
        "legalbasis": basis,
        "program": action.programs.create(code="NPWMD", name="Non-proliferation"),
        "outlet": article.outlet,
        "article": article,
        "entity (draft)": draft_entity,
        "legalbasis (draft)": draft_basis,
        "article (draft)": draft_article,
        "importrun": run,
        "listchange": None,
        "listentry": None,
        "fetchjob": None,
        "suggestion": None,
        "linkcheck": None,
    }


MODELS = {
    "action": Action,
    "proposedaction": ProposedAction,
    "entity": Entity,
    "authority": Authority,
    "legalbasis": LegalBasis,
    "program": Program,
    "outlet": Outlet,
    "article": Article,
    "importrun": ImportRun,
    "listchange": ListChange,
    "listentry": ListEntry,
    "fetchjob": FetchJob,
    "suggestion": Suggestion,
    "linkcheck": LinkCheck,
}


def _user(role):
    if role == "anonymous":
        return AnonymousUser()
    if role == "superuser":
        return User.objects.create_superuser("root", password="x")
    return make_staff(f"{role}1", role)


def _allowed(model_admin, request, obj) -> str:
    letters = ""
    if model_admin.has_view_permission(request, obj):
        letters += "v"
    if model_admin.has_add_permission(request):
        letters += "a"
    if model_admin.has_change_permission(request, obj):
        letters += "c"
    if model_admin.has_delete_permission(request, obj):
        letters += "d"
    if getattr(model_admin, "has_publish_permission", lambda r: False)(request):
        letters += "p"
    return letters


@pytest.mark.parametrize("role", ["anonymous", "editor", "reviewer", "superuser"])
def test_the_permission_matrix(role, records):
    request = RequestFactory().get("/admin/")
    request.user = _user(role)

    actual = {}
    for name, obj in records.items():
        model = MODELS[name.split(" ")[0]]
        actual[name] = _allowed(admin.site._registry[model], request, obj)

    assert actual == EXPECTED[role]


def test_the_matrix_covers_every_admin_model_of_the_tracker():
    registered = {model for model in admin.site._registry if model._meta.app_label == "sanctions"}
    assert registered == set(MODELS.values())
