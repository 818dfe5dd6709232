"""Fill a benchmark database with a synthetic sanctions record: python bench/generate.py

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_tracker python bench/generate.py
    python bench/generate.py --database postgres://... --scale 0.01 --reset

Full scale (--scale 1): 1,000,000 entities with about 3 aliases each (Latin, Cyrillic,
Arabic and Chinese names), 200,000 actions, 1,000,000 designations, 500,000 articles,
and what goes with them: authorities, legal bases, programs, outlets, sources,
identifiers, relations, coverage and mentions. Authorities, countries, kinds and dates
follow skewed distributions like the real record's (OFAC and BIS act most; China,
Iran and Russia lead the countries; recent years are busier). --scale takes a fraction
for quick runs; --seed makes a run reproducible.

The database must be migrated (manage.py migrate with the same DATABASE_URL), and its
name must contain "bench", so that the development one is never touched: the tables
must be empty, or --reset empties them. Rows go
in through psycopg 3 COPY in one transaction with SET LOCAL session_replication_role =
replica, which turns off every trigger for the load: pghistory's (the load is not an
editor's change to record), the foreign-key checks (the generator writes consistent
ids) and the triggers that keep derived columns, which are recomputed after the load
with the project's own SQL function. Secondary indexes of the loaded tables are dropped
for the load and rebuilt after it, in the same transaction. Columns the generator does
not know (added by later migrations) get their type's empty value if NOT NULL.
"""

import argparse
import datetime
import itertools
import os
import random
import sys
import time
from array import array
from pathlib import Path
from typing import NamedTuple

import psycopg

# The project's own SQL (sanctions/sql.py) is read from its package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sanctions.sql import REFRESH_ALL_VISIBLE  # noqa: E402

SCALE = {"entities": 1_000_000, "actions": 200_000, "designations": 1_000_000, "articles": 500_000}
TABLES = [  # in load order; each is emptied by --reset
    "sanctions_authority",
    "sanctions_legalbasis",
    "sanctions_program",
    "sanctions_outlet",
    "sanctions_entity",
    "sanctions_alias",
    "sanctions_identifier",
    "sanctions_relation",
    "sanctions_action",
    "sanctions_action_legal_bases",
    "sanctions_action_programs",
    "sanctions_designation",
    "sanctions_source",
    "sanctions_article",
    "sanctions_coverage",
    "sanctions_article_entities",
]

# Reference data: (slug, name, short name, jurisdiction, weight, legal bases, programs, domain)
# fmt: off
AUTHORITIES = [
    ("us-ofac", "U.S. Department of the Treasury, Office of Foreign Assets Control", "OFAC", "US",
     30, ["eo-13382", "eo-13224", "eo-13846", "eo-14024"],
     ["NPWMD", "SDGT", "IFSR", "RUSSIA-EO14024"], "ofac.treasury.gov"),
    ("us-state", "U.S. Department of State", "State", "US", 14,
     ["eo-13382", "inksna", "aeca-73", "caatsa"], ["NPWMD", "INKSNA", "CAATSA-RUSSIA"],
     "www.state.gov"),
    ("us-bis", "U.S. Department of Commerce, Bureau of Industry and Security", "BIS", "US", 20,
     ["ear-744-11", "ecra"], ["ENTITY-LIST"], "www.bis.gov"),
    ("us-white-house", "The White House", "White House", "US", 1, ["ieepa"], [],
     "www.whitehouse.gov"),
    ("eu-council", "Council of the European Union", "EU Council", "EU", 12,
     ["eu-2017-1509", "eu-267-2012", "eu-833-2014"], ["EU-DPRK", "EU-IRAN", "EU-RUSSIA"],
     "www.consilium.europa.eu"),
    ("un-1718", "UN Security Council 1718 Committee", "UNSC 1718", "UN", 3,
     ["unscr-1718", "unscr-2270"], ["UN-DPRK"], "main.un.org"),
    ("un-2231", "UN Security Council (resolution 2231)", "UNSC 2231", "UN", 1, ["unscr-2231"],
     ["UN-IRAN"], "main.un.org"),
    ("uk-fcdo", "UK Foreign, Commonwealth and Development Office", "FCDO", "GB", 5,
     ["uk-iran-2019", "uk-russia-2019"], ["UK-IRAN", "UK-RUSSIA"], "www.gov.uk"),
    ("uk-ofsi", "UK Office of Financial Sanctions Implementation", "OFSI", "GB", 3,
     ["uk-dprk-2019"], ["UK-DPRK"], "www.gov.uk"),
    ("ca-gac", "Global Affairs Canada", "GAC", "XX", 4, ["ca-sema"], ["CA-SEMA"],
     "www.international.gc.ca"),
    ("jp-meti", "Japan, Ministry of Economy, Trade and Industry", "METI", "XX", 4, ["jp-fefta"],
     ["JP-END-USER"], "www.meti.go.jp"),
    ("au-dfat", "Australia, Department of Foreign Affairs and Trade", "DFAT", "XX", 3,
     ["au-autonomous"], ["AU-AUTONOMOUS"], "www.dfat.gov.au"),
]
LEGAL_BASES = {
    "eo-13382": ("Executive Order 13382 (weapons of mass destruction proliferators)", "E.O. 13382"),
    "eo-13224": ("Executive Order 13224 (terrorism)", "E.O. 13224"),
    "eo-13846": ("Executive Order 13846 (Iran)", "E.O. 13846"),
    "eo-14024": ("Executive Order 14024 (Russia)", "E.O. 14024"),
    "inksna": ("Iran, North Korea, and Syria Nonproliferation Act", "INKSNA"),
    "aeca-73": ("Arms Export Control Act, section 73 (missile sanctions)", "AECA §73"),
    "caatsa": ("Countering America's Adversaries Through Sanctions Act", "CAATSA"),
    "ear-744-11": ("Export Administration Regulations, Entity List (15 CFR 744.11)", "EAR 744.11"),
    "ecra": ("Export Control Reform Act of 2018", "ECRA"),
    "ieepa": ("International Emergency Economic Powers Act", "IEEPA"),
    "eu-2017-1509": ("Council Regulation (EU) 2017/1509 (DPRK)", "Reg. 2017/1509"),
    "eu-267-2012": ("Council Regulation (EU) No 267/2012 (Iran)", "Reg. 267/2012"),
    "eu-833-2014": ("Council Regulation (EU) No 833/2014 (Russia)", "Reg. 833/2014"),
    "unscr-1718": ("UN Security Council Resolution 1718 (2006)", "UNSCR 1718"),
    "unscr-2270": ("UN Security Council Resolution 2270 (2016)", "UNSCR 2270"),
    "unscr-2231": ("UN Security Council Resolution 2231 (2015)", "UNSCR 2231"),
    "uk-iran-2019": ("The Iran (Sanctions) (Nuclear) (EU Exit) Regulations 2019", "UK Iran Regs"),
    "uk-russia-2019": ("The Russia (Sanctions) (EU Exit) Regulations 2019", "UK Russia Regs"),
    "uk-dprk-2019": ("The DPRK (Sanctions) (EU Exit) Regulations 2019", "UK DPRK Regs"),
    "ca-sema": ("Special Economic Measures Act (Canada)", "SEMA"),
    "jp-fefta": ("Foreign Exchange and Foreign Trade Act (Japan)", "FEFTA"),
    "au-autonomous": ("Autonomous Sanctions Act 2011 (Australia)", "ASA 2011"),
}
COUNTRIES = {  # code: (weight, script of its own names, cities)
    "CN": (25, "Hani", ["Beijing", "Shenzhen", "Shanghai", "Dalian", "Xi'an", "Chengdu"]),
    "IR": (15, "Arab", ["Tehran", "Isfahan", "Shiraz", "Tabriz", "Mashhad"]),
    "RU": (15, "Cyrl", ["Moscow", "Saint Petersburg", "Tula", "Izhevsk", "Kazan"]),
    "KP": (7, "Hang", ["Pyongyang", "Nampo", "Chongjin"]),
    "PK": (5, "Arab", ["Karachi", "Lahore", "Islamabad", "Rawalpindi"]),
    "AE": (6, "Arab", ["Dubai", "Sharjah", "Abu Dhabi"]),
    "HK": (4, "Hani", ["Hong Kong", "Kowloon"]),
    "TR": (4, "Latn", ["Istanbul", "Ankara", "Izmir"]),
    "BY": (3, "Cyrl", ["Minsk", "Gomel", "Brest"]),
    "SY": (3, "Arab", ["Damascus", "Aleppo", "Latakia"]),
    "IN": (2, "Latn", ["Mumbai", "Delhi", "Chennai"]),
    "SG": (2, "Latn", ["Singapore"]),
    "MY": (1, "Latn", ["Kuala Lumpur", "Penang"]),
    "KZ": (2, "Cyrl", ["Almaty", "Astana"]),
    "DE": (2, "Latn", ["Hamburg", "Frankfurt", "Munich"]),
    "TW": (1, "Hani", ["Taipei", "Kaohsiung"]),
    "VE": (1, "Latn", ["Caracas"]),
    "MM": (1, "Latn", ["Yangon"]),
}
ENTITY_KINDS = [("company", 55), ("organization", 10), ("state_body", 5), ("person", 25),
                ("vessel", 4), ("aircraft", 1)]
ACTION_KINDS = [("designation", 55), ("entity_list_addition", 15), ("delisting", 10),
                ("amendment", 8), ("statutory_measures", 4), ("renewal", 2), ("waiver", 1),
                ("expiry", 1), ("rule", 2), ("statement", 2)]
ROLE_BY_KIND = {"delisting": "delisted", "entity_list_removal": "delisted", "amendment": "amended"}
SECTORS = ["Technology", "Electronics", "Trading", "Import Export", "Machinery", "Aerospace",
           "Precision Instruments", "Shipping", "Logistics", "Chemical", "Industrial",
           "Engineering", "Metallurgy", "Optics", "Materials", "Energy", "Petrochemical",
           "Defence Industries"]
SUFFIXES = {"CN": "Co., Ltd.", "HK": "Limited", "RU": "LLC", "BY": "OJSC", "IR": "Company",
            "AE": "FZE", "TR": "A.S.", "DE": "GmbH", "SG": "Pte. Ltd.", "MY": "Sdn. Bhd."}
SYLLABLES = ["hua", "xin", "long", "tai", "feng", "sheng", "kai", "rui", "tong", "yuan", "ming",
             "pars", "sana", "ray", "atl", "nik", "tek", "prom", "mash", "avia", "sar", "zar",
             "kor", "ryong", "san", "bok", "del", "nor", "vel", "tar", "ara", "lin", "mar", "ost",
             "gaz", "ner", "dan", "ka", "ri", "mo", "za", "ti", "ve", "lo", "su", "ha", "ne"]
FIRST_NAMES = {
    "Latn": ["Ali", "Chen", "Ivan", "Hassan", "Li", "Sergei", "Kim", "Omar", "Wei", "Dmitri",
             "Reza", "Yusuf", "Olga", "Fatima", "Zhang", "Mehmet"],
    "Cyrl": ["Иван", "Сергей", "Дмитрий", "Ольга", "Алексей", "Наталья", "Андрей"],
    "Arab": ["علی", "حسن", "محمد", "رضا", "فاطمه", "یوسف", "عمر"],
    "Hani": ["伟", "芳", "娜", "敏", "静", "强", "磊", "军"],
    "Hang": ["철", "영", "민", "성", "진"],
}
NATIVE = {  # each script's letters, for names in the original script
    "Hani": "华信龙泰丰盛凯瑞通源明电子科技贸易机械航空精密仪器船舶物流化工工业能源材料光学",
    "Cyrl": "абвгдежзиклмнопрстуфхцчшэюя",
    "Arab": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "Hang": "가나다라마바사아자차카타파하조선무역기술",
}
COMPANY_WORD = {"Hani": "有限公司", "Cyrl": "ООО «{}»", "Arab": "شركة {}", "Hang": "{} 무역회사"}
OUTLETS = ["Reuters", "Associated Press", "Bloomberg", "Financial Times", "The Washington Post",
           "The New York Times", "Nikkei Asia", "South China Morning Post", "Dawn", "Al Jazeera",
           "Kommersant", "NK News", "Arms Control Association", "Jane's", "Politico", "Le Monde"]
LANGUAGES = [("en", 85), ("fr", 3), ("de", 2), ("ru", 3), ("zh", 3), ("ar", 2), ("ja", 1),
             ("ur", 1)]
# fmt: on
TOPICS = ["missile", "nuclear", "drone", "chemical", "naval", "aircraft parts"]
START = datetime.date(2000, 1, 1)
END = datetime.date(2026, 6, 30)


def create_database(url: str) -> None:
    """Create the database of ``url`` if it is missing, UTF-8 with a C.UTF-8 locale
    (trigram search in every script needs a UTF-8 ctype)."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    if "bench" not in name:
        sys.exit(f"Refusing {name!r}: a benchmark database's name contains 'bench'.")
    with psycopg.connect(
        psycopg.conninfo.make_conninfo(url, dbname="postgres"), autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            print(f"creating database {name}", flush=True)
            conn.execute(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"
                " LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            )


def weighted(rng: random.Random | None, pairs):
    """A sampler over (value, weight) pairs, drawing from rng, or from the one it is given."""
    values = [v for v, _ in pairs]
    cumulative = list(itertools.accumulate(w for _, w in pairs))
    return lambda other=None: (other or rng).choices(values, cum_weights=cumulative)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.getenv("DATABASE_URL"), help="target database URL")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full scale")
    parser.add_argument("--seed", type=int, default=1718)
    parser.add_argument("--reset", action="store_true", help="empty the core tables first")
    args = parser.parse_args(argv)
    if not args.database:
        parser.error("give --database or DATABASE_URL (a benchmark database, never the dev one)")
    counts = {name: max(1, round(n * args.scale)) for name, n in SCALE.items()}
    print(f"generating {counts} into {psycopg.conninfo.conninfo_to_dict(args.database)['dbname']}")
    started = time.perf_counter()
    generate(args.database, counts, seed=args.seed, reset=args.reset)
    print(f"done in {time.perf_counter() - started:.0f}s")


def generate(url: str, counts: dict, *, seed: int = 1718, reset: bool = False) -> None:
    """Load a synthetic record of the given size into the migrated database at `url`."""
    if "bench" not in psycopg.conninfo.conninfo_to_dict(url).get("dbname", ""):
        sys.exit("the database's name must contain 'bench': any other may hold real data")
    with psycopg.connect(url, autocommit=True) as conn:
        existing = conn.execute("SELECT to_regclass('sanctions_action')").fetchone()[0]
        if existing is None:
            sys.exit("the database is not migrated: run manage.py migrate with this DATABASE_URL")
        if (
            not reset
            and conn.execute("SELECT EXISTS (SELECT 1 FROM sanctions_entity)").fetchone()[0]
        ):
            sys.exit("the tables hold data: pass --reset to empty them")
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            conn.execute("SET LOCAL synchronous_commit = off")
            if reset:
                conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
            indexes = _drop_secondary_indexes(conn)
            Loader(conn, counts, seed).load()
            _timed("rebuild indexes", lambda: [conn.execute(sql) for sql in indexes])
            for table in TABLES:
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
        _refresh_derived_columns(conn)
        # As autovacuum would on a database in service: statistics, and the visibility
        # map that index-only scans need.
        _timed("vacuum and analyze", lambda: conn.execute("VACUUM ANALYZE"))


def _timed(label, work):
    started = time.perf_counter()
    result = work()
    print(f"  {label}: {time.perf_counter() - started:.1f}s", flush=True)
    return result


def _drop_secondary_indexes(conn) -> list[str]:
    """Drop the loaded tables' indexes that back no constraint; return how to rebuild them."""
    rows = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
             FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        [TABLES],
    ).fetchall()
    for name, _ in rows:
        conn.execute(f"DROP INDEX {name}")
    return [definition for _, definition in rows]


def _refresh_derived_columns(conn) -> None:
    """Recompute what the (disabled) triggers keep, with the project's own function."""
    if conn.execute("SELECT to_regproc('sanctions_refresh_action')").fetchone()[0] is None:
        print("  no sanctions_refresh_action(): derived action columns left as loaded")
        return
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        _timed(
            "derived action columns",
            lambda: conn.execute(
                "SELECT count(sanctions_refresh_action(id)) FROM sanctions_action"
            ),
        )
        # Which entities and articles a published action shows, by the triggers' rule.
        _timed("visible entities and articles", lambda: conn.execute(REFRESH_ALL_VISIBLE))


class Loader:
    def __init__(self, conn, counts: dict, seed: int):
        self.conn = conn
        self.counts = counts
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = datetime.datetime.now(datetime.UTC)
        self.country = weighted(self.rng, [(c, w) for c, (w, _, _) in COUNTRIES.items()])
        self.language = weighted(self.rng, LANGUAGES)

    def copy(self, table: str, columns: list[str], rows) -> int:
        """COPY rows (tuples in `columns` order) into table; NOT NULL columns the generator
        does not know get their type's empty value."""
        known = set(columns)
        extra = self.conn.execute(
            """SELECT column_name, data_type FROM information_schema.columns
                WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL
                  AND is_generated = 'NEVER' AND is_identity = 'NO'""",
            [table],
        ).fetchall()
        extra = [(name, kind) for name, kind in extra if name not in known]
        empty = tuple(_EMPTY.get(kind, "") for _, kind in extra)
        names = ", ".join(f'"{c}"' for c in columns + [name for name, _ in extra])
        n = 0
        started = time.perf_counter()
        with self.conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row + empty)
                n += 1
        print(f"  {table}: {n:,} rows in {time.perf_counter() - started:.1f}s", flush=True)
        return n

    def load(self):
        self.reference_data()
        self.entities()
        self.actions()
        self.articles()

    # Reference data

    def reference_data(self):
        authorities = [(i, *a) for i, a in enumerate(AUTHORITIES, start=1)]
        self.copy(
            "sanctions_authority",
            ["id", "slug", "name", "short_name", "jurisdiction", "url", "description"],
            (
                (i, slug, name, short, j, f"https://{domain}/", "")
                for i, slug, name, short, j, _, _, _, domain in authorities
            ),
        )
        self.legal_basis_ids = {slug: i for i, slug in enumerate(LEGAL_BASES, start=1)}
        self.copy(
            "sanctions_legalbasis",
            ["id", "slug", "name", "short_name", "citation", "url", "description"],
            (
                (self.legal_basis_ids[s], s, name, short, "", "", "")
                for s, (name, short) in LEGAL_BASES.items()
            ),
        )
        programs = {}
        for i, *_ in authorities:
            for code in AUTHORITIES[i - 1][6]:
                programs.setdefault(code, (len(programs) + 1, i))
        self.program_ids = {code: pk for code, (pk, _) in programs.items()}
        self.copy(
            "sanctions_program",
            ["id", "code", "name", "authority_id", "description"],
            (
                (pk, code, code.replace("-", " ").title(), authority, "")
                for code, (pk, authority) in programs.items()
            ),
        )
        self.authority = weighted(None, [(a, a[5]) for a in authorities])
        self.copy(
            "sanctions_outlet",
            ["id", "name", "domain", "country"],
            (
                (i, name, name.lower().replace(" ", "").replace("'", "") + ".example", "")
                for i, name in enumerate(OUTLETS, start=1)
            ),
        )

    # Entities, their names, identifiers and relations

    def entities(self):
        """Each entity's rows come from its own seeded generator, like actions'."""
        n = self.counts["entities"]
        self.entity_kind = weighted(None, ENTITY_KINDS)

        def plans():
            return (self.entity(pk) for pk in range(1, n + 1))

        self.copy(
            "sanctions_entity",
            ["id", "kind", "name", "countries", "description", "reference"]
            + ["created_at", "updated_at"],
            (
                (e.pk, e.kind, e.name, e.countries, "", e.reference, self.now, self.now)
                for e in plans()
            ),
        )
        self.copy(
            "sanctions_alias",
            ["id", "entity_id", "name", "kind", "script", "language"],
            _numbered((e.pk, *alias, "") for e in plans() for alias in e.aliases),
        )
        self.copy(
            "sanctions_identifier",
            ["id", "entity_id", "scheme", "value", "country", "note"],
            _numbered((e.pk, *e.identifier, "", "") for e in plans() if e.identifier),
        )
        self.copy(
            "sanctions_relation",
            ["id", "subject_id", "object_id", "kind", "description"],
            self.relation_rows(),
        )

    def entity(self, pk: int) -> "EntityPlan":
        rng = random.Random(self.seed * 3_000_017 + pk)
        kind = self.entity_kind(rng)
        country = self.country(rng)
        countries = sorted({country, self.country(rng)}) if rng.random() < 0.07 else [country]
        name = self.latin_name(rng, kind, country, pk)
        # About 3 aliases: the name in its country's script, as a list prints it, variants.
        script = COUNTRIES[country][1]
        candidates = []
        if script != "Latn" and kind not in ("vessel", "aircraft"):
            candidates.append((self.native_name(rng, kind, script), "original", script))
        candidates.append((name.upper(), "listed", "Latn"))
        if rng.random() < 0.6:
            candidates.append((name.replace(" ", "", 1), "aka", "Latn"))
        if rng.random() < 0.4:
            candidates.append((self.latin_name(rng, kind, country, pk), "fka", "Latn"))
        if rng.random() < 0.3:
            candidates.append(
                (f"{name.split()[0]} {rng.choice(SYLLABLES).title()}", "weak", "Latn")
            )
        aliases = {}
        for alias, alias_kind, alias_script in candidates:
            if alias != name:
                aliases.setdefault(alias[:300], (alias_kind, alias_script))
        # Identifier values derive from the pk, so they are unique per scheme.
        identifier = None
        if rng.random() < 0.6:
            if kind == "vessel":
                identifier = ("imo", _imo(pk)) if pk < 900_000 else ("other", f"HULL-{pk}")
            elif kind == "person":
                identifier = (rng.choice(["passport", "ofac"]), str(100_000 + pk))
            else:
                scheme = rng.choice(["registration", "tax", "ofac", "un", "eu", "uk"])
                identifier = (scheme, f"{scheme.upper()}-{100_000 + pk}")
        return EntityPlan(
            pk=pk,
            kind=kind,
            name=name,
            countries=countries,
            reference=f"ent-{pk}" if rng.random() < 0.3 else None,
            aliases=[(alias, k, script) for alias, (k, script) in aliases.items()],
            identifier=identifier,
        )

    def latin_name(self, rng, kind: str, country: str, pk: int) -> str:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).title()
        if kind == "person":
            return f"{rng.choice(FIRST_NAMES['Latn'])} {word}"
        if kind == "vessel":
            return (
                f"{word} {rng.choice(['Star', 'Glory', 'Ocean', 'Pioneer', 'Fortune'])} {pk % 97}"
            )
        if kind == "aircraft":
            return (
                f"{country}-{''.join(rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ') for _ in range(3))}{pk}"
            )
        city = rng.choice(COUNTRIES[country][2])
        if kind == "state_body":
            body = rng.choice(["Research Institute", "Industries Organization", "Complex"])
            return f"{city} {word} {body}"
        return f"{city} {word} {rng.choice(SECTORS)} {SUFFIXES.get(country, 'Ltd.')}"

    def native_name(self, rng, kind: str, script: str) -> str:
        letters = NATIVE[script]
        word = "".join(rng.choice(letters) for _ in range(rng.randint(3, 7)))
        if kind == "person":
            return f"{rng.choice(FIRST_NAMES[script])} {word}"
        pattern = COMPANY_WORD[script]
        return word + pattern if "{}" not in pattern else pattern.format(word)

    def relation_rows(self):
        rng, n = self.rng, self.counts["entities"]
        kinds = [
            "subsidiary_of",
            "owned_by",
            "front_for",
            "supplier_to",
            "agent_of",
            "associated_with",
        ]
        seen = set()
        for pk in range(1, n // 10 + 1):
            subject, other = rng.randint(1, n), rng.randint(1, n)
            kind = rng.choice(kinds)
            if subject != other and (subject, other, kind) not in seen:
                seen.add((subject, other, kind))
                yield (pk, subject, other, kind, "")

    # Actions, designations, sources

    def actions(self):
        """Each action's rows come from its own seeded generator, so each table can be
        copied in a pass of its own and still agree with the others, in flat memory."""
        n, total = self.counts["actions"], self.counts["designations"]
        self.action_kind = weighted(None, ACTION_KINDS)
        self.plan_counts = _designation_counts(self.rng, n, total)
        self.plan_offsets = array("l", itertools.accumulate(self.plan_counts, initial=0))
        self.action_date = array("l", [0]) * (n + 1)
        self.action_first_entity = array("l", [0]) * (n + 1)
        entities = self.counts["entities"]
        self.entity_order = array("l", range(1, entities + 1))
        self.rng.shuffle(self.entity_order)
        self.favourites = self.entity_order[: max(1, entities // 50)]

        def plans():
            return (self.plan(pk) for pk in range(1, n + 1))

        def action_rows():
            for p in plans():
                self.action_date[p.pk] = p.announced.toordinal()
                yield (
                    p.pk,
                    p.title,
                    p.kind,
                    "published" if p.published else "draft",
                    p.authority[0],
                    p.announced,
                    p.effective,
                    p.gazetted,
                    p.documents,
                    p.summary,
                    "",
                    p.reference,
                    self.now if p.published else None,
                    None,
                    self.now,
                    self.now,
                )

        self.copy(
            "sanctions_action",
            [
                "id",
                "title",
                "kind",
                "status",
                "authority_id",
                "announced_on",
                "effective_on",
                "gazetted_on",
                "document_numbers",
                "summary",
                "notes",
                "reference",
                "published_at",
                "proposed_by_id",
                "created_at",
                "updated_at",
            ],
            action_rows(),
        )
        self.copy(
            "sanctions_action_legal_bases",
            ["id", "action_id", "legalbasis_id"],
            _numbered((p.pk, b) for p in plans() for b in p.bases),
        )
        self.copy(
            "sanctions_action_programs",
            ["id", "action_id", "program_id"],
            _numbered((p.pk, c) for p in plans() for c in p.programs),
        )
        self.copy(
            "sanctions_source",
            [
                "id",
                "action_id",
                "kind",
                "title",
                "publisher",
                "url",
                "published_on",
                "document_number",
            ],
            _numbered((p.pk, *s) for p in plans() for s in p.sources),
        )
        self.copy(
            "sanctions_designation",
            [
                "id",
                "action_id",
                "entity_id",
                "role",
                "name_as_listed",
                "reason",
                "legal_basis_id",
                "measures",
                "position",
            ],
            _numbered(self.designation_rows()),
        )

    def plan(self, pk: int) -> "Plan":
        rng = random.Random(self.seed * 1_000_003 + pk)
        authority = self.authority(rng)
        _, slug, _, short, _, _, bases, programs, domain = authority
        # Skewed towards recent years: the square root of a uniform draw.
        announced = START + datetime.timedelta(days=int((END - START).days * rng.random() ** 0.5))
        kind = self.action_kind(rng)
        count = self.plan_counts[pk - 1]
        sources = [
            (
                rng.choice(["press_release", "fact_sheet", "federal_register", "list_update"]),
                f"{short} announcement {pk}-{s}",
                short,
                f"https://{domain}/news/{announced:%Y/%m}/{pk}-{s}" if rng.random() < 0.85 else "",
                announced,
                "",
            )
            for s in range(rng.choice([1, 1, 2]))
        ]
        return Plan(
            pk=pk,
            authority=authority,
            kind=kind,
            title=f"{short} {kind.replace('_', ' ')}: {count} entit{'y' if count == 1 else 'ies'}",
            summary=f"Synthetic {kind.replace('_', ' ')} announced by {short}.",
            published=rng.random() < 0.97,
            announced=announced,
            effective=announced + datetime.timedelta(days=rng.choice([0, 1, 7]))
            if rng.random() < 0.5
            else None,
            gazetted=announced + datetime.timedelta(days=rng.randint(2, 20))
            if slug == "us-bis"
            else None,
            documents=[f"{rng.randint(60, 91)} FR {rng.randint(1000, 99999)}"]
            if slug == "us-bis"
            else [],
            reference=f"act-{pk}" if rng.random() < 0.5 else None,
            bases=[
                self.legal_basis_ids[b]
                for b in rng.sample(bases, min(len(bases), rng.choice([1, 1, 2])))
            ],
            programs=[self.program_ids[rng.choice(programs)]]
            if programs and rng.random() < 0.8
            else [],
            sources=sources,
        )

    def designation_rows(self):
        """Entities mostly each in turn of a shuffled order; a fifth are re-designated
        favourites; never twice in one action."""
        n = len(self.entity_order)
        for pk in range(1, self.counts["actions"] + 1):
            rng = random.Random(self.seed * 7_000_003 + pk)
            role = ROLE_BY_KIND.get(self.plan(pk).kind, "listed")
            offset, chosen = self.plan_offsets[pk - 1], set()
            for position in range(self.plan_counts[pk - 1]):
                if rng.random() < 0.2:
                    entity = self.favourites[rng.randrange(len(self.favourites))]
                else:
                    entity = self.entity_order[(offset + position) % n]
                step = 0
                while entity in chosen:
                    step += 1
                    entity = self.entity_order[(offset + position + step) % n]
                chosen.add(entity)
                if position == 0:
                    self.action_first_entity[pk] = entity
                reason = "Procurement for missile programs." if rng.random() < 0.3 else ""
                yield (pk, entity, role, "", reason, None, "", position)

    # Articles, coverage, mentions

    def articles(self):
        rng, n, actions = self.rng, self.counts["articles"], self.counts["actions"]
        relation = weighted(
            rng, [("reports", 70), ("analyses", 15), ("reacts", 10), ("background", 5)]
        )
        coverage, mentions = [], []

        def rows():
            for pk in range(1, n + 1):
                covered = {rng.randint(1, actions) for _ in range(rng.choice([1, 1, 1, 2, 3]))}
                first = min(covered)
                published = datetime.date.fromordinal(self.action_date[first] + rng.randint(0, 10))
                outlet = rng.randint(1, len(OUTLETS))
                domain = OUTLETS[outlet - 1].lower().replace(" ", "").replace("'", "")
                for action in sorted(covered):
                    coverage.append((action, pk, relation()))
                    if rng.random() < 0.5 and self.action_first_entity[action]:
                        mentions.append((pk, self.action_first_entity[action]))
                word = rng.choice(SYLLABLES).title() + rng.choice(SYLLABLES)
                yield (
                    pk,
                    f"https://{domain}.example/{published:%Y/%m}/{word.lower()}-{pk}",
                    f"Sanctions on {word} network over {rng.choice(TOPICS)} procurement",
                    outlet,
                    published,
                    "",
                    self.language(),
                    "Synthetic article.",
                    "",
                    self.now,
                    self.now,
                )

        self.copy(
            "sanctions_article",
            [
                "id",
                "url",
                "headline",
                "outlet_id",
                "published_on",
                "author",
                "language",
                "excerpt",
                "notes",
                "created_at",
                "updated_at",
            ],
            rows(),
        )
        self.copy(
            "sanctions_coverage", ["id", "action_id", "article_id", "relation"], _numbered(coverage)
        )
        self.copy(
            "sanctions_article_entities",
            ["id", "article_id", "entity_id"],
            _numbered(dict.fromkeys(mentions)),
        )


class EntityPlan(NamedTuple):
    """One entity as every table's pass sees it."""

    pk: int
    kind: str
    name: str
    countries: list
    reference: str | None
    aliases: list  # (name, kind, script)
    identifier: tuple | None  # (scheme, value)


class Plan(NamedTuple):
    """One action as every table's pass sees it."""

    pk: int
    authority: tuple
    kind: str
    title: str
    summary: str
    published: bool
    announced: datetime.date
    effective: datetime.date | None
    gazetted: datetime.date | None
    documents: list
    reference: str | None
    bases: list
    programs: list
    sources: list


def _designation_counts(rng: random.Random, actions: int, total: int) -> list[int]:
    """How many entities each action names: mostly a few, sometimes dozens; summing to total."""
    mean = total / actions
    counts = [max(1, min(200, int(rng.expovariate(1 / mean)) + 1)) for _ in range(actions)]
    difference = total - sum(counts)
    step = 1 if difference > 0 else -1
    while difference:
        i = rng.randrange(actions)
        if counts[i] + step >= 1:
            counts[i] += step
            difference -= step
    return counts


def _numbered(rows):
    return ((pk, *row) for pk, row in enumerate(rows, start=1))


def _imo(serial: int) -> str:
    """A 7-digit IMO number with a valid check digit; unique for serials below 900,000."""
    digits = str(100_000 + serial)
    check = sum(int(d) * (7 - i) for i, d in enumerate(digits)) % 10
    return digits + str(check)


_EMPTY = {"ARRAY": [], "boolean": False, "smallint": 0, "integer": 0, "bigint": 0, "jsonb": "{}"}


if __name__ == "__main__":
    main()
