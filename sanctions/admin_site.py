"""The admin site under this project's name, with autocomplete answers that tell
namesakes apart. Kept apart from admin.py, which imports the models: the admin app
loads this site before the models are ready."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.views.autocomplete import AutocompleteJsonView


class AutocompleteView(AutocompleteJsonView):
    """Django's autocomplete, each result described by its admin's `autocomplete_text`."""

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        describe = getattr(self.model_admin, "autocomplete_text", None)
        if describe is not None:
            result["text"] = describe(obj)
        return result


class TrackerAdminSite(admin.AdminSite):
    site_header = "Sanctions Tracker administration"
    site_title = "Sanctions Tracker administration"
    index_title = "The record and its sources"
    # The record's forms need the width of a laptop screen more than a second menu.
    enable_nav_sidebar = False

    def autocomplete_view(self, request):
        return AutocompleteView.as_view(admin_site=self)(request)


class TrackerAdminConfig(AdminConfig):
    default_site = "sanctions.admin_site.TrackerAdminSite"
