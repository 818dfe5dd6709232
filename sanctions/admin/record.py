"""Actions: the announcements editors enter, with their designations, sources and
coverage, drafted from a notice or statement, and published by reviewers."""

import base64

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from .. import coverage, drafts, tasks
from ..models import (
    Action,
    ActionKind,
    ActionStatus,
    Authority,
    Coverage,
    Designation,
    IncompleteAction,
    Regime,
    Source,
)
from .common import (
    URL_FORMFIELD,
    TrackedAdmin,
    admin_page,
    duplicate_warning,
    may_publish,
    overridden,
    renew_dumps,
)
from .coverage import pasted_urls_summary

# Documents a draft is proposed from: a large Federal Register rule is a few hundred KB;
# the preview carries it back in the form, base64, under Django's 2.5 MB request limit.
MAX_DOCUMENT_BYTES = 1_500_000


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
