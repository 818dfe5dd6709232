"""Store a parsed official list as an import run: stage, check, match, compare, propose.

The format modules turn a file into `Entry` records; `import_entries` does the rest in
one transaction, so a run that fails or is refused changes nothing but its own record:

1. the entries stream from the parser into a temporary table through COPY, so memory
   stays flat whatever the file size, and the rest is set-based SQL;
2. a file older than the list's last completed run, or whose entry count is more than
   half off that run's, is refused unless forced; so is one that states a record count
   other than the number of entries read;
3. each entry new to the list is linked to an entity: the one holding its official
   identifier, else the one entity of the same sort whose name or alias has the same
   match key, else a new one. Existing entities gain identifiers and aliases; their
   names, kinds and countries stay as editors left them; search's name index follows;
4. the run is compared with the list's current entries (what the previous completed run
   read): additions, removals and program changes become ListChange rows;
5. the changes become draft actions for editors, grouped as announcements are: one per
   program set and listing date. A list's first run is its baseline and proposes nothing.
"""

import contextlib
import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import pghistory
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from sanctions.models import (
    Alias,
    Entity,
    EntityKind,
    EntityName,
    Identifier,
    ImportRun,
    ImportStatus,
    ListChange,
    ListEntry,
    ListName,
    Program,
    Script,
    detect_script,
)
from sanctions.search import index_names, name_key

from .proposals import propose
from .reading import Entry, Header, ImportFailed, ImportRefused, ListFormatError

logger = logging.getLogger(__name__)

# A run whose entry count moves by more than this share of the last run's is refused.
MAX_COUNT_CHANGE = 0.5

# A run that removes more than this share of the list's entries (and more than
# MIN_REMOVALS_CHECKED of them) is refused: lists shrink by a few entries at a time, and
# a mass removal is likelier a cut or wrong file than an announcement.
MAX_REMOVED_SHARE = 0.02
MIN_REMOVALS_CHECKED = 5

# How many names one query looks up when matching entries to entities by name.
NAME_LOOKUP_BATCH = 500

# The identifier scheme of each list's entry numbers.
LIST_SCHEMES = {
    ListName.OFAC_SDN: "ofac",
    ListName.OFAC_CONSOLIDATED: "ofac",  # one numbering for all of OFAC's lists
    ListName.UN_CONSOLIDATED: "un",
}


def match_key(name: str, kind: str) -> str:
    """The key names are matched on: search's name key (transliterated, without legal
    forms), its words sorted for persons, whom lists write "LAST, First" or "First Last"."""
    key = name_key(name)
    return _sorted_words(key) if kind == EntityKind.PERSON else key


def _sorted_words(key: str) -> str:
    return " ".join(sorted(key.split()))


def file_record(path: Path, *, url: str = "") -> dict:
    """Name, size and SHA-256 of a file, as an ImportRun keeps them."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    record = {"name": path.name, "size": path.stat().st_size, "sha256": digest.hexdigest()}
    return record | ({"url": url} if url else {})


def import_entries(
    entries: Iterable[Entry],
    *,
    header: Header,
    list_name: str,
    format: str,
    paths: list[Path],
    force: bool = False,
    source_url: str = "",
) -> ImportRun:
    """Store a list file's entries as a run of `list_name`; raise ImportFailed if it fails.

    `entries` is consumed inside the transaction, so a parser error fails the run too.
    The returned run carries `timings` (seconds per phase; not stored).
    """
    files = [file_record(path, url=source_url if i == 0 else "") for i, path in enumerate(paths)]
    with list_lock(list_name):
        fail_stale_runs(list_name)
        run = ImportRun.objects.create(
            list_name=list_name,
            format=format,
            files=files,
            sha256=files[0]["sha256"],
            forced=force,
        )
        return _run(run, entries, header=header, force=force)


@contextlib.contextmanager
def list_lock(list_name: str):
    """Hold the list's import lock, waiting for an import of it in progress.

    A session lock, held on the connection from before the run is recorded until it
    ends: PostgreSQL releases it when the process dies, so the next import knows that
    a run still marked running while it holds the lock was left by a dead process.
    """
    key = f"import_list:{list_name}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        if not cursor.fetchone()[0]:
            logger.warning("waiting for the import of %s in progress to finish", list_name)
            cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
        except DatabaseError:  # the connection is gone, and the lock with it
            logger.exception("releasing the import lock of %s", list_name)


def fail_stale_runs(list_name: str) -> int:
    """Mark failed the runs of a list left running by a process that died; call under
    ``list_lock``."""
    return ImportRun.objects.filter(list_name=list_name, status=ImportStatus.RUNNING).update(
        status=ImportStatus.FAILED,
        error="the import stopped before it finished (its process ended); nothing of it was stored",
        finished_at=timezone.now(),
    )


def _run(run: ImportRun, entries: Iterable[Entry], *, header: Header, force: bool) -> ImportRun:
    run.timings = {}
    try:
        # The history of every row the import touches names the run that touched it.
        with pghistory.context(import_run=run.pk), transaction.atomic():
            _Import(run, header).execute(entries, force=force)
    except BaseException as exc:  # Ctrl-C and time limits too: no run is left "running"
        reason = str(exc) if isinstance(exc, ImportFailed) else f"{type(exc).__name__}: {exc}"
        logger.warning("import run %s of %s failed: %s", run.pk, run.list_name, reason)
        # The import's own transaction is rolled back; record why, in a transaction of its own.
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportStatus.FAILED,
            error=reason[:2000],
            finished_at=timezone.now(),
            published_on=header.published_on,
            declared_count=header.declared_count,
        )
        run.refresh_from_db()
        run.timings = {}
        exc.run = run
        raise
    return run


STAGE = "import_stage"
STAGE_COLUMNS = (
    "position",
    "number",
    "name",
    "norm_name",
    "name_script",
    "entry_type",
    "kind",
    "programs",
    "countries",
    "listed_on",
    "aliases",
    "identifiers",
    "raw",
    "digest",
)


class _Import:
    """The steps of one run, sharing its cursor and table names."""

    def __init__(self, run: ImportRun, header: Header):
        self.run = run
        self.header = header
        self.scheme = LIST_SCHEMES[run.list_name]
        self.t = {
            "entity": Entity._meta.db_table,
            "alias": Alias._meta.db_table,
            "identifier": Identifier._meta.db_table,
            "entry": ListEntry._meta.db_table,
            "change": ListChange._meta.db_table,
        }
        self.params = {"run": run.pk, "list": run.list_name, "scheme": self.scheme}

    def sql(self, statement: str, params: dict | None = None):
        with connection.cursor() as cursor:
            cursor.execute(statement.format(stage=STAGE, **self.t), self.params | (params or {}))
            return cursor.fetchall() if cursor.description else cursor.rowcount

    def timed(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.run.timings[phase] = self.run.timings.get(phase, 0.0) + now - started
        return now

    def execute(self, entries: Iterable[Entry], *, force: bool) -> None:
        run = self.run
        started = time.perf_counter()
        # Django's foreign keys are checked at commit; queued, the checks of tens of
        # thousands of rows slow every later trigger (the history) down to a crawl.
        self.sql("SET CONSTRAINTS ALL IMMEDIATE")
        count = self.stage(entries)
        run.entry_count = count
        run.published_on = self.header.published_on or self.header.fallback_date
        if run.published_on is None:
            raise ListFormatError(
                "the file states no publication date; give the date the list was published"
                " (--published-on YYYY-MM-DD)"
            )
        run.declared_count = self.header.declared_count
        run.previous = ImportRun.objects.last_completed(run.list_name)
        started = self.timed("stage", started)

        self.check(count, force=force)
        self.mark_changes()
        started = self.timed("detect", started)

        self.match_entities()
        started = self.timed("match", started)

        self.store()
        touched = self.sql("SELECT entity_id FROM {stage} WHERE touched")
        index_names(entity_ids=[entity_id for (entity_id,) in touched])
        started = self.timed("store", started)

        if run.previous is not None:
            self.record_changes()
            propose(run)
        self.timed("detect", started)

        created, updated, unchanged = self.sql(
            "SELECT count(*) FILTER (WHERE new_entity),"
            " count(*) FILTER (WHERE touched AND NOT new_entity),"
            " count(*) FILTER (WHERE NOT touched) FROM {stage}"
        )[0]
        run.created, run.updated, run.unchanged = created, updated, unchanged
        run.status = ImportStatus.COMPLETED
        run.finished_at = timezone.now()
        run.save()
        self.sql("DROP TABLE {stage}")

    def stage(self, entries: Iterable[Entry]) -> int:
        """COPY the entries into a temporary table; return how many were read."""
        self.sql("DROP TABLE IF EXISTS {stage}")
        self.sql(
            """CREATE TEMP TABLE {stage} (
                position integer NOT NULL,
                number text NOT NULL,
                name text NOT NULL,
                norm_name text NOT NULL,
                name_script text NOT NULL,
                entry_type text NOT NULL,
                kind text NOT NULL,
                programs text[] NOT NULL,
                countries text[] NOT NULL,
                listed_on date,
                aliases jsonb NOT NULL,
                identifiers jsonb NOT NULL,
                raw jsonb NOT NULL,
                digest text NOT NULL,
                entry_id bigint,
                entity_id bigint,
                new_entity boolean NOT NULL DEFAULT false,
                touched boolean NOT NULL DEFAULT true,
                change text,
                previous_programs text[]
            ) ON COMMIT DROP"""
        )
        count = 0
        with connection.cursor() as cursor:
            columns = ", ".join(STAGE_COLUMNS)
            with cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
                for count, entry in enumerate(entries, start=1):
                    copy.write_row(_stage_row(count, entry))
        if not count:
            raise ListFormatError("the file holds no entries")
        duplicates = self.sql(
            "SELECT number FROM {stage} GROUP BY number HAVING count(*) > 1 ORDER BY 1 LIMIT 5"
        )
        if duplicates:
            numbers = ", ".join(number for (number,) in duplicates)
            raise ListFormatError(f"entry numbers listed more than once: {numbers}")
        too_long = self.sql(
            "SELECT number FROM {stage} WHERE length(number) > %(longest)s LIMIT 1",
            {"longest": ListEntry._meta.get_field("number").max_length},
        )
        if too_long:
            raise ListFormatError(f"entry number too long to be one: {too_long[0][0][:60]!r}")
        # Tags are stored as the list prints them: one too long for a tag is refused,
        # never cut.
        longest_tag = min(
            ListEntry._meta.get_field("programs").base_field.max_length,
            Program._meta.get_field("code").max_length,
        )
        too_long = self.sql(
            "SELECT number, p FROM {stage}, unnest(programs) p"
            " WHERE length(p) > %(longest)s LIMIT 1",
            {"longest": longest_tag},
        )
        if too_long:
            number, tag = too_long[0]
            raise ListFormatError(f"entry {number}: program tag too long to be one: {tag[:80]!r}")
        self.sql("ALTER TABLE {stage} ADD PRIMARY KEY (number)")
        self.sql("ANALYZE {stage}")
        return count

    def check(self, count: int, *, force: bool) -> None:
        """Refuse a file that contradicts itself, or looks like a step backwards."""
        declared = self.header.declared_count
        if declared is not None and declared != count:
            raise ListFormatError(f"the file states {declared} records but holds {count}")
        previous = self.run.previous
        if previous is None or force:
            return
        published_on = self.run.published_on
        if published_on and previous.published_on and published_on < previous.published_on:
            raise ImportRefused(
                f"the file is dated {published_on}, older than the last import"
                f" (run {previous.pk}, {previous.published_on}); --force to import it anyway"
            )
        before = previous.entry_count or 0
        if before and abs(count - before) > before * MAX_COUNT_CHANGE:
            raise ImportRefused(
                f"the file holds {count} entries against {before} in the last import"
                f" (run {previous.pk}); --force to import it anyway"
            )
        (removed,) = self.sql(
            """SELECT count(*) FROM {entry} e
            WHERE e.list_name = %(list)s AND e.removed_by_id IS NULL
                AND NOT EXISTS (SELECT FROM {stage} s WHERE s.number = e.number)"""
        )[0]
        if removed > MIN_REMOVALS_CHECKED and removed > before * MAX_REMOVED_SHARE:
            raise ImportRefused(
                f"the file would remove {removed} of the {before} entries of the last import"
                f" (run {previous.pk}), more than {MAX_REMOVED_SHARE:.0%}: is it cut short or"
                " the wrong list? --force to import it anyway"
            )

    def mark_changes(self) -> None:
        """Set each staged entry against the list's current one."""
        self.sql(
            """UPDATE {stage} s SET
                entry_id = e.id,
                entity_id = e.entity_id,
                touched = e.digest <> s.digest OR e.removed_by_id IS NOT NULL,
                previous_programs = e.programs::text[],
                change = CASE
                    WHEN e.removed_by_id IS NOT NULL THEN 'added'
                    WHEN NOT (e.programs::text[] @> s.programs AND s.programs @> e.programs::text[])
                    THEN 'programs'
                END
            FROM {entry} e WHERE e.list_name = %(list)s AND e.number = s.number"""
        )
        self.sql("UPDATE {stage} SET change = 'added' WHERE entry_id IS NULL")

    def match_entities(self) -> None:
        """Link entries new to the list to entities: by identifier, by name, or new ones."""
        self.sql(
            """UPDATE {stage} s SET entity_id = i.entity_id
            FROM {identifier} i
            WHERE s.entity_id IS NULL AND i.scheme = %(scheme)s AND i.value = s.number"""
        )
        unmatched = self.sql("SELECT number, norm_name, kind FROM {stage} WHERE entity_id IS NULL")
        if unmatched:
            numbers, entity_ids = self.match_names(unmatched)
            if numbers:
                self.sql(
                    """UPDATE {stage} s SET entity_id = m.entity_id
                    FROM unnest(%(numbers)s::text[], %(entities)s::bigint[]) AS m(number, entity_id)
                    WHERE s.number = m.number""",
                    {"numbers": numbers, "entities": entity_ids},
                )
        self.sql(
            """UPDATE {stage} SET new_entity = true,
                entity_id = nextval(pg_get_serial_sequence('{entity}', 'id'))
            WHERE entity_id IS NULL"""
        )
        self.sql(
            """INSERT INTO {entity}
                (id, kind, name, countries, description, created_at, updated_at)
            SELECT entity_id, kind, name, countries::varchar(2)[], '', now(), now()
            FROM {stage} WHERE new_entity ORDER BY position"""
        )

    def match_names(self, unmatched: list[tuple[str, str, str]]) -> tuple[list, list]:
        """Entries whose name is borne by exactly one unclaimed entity of the same sort."""
        wanted = {(_sort(kind), norm_name) for _, norm_name, kind in unmatched if norm_name}
        owners: dict[tuple[str, str], set[int]] = defaultdict(set)
        for pk, key, kind in self.names_bearing(wanted):
            owners[_sort(kind), _sorted_words(key) if kind == EntityKind.PERSON else key].add(pk)
        claims: dict[int, list[str]] = defaultdict(list)
        for number, norm_name, kind in unmatched:
            found = owners.get((_sort(kind), norm_name), set())
            if norm_name and len(found) == 1:
                claims[next(iter(found))].append(number)
        # Two entries bearing one entity's name are two things: neither takes it.
        matched = [(numbers[0], pk) for pk, numbers in claims.items() if len(numbers) == 1]
        return [number for number, _ in matched], [pk for _, pk in matched]

    def names_bearing(self, wanted: set[tuple[str, str]]) -> Iterator[tuple[int, str, str]]:
        """(entity id, name key, entity kind) of the search names (EntityName: primary names
        and aliases, keyed by ``name_key``) that may have one of the wanted match keys.

        Only those names are read, through the indexes: persons' by a word of theirs
        (``match_key`` sorts their words, so the order is not known), the others' by the
        whole key. The names
        are as ``index_names`` last left them, which whatever writes names calls.
        """
        # Entities holding an identifier of this list are other entries of it, not candidates.
        # An anti-join (NOT EXISTS): a NOT IN subquery can make PostgreSQL rescan the
        # identifiers for every entity.
        listed = Identifier.objects.filter(scheme=self.scheme, entity=OuterRef("entity"))
        names = EntityName.objects.filter(~Exists(listed)).order_by()
        persons = sorted(key for sort, key in wanted if sort == EntityKind.PERSON)
        others = sorted({key for sort, key in wanted if sort != EntityKind.PERSON})
        fields = ("entity_id", "key", "entity__kind")
        for i in range(0, len(persons), NAME_LOOKUP_BATCH):
            # Names having the longest word of a wanted key (the likeliest to be rare), in
            # one scan of the words index; the caller compares the sorted words.
            longest = sorted(
                {max(key.split(), key=len) for key in persons[i : i + NAME_LOOKUP_BATCH]}
            )
            person_names = names.filter(words__overlap=longest, entity__kind=EntityKind.PERSON)
            yield from person_names.values_list(*fields)
        for i in range(0, len(others), NAME_LOOKUP_BATCH):
            batch = names.filter(key__in=others[i : i + NAME_LOOKUP_BATCH])
            yield from batch.exclude(entity__kind=EntityKind.PERSON).values_list(*fields)

    def store(self) -> None:
        """Bring the list's entries, and the entities' names and identifiers, up to date."""
        # An entity the import named after the entry follows the list's renaming;
        # one whose name an editor chose keeps it (the listed name becomes an alias).
        self.sql(
            """UPDATE {entity} en SET name = s.name, updated_at = now()
            FROM {stage} s JOIN {entry} e ON e.id = s.entry_id
            WHERE en.id = s.entity_id AND s.touched AND e.name <> s.name
                AND en.name = e.name"""
        )
        self.sql(
            """UPDATE {entry} e SET name = s.name, entry_type = s.entry_type,
                programs = s.programs::varchar(60)[], listed_on = s.listed_on, raw = s.raw,
                digest = s.digest, removed_by_id = NULL
            FROM {stage} s WHERE s.entry_id = e.id AND s.touched"""
        )
        self.sql(
            """INSERT INTO {entry} (list_name, number, name, entry_type, programs, listed_on,
                raw, digest, entity_id, added_by_id)
            SELECT %(list)s, number, name, entry_type,
                programs::varchar(60)[], listed_on, raw, digest, entity_id, %(run)s
            FROM {stage} WHERE entry_id IS NULL ORDER BY position"""
        )
        self.sql(
            """UPDATE {stage} s SET entry_id = e.id FROM {entry} e
            WHERE s.entry_id IS NULL AND e.list_name = %(list)s AND e.number = s.number"""
        )
        self.sql(
            """UPDATE {entry} e SET removed_by_id = %(run)s
            WHERE e.list_name = %(list)s AND e.removed_by_id IS NULL
                AND NOT EXISTS (SELECT FROM {stage} s WHERE s.number = e.number)"""
        )
        self.sql(
            """INSERT INTO {alias} (entity_id, name, kind, script, language)
            SELECT s.entity_id, a ->> 'name', a ->> 'kind', a ->> 'script', ''
            FROM {stage} s CROSS JOIN LATERAL jsonb_array_elements(s.aliases) a
            WHERE s.touched
            ON CONFLICT (entity_id, name) DO NOTHING"""
        )
        self.sql(
            """INSERT INTO {alias} (entity_id, name, kind, script, language)
            SELECT s.entity_id, s.name, 'listed', s.name_script, ''
            FROM {stage} s JOIN {entity} en ON en.id = s.entity_id
            WHERE s.touched AND en.name <> s.name
            ON CONFLICT (entity_id, name) DO NOTHING"""
        )
        # Two entries may hold the same identifier (a shared registration number): each
        # entity keeps it. An entry number another entity holds stays with it (the raw
        # record keeps the list's claim), and the pair is worth an editor's look.
        self.sql(
            """INSERT INTO {identifier} (entity_id, scheme, value, country, note)
            SELECT s.entity_id, i ->> 'scheme', i ->> 'value', i ->> 'country', i ->> 'note'
            FROM {stage} s CROSS JOIN LATERAL jsonb_array_elements(s.identifiers) i
            WHERE s.touched
            ON CONFLICT DO NOTHING"""
        )

    def record_changes(self) -> None:
        """Keep what this run changed against the previous one, entry by entry."""
        self.sql(
            """INSERT INTO {change} (run_id, entry_id, kind, name, programs_before, programs_after)
            SELECT %(run)s, entry_id, change, name,
                CASE WHEN change = 'programs' THEN previous_programs ELSE '{{}}' END,
                programs
            FROM {stage} WHERE change IS NOT NULL ORDER BY position"""
        )
        self.sql(
            """INSERT INTO {change} (run_id, entry_id, kind, name, programs_before, programs_after)
            SELECT %(run)s, id, 'removed', name, programs, '{{}}'
            FROM {entry} WHERE list_name = %(list)s AND removed_by_id = %(run)s
            ORDER BY number"""
        )


def _sort(kind: str) -> str:
    """Entities a name may match across: persons with persons, vessels with vessels..."""
    if kind in (EntityKind.PERSON, EntityKind.VESSEL, EntityKind.AIRCRAFT):
        return kind
    return "organisation"


def _script(name: str) -> str:
    # Most listed names are plain ASCII: Latin, without a look at every letter.
    if name.isascii():
        return Script.LATIN if any(c.isalpha() for c in name) else Script.OTHER
    return detect_script(name)


def _stage_row(position: int, entry: Entry) -> tuple:
    raw = json.dumps(entry.raw, ensure_ascii=False, sort_keys=True)
    aliases, seen = [], {entry.name}
    for name, kind in entry.aliases:
        name = " ".join(name.split())
        if name and name not in seen:
            seen.add(name)
            aliases.append({"name": name, "kind": kind, "script": _script(name)})
    identifiers = [
        {"scheme": scheme, "value": value, "country": country, "note": note}
        for scheme, value, country, note in dict.fromkeys(entry.identifiers)
        if value
    ]
    return (
        position,
        entry.number,
        entry.name,
        match_key(entry.name, entry.kind),
        _script(entry.name),
        entry.entry_type,
        entry.kind,
        entry.programs,
        sorted(set(entry.countries)),
        entry.listed_on,
        json.dumps(aliases, ensure_ascii=False),
        json.dumps(identifiers, ensure_ascii=False),
        raw,
        hashlib.sha256(raw.encode()).hexdigest(),
    )
