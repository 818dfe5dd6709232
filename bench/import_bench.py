"""Benchmark the list importers: python bench/import_bench.py

In a scratch database (created, migrated and dropped again):
1. the SDN list of 2024-05-03 (14,965 entries) imported into an empty database;
2. the list of 2024-04-19 as a baseline, then 2024-05-03 against it: change detection;
then, in child processes without a database, the XML reader over synthetic sdnList files
of growing size, to show its memory stays flat. Prints times and peak RSS (ru_maxrss for
this process, VmHWM for the children).
Needs the real files in ../shared/data/ofac.
"""

import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ofac"
LATEST = DATA / "sdn_2024-05-03.csv"
BASELINE = DATA / "sdn_scraped_2024-04-19T1843Z.csv"
LIMITS = {"import": 10.0, "detect": 2.0}


def peak_mb() -> float:
    """Peak RSS of this process: ru_maxrss (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_peak_mb() -> float:
    """Peak RSS since this process's exec: VmHWM. A spawned child's ru_maxrss still
    counts its parent's peak (the kernel carries it across exec), VmHWM does not."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_mb()


def setup_django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    import django

    django.setup()


def import_file(path: Path):
    from sanctions.importers import ofac_csv

    started = time.perf_counter()
    run = ofac_csv.import_run([path], progress=False)
    seconds = time.perf_counter() - started
    phases = ", ".join(f"{phase} {t:.2f}s" for phase, t in run.timings.items())
    print(
        f"  {path.name}: {run.entry_count} entries in {seconds:.2f}s ({phases});"
        f" created {run.created}, updated {run.updated}, unchanged {run.unchanged};"
        f" {run.changes.count()} changes, {run.proposals.count()} proposals;"
        f" peak RSS {peak_mb():.0f} MB"
    )
    return run, seconds


def empty_tables():
    from django.apps import apps
    from django.db import connection

    tables = [m._meta.db_table for m in apps.get_app_config("sanctions").get_models()]
    tables += ["pghistory_context"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def read_synthetic_xml(entries: int, queue) -> None:
    """Child process: write an sdnList file of `entries` records, read it, report peak RSS."""
    setup_django()
    from sanctions.importers import ofac_xml, reading

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sdn.xml"
        with open(path, "w") as f:
            f.write("<sdnList><publshInformation><Publish_Date>05/03/2024</Publish_Date>")
            f.write(f"<Record_Count>{entries}</Record_Count></publshInformation>")
            for uid in range(entries):
                f.write(
                    f"<sdnEntry><uid>{uid}</uid><lastName>COMPANY {uid} LIMITED</lastName>"
                    "<sdnType>Entity</sdnType><programList><program>NPWMD</program>"
                    "</programList><akaList><aka><uid>1</uid><type>a.k.a.</type>"
                    f"<category>strong</category><lastName>ALIAS {uid}</lastName></aka>"
                    "</akaList><addressList><address><uid>1</uid><country>China</country>"
                    "</address></addressList></sdnEntry>"
                )
            f.write("</sdnList>")
        size = path.stat().st_size
        started = time.perf_counter()
        count = sum(1 for _ in ofac_xml.read(path, reading.Header()))
        queue.put((count, size, time.perf_counter() - started, own_peak_mb()))


def main() -> int:
    if not LATEST.is_file() or not BASELINE.is_file():
        print(f"The real SDN files are not in {DATA}; nothing to measure.")
        return 1
    setup_django()
    from django.db import connection

    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_imports_{os.getpid()}"
    created = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print(f"Scratch database {created}; {os.cpu_count()} CPUs.")
    try:
        print("1. Cold import into an empty database")
        _, cold = import_file(LATEST)
        empty_tables()
        print("2. Baseline, then the newer list against it")
        import_file(BASELINE)
        run, _ = import_file(LATEST)
        detect = run.timings["detect"]
    finally:
        connection.creation.destroy_test_db(created, verbosity=0)

    print("3. The XML reader alone, over synthetic files (each in a fresh process)")
    context = multiprocessing.get_context("spawn")
    for entries in (20_000, 200_000):
        queue = context.Queue()
        child = context.Process(target=read_synthetic_xml, args=(entries, queue))
        child.start()
        count, size, seconds, peak = queue.get()
        child.join()
        print(
            f"  {count} entries, {size / 1e6:.0f} MB: {seconds:.2f}s,"
            f" peak RSS (VmHWM) {peak:.0f} MB"
        )

    print(
        f"Import of {LATEST.name}: {cold:.2f}s (limit {LIMITS['import']:.0f}s);"
        f" change detection: {detect:.2f}s (limit {LIMITS['detect']:.0f}s);"
        f" peak RSS of the import process {peak_mb():.0f} MB."
    )
    return 0 if cold <= LIMITS["import"] and detect <= LIMITS["detect"] else 1


if __name__ == "__main__":
    sys.exit(main())
