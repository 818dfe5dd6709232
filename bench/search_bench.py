"""Search and list latency at scale: python bench/search_bench.py [--prepare]

One command: creates the benchmark database if it is missing (default bench_search on
the machine's PostgreSQL; --database or BENCH_DATABASE_URL for another), migrates it,
and, unless it already holds the requested scale, fills it with bench/generate.py
(1,000,000 entities, ~3 aliases each in Latin, Cyrillic, Arabic and Chinese script,
200,000 actions, 1,000,000 designations, 500,000 articles by default; --scale for less)
and builds the name index (sanctions_entityname and its vocabulary, sanctions_nameword)
with the project's own name_key, loaded with COPY. --prepare refills it regardless.

Each query runs the real view through Django's test client in this process, so the
times are server-side: URL routing, every query, template rendering; no network. It
reports the median and 95th percentile per kind:

- names: /entities/?q= with typo'd, cross-script, common and rare names (target p95 ≤ 50 ms)
- split names: /entities/?q= with a name's words joined ("Beijing HualongtaiTechnology")
  or one split at a syllable ("Beijing Hua Longtai"), as transliterations write them
  (target p95 ≤ 50 ms); it also reports how often the entity is among the first three
- full text: /search/?q=, the whole page: names, then ranked actions and articles with
  snippets, including very common words (target p95 ≤ 150 ms)
- lists: /actions/ with combinations of filters, its six facets and chart (target p95 ≤ 150 ms)

After the lists it also reports how long rebuilding the in-memory index of published
actions takes (sanctions/facets.py), which a process pays on its first list page after a
change; the timed lists run on a built index, as every page but that one does.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS_MS = {"names": 50, "split names": 50, "full text": 150, "lists": 150}


DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_search"
# The cache as deployed (README, "Deploying on servers"): rate-limit counts and values
# kept per version of the record in Redis. BENCH_CACHE_URL="" measures the fallback, a
# table in the database, which costs each rate-limited request six more queries, one of
# them a write.
CACHE_URL = os.getenv("BENCH_CACHE_URL", "redis://127.0.0.1:6379/14")


def fresh_cache() -> None:
    """Empty the benchmarks' Redis database before a run: values kept per version of the
    record are named by that version, which two benchmark databases can share."""
    if CACHE_URL:
        import redis

        redis.Redis.from_url(CACHE_URL).flushdb()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.getenv("BENCH_DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--prepare", action="store_true", help="refill the database")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind")
    parser.add_argument(
        "--kinds", default=",".join(TARGETS_MS), help="comma-separated: " + ", ".join(TARGETS_MS)
    )
    args = parser.parse_args(argv)
    os.environ["DATABASE_URL"] = args.database
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    os.environ["CONN_MAX_AGE"] = "600"
    os.environ["CACHE_URL"] = CACHE_URL
    os.environ["ALLOWED_HOSTS"] = "testserver"  # the in-process test client's host
    # One client asks thousands of times: the rate limit still counts (its cache reads
    # and writes are timed) but must not refuse.
    os.environ["SEARCH_REQUESTS_PER_MINUTE"] = "1000000000"
    # The views' own work is measured: a common query asked again is no page-cache hit.
    os.environ["PAGE_CACHE"] = "false"
    prepare(args.database, args.scale, regenerate=args.prepare)
    warm(args.database)
    fresh_cache()
    import tracker.wsgi  # noqa: F401 (set up as the server is, collector settings included)

    results = measure(args.queries, args.kinds.split(","))
    report(results)
    if "lists" in args.kinds:
        report_index_rebuild()
    return 0 if all(p95 <= TARGETS_MS[kind] for kind, (_, p95, _) in results.items()) else 1


def prepare(url: str, scale: float, *, regenerate: bool) -> None:
    """Create and migrate the benchmark database, and fill it (and its name index)
    unless it already holds the requested scale."""
    import psycopg
    from generate import SCALE, create_database

    create_database(url)
    env = {**os.environ, "DATABASE_URL": url}
    python = sys.executable
    started = time.perf_counter()
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    wanted = max(1, round(SCALE["entities"] * scale))
    with psycopg.connect(url) as conn:
        entities = conn.execute("SELECT count(*) FROM sanctions_entity").fetchone()[0]
        words = conn.execute("SELECT count(*) FROM sanctions_nameword").fetchone()[0]
    if entities != wanted or regenerate:
        subprocess.run(
            [python, "bench/generate.py", "--database", url, "--scale", str(scale), "--reset"],
            cwd=ROOT,
            env=env,
            check=True,
        )
    elif words:
        print(f"{url.rsplit('/', 1)[-1]} already holds {entities:,} entities", flush=True)
        return
    import django

    django.setup()
    index_all_names(url)
    print(f"prepared in {time.perf_counter() - started:.0f} s", flush=True)


def warm(url: str) -> None:
    """Read every table and index of the benchmark database into the operating system's
    cache (pg_prewarm), as a server in service has read what its requests touch: the runs
    measure requests, not a disk's first reads after the database was written or another
    benchmark filled the cache (names p95 70 ms on such a first pass, 32 ms on a second).
    The whole database (about 5 GB) fits in this machine's memory; on a smaller machine
    these figures would be optimistic."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        pages = conn.execute(
            "SELECT sum(pg_prewarm(c.oid, 'read')) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 'm', 't')"
        ).fetchone()[0]
    print(f"warmed {pages * 8 / 1024:,.0f} MB in {time.perf_counter() - started:.0f} s", flush=True)


def index_all_names(url: str) -> None:
    """Fill sanctions_entityname for every name and alias with COPY, and the vocabulary
    of their words (sanctions_nameword)."""
    import psycopg

    from sanctions.search import name_key

    started = time.perf_counter()
    count = 0
    with psycopg.connect(url) as read, psycopg.connect(url) as write:
        write.execute("TRUNCATE sanctions_entityname")
        indexes = [
            row[0]
            for row in write.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'sanctions_entityname'"
                " AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE '%unique%'"
            )
        ]
        for definition in indexes:
            name = definition.split(" INDEX ")[1].split(" ON ")[0]
            write.execute(f"DROP INDEX {name}")
        names = read.cursor(name="names")
        names.itersize = 20000
        names.execute(
            "SELECT id, name, true FROM sanctions_entity"
            " UNION ALL SELECT entity_id, name, false FROM sanctions_alias"
        )
        seen = set()
        with write.cursor().copy(
            "COPY sanctions_entityname (entity_id, name, key, is_primary) FROM STDIN"
        ) as copy:
            for entity_id, name, is_primary in names:
                if (entity_id, name) in seen:
                    continue
                seen.add((entity_id, name))
                copy.write_row((entity_id, name, name_key(name), is_primary))
                count += 1
        write.commit()  # the deferred foreign-key checks run here, before the indexes
        for definition in indexes:
            write.execute(definition)
        write.execute(
            "INSERT INTO sanctions_nameword (word) SELECT DISTINCT unnest(words)"
            " FROM sanctions_entityname ON CONFLICT DO NOTHING"
        )
        write.commit()
        write.autocommit = True  # VACUUM runs outside a transaction
        write.execute("VACUUM ANALYZE sanctions_entityname")
        write.execute("VACUUM ANALYZE sanctions_nameword")
    print(f"name index: {count:,} names in {time.perf_counter() - started:.0f} s", flush=True)


def _typo(text: str, rng: random.Random, letters: int = 2) -> str:
    chars = list(text)
    positions = [i for i, c in enumerate(chars) if c.isalpha()]
    for i in rng.sample(positions, min(letters, len(positions))):
        chars[i] = rng.choice("abcdefghijklmnopqrstuvwxyz")
    return "".join(chars)


def name_queries(n: int, rng: random.Random) -> list[str]:
    from sanctions.models import Alias, Entity, Script
    from sanctions.search import name_key

    top = Entity.objects.order_by("-pk").values_list("pk", flat=True).first() or 1
    sample = list(
        Entity.objects.filter(pk__in=[rng.randint(1, top) for _ in range(n)]).values_list(
            "name", flat=True
        )
    )
    non_latin = list(
        Alias.objects.filter(
            script__in=[Script.CYRILLIC, Script.HAN, Script.ARABIC],
            entity_id__in=[rng.randint(1, top) for _ in range(n)],
        ).values_list("name", flat=True)
    )
    queries = []
    for name in sample[: n // 4]:
        queries.append(_typo(name, rng))  # two wrong letters
    for name in sample[n // 4 : n // 2]:
        queries.append(name)  # exact (rare) names
    for alias in non_latin[: n // 4]:
        queries.append(name_key(alias))  # a non-Latin alias by its transliteration
    common = ["trading", "mohammad", "technology", "ali", "international", "industrial"]
    while len(queries) < n:
        queries.append(rng.choice(common))  # common names and words
    rng.shuffle(queries)
    return queries


def split_name_queries(n: int, rng: random.Random) -> list[tuple[int, str]]:
    """Entities with a query for each: its name with two adjacent words joined, or with
    its word of syllables (bench/generate.py) split at one: each way in turn."""
    from generate import SYLLABLES

    from sanctions.models import Entity

    top = Entity.objects.order_by("-pk").values_list("pk", flat=True).first() or 1
    sample = Entity.objects.filter(
        pk__in=[rng.randint(1, top) for _ in range(3 * n)], kind="company"
    ).values_list("pk", "name")
    queries = []
    for pk, name in sample:
        words = name.split()
        at = 1  # the word of syllables after the city: "Beijing Hualongtai Optics Co."
        if len(queries) % 2:
            words[at : at + 2] = ["".join(words[at : at + 2])]
        else:
            cuts = [
                len(syllable)
                for syllable in SYLLABLES
                if words[at].lower().startswith(syllable) and len(words[at]) - len(syllable) > 1
            ]
            if not cuts:
                continue
            cut = rng.choice(cuts)
            words[at : at + 1] = [words[at][:cut], words[at][cut:].title()]
        queries.append((pk, " ".join(words)))
    return queries[:n]


def text_queries(n: int, rng: random.Random) -> list[str]:
    words = [
        "missile",
        "sanctions",
        "ballistic missile",
        "designates",
        "entity list",
        "uranium",
        "procurement network",
        "drone components",
        "front company",
        "filament winding machine",
        "export controls",
        "the",
        "program",
        "aluminium",
        "shipping",
    ]
    return [rng.choice(words) for _ in range(n)]


# Words and names a list is narrowed by: common and rare, in titles and in entity names.
LIST_WORDS = [
    "missile", "nuclear", "drone", "uranium", "shipping", "trading", "technology",
    "front company", "procurement", "aerospace", "beijing", "tehran", "minsk", "karachi",
]  # fmt: skip


def list_queries(n: int, rng: random.Random) -> list[str]:
    from sanctions.models import Authority, LegalBasis, Program

    authorities = list(Authority.objects.values_list("slug", flat=True))
    bases = list(LegalBasis.objects.values_list("slug", flat=True))
    programs = list(Program.objects.values_list("code", flat=True))
    countries = ["CN", "IR", "RU", "KP", "PK", "AE", "TR", "BY", "HK", "SY"]
    options = [
        lambda: f"authority={rng.choice(authorities)}",
        lambda: f"legal_basis={rng.choice(bases)}",
        lambda: f"program={rng.choice(programs)}",
        lambda: f"country={rng.choice(countries)}",
        lambda: f"kind={rng.choice(['designation', 'entity_list_addition', 'delisting'])}",
        lambda: f"date_from={rng.randint(2005, 2024)}-01-01",
        lambda: f"date_to={rng.randint(2010, 2025)}-12-31",
        lambda: f"q={rng.choice(LIST_WORDS)}",
        lambda: f"page={rng.randint(1, 40)}",
    ]
    queries = [""]
    while len(queries) < n:
        chosen = rng.sample(options, rng.randint(1, 4))
        queries.append("&".join(option() for option in chosen))
    return queries


def _time(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code)
    return elapsed


def measure(n: int, only: list[str]) -> dict:
    from urllib.parse import quote

    from django.test import Client

    from sanctions.search import match_names

    rng = random.Random(2231)
    client = Client()
    split = split_name_queries(n, rng)
    kinds = {
        "names": [f"/entities/?q={quote(q)}" for q in name_queries(n, rng)],
        "split names": [f"/entities/?q={quote(q)}" for _, q in split],
        "full text": [f"/search/?q={quote(q)}" for q in text_queries(n, rng)],
        "lists": [f"/actions/?{q}" for q in list_queries(n, rng)],
    }
    results = {}
    for kind, paths in kinds.items():
        if kind not in only:
            continue
        for path in paths[:5]:  # warm caches and connections
            _time(client, path)
        times = sorted(_time(client, path) for path in paths)
        p95 = times[int(len(times) * 0.95) - 1]
        results[kind] = (statistics.median(times), p95, len(times))
    if "split names" in only and split:
        found = sum(pk in [m.entity_id for m in match_names(q, limit=3)] for pk, q in split)
        print(f"split names: the entity among the first three for {found} of {len(split)}")
    return results


def report(results: dict) -> None:
    print(f"{'kind':<10} {'queries':>7} {'median ms':>10} {'p95 ms':>8} {'target':>7}")
    for kind, (median, p95, count) in results.items():
        verdict = "ok" if p95 <= TARGETS_MS[kind] else "MISSED"
        print(f"{kind:<10} {count:>7} {median:>10.1f} {p95:>8.1f} {TARGETS_MS[kind]:>7} {verdict}")


def report_index_rebuild() -> None:
    """How long a process takes to rebuild its in-memory index of published actions,
    as it does on its first list page after any change to actions (not a target: it
    is paid once per change and process, not per page)."""
    import resource

    from sanctions.facets import ActionIndex

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    index = ActionIndex.read(version=None)
    elapsed = time.perf_counter() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(
        f"action index rebuild: {elapsed:.2f} s for {index.size:,} published actions"
        f" (peak RSS grew {grown / 1024:.0f} MB)"
    )


if __name__ == "__main__":
    sys.exit(main())
