"""Entities, with their aliases, identifiers and relations, the warnings of likely
duplicates, and merging; and the records actions cite: authorities, legal bases,
programs and outlets."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Count, Q, Value, When
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from .. import merge
from ..models import (
    LIST_NUMBER_SCHEMES,
    Alias,
    Authority,
    Entity,
    EntityMerge,
    Identifier,
    LegalBasis,
    Outlet,
    Program,
    Relation,
    detect_script,
)
from ..search import index_names, match_names
from .common import (
    ReviewedAdmin,
    ReviewedInline,
    TrackedAdmin,
    admin_page,
    duplicate_warning,
    may_publish,
    overridden,
    renew_dumps,
)

# Names scoring at least this in name search are shown as possible duplicates: the
# same name key, or one close to it in full (not merely sharing a word).
DUPLICATE_SCORE = 0.75
# Name search matches an entity picker offers, before those the admin's own search finds.
AUTOCOMPLETE_MATCHES = 20

# Longer text typed in a name field is not a name to look up.
MAX_SIMILAR_NAME = 300


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
