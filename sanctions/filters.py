"""The list filters of DESIGN.md, defined once for the pages, API, feeds and exports."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q

from .models import (
    Action,
    ActionKind,
    Authority,
    Designation,
    Entity,
    EntityKind,
    LegalBasis,
    Program,
)


class CountryField(forms.CharField):
    """An ISO 3166-1 alpha-2 code, any case."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        value = value.strip().upper()
        if len(value) != 2 or not value.isascii() or not value.isalpha():
            raise forms.ValidationError("Use a two-letter ISO 3166-1 country code, e.g. PK.")
        return value


class CountryFilter(django_filters.CharFilter):
    field_class = CountryField


def _date_widget():
    return forms.DateInput(attrs={"type": "date"})


class ActionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Text")
    authority = django_filters.ModelChoiceFilter(
        queryset=Authority.objects.all(), to_field_name="slug", empty_label="Any authority"
    )
    legal_basis = django_filters.ModelChoiceFilter(
        field_name="legal_bases",
        queryset=LegalBasis.objects.all(),
        to_field_name="slug",
        label="Legal basis",
        empty_label="Any legal basis",
    )
    program = django_filters.ModelChoiceFilter(
        field_name="programs",
        queryset=Program.objects.all(),
        to_field_name="code",
        empty_label="Any program",
    )
    country = CountryFilter(method="filter_country", label="Entity country (ISO code)")
    kind = django_filters.ChoiceFilter(choices=ActionKind.choices, empty_label="Any kind")
    date_from = django_filters.DateFilter(
        field_name="announced_on", lookup_expr="gte", label="From", widget=_date_widget()
    )
    date_to = django_filters.DateFilter(
        field_name="announced_on", lookup_expr="lte", label="To", widget=_date_widget()
    )

    class Meta:
        model = Action
        fields = []

    def filter_q(self, queryset, name, value):
        """Title, summary and the names of the entities concerned."""
        value = value.strip()
        if not value:
            return queryset
        entity_match = Designation.objects.filter(action=OuterRef("pk")).filter(
            Q(entity__name__unaccent__icontains=value)
            | Q(name_as_listed__unaccent__icontains=value)
            | Q(reason__icontains=value)
        )
        return queryset.filter(
            Q(title__unaccent__icontains=value)
            | Q(summary__unaccent__icontains=value)
            | Exists(entity_match)
        )

    def filter_country(self, queryset, name, value):
        """Actions concerning at least one entity of that country."""
        return queryset.filter(
            Exists(
                Designation.objects.filter(
                    action=OuterRef("pk"), entity__countries__contains=[value]
                )
            )
        )


class EntityFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Name")
    kind = django_filters.ChoiceFilter(choices=EntityKind.choices, empty_label="Any kind")
    country = CountryFilter(method="filter_country", label="Country (ISO code)")

    class Meta:
        model = Entity
        fields = []

    def filter_q(self, queryset, name, value):
        return queryset.search(value)

    def filter_country(self, queryset, name, value):
        return queryset.filter(countries__contains=[value])
