"""The list filters of DESIGN.md, defined once for the pages, API, feeds and exports."""

from collections import Counter
from dataclasses import dataclass

import django_filters
from django import forms
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import ExtractYear
from django.http import QueryDict
from followthemoney.types import registry

from .models import (
    Action,
    ActionKind,
    Authority,
    Designation,
    Entity,
    EntityKind,
    EntityName,
    LegalBasis,
    Program,
)
from .search import name_key, search_entities, text_query


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


class KeyChoiceField(django_filters.fields.ModelChoiceField):
    """A choice by slug or code that refuses values PostgreSQL cannot compare (NUL)."""

    def to_python(self, value):
        if value and "\x00" in str(value):
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return super().to_python(value)


class KeyChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = KeyChoiceField


def _date_widget():
    return forms.DateInput(attrs={"type": "date"})


class ActionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Text")
    authority = KeyChoiceFilter(
        queryset=Authority.objects.all(), to_field_name="slug", empty_label="Any authority"
    )
    legal_basis = KeyChoiceFilter(
        field_name="legal_bases",
        queryset=LegalBasis.objects.all(),
        to_field_name="slug",
        label="Legal basis",
        empty_label="Any legal basis",
    )
    program = KeyChoiceFilter(
        field_name="programs",
        queryset=Program.objects.all(),
        to_field_name="code",
        empty_label="Any program",
    )
    country = CountryFilter(
        method="filter_country",
        label="Country (ISO code)",
        help_text="Of the program addressed or of an entity concerned.",
    )
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
        """Words of the title, summary, reasons or sources, or the name of an entity concerned."""
        key = name_key(value)
        if not key:
            return queryset
        # pg_trgm's default thresholds, stricter than the name search's own.
        named = Designation.objects.filter(action=OuterRef("pk")).filter(
            Exists(
                EntityName.objects.filter(entity=OuterRef("entity")).filter(
                    Q(key__trigram_similar=key) | Q(key__trigram_word_similar=key)
                )
            )
        )
        return queryset.filter(Q(search_vector=text_query(value)) | Exists(named))

    def filter_country(self, queryset, name, value):
        """Actions addressing that country's programs or concerning one of its entities."""
        return queryset.filter(countries__contains=[value])


class EntityFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Name")
    kind = django_filters.ChoiceFilter(choices=EntityKind.choices, empty_label="Any kind")
    country = CountryFilter(method="filter_country", label="Country (ISO code)")

    class Meta:
        model = Entity
        fields = []

    def filter_q(self, queryset, name, value):
        """Fuzzy, cross-script name search, best match first."""
        if not value.strip():
            return queryset
        return search_entities(queryset, value)

    def filter_country(self, queryset, name, value):
        return queryset.filter(countries__contains=[value])


def country_name(code: str) -> str:
    """The English name of an ISO 3166-1 alpha-2 code, or the code itself."""
    return registry.country.names.get(code.lower(), code)


@dataclass(frozen=True)
class FacetValue:
    """One value of a facet: how many results choosing it leads to, and the query for it."""

    label: str
    count: int
    query: str
    active: bool


@dataclass(frozen=True)
class Facet:
    name: str
    label: str
    values: list[FacetValue]


def _facet_query(data: QueryDict, params: list[str], values: dict[str, str]) -> str:
    query = data.copy()
    query.pop("page", None)
    for param in params:
        query.pop(param, None)
    query.update(values)
    return query.urlencode()


def action_facets(data: QueryDict) -> list[Facet]:
    """Counts for each facet under the other active filters.

    A value's count is the number of actions its link leads to: the facet's own filter
    is replaced, the others are kept.
    """

    def others(*params):
        rest = data.copy()
        for param in params:
            rest.pop(param, None)
        return ActionFilter(rest, queryset=Action.objects.published()).qs.order_by()

    def facet(name, label, params, rows, active):
        values = [
            FacetValue(
                label=row_label,
                count=count,
                query=_facet_query(data, params, query_values),
                active=active(query_values),
            )
            for row_label, count, query_values in rows
        ]
        return Facet(name, label, sorted(values, key=lambda v: (-v.count, v.label)))

    def grouped(qs, *fields):
        return qs.values_list(*fields).annotate(n=Count("pk", distinct=True))

    def is_active(values):
        return all(data.get(key) == value for key, value in values.items())

    countries: Counter[str] = Counter()
    for codes, n in others("country").values_list("countries").annotate(n=Count("pk")):
        countries.update(dict.fromkeys(codes, n))
    years = grouped(
        others("date_from", "date_to").annotate(year=ExtractYear("announced_on")), "year"
    )
    return [
        facet(
            "authority",
            "Authority",
            ["authority"],
            [
                (name, n, {"authority": slug})
                for slug, name, n in grouped(
                    others("authority"), "authority__slug", "authority__name"
                )
            ],
            is_active,
        ),
        facet(
            "legal_basis",
            "Legal basis",
            ["legal_basis"],
            [
                (name, n, {"legal_basis": slug})
                for slug, name, n in grouped(
                    others("legal_basis").filter(legal_bases__isnull=False),
                    "legal_bases__slug",
                    "legal_bases__short_name",
                )
            ],
            is_active,
        ),
        facet(
            "program",
            "Program",
            ["program"],
            [
                (code, n, {"program": code})
                for code, n in grouped(
                    others("program").filter(programs__isnull=False), "programs__code"
                )
            ],
            is_active,
        ),
        facet(
            "country",
            "Country",
            ["country"],
            [(country_name(code), n, {"country": code}) for code, n in countries.items()],
            lambda values: data.get("country", "").upper() == values["country"],
        ),
        facet(
            "kind",
            "Kind",
            ["kind"],
            [
                (ActionKind(kind).label, n, {"kind": kind})
                for kind, n in grouped(others("kind"), "kind")
            ],
            is_active,
        ),
        facet(
            "year",
            "Year",
            ["date_from", "date_to"],
            [
                (str(year), n, {"date_from": f"{year}-01-01", "date_to": f"{year}-12-31"})
                for year, n in years
            ],
            is_active,
        ),
    ]
