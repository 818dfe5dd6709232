"""The admin of every recorded change, django-pghistory's, named in PGHISTORY_ADMIN_CLASS:
superusers browse it from the index; everyone else reads a record's changes on that
record's own History page (TrackedAdmin)."""

from pghistory.admin import EventsAdmin


class RecordedChangesAdmin(EventsAdmin):
    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser
