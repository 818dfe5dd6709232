"""The editors' admin: enter announcements with their entities, sources and coverage."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from pghistory.models import MiddlewareEvents

from . import coverage, exports, tasks
from .models import (
    Action,
    ActionStatus,
    Alias,
    Article,
    Authority,
    ChangeKind,
    Coverage,
    Designation,
    Entity,
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


# Pasted URLs without a scheme are taken as https (Django 6's default, chosen now).
URL_FORMFIELD = {models.URLField: {"assume_scheme": "https"}}


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


class DesignationInline(admin.TabularInline):
    model = Designation
    autocomplete_fields = ["entity", "legal_basis"]
    fields = [
        "position",
        "entity",
        "role",
        "name_as_listed",
        "reason",
        "legal_basis",
        "measures",
        "regime",
        "ends_on",
    ]
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


@admin.register(Action)
class ActionAdmin(TrackedAdmin):
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
        ("News coverage", {"fields": ["pasted_urls"]}),
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


class IdentifierInline(ReviewedInline, admin.TabularInline):
    model = Identifier
    fields = ["scheme", "value", "country", "note"]
    extra = 1


class RelationInline(ReviewedInline, admin.TabularInline):
    model = Relation
    fk_name = "subject"
    autocomplete_fields = ["object"]
    fields = ["kind", "object", "description"]
    extra = 1


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


@admin.register(Entity)
class EntityAdmin(ReviewedAdmin, TrackedAdmin):
    list_display = ["name", "kind", "country_list", "designation_count", "updated_at"]
    list_filter = ["kind", "designations__action__authority"]
    search_fields = ["name", "aliases__name", "identifiers__value", "reference"]
    fields = ["name", "kind", "countries", "description", "reference"]
    inlines = [AliasInline, IdentifierInline, RelationInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(designation_count=Count("designations"))

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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "name" not in form.changed_data:
            return
        matches = similar_entities(obj.name, exclude_pk=obj.pk)
        if matches:
            links = format_html_join(
                ", ",
                "<a href='{}'>{}</a> (matched “{}”)",
                (
                    (reverse("admin:sanctions_entity_change", args=[entity.pk]), entity, matched)
                    for entity, matched in matches
                ),
            )
            self.message_user(
                request,
                format_html("Possible duplicate of {}. Merge them if they are the same.", links),
                messages.WARNING,
            )


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
        context = {
            **self.admin_site.each_context(request),
            "title": "Attach proposals to an existing action",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
            "proposals": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/sanctions/proposedaction/attach.html", context)


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
    return format_html(
        "<a href='{}?action={}'>{}</a> · {}",
        reverse("admin:sanctions_fetchjob_changelist"),
        action.pk,
        ", ".join(f"{counts[s]} {s.label.lower()}" for s in FetchStatus if s in counts),
        paste,
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
        context = {
            **self.admin_site.each_context(request),
            "title": "Paste coverage URLs",
            "subtitle": str(action),
            "opts": self.opts,
            "action": action,
            "form": form,
            "errors": errors,
            "jobs": action.fetch_jobs.select_related("article")[:50],
        }
        return TemplateResponse(request, "admin/sanctions/fetchjob/paste.html", context)


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
