"""The counts of the action list: facets, the year chart and the page's ids, counted in
memory.

Facet counts need the actions matching every active filter but the facet's own: at
200,000 actions, eight scans of the action table a page (1.3 s). Each process instead
keeps the facet columns of all published actions as numpy arrays (a few megabytes) and
counts with boolean masks in milliseconds. Each ``ActionsChange`` logged since says which
actions to read again (``action_index``); a publish is in the next list, at no rebuild.
The ``q`` filter is resolved by the database (``ActionFilter.filter_q``) and applied as a
mask.

``ActionFilter`` still defines what each filter means, and the API, feeds and exports
filter in the database with it; tests hold the list to the same results.
"""

import copy
import logging
import threading
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

import numpy as np
from django.conf import settings
from django.db import connection, connections
from django.db.models import Max
from django.http import QueryDict

from .charts import YearChart, authority_colour, year_chart
from .countries import country_name
from .filters import LIST_OPTIONS, MAX_PAGE_SIZE, SORTS, ActionFilter
from .models import (
    Action,
    ActionKind,
    ActionsChange,
    Authority,
    Designation,
    LegalBasis,
    Program,
    count_of,
)

# The many-valued columns, each a facet and a filter.
LINKS = ("country", "legal_basis", "program")

# How many text queries' matches an index keeps (a bit per action each).
TEXT_QUERIES_KEPT = 64


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


@dataclass(frozen=True)
class Chip:
    """An active filter, as its cleaned value reads, and the query without it."""

    name: str
    label: str
    value: str
    query: str


@dataclass(frozen=True)
class Option:
    """One choice of how the list is arranged (a sort, a page size) and its query."""

    label: str
    query: str
    active: bool


@dataclass(frozen=True)
class YearCounts:
    """Actions per year and authority: the columns (authorities' short names in
    alphabetical order), each column's colour, and rows of (year, counts, total)."""

    columns: list[str]
    colours: list[str]
    years: list[tuple[int, list[int], int]]


class _Codes:
    """Small integer codes for the values of a column, and back."""

    def __init__(self, values=()):
        self.values = list(values)
        self.index = {value: code for code, value in enumerate(self.values)}

    def encode(self, values) -> np.ndarray:
        """The codes of the values, coding values not seen before (in the order met)."""
        codes = np.empty(len(values), dtype=np.int32)
        for i, value in enumerate(values):
            code = self.index.get(value)
            if code is None:
                code = self.index[value] = len(self.values)
                self.values.append(value)
            codes[i] = code
        return codes

    def copy(self) -> "_Codes":
        return _Codes(self.values)


_EPOCH = date(1970, 1, 1).toordinal()

# Rebuilding an index reads every published action: 2 s at 200,000. A few changed actions
# are read alone and merged into a copy instead, unless they are more than this.
MAX_CHANGED_READ = 20_000


@dataclass(frozen=True)
class _Columns:
    """The published actions' list columns as read from the database, in no order: one
    row an action, and (action id, value) pairs for the many-valued columns."""

    ids: np.ndarray
    authority: np.ndarray  # Authority pk
    kind: np.ndarray  # code of ActionKind.values
    day: np.ndarray  # announced_on as an ordinal
    partial: np.ndarray
    entity_total: np.ndarray
    links: dict  # name: (action ids, value codes)

    @classmethod
    def read(cls, actions, codes: dict[str, _Codes]) -> "_Columns":
        """The columns of ``actions`` (a queryset of published actions); the values of the
        many-valued columns as codes of ``codes[name]``, which learn new values."""
        kinds = {kind: code for code, kind in enumerate(ActionKind.values)}
        rows = list(
            actions.order_by()
            .with_partial()
            .annotate(entity_total=count_of(Designation.objects.all(), "action"))
            .values_list(
                "pk", "authority_id", "kind", "announced_on", "countries", "partial", "entity_total"
            )
        )
        size = len(rows)
        links = {
            "country": [(row[0], code) for row in rows for code in row[4]],
            "legal_basis": Action.legal_bases.through.objects.filter(
                action__in=actions
            ).values_list("action_id", "legalbasis_id"),
            "program": Action.programs.through.objects.filter(action__in=actions).values_list(
                "action_id", "program_id"
            ),
        }
        return cls(
            ids=np.fromiter((row[0] for row in rows), dtype=np.int64, count=size),
            authority=np.fromiter((row[1] for row in rows), dtype=np.int64, count=size),
            kind=np.fromiter((kinds[row[2]] for row in rows), dtype=np.int32, count=size),
            day=np.fromiter((row[3].toordinal() for row in rows), dtype=np.int32, count=size),
            partial=np.fromiter((bool(row[5]) for row in rows), dtype=bool, count=size),
            entity_total=np.fromiter((row[6] for row in rows), dtype=np.int64, count=size),
            links={name: _pair_arrays(list(pairs), codes[name]) for name, pairs in links.items()},
        )

    def without(self, ids: np.ndarray) -> "_Columns":
        """These columns less the rows (and pairs) of the given actions."""
        kept = ~np.isin(self.ids, ids)
        links = {}
        for name, (actions, values) in self.links.items():
            kept_pairs = ~np.isin(actions, ids)
            links[name] = (actions[kept_pairs], values[kept_pairs])
        return _Columns(**{column: getattr(self, column)[kept] for column in _ROWS}, links=links)

    def plus(self, other: "_Columns") -> "_Columns":
        """These columns and the other's, rows and pairs."""
        rows = {c: np.concatenate([getattr(self, c), getattr(other, c)]) for c in _ROWS}
        links = {
            name: tuple(np.concatenate(both) for both in zip(mine, other.links[name], strict=True))
            for name, mine in self.links.items()
        }
        return _Columns(**rows, links=links)


# The one-value-per-action columns of _Columns.
_ROWS = ("ids", "authority", "kind", "day", "partial", "entity_total")


def _dense_lookup(keys) -> np.ndarray:
    """An array mapping each of the (small, non-negative integer) keys to its position,
    and every other number up to the largest key to -1: a lookup in one step."""
    keys = np.asarray(keys, dtype=np.int64)
    lookup = np.full(int(keys.max(initial=-1)) + 1, -1, dtype=np.int64)
    lookup[keys] = np.arange(len(keys))
    return lookup


def _positions(lookup: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """lookup[keys], with -1 for keys past its end."""
    positions = np.full(len(keys), -1, dtype=np.int64)
    inside = keys < len(lookup)
    positions[inside] = lookup[keys[inside]]
    return positions


def _count_chosen(values: np.ndarray, chosen: np.ndarray, size: int) -> np.ndarray:
    """How many chosen rows have each value (0 to size - 1). Counted as (value, chosen)
    pairs, without a branch per row: picking the chosen rows out first costs twice as
    much when about half of them are."""
    return np.bincount(values * 2 + chosen, minlength=2 * size)[1::2]


def _pair_arrays(pairs, codes: _Codes):
    actions = np.fromiter((action for action, _ in pairs), dtype=np.int64, count=len(pairs))
    return actions, codes.encode([value for _, value in pairs])


class ActionIndex:
    """The facet columns of every published action, rows in list order (newest first).

    Built whole (``ActionIndex.read``) once a process, then kept up to date by merging
    the actions each change names (``updated``); reference data changes rebuild it.
    """

    def __init__(self, version, columns: _Columns, codes: dict[str, _Codes], labels=None):
        self.version = version
        self.columns = columns
        self.codes = codes
        self._matching: dict[str, np.ndarray] = {}
        self._matching_lock = threading.Lock()
        # Labels of reference data, read after the rows: each value read has one (rows
        # are PROTECTed); a change to reference data rebuilds the index.
        self.authority_labels, self.legal_basis_labels, self.program_labels = (
            labels or _read_labels()
        )
        # Rows in the order of SORTS["newest"]: announced_on, then pk, descending.
        order = np.lexsort((-columns.ids, -columns.day))
        self.size = len(order)
        self.ids = columns.ids[order]
        self.authorities = _Codes(sorted(self.authority_labels))
        self.authority = _positions(
            _dense_lookup(self.authorities.values), columns.authority[order]
        )
        self.kinds = _Codes(ActionKind.values)
        self.kind = columns.kind[order]
        self.day = columns.day[order]
        self.partial = columns.partial[order]
        self.entity_total = columns.entity_total[order]
        self._orders: dict[str, np.ndarray] = {}
        self._whole_counts: dict[str, dict] = {}
        years = (self.day - _EPOCH).astype("datetime64[D]").astype("datetime64[Y]")
        years = years.astype(np.int64) + 1970
        self.years = _Codes(range(int(years.min(initial=0)), int(years.max(initial=-1)) + 1))
        self.year = (years - self.years.values[0]).astype(np.int32) if self.size else years
        # Many-valued columns as (row, value code) pairs.
        known = {"legal_basis": self.legal_basis_labels, "program": self.program_labels}
        row_of = _dense_lookup(self.ids)
        self.links = {}
        for name, (actions, values) in columns.links.items():
            rows = _positions(row_of, actions)
            # A pair of an action published or a value added while the index was read is
            # left out; it changed the version, so the next page reads it.
            kept = rows >= 0
            if name in known:
                labelled = np.array([v in known[name] for v in codes[name].values], dtype=bool)
                kept &= labelled[values]
            self.links[name] = (rows[kept], values[kept], codes[name])

    @classmethod
    def read(cls, version) -> "ActionIndex":
        codes = {name: _Codes() for name in LINKS}
        return cls(version, _Columns.read(Action.objects.published(), codes), codes)

    def updated(self, version, changed) -> "ActionIndex":
        """A copy at ``version`` in which the given actions are read again (dropped when
        no longer published); text queries' matches are computed afresh."""
        if not changed:  # entities' names only: the rows are as they were
            index = copy.copy(self)
            index.version = version
            index._matching, index._matching_lock = {}, threading.Lock()
            return index
        changed = np.array(sorted(changed), dtype=np.int64)
        codes = {name: self.codes[name].copy() for name in LINKS}
        fresh = _Columns.read(Action.objects.published().filter(pk__in=changed.tolist()), codes)
        columns = self.columns.without(changed).plus(fresh)
        labels = (self.authority_labels, self.legal_basis_labels, self.program_labels)
        return ActionIndex(version, columns, codes, labels)

    def _linked(self, name, value) -> np.ndarray:
        rows, values, codes = self.links[name]
        mask = np.zeros(self.size, dtype=bool)
        code = codes.index.get(value)
        if code is not None:
            mask[rows[values == code]] = True
        return mask

    def order(self, sort: str) -> np.ndarray:
        """Row positions in the order of a sort of ``filters.SORTS`` (rows are newest
        first; a stable sort keeps that order among equals, as the database's does)."""
        if sort not in self._orders:
            if sort == "oldest":
                order = np.arange(self.size)[::-1]
            elif sort == "entities":
                order = np.argsort(-self.entity_total, kind="stable")
            else:
                order = np.arange(self.size)
            self._orders[sort] = order
        return self._orders[sort]

    def colour(self, authority: int) -> str:
        """An authority's colour in every chart: by its place in the order of creation
        (pk), never by its place among the results shown."""
        return authority_colour(self.authorities.index[authority])

    def matching(self, query: str, find_ids) -> np.ndarray:
        """The rows whose ids ``find_ids()`` returns for a text query, kept while the
        index lives: a common word matches most actions, and listing their ids again
        for each page would cost more than the rest of the page."""
        with self._matching_lock:
            if query in self._matching:
                return self._matching[query]
        mask = np.isin(self.ids, np.fromiter(find_ids(), dtype=np.int64))
        with self._matching_lock:
            if len(self._matching) >= TEXT_QUERIES_KEPT:
                self._matching.pop(next(iter(self._matching)))
            self._matching[query] = mask
        return mask

    def masks(self, cleaned: dict, text_mask=None) -> dict[str, np.ndarray]:
        """One boolean row mask per active filter, keyed by the filter's name."""
        masks = {}
        if cleaned.get("authority"):
            code = self.authorities.index.get(cleaned["authority"].pk, -1)
            masks["authority"] = self.authority == code
        if cleaned.get("kind"):
            masks["kind"] = self.kind == self.kinds.index.get(cleaned["kind"], -1)
        if cleaned.get("date_from"):
            masks["date_from"] = self.day >= cleaned["date_from"].toordinal()
        if cleaned.get("date_to"):
            masks["date_to"] = self.day <= cleaned["date_to"].toordinal()
        if cleaned.get("partial") is not None:
            masks["partial"] = self.partial == cleaned["partial"]
        if cleaned.get("legal_basis"):
            masks["legal_basis"] = self._linked("legal_basis", cleaned["legal_basis"].pk)
        if cleaned.get("program"):
            masks["program"] = self._linked("program", cleaned["program"].pk)
        if cleaned.get("country"):
            masks["country"] = self._linked("country", cleaned["country"])
        if text_mask is not None:
            masks["q"] = text_mask
        return masks

    def combined(self, masks: dict[str, np.ndarray], *, without=()) -> np.ndarray | None:
        """The rows every mask but those ``without`` selects; None when no mask applies."""
        applied = [mask for name, mask in masks.items() if name not in without]
        if not applied:
            return None
        result = applied[0].copy()
        for mask in applied[1:]:
            result &= mask
        return result

    def count_by(self, column: str, selected: np.ndarray | None) -> dict:
        """{value: number of selected rows having it} for a column, zeros left out;
        ``selected`` None counts every row."""
        if selected is None:
            return self._counted_whole(column, self.count_by, column)
        if column in self.links:
            rows, values, codes = self.links[column]
            chosen = selected[rows]
        else:
            codes = {"authority": self.authorities, "kind": self.kinds, "year": self.years}[column]
            values, chosen = getattr(self, column), selected
        counts = _count_chosen(values, chosen, len(codes.values))
        # Element by element, a numpy array costs a microsecond or more per value.
        found = np.flatnonzero(counts)
        values = [codes.values[code] for code in found.tolist()]
        return dict(zip(values, counts[found].tolist(), strict=True))

    def count_by_year_and_authority(
        self, selected: np.ndarray | None
    ) -> dict[tuple[int, int], int]:
        if selected is None:
            return self._counted_whole("year and authority", self.count_by_year_and_authority)
        width = len(self.authorities.values)
        cells = self.year.astype(np.int64) * width + self.authority
        counts = _count_chosen(cells, selected, len(self.years.values) * width)
        found = np.flatnonzero(counts)
        pairs = [
            (self.years.values[code // width], self.authorities.values[code % width])
            for code in found.tolist()
        ]
        return dict(zip(pairs, counts[found].tolist(), strict=True))

    def _counted_whole(self, key: str, count, *args) -> dict:
        """``count(*args, every row)``, kept while the index lives: the unfiltered list,
        the page opened most, asks the same every time."""
        if key not in self._whole_counts:
            self._whole_counts[key] = count(*args, np.ones(self.size, dtype=bool))
        return self._whole_counts[key]


def _read_labels():
    return (
        {
            pk: (name, slug, short_name)
            for pk, name, slug, short_name in Authority.objects.values_list(
                "pk", "name", "slug", "short_name"
            )
        },
        {
            pk: (short_name, slug)
            for pk, short_name, slug in LegalBasis.objects.values_list("pk", "short_name", "slug")
        },
        dict(Program.objects.values_list("pk", "code")),
    )


logger = logging.getLogger(__name__)
_lock = threading.Lock()
_current: ActionIndex | None = None
_rebuilding: threading.Thread | None = None


def action_index() -> tuple[ActionIndex, bool]:
    """This process's index, brought up to date, and whether it is: (index, current).

    The changes logged since the index's version name the actions to read again, merged
    in milliseconds. A change to reference data, or to very many actions, needs the whole
    index read again: a thread rebuilds it while lists answer from the one they have,
    said to be out of date. The whole index is read on the request only for a process's
    first list, when the log no longer holds the index's version (pruned, rolled back or
    emptied: it cannot say what changed), and inside a transaction, whose writes a
    thread would not see.
    """
    global _current
    with _lock:
        if _current is None:
            _current = ActionIndex.read(_latest_version())
            return _current, True
        if _rebuilding is not None:
            return _current, False
        log = list(
            ActionsChange.objects.filter(pk__gte=_current.version)
            .order_by("pk")
            .values_list("pk", "actions")
        )
        if not log or log[0][0] != _current.version:
            _current = ActionIndex.read(_latest_version())
            return _current, True
        if len(log) == 1:  # nothing changed
            return _current, True
        changed = set()
        for _pk, actions in log[1:]:
            changed.update(actions if actions is not None else [None])
        if None in changed or len(changed) > MAX_CHANGED_READ:
            if connection.in_atomic_block:
                _current = ActionIndex.read(_latest_version())
                return _current, True
            _rebuild_in_background()
            return _current, False
        _current = _current.updated(log[-1][0], changed)
        return _current, True


def _latest_version() -> int:
    return ActionsChange.objects.aggregate(latest=Max("pk"))["latest"] or 0


def _rebuild_in_background():
    global _rebuilding

    def rebuild():
        global _current, _rebuilding
        try:
            index = ActionIndex.read(_latest_version())
            with _lock:
                _current = index
        except Exception:  # the next list asks again
            logger.exception("rebuilding the index of published actions failed")
        finally:
            connections.close_all()
            with _lock:
                _rebuilding = None

    _rebuilding = threading.Thread(target=rebuild, name="action-index", daemon=True)
    _rebuilding.start()


class ActionListing:
    """A filtered list of published actions: its ids in order, facets and year counts.

    Invalid filter values are ignored, as ActionFilter ignores them; its form says why.
    """

    def __init__(self, filterset: ActionFilter):
        self.data = filterset.data.copy() if filterset.is_bound else QueryDict(mutable=True)
        self.form = filterset.form
        cleaned = {}
        if filterset.is_bound:
            filterset.form.is_valid()
            cleaned = filterset.form.cleaned_data
        self.cleaned = cleaned
        self.sort = cleaned.get("sort") or "newest"
        self.page_size = cleaned.get("page_size") or settings.PAGE_SIZE
        # Each active filter's value as its facet links write it, to mark those active.
        self.keys = {name: _key(value) for name, value in cleaned.items() if _given(value)}
        self.index, self.current = action_index()
        text_mask = None
        if query := cleaned.get("q"):
            text_mask = self.index.matching(
                query,
                lambda: (
                    filterset.filter_q(Action.objects.all(), "q", query)
                    .order_by()
                    .values_list("pk", flat=True)
                ),
            )
        self.masks = self.index.masks(cleaned, text_mask)
        self.selected = self.index.combined(self.masks)

    @property
    def ids(self) -> np.ndarray:
        """The matching actions' ids, in the order of the list's sort."""
        order = self.index.order(self.sort)
        if self.selected is None:
            return self.index.ids[order]
        return self.index.ids[order][self.selected[order]]

    def counts_by_year_and_authority(self) -> YearCounts:
        labels = self.index.authority_labels
        table: dict[int, dict[int, int]] = {}
        for (year, authority), n in self.index.count_by_year_and_authority(self.selected).items():
            table.setdefault(year, {})[authority] = n
        columns = sorted(
            {pk for counts in table.values() for pk in counts},
            key=lambda pk: (labels[pk][2], pk),
        )
        years = [
            (year, [table[year].get(pk, 0) for pk in columns], sum(table[year].values()))
            for year in sorted(table)
        ]
        return YearCounts(
            columns=[labels[pk][2] for pk in columns],
            colours=[self.index.colour(pk) for pk in columns],
            years=years,
        )

    def year_chart(self) -> YearChart:
        counts = self.counts_by_year_and_authority()
        return year_chart(counts.columns, counts.years, counts.colours)

    def chips(self) -> list[Chip]:
        """The filters in force, in ActionFilter's order: each as the filter read it
        (``?country=pk%20`` is Pakistan), with the query that drops it."""
        chips = []
        for name, value in self.cleaned.items():
            if name in LIST_OPTIONS or not _given(value):
                continue
            chips.append(
                Chip(
                    name=name,
                    label=CHIP_LABELS.get(name) or str(self.form[name].label),
                    value=_chip_value(name, value),
                    query=_query_without(self.data, [name]),
                )
            )
        return chips

    @property
    def filter_query(self) -> str:
        """The query with the filters only, for feeds and exports of the same actions."""
        return _query_without(self.data, LIST_OPTIONS)

    def sort_options(self) -> list[Option]:
        return [
            Option(label, _query_with(self.data, sort=value), value == self.sort)
            for value, (label, _) in SORTS.items()
        ]

    def page_size_options(self) -> list[Option]:
        sizes = sorted({settings.PAGE_SIZE, 50, MAX_PAGE_SIZE, self.page_size})
        return [
            Option(str(size), _query_with(self.data, page_size=str(size)), size == self.page_size)
            for size in sizes
        ]

    def facets(self) -> list[Facet]:
        """Counts for each facet under the other active filters.

        A value's count is the number of actions its link leads to: the facet's own
        filter is replaced, the others are kept.
        """
        authorities = self.index.authority_labels
        legal_bases = self.index.legal_basis_labels
        programs = self.index.program_labels
        years = self._counts("year", ["date_from", "date_to"])
        return [
            self._facet(
                "authority",
                "Authority",
                ["authority"],
                [
                    (authorities[pk][0], n, {"authority": authorities[pk][1]})
                    for pk, n in self._counts("authority").items()
                ],
            ),
            self._facet(
                "legal_basis",
                "Legal basis",
                ["legal_basis"],
                [
                    (legal_bases[pk][0], n, {"legal_basis": legal_bases[pk][1]})
                    for pk, n in self._counts("legal_basis").items()
                ],
            ),
            self._facet(
                "program",
                "Program",
                ["program"],
                [
                    (programs[pk], n, {"program": programs[pk]})
                    for pk, n in self._counts("program").items()
                ],
            ),
            self._facet(
                "country",
                "Country",
                ["country"],
                [
                    (country_name(code), n, {"country": code})
                    for code, n in self._counts("country").items()
                ],
            ),
            self._facet(
                "kind",
                "Kind",
                ["kind"],
                [
                    (ActionKind(kind).label, n, {"kind": kind})
                    for kind, n in self._counts("kind").items()
                ],
            ),
            self._facet(
                "year",
                "Year",
                ["date_from", "date_to"],
                [
                    (str(year), n, {"date_from": f"{year}-01-01", "date_to": f"{year}-12-31"})
                    for year, n in years.items()
                ],
                # Newest first, as the list: its first values are the recent years.
                order=lambda value: -int(value.label),
            ),
        ]

    def _counts(self, column, params=None):
        selected = self.index.combined(self.masks, without=params or [column])
        return self.index.count_by(column, selected)

    def _facet(self, name, label, params, counted, order=None):
        others = _query_without(self.data, params)  # the query each value's link extends
        values = [
            FacetValue(
                label=value_label,
                count=count,
                query="&".join(filter(None, [others, urlencode(query_values)])),
                # Compared with what the filter read, so ?country=pk%20 marks Pakistan.
                active=all(self.keys.get(key) == value for key, value in query_values.items()),
            )
            for value_label, count, query_values in counted
        ]
        return Facet(name, label, sorted(values, key=order or (lambda v: (-v.count, v.label))))


# Chip labels where the form's label says how to type the value rather than what it is.
CHIP_LABELS = {"country": "Country", "q": "Text"}


def _given(value) -> bool:
    return value not in (None, "")


def _key(value) -> str:
    """A cleaned filter value as a facet link writes it."""
    for attribute in ("slug", "code"):  # authorities and legal bases; programs
        if hasattr(value, attribute):
            return getattr(value, attribute)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _chip_value(name: str, value) -> str:
    if name == "country":
        return f"{country_name(value)} ({value})"
    if name == "kind":
        return ActionKind(value).label
    if name == "partial":
        return "partial only" if value else "complete only"
    if name == "q":
        return f"“{value}”"
    return _key(value) if hasattr(value, "isoformat") else str(value)


def _query_without(data: QueryDict, params) -> str:
    query = data.copy()
    for param in ("page", *params):
        query.pop(param, None)
    return query.urlencode()


def _query_with(data: QueryDict, **values: str) -> str:
    query = data.copy()
    query.pop("page", None)
    for param, value in values.items():
        query[param] = value
    return query.urlencode()
