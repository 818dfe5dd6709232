"""Official list imports: the runs, the entries and the changes the importers record,
read-only, and the draft actions they propose, queued for the editors."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from ..models import (
    Action,
    ActionStatus,
    ChangeKind,
    ImportRun,
    ListChange,
    ListEntry,
    ProposedAction,
    count_of,
)
from .common import ReadOnlyAdmin, admin_page
from .record import ActionAdmin


class ListRecordAdmin(ReadOnlyAdmin):
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
