"""Name keys for fuzzy, cross-script name search.

A name's key is its transliteration to Latin letters, lower-cased, with punctuation,
"&"/"and" and legal-form words (Ltd, Company, PVT, GmbH, ООО, 有限公司...) removed, so
"Akhtar & Sons Pvt. Ltd." and "AKHTAR AND SONS PRIVATE LIMITED" share one key and a
Cyrillic or Chinese alias can be found by its Latin spelling. Keys are stored beside
the names and matched with pg_trgm.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from anyascii import anyascii
from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    TrigramSimilarity,
    TrigramWordSimilarity,
)
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    F,
    Func,
    IntegerField,
    OuterRef,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, Greatest, NullIf, Replace

from .models import Alias, Designation, Entity, EntityName, NameWord

# Legal-form and filler words, compared after transliteration. Chinese forms
# transliterate to pinyin syllables (有限公司 → you xian gong si), Cyrillic ones to
# their Latin letters (ООО → ooo).
STOP_WORDS = frozenset(
    """
    and und et
    co company companies corp corporation inc incorporated
    ltd limited llc llp lp plc pvt private pte pty
    gmbh ag kg mbh sa sarl sas spa srl bv nv oy ab as
    jsc ojsc cjsc pjsc ooo zao oao pao tov
    fze fzc fzco fzllc est
    the of
    youxian gongsi youxiangongsi jituan
    """.split()
)

_CJK_SYLLABLE = re.compile(r"[A-Z][a-z]*")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _transliterate(text: str) -> str:
    """Latin letters for any script; each Han character becomes a separate syllable."""
    parts = []
    for char in unicodedata.normalize("NFKC", text):
        if "CJK" in unicodedata.name(char, ""):
            parts.append(f" {anyascii(char)} ")
        else:
            parts.append(anyascii(char))
    return "".join(parts)


def _join_chinese_forms(words: list[str]) -> list[str]:
    """Rejoin the pinyin syllables of the legal forms 有限公司 and 公司."""
    text = " ".join(words)
    text = text.replace("you xian gong si", "youxiangongsi").replace("gong si", "gongsi")
    return text.split()


def name_key(name: str) -> str:
    """The normalised, transliterated form of a name that search compares."""
    latin = _transliterate(name).replace("&", " and ").lower()
    words = _join_chinese_forms(_NON_WORD.sub(" ", latin).split())
    kept = [word for word in words if word not in STOP_WORDS]
    # A name made only of stop words ("The Company") keeps its words.
    return " ".join(kept or words)


# --- Name search -------------------------------------------------------------------

# The lowest score (similarity, 0..1, plus bonuses for exact, prefix and phrase
# matches) a name needs: two wrong letters in a short name still pass.
MIN_SCORE = 0.3

# How many names are scored for one query at most. A query of common words only
# ("trading") has more matches than anyone reads: the first hundred found are ranked.
CANDIDATES = 100

# Per query word, how many known words it may stand for (itself, misspellings of it,
# words it begins), and the trigram similarity a misspelling further off than one
# letter needs.
WORD_ALTERNATIVES = 20
WORD_SIMILARITY = 0.4


@dataclass(frozen=True)
class NameMatch:
    """An entity found by name search, with the name that matched and how well."""

    entity_id: int
    name: str
    is_primary: bool
    score: float


def index_names(*, entity_ids: Iterable[int] | None = None, chunk_size: int = 5000) -> int:
    """Bring the search names of the given entities (all when None) up to date.

    Only rows that differ are written, so indexing twice changes nothing. Returns the
    number of rows written or deleted.
    """
    ids = Entity.objects.order_by("pk").values_list("pk", flat=True)
    if entity_ids is not None:
        ids = ids.filter(pk__in=list(entity_ids))
    changed = 0
    chunk: list[int] = []
    for pk in ids.iterator(chunk_size=chunk_size):
        chunk.append(pk)
        if len(chunk) == chunk_size:
            changed += _index_chunk(chunk)
            chunk = []
    if chunk:
        changed += _index_chunk(chunk)
    return changed


def _index_chunk(entity_ids: list[int]) -> int:
    # A merged entity is found by its name as an alias of the one it was merged into.
    entities = Entity.objects.filter(pk__in=entity_ids, merged_into__isnull=True)
    wanted: dict[tuple[int, str], tuple[str, bool]] = {}
    for entity_id, name in Alias.objects.filter(entity__in=entities).values_list(
        "entity_id", "name"
    ):
        wanted[entity_id, name] = (name_key(name), False)
    for entity_id, name in entities.values_list("pk", "name"):
        wanted[entity_id, name] = (name_key(name), True)
    existing = {
        (entity_id, name): (pk, key, is_primary)
        for pk, entity_id, name, key, is_primary in EntityName.objects.filter(
            entity_id__in=entity_ids
        ).values_list("pk", "entity_id", "name", "key", "is_primary")
    }
    stale = [pk for item, (pk, *row) in existing.items() if wanted.get(item) != tuple(row)]
    new = [
        EntityName(entity_id=entity_id, name=name, key=key, is_primary=is_primary)
        for (entity_id, name), (key, is_primary) in wanted.items()
        if existing.get((entity_id, name), (None,))[1:] != (key, is_primary)
    ]
    words = {word for name in new for word in name.key.split()}
    with transaction.atomic():
        EntityName.objects.filter(pk__in=stale).delete()
        EntityName.objects.bulk_create(new, batch_size=2000)
        NameWord.objects.bulk_create(
            [NameWord(word=word) for word in sorted(words)], batch_size=2000, ignore_conflicts=True
        )
    return len(stale) + len(new)


def _forms(word: str) -> list[str]:
    """The word's forms, as sanctions_word_forms gives them for NameWord.forms: itself
    and, from five letters, itself with each one letter left out."""
    forms = {word}
    if len(word) >= 5:
        forms.update(word[:i] + word[i + 1 :] for i in range(len(word)))
    return sorted(forms)


def _known_words(words: list[str]) -> list[set[str]]:
    """For each query word, the indexed words it may stand for.

    Itself and the words one letter off (wrong, missing or extra), found through their
    stored forms (``_forms``); the last word, when it is no word of any name (being
    typed, say), also stands for the words it begins. Only when no query word has any
    of those are words further off looked for, by trigram similarity. All lookups go to
    the vocabulary, which is small next to the names.
    """
    lookups = []
    for position, word in enumerate(words):
        lookups.append(
            NameWord.objects.filter(forms__overlap=_forms(word))
            .annotate(similarity=TrigramSimilarity("word", word), position=Value(position))
            .order_by("-similarity")
            .values_list("word", "position")[:WORD_ALTERNATIVES]
        )
    last = len(words) - 1
    if len(words[last]) >= 3:
        # Any of the words it begins: ordering them would cost a sort of them all.
        lookups.append(
            NameWord.objects.filter(word__startswith=words[last])
            .annotate(position=Value(-1))
            .order_by()
            .values_list("word", "position")[:WORD_ALTERNATIVES]
        )
    known: list[set[str]] = [set() for _ in words]
    begun = set()
    for word, position in lookups[0].union(*lookups[1:], all=True):
        (begun if position < 0 else known[position]).add(word)
    if words[last] not in known[last]:
        known[last] |= begun
    if not any(known):
        _add_similar_words(words, known)
    return known


def _add_similar_words(words: list[str], known: list[set[str]]) -> None:
    lookups = [
        NameWord.objects.annotate(similarity=TrigramSimilarity("word", word))
        .filter(word__trigram_similar=word)
        .order_by("-similarity")
        .annotate(position=Value(position))
        .values_list("word", "position")[:WORD_ALTERNATIVES]
        for position, word in enumerate(words)
        if len(word) >= 3
    ]
    if not lookups:
        return
    with transaction.atomic():
        # The % operator's threshold, which the trigram index applies as it scans.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL pg_trgm.similarity_threshold = %s", [WORD_SIMILARITY])
        for word, position in lookups[0].union(*lookups[1:], all=True):
            known[position].add(word)


def _candidates(key: str, limit: int) -> set[int]:
    """Ids of the names worth scoring: those having every query word (or a word it may
    stand for) and those the key begins; failing any, those missing one query word."""
    names = EntityName.objects.order_by()
    exact = names.filter(key=key).values_list("pk", flat=True)[:limit]
    begun = names.filter(key__startswith=key).values_list("pk", flat=True)[:limit]
    candidates = set(exact.union(begun, all=True))
    known = [
        alternatives
        for alternatives in _known_words(list(dict.fromkeys(key.split())))
        if alternatives
    ]
    if not known:
        return candidates

    def having(groups):
        matching = names
        for alternatives in groups:
            matching = matching.filter(words__overlap=sorted(alternatives))
        return matching.values_list("pk", flat=True)

    found = set(having(known)[:CANDIDATES])
    if not found and len(known) > 1:
        # A word the names lack ("Centre" for "Complex"): leave each word out in turn.
        share = CANDIDATES // len(known)
        for left_out in range(len(known)):
            found.update(having(known[:left_out] + known[left_out + 1 :])[:share])
    return candidates | found


def match_names(query: str, *, entities=None, limit: int = 50) -> list[NameMatch]:
    """Entities whose primary name or an alias matches the query, best first.

    Exact key matches rank first, then prefix, then phrase matches, then trigram
    similarity, which tolerates typos and word order. ``entities`` restricts the results
    (a queryset). The names scored are found through the words index (``_candidates``),
    so a query costs about the same whatever the number of names.
    """
    key = name_key(query)
    if not key:
        return []
    candidates = _candidates(key, limit)
    if not candidates:
        return []
    compact_key = key.replace(" ", "")
    compact = Replace("key", Value(" "), Value(""), output_field=TextField())
    score = (
        Greatest(
            TrigramSimilarity("key", key),
            TrigramWordSimilarity(key, "key"),
            TrigramWordSimilarity(compact_key, compact),
        )
        # Of two names containing the query, the one closer to it in full ranks higher.
        + TrigramSimilarity("key", key) / 10
        + Case(
            When(key=key, then=Value(2.0)),
            When(key__startswith=key, then=Value(1.0)),
            When(key__contains=key, then=Value(0.5)),
            When(compact__contains=compact_key, then=Value(0.4)),
            default=Value(0.0),
        )
    )
    names = EntityName.objects.alias(compact=compact).filter(pk__in=candidates)
    rows = (
        names.annotate(score=score)
        .filter(score__gte=MIN_SCORE)
        .values("entity_id", "name", "is_primary", "score")
    )
    best: dict[int, dict] = {}
    for row in rows:
        current = best.get(row["entity_id"])
        if current is None or (row["score"], row["is_primary"]) > (
            current["score"],
            current["is_primary"],
        ):
            best[row["entity_id"]] = row
    if entities is not None and best:
        allowed = set(entities.order_by().filter(pk__in=best).values_list("pk", flat=True))
        best = {pk: row for pk, row in best.items() if pk in allowed}
    ranked = sorted(best.values(), key=lambda row: (-row["score"], row["name"]))[:limit]
    return [NameMatch(**row) for row in ranked]


def match_descriptions(query: str, *, entities, limit: int = 20) -> list[NameMatch]:
    """Entities whose description (addresses, parent bodies) has the query's words.

    At most FULL_TEXT_CANDIDATES matches, found through the index, are ranked.
    """
    tsquery = SearchQuery(clean_query(query), search_type="websearch", config="simple")
    candidates = entities.filter(search_vector=tsquery).order_by().values("pk")
    rows = (
        Entity.objects.filter(pk__in=candidates[:FULL_TEXT_CANDIDATES])
        .annotate(
            rank=SearchRank(F("search_vector"), tsquery),
            matched=SearchHeadline(
                "description",
                tsquery,
                config="simple",
                max_words=12,
                min_words=5,
                start_sel="",
                stop_sel="",
            ),
        )
        .order_by("-rank", "name")
        .values_list("pk", "matched")[:limit]
    )
    return [
        NameMatch(entity_id=pk, name=f"…{matched}…", is_primary=False, score=0.0)
        for pk, matched in rows
    ]


class _ArrayPosition(Func):
    function = "array_position"
    output_field = IntegerField()


class _ArrayItem(Func):
    """``(array)[index]``, for an array and a 1-based index."""

    template = "(%(expressions)s]"
    arg_joiner = ")["


def search_entities(entities, query: str, *, limit: int = 100):
    """The entities matching the query by name (or, when no name does, by description),
    best first.

    Each is annotated with ``matched_name``: the name or passage that matched.
    """
    matches = match_names(query, entities=entities, limit=limit) or match_descriptions(
        query, entities=entities, limit=limit
    )
    if not matches:
        return entities.none()
    ids = Value([m.entity_id for m in matches], output_field=ArrayField(BigIntegerField()))
    names = Value([m.name for m in matches], output_field=ArrayField(TextField()))
    rank = _ArrayPosition(ids, F("pk"))
    return (
        entities.filter(pk__in=[m.entity_id for m in matches])
        .annotate(
            search_rank=rank,
            matched_name=_ArrayItem(names, rank, output_field=TextField()),
        )
        .order_by("search_rank")
    )


# --- Full-text search ---------------------------------------------------------------

# Ranking every match of a common word over a large table costs hundreds of
# milliseconds, so each section ranks at most this many matches, found via the index.
FULL_TEXT_CANDIDATES = 500


# Markers around highlighted words: control characters that titles, summaries and
# excerpts do not contain, so the template can escape the snippet and then turn them
# into <mark>.
HIGHLIGHT_START, HIGHLIGHT_STOP = "\x02", "\x03"


def _headline(document, tsquery):
    return SearchHeadline(
        document,
        tsquery,
        config="english",
        max_fragments=2,
        start_sel=HIGHLIGHT_START,
        stop_sel=HIGHLIGHT_STOP,
    )


# A search box takes a name or a few words. Longer queries cost the database much and
# find nothing more, so they are refused with a reason, never cut.
MAX_QUERY_LENGTH = 200
MAX_QUERY_WORDS = 16


class QueryTooLong(ValueError):
    """A search query over MAX_QUERY_LENGTH characters or MAX_QUERY_WORDS words."""


def clean_query(query: str) -> str:
    """A search box's text as the database can take it: no NUL, no outer spaces.

    Raises QueryTooLong, whose message tells the user the limits.
    """
    query = query.replace("\x00", "").strip()
    if len(query) > MAX_QUERY_LENGTH or len(query.split()) > MAX_QUERY_WORDS:
        raise QueryTooLong(
            f"Search for at most {MAX_QUERY_WORDS} words and {MAX_QUERY_LENGTH} characters."
        )
    return query


def text_query(query: str) -> SearchQuery:
    """A web-search-style query ("quoted phrases", -exclusions, or) in English."""
    return SearchQuery(clean_query(query), search_type="websearch", config="english")


def search_actions(actions, query: str):
    """The actions whose document matches the query, best first, with a snippet."""
    tsquery = text_query(query)
    candidates = actions.filter(search_vector=tsquery).order_by().values("pk")
    reasons = (
        Designation.objects.filter(action=OuterRef("pk"))
        .values("action")
        .annotate(text=StringAgg("reason", " "))
        .values("text")
    )
    document = Concat(
        "title",
        Value(". "),
        "summary",
        Value(" "),
        Coalesce(Subquery(reasons), Value(""), output_field=TextField()),
        output_field=TextField(),
    )
    return (
        actions.filter(pk__in=candidates[:FULL_TEXT_CANDIDATES])
        .annotate(
            rank=SearchRank(F("search_vector"), tsquery, normalization=Value(1)),
            snippet=_headline(document, tsquery),
        )
        .order_by("-rank", "-announced_on", "-pk")
    )


def search_articles(articles, query: str):
    """The articles whose headline, excerpt or text match the query, best first."""
    tsquery = text_query(query)
    candidates = articles.filter(search_document=tsquery).order_by().values("pk")
    # The extracted text is searched but never shown: snippets come from the excerpt.
    passage = Coalesce(NullIf("excerpt", Value("")), "headline", output_field=TextField())
    return (
        articles.filter(pk__in=candidates[:FULL_TEXT_CANDIDATES])
        .annotate(
            rank=SearchRank(F("search_document"), tsquery, normalization=Value(1)),
            snippet=_headline(passage, tsquery),
        )
        .order_by("-rank", "-published_on", "-pk")
    )
