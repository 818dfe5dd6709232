"""What the admin's pages share: permissions by role, read-only records, the change
history page, duplicate warnings, and the admin's own pages."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.html import format_html
from pghistory.models import MiddlewareEvents

from .. import exports, tasks
from ..models import shown_publicly

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


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    """Records the pipeline (or the importers) writes; editors read them and act through
    admin actions."""


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
