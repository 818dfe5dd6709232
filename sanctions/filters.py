"""The list filters of DESIGN.md, defined once for the pages, API, feeds and exports."""

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q
from django.forms.renderers import Jinja2
from drf_spectacular.utils import extend_schema_field

from . import caching
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
    count_of,
    is_partial,
)
from .search import QueryTooLong, clean_query, name_key, search_entities, text_query


class FilterForm(forms.Form):
    """The filter forms of the public lists. Their widgets render through Django's own
    Jinja2 copies of its widget templates: a select of twenty options takes 3 ms in the
    template language and under 1 ms so, and the action list has six selects."""

    default_renderer = Jinja2()  # one per process: the engine compiles each template once


# How many selects' HTML a process keeps (a few KB each).
KEPT_SELECTS = 2000
_kept_selects: dict[tuple, str] = {}


class KeptSelect(forms.Select):
    """Django's select, its HTML kept in the process for the same options, value and
    attributes. A filter form's selects read the same on most pages and their options
    change only with the public record (``VersionedChoices``), yet making one costs some
    40 µs an option even through Jinja2: 5 ms of each list page."""

    def render(self, name, value, attrs=None, renderer=None):
        key = (
            name,
            tuple(self.format_value(value)),
            tuple(sorted(self.build_attrs(self.attrs, attrs).items())),
            tuple(self.choices),  # VersionedChoices: the version's options
            renderer,
        )
        if (html := _kept_selects.get(key)) is None:
            html = super().render(name, value, attrs, renderer)
            if len(_kept_selects) >= KEPT_SELECTS:
                _kept_selects.clear()
            _kept_selects[key] = html
        return html


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


# What CountryField accepts: two ASCII letters, in any case, spaces around.
COUNTRY_PATTERN = r"^\s*[A-Za-z]{2}\s*$"


def country_filter(*, help_text: str, **kwargs) -> CountryFilter:
    """A CountryFilter whose API schema gives the pattern CountryField checks, so that
    clients building requests from the schema send only what is accepted."""
    schema = {"type": "string", "pattern": COUNTRY_PATTERN, "description": help_text}
    return extend_schema_field(schema)(CountryFilter(help_text=help_text, **kwargs))


class TrueFalseField(forms.CharField):
    """``true`` or ``false``, as the API documents a boolean; anything else is refused
    rather than read as "not given"."""

    VALUES = {"true": True, "false": False}
    widget = KeptSelect(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        if value.strip().lower() not in self.VALUES:
            raise forms.ValidationError("Use true or false.")
        return self.VALUES[value.strip().lower()]


class TrueFalseFilter(django_filters.BooleanFilter):
    field_class = TrueFalseField


class QueryField(forms.CharField):
    """Search words, refused when there are too many of them (``search.clean_query``)."""

    def clean(self, value):
        value = super().clean(value)
        try:
            return clean_query(value or "")
        except QueryTooLong as exc:
            raise forms.ValidationError(str(exc)) from None


class QueryFilter(django_filters.CharFilter):
    field_class = QueryField


class VersionedChoices(django_filters.fields.ModelChoiceIterator):
    """A KeyChoiceFilter's options, read once per version of the public record: which
    authorities, legal bases and programs have published actions changes only with it,
    and reading them costs a list page a third of its queries. Being a model's public
    rows by one key field, they are named by the model and that field."""

    def options(self) -> list[tuple[str, str]]:
        # Kept on the field (one per form, so per request): a form renders, validates
        # and checks a select's first option, each through a new iterator.
        if (options := getattr(self.field, "_versioned_options", None)) is None:
            read = super().__iter__
            options = self.field._versioned_options = caching.by_version(
                f"choices:{self.queryset.model._meta.label_lower}.{self.field.to_field_name}",
                lambda: [(str(value), str(label)) for value, label in read()],
            )
        return options

    def __iter__(self):
        yield from self.options()

    def __len__(self):
        return len(self.options())

    def __bool__(self):
        return bool(self.options())


class KeyChoiceField(django_filters.fields.ModelChoiceField):
    """A choice by slug or code that refuses values PostgreSQL cannot compare (NUL)."""

    iterator = VersionedChoices
    widget = KeptSelect

    def to_python(self, value):
        if value and "\x00" in str(value):
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return super().to_python(value)


class KeyChoiceFilter(django_filters.ModelChoiceFilter):
    """A choice among a reference model's public rows (those published actions cite),
    by a key field: a slug or code."""

    field_class = KeyChoiceField

    def __init__(self, *, model, to_field_name: str, **kwargs):
        super().__init__(queryset=model.objects.public(), to_field_name=to_field_name, **kwargs)


def _date_widget():
    return forms.DateInput(attrs={"type": "date"})


# The most results one page holds, on the pages and in the API.
MAX_PAGE_SIZE = 100

# Parameters that arrange the list rather than choose its actions: feeds and exports
# check them and set them aside (``strict_filterset``), pages show no chip for them.
LIST_OPTIONS = ("sort", "page_size")


class PageSizeField(forms.IntegerField):
    """A whole number of 1 or more; more than ``MAX_PAGE_SIZE`` reads as that many, as
    the API has always capped it."""

    default_error_messages = {
        "invalid": "Give a whole number of 1 or more.",
        "min_value": "Give a whole number of 1 or more.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        # The form offers a few sizes; any other value in the URL is still honoured.
        others = sorted({50, MAX_PAGE_SIZE} - {settings.PAGE_SIZE})
        choices = [("", f"{settings.PAGE_SIZE} (default)")] + [(n, str(n)) for n in others]
        kwargs.setdefault("widget", KeptSelect(choices=choices))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return None if value is None else min(value, MAX_PAGE_SIZE)


class PageSizeFilter(django_filters.NumberFilter):
    field_class = PageSizeField


# Each sort: its label and the database order (the action index orders alike).
SORTS = {
    "newest": ("Newest", ["-announced_on", "-pk"]),
    "oldest": ("Oldest", ["announced_on", "pk"]),
    "entities": ("Most entities", ["-entity_total", "-announced_on", "-pk"]),
}


class ActionFilter(django_filters.FilterSet):
    """The action filters: the pages, their facets (facets.py), the API (whose schema
    reads these labels and help texts), feeds, exports and alerts all take these."""

    q = QueryFilter(
        method="filter_q",
        label="Text",
        help_text="Words of the title, summary, reasons or sources, or a name of an entity"
        " concerned.",
    )
    authority = KeyChoiceFilter(
        model=Authority,
        to_field_name="slug",
        empty_label="Any authority",
        help_text="In links and the API by slug, e.g. us-state.",
    )
    legal_basis = KeyChoiceFilter(
        field_name="legal_bases",
        model=LegalBasis,
        to_field_name="slug",
        label="Legal basis",
        empty_label="Any legal basis",
        help_text="In links and the API by slug, e.g. eo-13382.",
    )
    program = KeyChoiceFilter(
        field_name="programs",
        model=Program,
        to_field_name="code",
        empty_label="Any program",
        help_text="The list program tag, e.g. NPWMD.",
    )
    country = country_filter(
        method="filter_country",
        label="Country (ISO code)",
        help_text="Two letters, e.g. PK: actions addressing that country's programs or"
        " concerning one of its entities.",
    )
    kind = django_filters.ChoiceFilter(
        choices=ActionKind.choices, empty_label="Any kind", widget=KeptSelect
    )
    date_from = django_filters.DateFilter(
        field_name="announced_on",
        lookup_expr="gte",
        label="From",
        help_text="Announced on or after (YYYY-MM-DD).",
        widget=_date_widget(),
    )
    date_to = django_filters.DateFilter(
        field_name="announced_on",
        lookup_expr="lte",
        label="To",
        help_text="Announced on or before (YYYY-MM-DD).",
        widget=_date_widget(),
    )
    partial = TrueFalseFilter(
        method="filter_partial",
        label="Partial records",
        help_text="true: actions whose announcement names more entities than are recorded;"
        " false: the others.",
    )
    sort = django_filters.ChoiceFilter(
        choices=[(value, label) for value, (label, _) in SORTS.items()],
        empty_label=None,
        widget=KeptSelect,
        method="filter_sort",
        label="Sort",
        help_text="newest (the default): by date of announcement, newest first; oldest: "
        "oldest first; entities: most entities named first, then newest.",
    )
    page_size = PageSizeFilter(
        method="filter_page_size",
        label="Per page",
        help_text=f"Results per page: {settings.PAGE_SIZE} unless given, at most "
        f"{MAX_PAGE_SIZE} (larger values are capped). Feeds and exports ignore it.",
    )

    class Meta:
        model = Action
        form = FilterForm
        fields = []

    def filter_q(self, queryset, name, value):
        """Words of the title, summary, reasons or sources, or of the name of an entity
        concerned (in any script or spelling its name key shares)."""
        words = name_key(value).split()
        if not words:
            return queryset
        names = EntityName.objects.filter(words__contains=words).values("entity")
        named = Designation.objects.filter(entity__in=names)
        return queryset.filter(
            Q(search_vector=text_query(value)) | Q(pk__in=named.values("action"))
        )

    def filter_country(self, queryset, name, value):
        """Actions addressing that country's programs or concerning one of its entities."""
        return queryset.filter(countries__contains=[value])

    def filter_partial(self, queryset, name, value):
        """Actions recording fewer entities than their announcement names (or the others)."""
        return queryset.filter(is_partial() if value else ~is_partial())

    def filter_sort(self, queryset, name, value):
        """The list in that order; the entity count is the one a list row shows."""
        if value == "entities":
            queryset = queryset.alias(entity_total=count_of(Designation.objects.all(), "action"))
        return queryset.order_by(*SORTS[value][1])

    def filter_page_size(self, queryset, name, value):
        """Selects nothing: the pages' and the API's paginators read it."""
        return queryset


class EntityFilter(django_filters.FilterSet):
    q = QueryFilter(
        method="filter_q", label="Name", help_text="Any name or alias, in any script or spelling."
    )
    kind = django_filters.ChoiceFilter(
        choices=EntityKind.choices, empty_label="Any kind", widget=KeptSelect
    )
    country = country_filter(
        method="filter_country", label="Country (ISO code)", help_text="Two letters, e.g. PK."
    )

    class Meta:
        model = Entity
        form = FilterForm
        fields = []

    def filter_queryset(self, queryset):
        """The name search last: it ranks and caps what the other filters leave."""
        cleaned = self.form.cleaned_data
        for name in sorted(cleaned, key=lambda name: name == "q"):
            queryset = self.filters[name].filter(queryset, cleaned[name])
        return queryset

    def filter_q(self, queryset, name, value):
        """Fuzzy, cross-script name search, best match first."""
        if not value.strip():
            return queryset
        return search_entities(queryset, value)

    def filter_country(self, queryset, name, value):
        return queryset.filter(countries__contains=[value])


def strict_filterset(filterset_class, data, *, queryset):
    """The bound filterset and, per parameter, what is wrong with the query: unknown or
    repeated parameters and invalid values. Exports and feeds refuse such a query, as
    answering with unfiltered data would pass for the filtered."""
    allowed = filterset_class.base_filters
    problems: dict[str, list[str]] = {}
    for key, values in data.lists():
        if key not in allowed:
            problems[key] = [f"Not a filter; use {', '.join(allowed)}."]
        elif len(values) > 1:
            problems[key] = [f"Given {len(values)} times; give it once."]
    filterset = filterset_class(data, queryset=queryset)
    if not filterset.is_valid():
        for field, errors in filterset.errors.get_json_data().items():
            problems.setdefault(field, []).extend(error["message"] for error in errors)
    else:
        # Checked like the filters, then set aside: a feed is newest first and an
        # export in record order, whole, whatever order or page size a list link gave.
        for name in LIST_OPTIONS:
            filterset.form.cleaned_data.pop(name, None)
    return filterset, problems
