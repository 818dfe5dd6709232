"""The editors' admin: enter announcements with their entities, sources and coverage."""

import base64
import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Case, Count, Q, Value, When
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from pghistory.models import MiddlewareEvents

from . import coverage, drafts, exports, merge, tasks
from .fetching import FetchRefused, check_url
from .models import (
    LIST_NUMBER_SCHEMES,
    Action,
    ActionKind,
    ActionStatus,
    Alias,
    Article,
    Authority,
    ChangeKind,
    Coverage,
    Designation,
    Entity,
    EntityMerge,
    FetchJob,
    FetchStatus,
    Identifier,
    ImportRun,
    IncompleteAction,
    LegalBasis,
    LinkCheck,
    ListChange,
    ListEntry,
    Outlet,
    Program,
    ProposedAction,
    Regime,
    Relation,
    Snapshot,
    Source,
    Suggestion,
    SuggestionStatus,
    count_of,
    detect_script,
    shown_publicly,
)
from .search import index_names, match_names

# Names scoring at least this in name search are shown as possible duplicates: the
# same name key, or one close to it in full (not merely sharing a word).
DUPLICATE_SCORE = 0.75
# Name search matches an entity picker offers, before those the admin's own search finds.
AUTOCOMPLETE_MATCHES = 20
# Documents a draft is proposed from: a large Federal Register rule is a few hundred KB;
# the preview carries it back in the form, base64, under Django's 2.5 MB request limit.
MAX_DOCUMENT_BYTES = 1_500_000
# Failed URLs listed on an action's form, each with what the editor can do about it.
MAX_FAILED_SHOWN = 20
# Longer text typed in a name field is not a name to look up.
MAX_SIMILAR_NAME = 300


# Pasted URLs without a scheme are taken as https (Django 6's default, chosen now).
URL_FORMFIELD = {models.URLField: {"assume_scheme": "https"}}


# The checkbox, offered inside a duplicate warning, that saves the record anyway.
NOT_A_DUPLICATE = "not_a_duplicate"


def duplicate_warning(found, *, record: str) -> ValidationError:
    """A form error naming the likely duplicates, with the box that overrides it."""
    return ValidationError(
        format_html(
            "{} <label><input type='checkbox' name='{}' value='1'> This is a different {}:"
            " save it anyway</label>",
            found,
            NOT_A_DUPLICATE,
            record,
        )
    )


def overridden(data) -> bool:
    """Whether the editor ticked the box of a duplicate warning."""
    return bool(data.get(NOT_A_DUPLICATE))


class ReadOnly:
    """No adding, changing or deleting in the admin: the records are written elsewhere."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def may_publish(request) -> bool:
    """Reviewers (and superusers) publish; they alone change what the public sees."""
    return request.user.has_perm("sanctions.publish_action")


def admin_page(model_admin, request, template: str, *, title: str, subtitle=None, **context):
    """One of the admin's own pages (paste, upload, merge...), in the admin's layout."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": subtitle,
        "opts": model_admin.opts,
        **context,
    }
    if form := context.get("form"):
        context.setdefault("media", model_admin.media + form.media)
    return TemplateResponse(request, template, context)


class ReviewedAdmin:
    """A record the public may see (``shown_publicly``): editors enter it and change it
    while only drafts use it; once a published action shows it, only reviewers change
    or delete it, editors see it read-only. Mixed into admins and their inlines, where
    `obj` is the parent record."""

    def _reviewers_only(self, request, obj) -> bool:
        return obj is not None and not may_publish(request) and shown_publicly(obj)

    def has_change_permission(self, request, obj=None):
        if self._reviewers_only(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self._reviewers_only(request, obj):
            return False
        return super().has_delete_permission(request, obj)


class ReviewedInline(ReviewedAdmin):
    def has_add_permission(self, request, obj=None):
        if self._reviewers_only(request, obj):
            return False
        return super().has_add_permission(request, obj)


class TrackedAdmin(admin.ModelAdmin):
    """Admin whose "History" page shows the database-recorded change history."""

    formfield_overrides = URL_FORMFIELD

    object_history_template = "admin/sanctions/object_history.html"

    def history_view(self, request, object_id, extra_context=None):
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_or_change_permission(request, obj):
            return self.changeform_view(request, object_id)  # answers 403 the usual way
        events = (
            MiddlewareEvents.objects.references(obj)
            .select_related("user")
            .order_by("-pgh_created_at", "-pgh_id")[:500]
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change history: {obj}",
            "subtitle": None,
            "object": obj,
            "events": events,
            "opts": self.opts,
            "has_view_permission": True,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.object_history_template, context)


def renew_dumps() -> None:
    """Once the publication commits: stop serving the full export files, which no longer
    match the public record, and have the worker write new ones."""
    transaction.on_commit(exports.withdraw_dumps)
    tasks.write_export_dumps.delay_on_commit()


class DesignationFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """Warn of an action with the same authority, date and an entity in common:
        the same announcement entered twice, unless the editor says otherwise."""
        super().clean()
        action = self.instance
        if overridden(self.data) or not (action.authority_id and action.announced_on):
            return
        entity_ids = {
            form.cleaned_data["entity"].pk
            for form in self.forms
            if form.cleaned_data.get("entity") and not form.cleaned_data.get("DELETE")
        }
        twins = list(Action.objects.same_announcement(action, entity_ids)[:5])
        if twins:
            links = format_html_join(
                ", ",
                "<a href='{}'>{}</a> ({})",
                (
                    (reverse("admin:sanctions_action_change", args=[twin.pk]), twin, twin.status)
                    for twin in twins
                ),
            )
            raise duplicate_warning(
                format_html(
                    "Already entered? {} has the same authority and date and an entity or a"
                    " document number in common.",
                    links,
                ),
                record="action",
            )


class DesignationInline(admin.StackedInline):
    model = Designation
    formset = DesignationFormSet
    autocomplete_fields = ["entity", "legal_basis"]
    # Stacked, short fields side by side: nine columns would not fit a laptop screen.
    fieldsets = [
        (None, {"fields": [("entity", "role", "position"), ("name_as_listed", "reason")]}),
        (
            "Where this entity differs from the action",
            {"classes": ["collapse"], "fields": [("legal_basis", "regime", "ends_on"), "measures"]},
        ),
    ]
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2})}}
    extra = 1


class SourceInline(admin.StackedInline):
    model = Source
    formfield_overrides = URL_FORMFIELD
    fields = [("kind", "published_on", "document_number"), "title", "publisher", "url", "notes"]
    extra = 0


class CoverageInline(admin.TabularInline):
    model = Coverage
    autocomplete_fields = ["article"]
    extra = 1


class ActionForm(forms.ModelForm):
    coverage_urls = forms.CharField(
        required=False,
        label="Coverage URLs to add",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="News articles about this action, one URL per line. They are fetched, "
        "archived and linked once the action is saved; a URL that cannot be fetched stays "
        "below with the reason, to complete by hand or from an uploaded copy.",
    )

    def clean_coverage_urls(self):
        """Refuse the whole form while a pasted line is no URL the server may fetch, so
        the lines come back as pasted, with the reasons, and none is lost."""
        lines = self.cleaned_data["coverage_urls"].splitlines()
        _, errors = coverage.read_pasted(lines)
        if errors:
            raise ValidationError(
                [f"Line {number}: {line} — {reason}" for number, line, reason in errors]
            )
        return lines


class DocumentForm(forms.Form):
    file = forms.FileField(
        required=False,
        help_text="A Federal Register notice as XML (federalregister.gov, “XML” link) or "
        "its saved web page; or a press statement saved as HTML or PDF.",
    )
    text = forms.CharField(
        required=False,
        label="Or paste the text",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 100}),
        help_text="The notice's XML, or the text of a statement.",
    )
    document = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        """The document's bytes, from the file, the text, or the preview that carried it."""
        cleaned = super().clean()
        if upload := cleaned.get("file"):
            if upload.size > MAX_DOCUMENT_BYTES:
                raise ValidationError(f"The file is larger than {MAX_DOCUMENT_BYTES} bytes.")
            data = upload.read()
        elif cleaned.get("text", "").strip():
            data = cleaned["text"].encode()
        elif cleaned.get("document"):
            try:
                data = base64.b64decode(cleaned["document"], validate=True)
            except ValueError:
                raise ValidationError("The document was lost; upload it again.") from None
        else:
            raise ValidationError("Upload a file or paste the text.")
        if len(data) > MAX_DOCUMENT_BYTES:
            raise ValidationError(f"The document is larger than {MAX_DOCUMENT_BYTES} bytes.")
        cleaned["document"] = data
        return cleaned


class DraftForm(forms.Form):
    """What the draft needs and the document may not say; the editor confirms it all."""

    title = forms.CharField(max_length=300, help_text="A short factual title.")
    authority = forms.ModelChoiceField(
        Authority.objects.all(), help_text="The authority the announcement is filed under."
    )
    kind = forms.ChoiceField(choices=ActionKind.choices, help_text="What the document does.")
    regime = forms.ChoiceField(
        choices=[("", "---------"), *Regime.choices],
        required=False,
        help_text="The list or measures regime acted on.",
    )
    announced_on = forms.DateField(
        help_text="Date of the announcement: for a notice, its publication in the Federal "
        "Register (the XML does not say it; the web page does)."
    )
    effective_on = forms.DateField(required=False, help_text="Date the measures took effect.")
    gazetted_on = forms.DateField(
        required=False, help_text="Date of publication in the official register."
    )
    document = forms.CharField(widget=forms.HiddenInput)
    create = forms.CharField(widget=forms.HiddenInput, initial="1")

    def __init__(self, *args, document: bytes, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["document"] = base64.b64encode(document).decode()

    @staticmethod
    def initial_for(proposal: drafts.Proposal) -> dict:
        return {
            "title": proposal.title,
            "authority": proposal.authority,
            "kind": proposal.kind,
            "regime": proposal.regime,
            "announced_on": proposal.published_on,
            "effective_on": proposal.effective_on,
            "gazetted_on": proposal.published_on if proposal.notice else None,
        }

    def draft_fields(self) -> dict:
        fields = ["title", "authority", "kind", "regime", "announced_on"]
        return {name: self.cleaned_data[name] for name in [*fields, "effective_on", "gazetted_on"]}


@admin.register(Action)
class ActionAdmin(TrackedAdmin):
    form = ActionForm
    change_form_template = "admin/sanctions/action/change_form.html"
    list_display = ["announced_on", "title", "authority", "kind", "status", "entity_count"]
    list_display_links = ["title"]
    list_filter = ["status", "kind", "authority", "legal_bases", "programs", "announced_on"]
    search_fields = ["title", "summary", "reference", "designations__entity__name"]
    date_hierarchy = "announced_on"
    autocomplete_fields = ["authority", "other_authorities", "legal_bases", "programs"]
    readonly_fields = [
        "status",
        "published_at",
        "created_at",
        "updated_at",
        "pasted_urls",
        "publication_checks",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    ("kind", "regime"),
                    ("authority", "other_authorities"),
                    ("legal_bases", "legal_basis_not_stated"),
                    "programs",
                    "subject_countries",
                ]
            },
        ),
        ("Dates", {"fields": [("announced_on", "effective_on", "gazetted_on", "ends_on")]}),
        (
            "Description",
            {
                "fields": [
                    "summary",
                    "document_numbers",
                    "announced_entity_count",
                    "notes",
                    "source_unconfirmed",
                    "reference",
                ]
            },
        ),
        ("For editors only", {"fields": ["editor_notes"]}),
        (
            "Publication",
            {
                "fields": [
                    "publication_checks",
                    ("status", "published_at"),
                    ("created_at", "updated_at"),
                ]
            },
        ),
        ("News coverage", {"fields": ["coverage_urls", "pasted_urls"]}),
    ]
    inlines = [DesignationInline, SourceInline, CoverageInline]
    actions = ["publish", "unpublish"]
    list_select_related = ["authority"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(entity_count=Count("designations"))

    @admin.display(ordering="entity_count", description="entities")
    def entity_count(self, obj):
        return obj.entity_count

    @admin.display(description="pasted URLs")
    def pasted_urls(self, obj):
        return pasted_urls_summary(obj)

    @admin.display(description="checks before publishing")
    def publication_checks(self, obj):
        if obj.pk is None:
            return "Save the action first."
        problems = obj.publication_problems()
        if not problems:
            return "Complete: nothing is missing for publication."
        return format_html_join(mark_safe("<br>"), "Missing: {}", ((p,) for p in problems))

    def has_publish_permission(self, request):
        return may_publish(request)

    def get_urls(self):
        if self.model is not Action:  # the proposals' admin shares the rest
            return super().get_urls()
        view = self.admin_site.admin_view(self.draft_from_document_view)
        return [
            path("from-document/", view, name="sanctions_action_from_document"),
            *super().get_urls(),
        ]

    def draft_from_document_view(self, request):
        """Upload or paste a Federal Register notice (or a statement): see the draft it
        proposes, set what it cannot say, and create it."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = DocumentForm(request.POST or None, request.FILES or None)
        proposal = draft_form = None
        if form.is_valid():
            proposal = drafts.propose(form.cleaned_data["document"])
            draft_form = DraftForm(
                request.POST if "create" in request.POST else None,
                initial=DraftForm.initial_for(proposal),
                document=form.cleaned_data["document"],
            )
            if draft_form.is_valid():
                action = drafts.create_draft(proposal, **draft_form.draft_fields())
                self.message_user(
                    request,
                    f"Draft created: {action.designations.count()} designation(s), "
                    f"{len(proposal.new_parties)} new entit(ies). Review it, then save.",
                    messages.SUCCESS,
                )
                return redirect("admin:sanctions_action_change", action.pk)
        return admin_page(
            self,
            request,
            "admin/sanctions/action/from_document.html",
            title="New draft from a notice or statement",
            form=form if proposal is None else None,
            draft_form=draft_form,
            proposal=proposal,
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_publish"] = self.has_publish_permission(request) and (
            obj is None or self.has_change_permission(request, obj)
        )
        context["publication_problems"] = obj.publication_problems() if obj else []
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.cleaned_data.get("coverage_urls"):
            lines = form.cleaned_data["coverage_urls"]
            result = coverage.queue_urls(lines=lines, action=form.instance)
            for job in result.queued:
                tasks.fetch_and_extract.delay_on_commit(job.pk)
            if result.queued:
                self.message_user(
                    request, f"Queued {len(result.queued)} coverage URL(s) to fetch.", messages.INFO
                )

    def response_add(self, request, obj, post_url_continue=None):
        if self._publish_from_form(request, obj):
            return redirect("admin:sanctions_action_change", obj.pk)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if self._publish_from_form(request, obj):
            return redirect("admin:sanctions_action_change", obj.pk)
        return super().response_change(request, obj)

    def _publish_from_form(self, request, action: Action) -> bool:
        """The form's "Save and publish" / "Save and unpublish": True if one was pressed."""
        publish, unpublish = "_publish" in request.POST, "_unpublish" in request.POST
        if not (publish or unpublish):
            return False
        if not self.has_publish_permission(request):
            raise PermissionDenied("Only reviewers publish.")
        if publish and not action.is_published:
            try:
                action.publish()
            except IncompleteAction as refused:
                self.message_user(request, f"Saved, {refused.message}", messages.ERROR)
                return True
            renew_dumps()
            self.message_user(request, f"Saved and published “{action}”.", messages.SUCCESS)
        elif unpublish and action.is_published:
            action.unpublish()
            renew_dumps()
            self.message_user(request, f"Saved; “{action}” is a draft again.", messages.SUCCESS)
        return True

    def has_change_permission(self, request, obj=None):
        # Editors enter and edit drafts; a published action is the reviewers' to change.
        if obj is not None and obj.is_published and not may_publish(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False  # unpublish first: published records may already be cited
        return super().has_delete_permission(request, obj)

    @admin.action(permissions=["publish"], description="Publish selected actions")
    def publish(self, request, queryset):
        published = 0
        for action in queryset.filter(status=ActionStatus.DRAFT):
            try:
                action.publish()
            except IncompleteAction as refused:
                self.message_user(request, refused.message, messages.ERROR)
            else:
                published += 1
        if published:
            renew_dumps()
        self.message_user(request, f"Published {published} action(s).", messages.SUCCESS)

    @admin.action(permissions=["publish"], description="Unpublish selected actions (back to draft)")
    def unpublish(self, request, queryset):
        actions = list(queryset.filter(status=ActionStatus.PUBLISHED))
        for action in actions:
            action.unpublish()
        if actions:
            renew_dumps()
        self.message_user(request, f"Unpublished {len(actions)} action(s).", messages.SUCCESS)


class AliasInline(ReviewedInline, admin.TabularInline):
    model = Alias
    fields = ["name", "kind", "script", "language"]
    extra = 1


class IdentifierFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """An identifier another entity holds: a list entry number is that entity's
        alone; any other number suggests a duplicate, unless the editor says otherwise."""
        super().clean()
        entered = [
            (form.cleaned_data["scheme"], form.cleaned_data["value"])
            for form in self.forms
            if form.cleaned_data.get("value") and not form.cleaned_data.get("DELETE")
        ]
        if not entered:
            return
        same = Q()
        for scheme, value in entered:
            same |= Q(scheme=scheme, value=value)
        held = Identifier.objects.filter(same).exclude(entity_id=self.instance.pk)
        held = list(held.select_related("entity").order_by("pk")[:5])
        if not held or (
            overridden(self.data) and all(h.scheme not in LIST_NUMBER_SCHEMES for h in held)
        ):
            return
        found = format_html_join(
            "; ",
            "{} is held by <a href='{}'>{}</a>",
            (
                (h, reverse("admin:sanctions_entity_change", args=[h.entity_id]), h.entity)
                for h in held
            ),
        )
        if any(h.scheme in LIST_NUMBER_SCHEMES for h in held):
            raise ValidationError(
                format_html(
                    "{}. A list entry number belongs to one entity: add these names to"
                    " that entity, or merge the two.",
                    found,
                )
            )
        raise duplicate_warning(format_html("{}.", found), record="entity")


class IdentifierInline(ReviewedInline, admin.TabularInline):
    model = Identifier
    formset = IdentifierFormSet
    fields = ["scheme", "value", "country", "note"]
    extra = 1


class RelationInline(ReviewedInline, admin.TabularInline):
    model = Relation
    fk_name = "subject"
    autocomplete_fields = ["object"]
    fields = ["kind", "object", "description"]
    extra = 1


class EntityForm(forms.ModelForm):
    def clean(self):
        """Show the entities already recorded under a close name before a new one is
        saved (or an entity renamed), with a link to use the one that exists."""
        cleaned = super().clean()
        name = cleaned.get("name")
        if not name or "name" not in self.changed_data or overridden(self.data):
            return cleaned
        matches = similar_entities(name, exclude_pk=self.instance.pk)
        if matches:
            links = format_html_join(
                "; ",
                "<a href='{}'>{}</a> (matched “{}”): <a href='{}'>use this one</a>",
                (
                    (
                        reverse("admin:sanctions_entity_change", args=[entity.pk]),
                        describe_entity(entity),
                        matched,
                        use_url(entity, self.data),
                    )
                    for entity, matched in matches
                ),
            )
            raise duplicate_warning(format_html("Already recorded? {}.", links), record="entity")
        return cleaned


def use_url(entity: Entity, params) -> str:
    """Where "use this one" leads: inside a picker's popup (``params`` carry _popup), the
    page that picks the entity in the opener; elsewhere, the entity itself."""
    url = reverse("admin:sanctions_entity_use", args=[entity.pk])
    if not params.get(IS_POPUP_VAR):
        return url
    return f"{url}?{urlencode({IS_POPUP_VAR: '1', TO_FIELD_VAR: params.get(TO_FIELD_VAR) or 'id'})}"


def describe_entity(entity: Entity) -> str:
    """What tells namesakes apart: name, kind, countries and identifiers."""
    details = [entity.get_kind_display(), ", ".join(entity.countries)]
    details += [str(identifier) for identifier in entity.identifiers.all()[:3]]
    return " · ".join([entity.name, *filter(None, details)])


def similar_entities(name: str, *, exclude_pk=None, limit: int = 5):
    """Entities whose name or an alias matches closely, best first, as name search
    finds them (any script, legal forms and punctuation aside)."""
    matches = [
        match
        for match in match_names(name, limit=limit + 1)
        if match.entity_id != exclude_pk and match.score >= DUPLICATE_SCORE
    ][:limit]
    entities = Entity.objects.in_bulk([match.entity_id for match in matches])
    return [(entities[match.entity_id], match.name) for match in matches]


class MergeForm(forms.Form):
    survivor = forms.ModelChoiceField(
        queryset=Entity.objects.all(),
        label="Merge into",
        help_text="The entity this one is found to be: it keeps its name and receives"
        " everything this one holds.",
        # Any foreign key to Entity gives the admin's autocomplete its source.
        widget=AutocompleteSelect(Relation._meta.get_field("object"), admin.site),
    )


class EntityMergeAdmin:
    """Merging an entity into the one it was found to be (``sanctions.merge``), and
    undoing that from the history page: reviewers only, as either may be public."""

    object_history_template = "admin/sanctions/entity/object_history.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/merge/", view(self.merge_view), name="sanctions_entity_merge"),
            path(
                "merges/<int:merge_id>/undo/",
                view(self.undo_merge_view),
                name="sanctions_entity_undo_merge",
            ),
            *super().get_urls(),
        ]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.merged_into_id is not None:
            return False  # it holds nothing now; undoing the merge gives it back
        return super().has_change_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_merge": may_publish(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        if isinstance(response, TemplateResponse) and "object" in response.context_data:
            entity = response.context_data["object"]
            merges = EntityMerge.objects.filter(Q(survivor=entity) | Q(loser=entity))
            merges = merges.select_related("survivor", "loser", "merged_by", "undone_by")
            response.context_data["merges"] = [(m, merge.merge_summary(m)) for m in merges]
            response.context_data["may_undo"] = may_publish(request)
        return response

    def merge_view(self, request, object_id):
        """Pick the survivor, see what would move, then merge."""
        loser = get_object_or_404(Entity, pk=object_id)
        if not may_publish(request):
            raise PermissionDenied
        form = MergeForm(request.POST or None)
        plan = None
        if form.is_valid():
            survivor = form.cleaned_data["survivor"]
            try:
                plan = merge.plan_merge(survivor=survivor, loser=loser)
                if "confirm" in request.POST:
                    merge.merge_entities(survivor=survivor, loser=loser, user=request.user)
                    renew_dumps()  # published designations may have moved
                    self.message_user(
                        request,
                        format_html(
                            "Merged <a href='{}'>{}</a> into this entity; its history page"
                            " can undo the merge.",
                            reverse("admin:sanctions_entity_change", args=[loser.pk]),
                            loser,
                        ),
                        messages.SUCCESS,
                    )
                    return redirect("admin:sanctions_entity_change", survivor.pk)
            except merge.MergeRefused as refused:
                form.add_error("survivor", str(refused))
                plan = None
        return admin_page(
            self,
            request,
            "admin/sanctions/entity/merge.html",
            title=f"Merge {loser} into another entity",
            original=loser,
            form=form,
            plan=plan,
        )

    def undo_merge_view(self, request, merge_id):
        done = get_object_or_404(EntityMerge.objects.select_related("loser"), pk=merge_id)
        if not may_publish(request):
            raise PermissionDenied
        history = redirect("admin:sanctions_entity_history", done.loser_id)
        if request.method != "POST":
            return history  # the button to undo is there
        try:
            lost = merge.undo_merge(merge=done, user=request.user)
        except merge.MergeRefused as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return history
        renew_dumps()
        self.message_user(
            request, f"Undid the merge: “{done.loser}” holds what it held again.", messages.SUCCESS
        )
        if lost:
            self.message_user(
                request,
                f"Not restored, as what they belonged to was deleted since: {'; '.join(lost)}.",
                messages.WARNING,
            )
        return history


@admin.register(Entity)
class EntityAdmin(EntityMergeAdmin, ReviewedAdmin, TrackedAdmin):
    list_display = ["name", "kind", "country_list", "designation_count", "updated_at"]
    list_filter = ["kind", "designations__action__authority"]
    search_fields = ["name", "aliases__name", "identifiers__value", "reference"]
    form = EntityForm
    fields = ["name", "kind", "countries", "description", "reference"]
    inlines = [AliasInline, IdentifierInline, RelationInline]

    class Media:
        js = ["sanctions/admin/similar_entities.js"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(designation_count=Count("designations"))

    def get_search_results(self, request, queryset, search_term):
        """The admin's own search (names, aliases, identifiers contained in them) joined
        by the public name search, which forgives typos and reads any script: every
        entity picker's autocomplete searches through here. Name matches rank first;
        the pickers offer no merged entity, which holds nothing any more."""
        if request.path == reverse("admin:autocomplete"):
            queryset = queryset.filter(merged_into__isnull=True)
        found, _ = super().get_search_results(request, queryset, search_term)
        if not search_term.strip():
            return found, False
        matches = match_names(search_term, limit=AUTOCOMPLETE_MATCHES)
        matches = [match.entity_id for match in matches]
        results = queryset.filter(Q(pk__in=matches) | Q(pk__in=found.values("pk")))
        if matches:
            rank = Case(
                *(When(pk=pk, then=Value(place)) for place, pk in enumerate(matches)),
                default=Value(len(matches)),
            )
            results = results.alias(rank=rank).order_by("rank", "name", "pk")
        return results.prefetch_related("identifiers"), False

    def autocomplete_text(self, obj):
        return describe_entity(obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("similar/", view(self.similar_view), name="sanctions_entity_similar"),
            path("<int:object_id>/use/", view(self.use_view), name="sanctions_entity_use"),
            *super().get_urls(),
        ]

    def similar_view(self, request):
        """Entities recorded under a name close to the one being typed (JSON)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        name = request.GET.get("name", "")[:MAX_SIMILAR_NAME]
        found = similar_entities(name) if name.strip() else []
        return JsonResponse(
            {
                "results": [
                    {
                        "text": describe_entity(entity),
                        "matched": matched,
                        "url": reverse("admin:sanctions_entity_change", args=[entity.pk]),
                        "use_url": use_url(entity, request.GET),
                    }
                    for entity, matched in found
                ]
            }
        )

    def use_view(self, request, object_id):
        """ "Use this one": in the popup of an entity picker, pick the entity that exists
        (as if just added); elsewhere, open it."""
        entity = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_or_change_permission(request, entity):
            raise PermissionDenied
        if IS_POPUP_VAR not in request.GET:
            return redirect("admin:sanctions_entity_change", entity.pk)
        to_field = request.GET.get(TO_FIELD_VAR) or "id"
        if not self.to_field_allowed(request, to_field):
            raise PermissionDenied
        data = {"value": str(entity.serializable_value(to_field)), "obj": str(entity)}
        return TemplateResponse(
            request, "admin/popup_response.html", {"popup_response_data": json.dumps(data)}
        )

    @admin.display(description="countries")
    def country_list(self, obj):
        return ", ".join(obj.countries)

    @admin.display(ordering="designation_count", description="actions")
    def designation_count(self, obj):
        return obj.designation_count

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        index_names(entity_ids=[form.instance.pk])

    def save_formset(self, request, form, formset, change):
        if formset.model is Alias:
            for alias_form in formset.forms:
                alias = alias_form.instance
                if alias.name and not alias.script:
                    alias.script = detect_script(alias.name)
        super().save_formset(request, form, formset, change)


@admin.register(Authority)
class AuthorityAdmin(ReviewedAdmin, TrackedAdmin):
    list_display = ["name", "short_name", "jurisdiction"]
    list_filter = ["jurisdiction"]
    search_fields = ["name", "short_name"]
    prepopulated_fields = {"slug": ["short_name"]}


@admin.register(LegalBasis)
class LegalBasisAdmin(ReviewedAdmin, TrackedAdmin):
    list_display = ["short_name", "name", "citation"]
    search_fields = ["short_name", "name", "citation"]
    prepopulated_fields = {"slug": ["short_name"]}


@admin.register(Program)
class ProgramAdmin(ReviewedAdmin, TrackedAdmin):
    list_display = ["code", "name", "authority"]
    list_filter = ["authority"]
    search_fields = ["code", "name"]
    list_select_related = ["authority"]


@admin.register(Outlet)
class OutletAdmin(ReviewedAdmin, TrackedAdmin):
    list_display = ["name", "domain", "country"]
    search_fields = ["name", "domain"]


class SnapshotInline(ReadOnly, admin.TabularInline):
    model = Snapshot
    fields = ["fetched_at", "status", "final_url", "content_type", "size", "sha256", "download"]
    readonly_fields = fields
    extra = 0

    @admin.display(description="archived copy")
    def download(self, obj):
        return format_html("<a href='{}' download>download</a>", obj.get_absolute_url())


class ArticleCoverageInline(ReviewedInline, admin.TabularInline):
    model = Coverage
    autocomplete_fields = ["action"]
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Linking an article to a published action changes that action's page.
        if db_field.name == "action" and not may_publish(request):
            kwargs["queryset"] = Action.objects.filter(status=ActionStatus.DRAFT)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Article)
class ArticleAdmin(ReviewedAdmin, TrackedAdmin):
    list_display = ["headline", "outlet", "published_on", "language"]
    list_filter = ["outlet", "language", "published_on", "is_copy", "headline_from_url"]
    search_fields = ["headline", "url", "outlet__name"]
    date_hierarchy = "published_on"
    autocomplete_fields = ["outlet", "entities"]
    list_select_related = ["outlet"]
    readonly_fields = [
        "final_url",
        "link_checked_at",
        "link_failures",
        "link_dead_since",
        "created_at",
        "updated_at",
    ]
    inlines = [ArticleCoverageInline, SnapshotInline]

    def get_urls(self):
        upload = self.admin_site.admin_view(self.upload_view)
        return [
            path("upload/", upload, name="sanctions_article_upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        """Archive and extract a page the editor saved (HTML or PDF), as if fetched from
        its URL: for pages the server could not fetch (paywalls, blocks, PDFs)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        job = None
        if job_id := request.GET.get("job"):
            job = get_object_or_404(FetchJob.objects.select_related("action"), pk=job_id)
        initial = {"url": job.url, "action": job.action_id} if job else {}
        form = UploadForm(request.POST or None, request.FILES or None, initial=initial)
        if form.is_valid():
            action, url = form.cleaned_data["action"], form.cleaned_data["url"]
            public = (action is not None and action.is_published) or Article.objects.filter(
                url=url, pk__in=Article.objects.public()
            ).exists()
            if public and not may_publish(request):
                raise PermissionDenied("Only reviewers change what the public sees.")
            try:
                article, snapshot = coverage.store_upload(
                    data=form.cleaned_data["file"].read(), url=url, action=action, job=job
                )
            except coverage.ExtractionFailed as exc:
                form.add_error("file", str(exc))
            else:
                tasks.suggest_links.delay_on_commit(article.pk)
                self.message_user(
                    request,
                    f"Archived the uploaded copy (SHA-256 {snapshot.sha256}) as “{article}”.",
                    messages.SUCCESS,
                )
                return redirect("admin:sanctions_article_change", article.pk)
        return admin_page(
            self,
            request,
            "admin/sanctions/article/upload.html",
            title="Upload a saved copy of an article",
            form=form,
            job=job,
        )


class UploadForm(forms.Form):
    url = forms.URLField(
        max_length=2048,
        assume_scheme="https",
        label="The article's URL",
        help_text="Where the page is published; it is not fetched, only recorded.",
    )
    file = forms.FileField(
        label="Saved page",
        help_text="The page saved from the browser (HTML, “Web page, HTML only”) or a PDF.",
    )
    action = forms.ModelChoiceField(
        queryset=Action.objects.all(),
        required=False,
        label="Link it to the action",
        widget=AutocompleteSelect(Coverage._meta.get_field("action"), admin.site),
    )

    def clean_url(self):
        try:
            return coverage.normalize_url(check_url(self.cleaned_data["url"]))
        except FetchRefused as exc:
            raise ValidationError(coverage.in_words(exc)) from exc

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.FETCH_MAX_BYTES:
            raise ValidationError(f"The file is larger than {settings.FETCH_MAX_BYTES} bytes.")
        return upload


# Official list imports -------------------------------------------------------------------


class ListRecordAdmin(ReadOnly, admin.ModelAdmin):
    """Read-only: import runs and list entries are written by the importers alone.

    Whoever may view actions may view them, as they explain where proposals come from.
    """

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("sanctions.view_action")


@admin.register(ImportRun)
class ImportRunAdmin(ListRecordAdmin):
    list_display = [
        "pk",
        "list_name",
        "published_on",
        "status",
        "entry_count",
        "created",
        "updated",
        "unchanged",
        "change_links",
        "started_at",
    ]
    list_display_links = ["pk", "list_name"]
    list_filter = ["list_name", "status", "format"]
    fields = [
        ("list_name", "format", "status"),
        ("published_on", "declared_count", "entry_count"),
        ("created", "updated", "unchanged"),
        "change_links",
        "error",
        ("forced", "previous"),
        "files",
        ("started_at", "finished_at"),
    ]
    readonly_fields = ["change_links"]  # the rest is read-only anyway: no one may change

    def get_queryset(self, request):
        counts = {
            kind: count_of(ListChange.objects.filter(kind=kind), "run") for kind in ChangeKind
        }
        return (
            super()
            .get_queryset(request)
            .annotate(proposal_count=count_of(Action.objects.all(), "proposed_by"), **counts)
        )

    @admin.display(description="changes")
    def change_links(self, obj):
        changes = reverse("admin:sanctions_listchange_changelist") + f"?run__id__exact={obj.pk}"
        proposals = reverse("admin:sanctions_proposedaction_changelist")
        return format_html(
            "<a href='{}'>{} added, {} removed, {} program changes</a>;"
            " <a href='{}?proposed_by__id__exact={}'>{} open proposals</a>",
            changes,
            getattr(obj, ChangeKind.ADDED),
            getattr(obj, ChangeKind.REMOVED),
            getattr(obj, ChangeKind.PROGRAMS),
            proposals,
            obj.pk,
            obj.proposal_count,
        )


@admin.register(ListChange)
class ListChangeAdmin(ListRecordAdmin):
    list_display = ["entry_number", "name", "kind", "programs_before", "programs_after", "action"]
    list_filter = ["kind", "run__list_name", "run"]
    search_fields = ["name", "entry__number"]
    list_select_related = ["entry", "action__authority"]

    @admin.display(ordering="entry__number", description="entry")
    def entry_number(self, obj):
        return obj.entry.number


@admin.register(ListEntry)
class ListEntryAdmin(ListRecordAdmin):
    list_display = ["number", "name", "list_name", "entry_type", "program_list", "listed"]
    list_filter = ["list_name", "entry_type", ("removed_by", admin.EmptyFieldListFilter)]
    search_fields = ["=number", "name"]
    fields = [
        ("list_name", "number"),
        ("name", "entry_type"),
        ("programs", "listed_on"),
        "entity",
        ("added_by", "removed_by"),
        "raw_record",
    ]
    readonly_fields = ["raw_record"]

    @admin.display(description="programs")
    def program_list(self, obj):
        return ", ".join(obj.programs)

    @admin.display(boolean=True, description="listed")
    def listed(self, obj):
        return obj.removed_by_id is None

    @admin.display(description="raw record")
    def raw_record(self, obj):
        raw = obj.raw.get("xml") if set(obj.raw) == {"xml"} else json.dumps(obj.raw, indent=1)
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", raw)


class AttachForm(forms.Form):
    target = forms.ModelChoiceField(
        queryset=Action.objects.all(),
        label="Existing action",
        help_text="Search by title, entity or reference.",
        # Any foreign key to Action gives the admin's autocomplete its source.
        widget=AutocompleteSelect(ListChange._meta.get_field("action"), admin.site),
    )


@admin.register(ProposedAction)
class ProposedActionAdmin(ActionAdmin):
    """The editors' queue: draft actions the list imports proposed."""

    list_display = ["announced_on", "title", "kind", "entity_count", "proposed_by"]
    list_filter = ["kind", "proposed_by__list_name", "programs", "proposed_by"]
    list_select_related = ["authority", "proposed_by"]
    actions = ["attach_to_existing", "publish"]
    fieldsets = [
        ("Proposed by", {"fields": ["proposed_by"]}),
        *ActionAdmin.fieldsets,
    ]
    readonly_fields = [*ActionAdmin.readonly_fields, "proposed_by"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.filter(proposed_by__isnull=False, status=ActionStatus.DRAFT)

    # A proxy has its own permission rows; a proposal is an action, so the action's apply.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("sanctions.view_action") or self.has_change_permission(
            request, obj
        )

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("sanctions.change_action")

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("sanctions.delete_action")

    def has_add_permission(self, request):
        return False  # proposals come from imports

    @admin.action(permissions=["change"], description="Attach to an existing action…")
    def attach_to_existing(self, request, queryset):
        form = AttachForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            target = form.cleaned_data["target"]
            if target.is_published and not self.has_publish_permission(request):
                self.message_user(
                    request, "Only reviewers may change a published action.", messages.ERROR
                )
                return None
            proposals = list(queryset.exclude(pk=target.pk))
            for proposal in proposals:
                proposal.attach_to(target)
            self.message_user(
                request,
                f"Attached {len(proposals)} proposal(s) to “{target}”.",
                messages.SUCCESS,
            )
            return redirect("admin:sanctions_action_change", target.pk)
        return admin_page(
            self,
            request,
            "admin/sanctions/proposedaction/attach.html",
            title="Attach proposals to an existing action",
            form=form,
            proposals=queryset,
            action_checkbox_name=admin.helpers.ACTION_CHECKBOX_NAME,
        )


# News coverage pipeline (sanctions/coverage.py) ------------------------------------------


class PasteForm(forms.Form):
    urls = forms.CharField(
        label="Paste URLs (one per line)",
        widget=forms.Textarea(attrs={"rows": 12, "cols": 100, "spellcheck": "false"}),
        help_text="News or source URLs. Each is fetched in the background, archived and "
        "linked to this action; a URL pasted before is not fetched twice.",
    )


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    """Records the pipeline writes; editors read them and act through admin actions."""


def pasted_urls_summary(action: Action) -> str:
    """Where the URLs pasted on an action stand, with links to them and to paste more."""
    if action.pk is None:
        return "Save the action first, then paste the URLs of its news coverage."
    paste = format_html(
        "<a href='{}'>Paste coverage URLs</a>",
        reverse("admin:sanctions_fetchjob_paste", args=[action.pk]),
    )
    counts = dict(action.fetch_jobs.order_by().values_list("status").annotate(n=Count("pk")))
    if not counts:
        return format_html("None pasted yet. {}", paste)
    summary = format_html(
        "<a href='{}?action={}'>{}</a> · {}",
        reverse("admin:sanctions_fetchjob_changelist"),
        action.pk,
        ", ".join(f"{counts[s]} {s.label.lower()}" for s in FetchStatus if s in counts),
        paste,
    )
    failed = action.fetch_jobs.filter(status=FetchStatus.FAILED).order_by("pk")[:MAX_FAILED_SHOWN]
    if not failed:
        return summary
    return format_html(
        "{}<ul>{}</ul>",
        summary,
        format_html_join(
            "",
            "<li><code>{}</code>: {}. {} · <a href='{}'>upload a saved copy</a></li>",
            (
                (
                    Truncator(job.url).chars(100),
                    job.reason,
                    format_html(
                        "<a href='{}'>complete the article by hand</a>",
                        reverse("admin:sanctions_article_change", args=[job.article_id]),
                    )
                    if job.article_id
                    else "",
                    reverse("admin:sanctions_article_upload") + f"?job={job.pk}",
                )
                for job in failed
            ),
        ),
    )


@admin.register(FetchJob)
class FetchJobAdmin(ReadOnlyAdmin):
    list_display = ["short_url", "status", "short_reason", "attempts", "article", "action"]
    list_filter = ["status", "created_at"]
    search_fields = ["url", "normalized_url", "reason"]
    list_select_related = ["article", "action__authority"]
    date_hierarchy = "created_at"
    actions = ["retry_failed"]

    def get_urls(self):
        paste = self.admin_site.admin_view(self.paste_view)
        return [
            path("paste/<int:action_id>/", paste, name="sanctions_fetchjob_paste"),
            *super().get_urls(),
        ]

    @admin.display(ordering="url", description="URL")
    def short_url(self, obj):
        return Truncator(obj.url).chars(80)

    @admin.display(description="reason")
    def short_reason(self, obj):
        return Truncator(obj.reason).chars(100)

    def has_paste_permission(self, request):
        return request.user.has_perm("sanctions.add_fetchjob")

    @admin.action(permissions=["paste"], description="Fetch the selected failed URLs again")
    def retry_failed(self, request, queryset):
        failed = queryset.filter(status=FetchStatus.FAILED)
        if not may_publish(request):
            # Coverage of a published action is the reviewers' to add.
            failed = failed.exclude(action__status=ActionStatus.PUBLISHED)
        jobs = [job for job in failed if job.requeue()]
        for job in jobs:
            tasks.fetch_and_extract.delay_on_commit(job.pk)
        self.message_user(request, f"Queued {len(jobs)} URL(s) again.", messages.SUCCESS)

    def paste_view(self, request, action_id):
        """Queue the pasted URLs; invalid lines come back with their reasons, to be fixed."""
        action = get_object_or_404(Action, pk=action_id)
        if not self.has_paste_permission(request):
            raise PermissionDenied
        if action.is_published and not may_publish(request):
            raise PermissionDenied("Only reviewers add coverage to a published action.")
        form = PasteForm(request.POST or None)
        errors = []
        if form.is_valid():
            with transaction.atomic():
                result = coverage.queue_urls(
                    lines=form.cleaned_data["urls"].splitlines(), action=action
                )
                for job in result.queued:
                    tasks.fetch_and_extract.delay_on_commit(job.pk)
            if result.queued:
                self.message_user(
                    request, f"Queued {len(result.queued)} URL(s) to fetch.", messages.SUCCESS
                )
            if result.existing:
                self.message_user(
                    request,
                    f"{len(result.existing)} URL(s) were pasted before and are queued or done.",
                    messages.INFO,
                )
            if not result.errors:
                return redirect("admin:sanctions_action_change", action.pk)
            errors = result.errors
            form = PasteForm(initial={"urls": "\n".join(line for _, line, _ in errors)})
        return admin_page(
            self,
            request,
            "admin/sanctions/fetchjob/paste.html",
            title="Paste coverage URLs",
            subtitle=str(action),
            action=action,
            form=form,
            errors=errors,
            jobs=action.fetch_jobs.select_related("article")[:50],
        )


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyAdmin):
    list_display = ["article", "target", "matched_name", "status", "created_at"]
    list_filter = [
        "status",
        ("entity", admin.EmptyFieldListFilter),
        ("action", admin.EmptyFieldListFilter),
    ]
    search_fields = ["matched_name", "article__headline", "entity__name", "action__title"]
    list_select_related = ["article", "entity", "action__authority"]
    actions = ["accept", "dismiss"]

    @admin.display(description="suggested link")
    def target(self, obj):
        if obj.entity_id:
            url = reverse("admin:sanctions_entity_change", args=[obj.entity_id])
            return format_html("Entity: <a href='{}'>{}</a>", url, obj.entity)
        url = reverse("admin:sanctions_action_change", args=[obj.action_id])
        return format_html("Action: <a href='{}'>{}</a>", url, obj.action)

    def has_decide_permission(self, request):
        return request.user.has_perm("sanctions.change_suggestion")

    @admin.action(permissions=["decide"], description="Accept: make the suggested links")
    def accept(self, request, queryset):
        pending = queryset.filter(status=SuggestionStatus.PENDING).select_related("article")
        if not may_publish(request):
            # A link to a published action, or a mention in a public article, is public.
            held = pending.filter(
                Q(action__status=ActionStatus.PUBLISHED) | Q(article__in=Article.objects.public())
            )
            if held_count := held.count():
                self.message_user(
                    request,
                    f"{held_count} suggestion(s) change what the public sees: a reviewer"
                    " accepts those.",
                    messages.WARNING,
                )
            pending = pending.exclude(pk__in=held.values("pk"))
        accepted = sum(suggestion.accept() for suggestion in pending)
        self.message_user(request, f"Accepted {accepted} suggestion(s).", messages.SUCCESS)

    @admin.action(permissions=["decide"], description="Dismiss: never suggest these again")
    def dismiss(self, request, queryset):
        pending = queryset.filter(status=SuggestionStatus.PENDING)
        dismissed = sum(suggestion.dismiss() for suggestion in pending)
        self.message_user(request, f"Dismissed {dismissed} suggestion(s).", messages.SUCCESS)


@admin.register(LinkCheck)
class LinkCheckAdmin(ReadOnlyAdmin):
    list_display = ["checked_at", "url", "ok", "status", "reason"]
    list_filter = ["ok", "checked_at"]
    search_fields = ["url", "reason"]
    date_hierarchy = "checked_at"
