"""Name keys for fuzzy, cross-script name search.

A name's key is its transliteration to Latin letters, lower-cased, with punctuation,
"&"/"and" and legal-form words (Ltd, Company, PVT, GmbH, ООО, 有限公司...) removed, so
"Akhtar & Sons Pvt. Ltd." and "AKHTAR AND SONS PRIVATE LIMITED" share one key and a
Cyrillic or Chinese alias can be found by its Latin spelling. Keys are stored beside
the names and matched with pg_trgm.
"""

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from anyascii import anyascii
from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
    TrigramSimilarity,
    TrigramWordSimilarity,
)
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, Greatest, NullIf, Replace

from .models import (
    Action,
    Alias,
    AliasKind,
    Coverage,
    Designation,
    Entity,
    EntityName,
    NameWord,
    Script,
)

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

# Transliterated names join or split their words at will ("Long De" and "Longde",
# "Kim Il Sung" and "Kim Ilsung"), so names are also looked up with two adjacent query
# words joined, or one word split in two, where the vocabulary knows the result: at most
# this many such variants a query, each one more (capped) lookup of the words index in
# the statement that makes the others.
WORD_VARIANTS = 4
# A word splits only into parts of this many letters or more.
SPLIT_PART = 2


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
    stale, new = _differences(entity_ids)
    words = {word for name in new for word in name.key.split()}
    with transaction.atomic():
        EntityName.objects.filter(pk__in=stale).delete()
        EntityName.objects.bulk_create(new, batch_size=2000)
        NameWord.objects.bulk_create(
            [NameWord(word=word) for word in sorted(words)], batch_size=2000, ignore_conflicts=True
        )
    return len(stale) + len(new)


def _differences(entity_ids: list[int]) -> tuple[list[int], list[EntityName]]:
    """The search names of these entities that are wrong (ids) and those missing."""
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
    return stale, new


def stale_names() -> list[int]:
    """The entities whose search names are not what index_names() would make of their
    names and aliases: every writer of names must index them. For tests and checks, as
    it reads every name."""
    stale, new = _differences(list(Entity.objects.values_list("pk", flat=True)))
    wrong = EntityName.objects.filter(pk__in=stale).values_list("entity_id", flat=True)
    return sorted({*wrong, *(name.entity_id for name in new)})


def _splits(word: str) -> list[tuple[str, str]]:
    """The ways to cut a word in two parts of SPLIT_PART letters or more."""
    return [(word[:i], word[i:]) for i in range(SPLIT_PART, len(word) - SPLIT_PART + 1)]


# A query term: a word as typed (or joined, or split) and the indexed words it may
# stand for.
Term = tuple[str, set[str]]


# The vocabulary lookup of _known_words: the parts words may split into, as they are
# (by primary key); per word and join, the closest words sharing a form with it (each
# its own index lookup: one array of all their forms would be estimated to match most
# words, and read in full); and the words the last word begins.
_VOCABULARY = """
SELECT '=', word FROM sanctions_nameword WHERE word = ANY(%(exact)s)
UNION ALL
SELECT looked_up.word, close.word
  FROM unnest(%(looked_up)s::text[]) AS looked_up(word)
 CROSS JOIN LATERAL (
       SELECT word FROM sanctions_nameword
        WHERE forms && sanctions_word_forms(looked_up.word)
        ORDER BY similarity(word, looked_up.word) DESC
        LIMIT %(alternatives)s) AS close
UNION ALL
(SELECT '*', word FROM sanctions_nameword WHERE word LIKE %(begun)s LIMIT %(alternatives)s)
"""


def _known_words(words: list[str]) -> tuple[list[Term], list[list[Term]]]:
    """The query's terms: each word with the indexed words it may stand for; and the
    query's variants with two adjacent words joined or one word split in two.

    A word stands for itself and the words one letter off (wrong, missing or extra),
    found through their forms (NameWord.forms), the closest WORD_ALTERNATIVES; the
    last word, when it is no word of any name (being typed, say), also stands for the
    words it begins. Only when no query word has any of those, and no variant is known,
    are words further off looked for, by trigram similarity.

    A join ("long de" → "longde") is looked up as a query word is; a split ("ilsung" →
    "il sung") only into two words the vocabulary has as they are, the most even cut
    first. All of it is one statement to the vocabulary, which is small next to the
    names: for n words, 2n - 1 index lookups of forms, one of words by primary key and
    one of a prefix.
    """
    joins = [first + second for first, second in zip(words, words[1:], strict=False)]
    looked_up = list(dict.fromkeys(words + joins))
    parts = {part for word in words for cut in _splits(word) for part in cut}
    last = words[-1]
    params = {
        "exact": sorted(parts),
        "looked_up": looked_up,
        "alternatives": WORD_ALTERNATIVES,
        # Words have no LIKE wildcards; a word too short to begin many is not looked up.
        "begun": f"{last}%" if len(last) >= 3 else "",
    }
    found: dict[str, set[str]] = defaultdict(set)
    with connection.cursor() as cursor:
        cursor.execute(_VOCABULARY, params)
        for tag, word in cursor.fetchall():
            found[tag].add(word)
    terms = [(word, set(found[word])) for word in words]
    if last not in terms[-1][1]:
        terms[-1][1].update(found["*"])
    changes = [(i, i + 2, [(join, found[join])]) for i, join in enumerate(joins) if found[join]]
    for i, word in enumerate(words):
        cuts = [cut for cut in _splits(word) if set(cut) <= found["="]]
        if cuts:
            first, second = max(cuts, key=lambda cut: min(map(len, cut)))
            changes.append((i, i + 1, [(first, {first}), (second, {second})]))
    variants = _variants(terms, changes)
    if not any(alternatives for _, alternatives in terms) and not variants:
        _add_similar_words(words, [alternatives for _, alternatives in terms])
    return terms, variants


def _variants(terms: list[Term], changes: list) -> list[list[Term]]:
    """The terms with each change (start, stop, replacement) made alone and, first, with
    as many of them made together as do not overlap; WORD_VARIANTS at most."""

    def changed(chosen):
        result, at = [], 0
        for start, stop, replacement in chosen:
            result += terms[at:start] + replacement
            at = stop
        return result + terms[at:]

    together, end = [], 0
    for change in sorted(changes, key=lambda change: change[:2]):
        if change[0] >= end:
            together.append(change)
            end = change[1]
    variants = [changed(together)] if len(together) > 1 else []
    variants += [changed([change]) for change in changes]
    return variants[:WORD_VARIANTS]


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
    stand for), or every word of a variant of the query with words joined or split, and
    those whose key is the query's (or a variant's) or begins with the query's; failing
    any by words, those missing one query word."""
    terms, variants = _known_words(key.split())
    names = EntityName.objects.order_by()

    def having(groups):
        matching = names
        for alternatives in dict.fromkeys(frozenset(group) for group in groups if group):
            matching = matching.filter(words__overlap=sorted(alternatives))
        return matching

    keys = [key, *(" ".join(word for word, _ in variant) for variant in variants)]
    lookups = [
        lookup.annotate(by_words=Value(False)).values_list("pk", "by_words")[:limit]
        for lookup in (names.filter(key__in=keys), names.filter(key__startswith=key))
    ]
    for query in [terms, *variants]:
        groups = [group for _, group in query]
        if any(groups):
            lookup = having(groups).annotate(by_words=Value(True))
            lookups.append(lookup.values_list("pk", "by_words")[:CANDIDATES])
    candidates, found = set(), False
    for pk, found_by_words in lookups[0].union(*lookups[1:], all=True):
        candidates.add(pk)
        found = found or found_by_words
    known = [group for _, group in terms if group]
    if not found and len(known) > 1:
        # A word the names lack ("Centre" for "Complex"): leave each word out in turn.
        share = CANDIDATES // len(known)
        left_out = [
            having(known[:i] + known[i + 1 :]).values_list("pk", flat=True)[:share]
            for i in range(len(known))
        ]
        candidates.update(left_out[0].union(*left_out[1:], all=True))
    return candidates


def match_names(query: str, *, entities=None, limit: int = 50) -> list[NameMatch]:
    """Entities whose primary name or an alias matches the query, best first.

    Exact key matches rank first, then prefix, then phrase matches, then trigram
    similarity, which tolerates typos and word order; spaces aside, so words joined or
    split otherwise than the query's cost nothing. ``entities`` restricts the results
    (a queryset). The names scored are found through the words index (``_candidates``),
    so a query costs about the same whatever the number of names.
    """
    key = name_key(query)
    if not key:
        return []
    candidates = _candidates(key, limit)
    if not candidates:
        return []
    # Keys without their spaces: a name whose words are joined or split otherwise than
    # the query's ("Longde", "Long De") scores as if written the same way.
    compact_key = key.replace(" ", "")
    compact = Replace("key", Value(" "), Value(""), output_field=TextField())
    score = (
        Greatest(
            TrigramSimilarity("key", key),
            TrigramSimilarity(compact, compact_key),
            TrigramWordSimilarity(key, "key"),
            TrigramWordSimilarity(compact_key, compact),
        )
        # Of two names containing the query, the one closer to it in full ranks higher;
        # of two written alike but for spaces, the one spaced as the query is.
        + TrigramSimilarity("key", key) / 10
        + Case(
            When(compact=compact_key, then=Value(2.0)),
            When(compact__startswith=compact_key, then=Value(1.0)),
            When(compact__contains=compact_key, then=Value(0.5)),
            default=Value(0.0),
        )
    )
    names = EntityName.objects.alias(compact=compact).filter(pk__in=candidates)
    if entities is not None:
        names = names.filter(entity__in=entities.order_by().values("pk"))
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
    ranked = sorted(best.values(), key=lambda row: (-row["score"], row["name"]))[:limit]
    return [NameMatch(**row) for row in ranked]


def _without_legal_forms(query: str) -> str:
    """A web-search query without its legal-form and filler words, as name keys leave them
    out: most descriptions have "co" or "ltd", and intersecting the index's lists of such
    words cost 20-50 ms a query. Words in quotes ("Bank of China") and excluded ones
    (-ltd) are kept, as is a query with nothing else."""
    parts = query.split('"')
    for i in range(0, len(parts), 2):  # outside quotes
        words = parts[i].split()
        kept = [w for w in words if w[0] == "-" or _NON_WORD.sub("", w.lower()) not in STOP_WORDS]
        parts[i] = f" {' '.join(kept)} "
    shorter = '"'.join(parts).strip()
    return shorter if _NON_WORD.sub("", shorter.lower()) else query


def match_descriptions(query: str, *, entities, limit: int = 20) -> list[NameMatch]:
    """Entities whose description (addresses, parent bodies) has the query's words.

    At most FULL_TEXT_CANDIDATES matches, found through the index, are ranked.
    """
    query = _without_legal_forms(clean_query(query))
    tsquery = SearchQuery(query, search_type="websearch", config="simple")
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


# The name score (see match_names) from which a name match counts as close: containing
# the query, or a few letters off it. On the search page, close ones rank above the
# entities found by their words, and the coverage of their actions is listed.
CLOSE_NAME = 0.5

# The search page also finds entities by the reason and measures of their designations
# in at most this many of the actions the query matches: no index covers those columns,
# so they are read for these actions' designations only.
TEXT_ACTIONS = 100

# A summary's sentences end at a full stop after a word of five letters or more (or a
# bracket or quote), never after an abbreviation ("Co.", "Ltd.", "U.S."), or at ";".
_SENTENCE_END = re.compile(r"(?:(?<=\w{5})|(?<=[)\]\"”’]))[.!?](?=\s)|;")
_TOKEN = re.compile(r"\w+")


def match_texts(query: str, *, entities, actions=(), limit: int = 20) -> list[NameMatch]:
    """Entities whose own words say what the query does, with the passage: their
    description, the reason or measures of their designation, or the passage of one of
    the given actions' summaries (the search page's) that names them, in that order."""
    tsquery = text_query(query)
    matches = match_descriptions(query, entities=entities, limit=limit)
    candidates = Action.objects.published().filter(search_vector=tsquery).order_by().values("pk")
    said = SearchVector("reason", "measures", config="english")
    designations = (
        Designation.objects.filter(action__in=candidates[:TEXT_ACTIONS], entity__in=entities)
        .alias(said=said)
        .filter(said=tsquery)
        .annotate(
            rank=SearchRank(said, tsquery),
            passage=SearchHeadline(
                Concat("reason", Value(" "), "measures", output_field=TextField()),
                tsquery,
                config="english",
                max_words=12,
                min_words=5,
                start_sel="",
                stop_sel="",
            ),
        )
        .order_by("-rank", "-action__announced_on", "pk")
        .values_list("entity_id", "passage")[:limit]
    )
    matches += [_text_match(pk, passage) for pk, passage in designations]
    if actions:
        matches += _named_in_summaries(query, entities=entities, actions=actions)
    return matches


def _named_in_summaries(query: str, *, entities, actions) -> list[NameMatch]:
    """The entities an action's summary names with all the query's words after the name,
    before the next entity's name or the sentence's end: "Xi'an Longde (filament winding
    machine), Tianjin Creative Source (...)".

    A query word is read as any word beginning with all but its last two letters
    ("machines" for "machine"); a name is found by the first three words of its key.
    """
    stems = [word[: max(3, len(word) - 2)] for word in name_key(query).split()]
    # Only the sentences having every query word are read for names, and only when
    # there are any are the actions' designations.
    saying = defaultdict(list)
    for action in actions if stems else ():
        for sentence in _SENTENCE_END.split(action.summary):
            words = _key_words(sentence)
            if all(any(word.startswith(stem) for word, *_ in words) for stem in stems):
                saying[action.pk].append((sentence, words))
    if not saying:
        return []
    heads = defaultdict(list)
    for action_id, entity_id, *names in (
        Designation.objects.filter(action__in=list(saying), entity__in=entities)
        .order_by("action", "position", "pk")
        .values_list("action_id", "entity_id", "name_as_listed", "entity__name")
    ):
        for name in dict.fromkeys(filter(None, names)):
            if head := [word for word, *_ in _key_words(name)[:3]]:
                heads[action_id].append((entity_id, head))
    return [
        match
        for action in actions
        for sentence, words in saying[action.pk]
        for match in _named_in(sentence, words, heads[action.pk], stems)
    ]


def _named_in(sentence: str, words: list, heads: list, stems: list[str]) -> list[NameMatch]:
    """The entities (id, first words of the name) the sentence (and its key's words)
    names with the stems after the name."""
    keys = [word for word, *_ in words]
    found = {}
    for entity_id, head in heads:
        at = next((i for i in range(len(keys)) if keys[i : i + len(head)] == head), None)
        if at is not None:
            found.setdefault(entity_id, at)
    starts = sorted(found.values()) + [len(keys)]
    matches = []
    for entity_id, start in found.items():
        stop = starts[starts.index(start) + 1]
        hits = [
            next((i for i in range(start, stop) if keys[i].startswith(stem)), None)
            for stem in stems
        ]
        if None not in hits:
            passage = sentence[words[start][1] : words[max(hits)][2]]
            # Close the bracket the goods were given in: "Longde (filament winding machine)".
            passage += ")" * (passage.count("(") - passage.count(")"))
            matches.append(_text_match(entity_id, passage))
    return matches


def _key_words(text: str) -> list[tuple[str, int, int]]:
    """The words of the text's name key, each with the span of the text it comes from."""
    return [
        (word, token.start(), token.end())
        for token in _TOKEN.finditer(text)
        for word in _NON_WORD.sub(" ", _transliterate(token[0]).lower()).split()
        if word not in STOP_WORDS
    ]


def _text_match(entity_id: int, passage: str) -> NameMatch:
    return NameMatch(entity_id=entity_id, name=f"…{passage}…", is_primary=False, score=0.0)


class _ArrayPosition(Func):
    function = "array_position"
    output_field = IntegerField()


class _ArrayItem(Func):
    """``(array)[index]``, for an array and a 1-based index."""

    template = "(%(expressions)s]"
    arg_joiner = ")["


def search_entities(entities, query: str, *, limit: int = 100, actions=None):
    """The entities matching the query by name (or, when no name does, by description),
    best first.

    With ``actions`` (the search page's results), entities are also found by their own
    words (``match_texts``), ranked between the close name matches and the others. Each
    is annotated with ``matched_name``, the name or passage that matched, and
    ``name_score``, the name's score (0 for a passage).
    """
    names = match_names(query, entities=entities, limit=limit)
    if actions is None:
        matches = names or match_descriptions(query, entities=entities, limit=limit)
    else:
        close = [match for match in names if match.score >= CLOSE_NAME]
        texts = match_texts(query, entities=entities, actions=actions, limit=limit)
        matches = close + texts + names[len(close) :]
    first: dict[int, NameMatch] = {}
    for match in matches:
        first.setdefault(match.entity_id, match)
    matches = list(first.values())[:limit]
    if not matches:
        return entities.none()
    ids = Value([m.entity_id for m in matches], output_field=ArrayField(BigIntegerField()))
    names = Value([m.name for m in matches], output_field=ArrayField(TextField()))
    scores = Value([m.score for m in matches], output_field=ArrayField(FloatField()))
    rank = _ArrayPosition(ids, F("pk"))
    return (
        entities.filter(pk__in=[m.entity_id for m in matches])
        .annotate(
            search_rank=rank,
            matched_name=_ArrayItem(names, rank, output_field=TextField()),
            name_score=_ArrayItem(scores, rank, output_field=FloatField()),
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


def search_articles(articles, query: str, *, entities=()):
    """The articles whose headline, excerpt or text match the query, best first; then
    those covering a published action that names one of the ``entities`` (the search
    page's) found by a close name.

    Each is annotated with ``direct`` (it matched the query itself) and, when it covers
    such an action, ``covers_pk`` and ``covers_title``: the latest of them.
    """
    tsquery = text_query(query)
    candidates = articles.filter(search_document=tsquery).order_by().values("pk")
    candidates = candidates[:FULL_TEXT_CANDIDATES]
    named = [entity.pk for entity in entities if entity.name_score >= CLOSE_NAME]
    covering = Coverage.objects.published().filter(action__designations__entity__in=named)
    if named:
        # A union, not an OR of two IN lists, which would scan every article.
        candidates = candidates.union(
            covering.order_by().values("article")[:FULL_TEXT_CANDIDATES], all=True
        )
    covers = covering.filter(article=OuterRef("pk")).order_by("-action__announced_on", "-pk")
    # The extracted text is searched but never shown: snippets come from the excerpt.
    passage = Coalesce(NullIf("excerpt", Value("")), "headline", output_field=TextField())
    return (
        articles.filter(pk__in=candidates)
        .annotate(
            direct=ExpressionWrapper(Q(search_document=tsquery), output_field=BooleanField()),
            rank=SearchRank(F("search_document"), tsquery, normalization=Value(1)),
            snippet=_headline(passage, tsquery),
            covers_pk=Subquery(covers.values("action")[:1]),
            covers_title=Subquery(covers.values("action__title")[:1]),
        )
        .order_by("-direct", "-rank", "-published_on", "-pk")
    )


def other_scripts(entities: list[Entity]) -> list[Entity]:
    """Give each entity ``other_scripts``: its names in scripts other than Latin, one a
    script (the one that matched the query, else the name in original script, else the
    first), as a dict by name; read in one query. The entities come back."""
    by_entity: dict[int, dict[str, Alias]] = defaultdict(dict)
    aliases = (
        Alias.objects.filter(entity__in=entities)
        .exclude(script__in=[Script.LATIN, ""])
        .annotate(original=Case(When(kind=AliasKind.ORIGINAL, then=Value(0)), default=Value(1)))
        .order_by("entity", "script", "original", "name")
    )
    matched = {entity.pk: getattr(entity, "matched_name", None) for entity in entities}
    for alias in aliases:
        scripts = by_entity[alias.entity_id]
        if alias.script not in scripts or alias.name == matched[alias.entity_id]:
            scripts[alias.script] = alias
    for entity in entities:
        entity.other_scripts = {alias.name: alias for alias in by_entity[entity.pk].values()}
    return entities
