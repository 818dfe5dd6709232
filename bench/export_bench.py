"""Benchmark the exports' speed and memory: python bench/export_bench.py

    python bench/export_bench.py                       # full scale: 1,000,000 designations
    python bench/export_bench.py --scale 0.05 --formats actions.csv

Creates the benchmark database if it is missing (default: bench_exports on the machine's
PostgreSQL; --database or BENCH_DATABASE_URL to change), migrates it, fills it with
bench/generate.py at the given scale unless it already holds that scale, then streams
each export through the Django view (/exports/<file>?<filter>) for a growing share of
the records, each in a fresh child process. Prints, per export and share: records,
MB written, seconds, records per second, and the child's peak RSS beside its RSS before
the request: memory is flat when the peak does not grow with the share.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from generate import SCALE, create_database  # noqa: E402

# Its own database: the search benchmark resets bench_tracker when it prepares.
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_exports"
FORMATS = ["actions.csv", "entities.csv", "actions.json", "ftm.jsonl", "record.json"]
CSV_TARGET = 50_000  # rows per second


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.getenv("BENCH_DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--shares", default="0.01,0.1,1", help="shares of the actions exported")
    parser.add_argument("--regenerate", action="store_true", help="refill the database")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "QUERY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)

    prepare(args.database, args.scale, regenerate=args.regenerate)
    shares = [float(s) for s in args.shares.split(",")]
    print(f"\n{'export':<14}{'share':>6}{'records':>11}{'MB':>9}{'s':>8}{'records/s':>11}"
          f"{'RSS before':>12}{'peak RSS':>10}")  # fmt: skip
    results = []
    for name in args.formats.split(","):
        for share in shares:
            result = run_child(args.database, name, query(args.database, name, share))
            result |= {"export": name, "share": share}
            results.append(result)
            print(
                f"{name:<14}{share:>6.0%}{result['records']:>11,}{result['bytes'] / 1e6:>9.1f}"
                f"{result['seconds']:>8.1f}{result['records'] / result['seconds']:>11,.0f}"
                f"{result['rss_before_mb']:>10.0f}MB{result['peak_rss_mb']:>8.0f}MB",
                flush=True,
            )
    csv_full = [r for r in results if r["export"] == "actions.csv" and r["share"] == max(shares)]
    for result in csv_full:
        rate = result["records"] / result["seconds"]
        verdict = "meets" if rate >= CSV_TARGET else "misses"
        print(f"\nactions.csv: {rate:,.0f} rows/s {verdict} the {CSV_TARGET:,} rows/s target.")


def prepare(url: str, scale: float, *, regenerate: bool) -> None:
    """Create, migrate and fill the benchmark database as needed."""
    create_database(url)
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
    )
    wanted = max(1, round(SCALE["designations"] * scale))
    with psycopg.connect(url) as conn:
        present = conn.execute("SELECT count(*) FROM sanctions_designation").fetchone()[0]
    if present != wanted or regenerate:
        # In a process of its own: this one forks the measured children, which would
        # start with its memory.
        started = time.perf_counter()
        command = [sys.executable, "bench/generate.py", "--database", url, "--reset"]
        subprocess.run(command + ["--scale", str(scale)], cwd=ROOT, check=True)
        print(f"generated in {time.perf_counter() - started:.0f}s")
    else:
        print(f"{name} already holds {present:,} designations")


def query(url: str, name: str, share: float) -> str:
    """A filter selecting about `share` of the records.

    Action exports filter on the announcement date. entities.csv has no date filter: it
    takes the country whose share of entities is nearest, or no filter at all (with no
    dump in the children's storage, that streams live too)."""
    with psycopg.connect(url) as conn:
        if name == "entities.csv":
            if share >= 1:
                return ""
            code = conn.execute(
                """SELECT c FROM (SELECT unnest(countries) AS c, count(*) AS n
                                    FROM sanctions_entity GROUP BY 1) AS shares
                    ORDER BY abs(n::float / (SELECT count(*) FROM sanctions_entity) - %s)
                    LIMIT 1""",
                [share],
            ).fetchone()[0]
            return f"country={code}"
        if share >= 1:
            return "date_from=1900-01-01"
        day = conn.execute(
            "SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY announced_on)"
            " FROM sanctions_action WHERE status = 'published'",
            [1 - share],
        ).fetchone()[0]
        return f"date_from={day.isoformat()}"


def child_env(url: str) -> dict:
    return os.environ | {
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-only-not-secret",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "testserver",
        "MEDIA_ROOT": tempfile.gettempdir() + "/bench-media",  # no dump to serve
        "LOG_LEVEL": "WARNING",
        # The children share the rate limits' counts (in the database): not to refuse.
        "EXPORT_REQUESTS_PER_HOUR": "1000000000",
    }


def run_child(url: str, name: str, query: str) -> dict:
    command = [sys.executable, __file__, "--child", name, query]
    out = subprocess.run(command, env=child_env(url), capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"{name}: the child failed\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(name: str, query: str) -> None:
    """Stream one export through the view, discarding it; report size, time and memory."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.test import Client

    client = Client()
    rss_before = rss_mb("VmRSS")
    started = time.perf_counter()
    response = client.get(f"/exports/{name}?{query}")
    if response.status_code != 200:
        sys.exit(f"{name}?{query}: HTTP {response.status_code} {response.content[:300]!r}")
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    # The synthetic record has no line break inside a value, so lines count records:
    # CSV rows after the header, JSON array items between the brackets, FtM entities.
    records = lines - 1 if name.endswith(".csv") else lines - 2 if name.endswith(".json") else lines
    print(
        json.dumps(
            {
                "records": max(records, 0),
                "bytes": size,
                "seconds": seconds,
                "rss_before_mb": rss_before,
                "peak_rss_mb": rss_mb("VmHWM"),
            }
        )
    )


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process since it started its program.

    Not ru_maxrss: Linux carries that across exec, so a child would report its parent's."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


if __name__ == "__main__":
    main()
