"""OFAC's legacy CSV files: sdn.csv (names), with add.csv (addresses) and alt.csv (aliases).

No header; `-0-` means empty; CRLF line ends; the last byte is \\x1a. Columns:
sdn.csv   ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage,
          GRT, Vess_flag, Vess_owner, Remarks
add.csv   ent_num, Add_num, Address, City/State/Province/Postal Code, Country, Add_remarks
alt.csv   ent_num, alt_num, alt_type, alt_name, alt_remarks
The consolidated (non-SDN) list's cons_prim.csv has the shape of sdn.csv. OFAC sorts the
three files by entry number, so they are read side by side, one entry at a time, and
memory stays flat whatever their size.

The files carry no publish date: it is taken from `published_on`, else from a date in
the names file's name (sdn_scraped_2023-10-20T1843Z.csv); a file with neither is refused,
never dated by guess. A file whose last line is cut, or that lacks OFAC's closing \x1a,
is refused as truncated before anything is stored.
"""

import csv
import datetime
import re
from collections.abc import Iterator
from pathlib import Path

from sanctions.countries import country_code
from sanctions.models import AliasKind, EntityKind, ImportRun, ListName

from .reading import (
    Entry,
    Header,
    ImportRefused,
    ListFormatError,
    ofac_list_name,
    organisation_kind,
    progress_bar,
)
from .storing import import_entries

FORMAT = "ofac-sdn-csv"
# sdn.csv (or cons_prim.csv), with add.csv and alt.csv when given.
MANY_FILES = True
# The list published in this format that refresh_lists downloads.
URLS = {
    ListName.OFAC_SDN: (
        "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/SDN.CSV"
    ),
}
SDN_WIDTH, ADD_WIDTH, ALT_WIDTH = 12, 6, 5
EMPTY = "-0-"
END_OF_FILE = b"\x1a"
TAIL_BYTES = 64 * 1024

_DATE_IN_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# a.k.a. 'NAME'; the name may hold apostrophes, so it ends at a quote before ; or the end.
_REMARK_ALIAS = re.compile(r"\b([afn])\.k\.a\.\s+'(.+?)'(?=\s*(?:;|\.?\s*$))")
_ALIAS_KINDS = {"a": AliasKind.AKA, "f": AliasKind.FKA, "n": AliasKind.AKA}
_IDENTIFIERS = [
    (re.compile(r"(?:Business )?Registration (?:Number|ID) (.+)"), "registration"),
    (re.compile(r"Company Number (.+)"), "registration"),
    (re.compile(r"Unified Social Credit Code \(USCC\) (.+)"), "registration"),
    (re.compile(r"Tax ID No\. (.+)"), "tax"),
    (re.compile(r"Passport (.+)"), "passport"),
    (re.compile(r"Vessel Registration Identification IMO (.+)"), "imo"),
]
_IDENTIFIER_COUNTRY = re.compile(r"^(.*?)\s*\(([^()]*)\)$")
_IDENTIFIER_TAIL = re.compile(r"\s+(?:expires|issued)\b.*$")
_NATIONALITY = re.compile(r"^(?:alt\. )?(?:nationality|citizen) (.+)$")
_TARGET_TYPE = re.compile(r"^Target Type (.+)$")
_ENTRY_TYPES = {"individual": EntityKind.PERSON, "vessel": EntityKind.VESSEL}
_ENTRY_TYPES["aircraft"] = EntityKind.AIRCRAFT


def import_run(
    paths: list[Path],
    *,
    list_name: str | None = None,
    published_on: datetime.date | None = None,
    force: bool = False,
    progress: bool = True,
    source_url: str = "",
) -> ImportRun:
    """Import sdn.csv (or cons_prim.csv), with add.csv and alt.csv when given."""
    names, addresses, aliases = _roles(paths)
    published_on = published_on or date_in_name(names)
    if published_on is None:
        raise ListFormatError(
            f"{names.name} states no date, in its name or its content: give the date OFAC"
            " published it (--published-on YYYY-MM-DD)"
        )
    for path in (names, addresses, aliases):
        if path:
            check_complete(path, force=force)
    header = Header(published_on=published_on)
    return import_entries(
        read(names, addresses=addresses, aliases=aliases, progress=progress),
        header=header,
        list_name=list_name or ofac_list_name(names),
        format=FORMAT,
        paths=[p for p in (names, addresses, aliases) if p],
        force=force,
        source_url=source_url,
    )


def check_complete(path: Path, *, force: bool = False) -> None:
    """Refuse a file that is not CSV text or was cut short: its last line must be whole,
    and OFAC closes each file with a \x1a byte (without it, `force` lets it through)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(TAIL_BYTES)
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read()
    if not size:
        raise ListFormatError(f"{path.name} is empty")
    if b"\x00" in head or b"\x00" in tail:
        raise ListFormatError(f"{path.name} is not a CSV text file (it holds binary data)")
    marked = tail.endswith(END_OF_FILE)
    body = tail.removesuffix(END_OF_FILE)
    if body and not body.endswith(b"\n"):
        raise ListFormatError(
            f"{path.name} is truncated: its last line stops part-way"
            + (" inside a quoted field" if body.count(b'"', body.rfind(b"\n") + 1) % 2 else "")
        )
    if not marked and not force:
        raise ImportRefused(
            f"{path.name} lacks the end-of-file mark (\\x1a) OFAC closes its files with: it"
            " may be cut short; --force to import it anyway"
        )


def date_in_name(path: Path) -> datetime.date | None:
    """The first ISO date in a file name, if it is a real date."""
    match = _DATE_IN_NAME.search(path.name)
    if match:
        try:
            return datetime.date(*map(int, match.groups()))
        except ValueError:
            return None
    return None


def read(
    names: Path,
    *,
    addresses: Path | None = None,
    aliases: Path | None = None,
    progress: bool = False,
) -> Iterator[Entry]:
    """Each entry of the names file, with its addresses and aliases."""
    with progress_bar(names, enabled=progress) as bar:
        address_rows = _Beside(addresses, ADD_WIDTH)
        alias_rows = _Beside(aliases, ALT_WIDTH)
        for number, rows in _grouped(names, SDN_WIDTH, bar=bar):
            if len(rows) > 1:
                raise ListFormatError(f"{names.name}: entry {number} is listed more than once")
            yield _entry(rows[0], address_rows.take(number), alias_rows.take(number))
        address_rows.finish()
        alias_rows.finish()


def _roles(paths: list[Path]) -> tuple[Path, Path | None, Path | None]:
    """Which file is which: add*.csv addresses, alt*.csv aliases, the other the names."""
    roles: dict[str, list[Path]] = {"names": [], "add": [], "alt": []}
    for path in paths:
        prefix = path.name.lower()[:3]
        roles[prefix if prefix in ("add", "alt") else "names"].append(Path(path))
    if len(roles["names"]) != 1 or len(roles["add"]) > 1 or len(roles["alt"]) > 1:
        raise ListFormatError(
            "give one names file (sdn.csv), and at most one add*.csv and one alt*.csv"
        )
    return roles["names"][0], next(iter(roles["add"]), None), next(iter(roles["alt"]), None)


def _lines(path: Path, bar) -> Iterator[str]:
    with open(path, "rb") as f:
        for line in f:
            bar.update(len(line))
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError:
                # Older copies are Windows-1252; a stray byte must not stop a whole list.
                yield line.decode("cp1252", errors="replace")


def _rows(path: Path, width: int, bar=None) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each row, checked for width; the \\x1a byte ends the file."""
    reader = csv.reader(_lines(path, bar or _NoBar()))
    try:
        yield from _checked_rows(reader, path, width)
    except csv.Error as exc:
        raise ListFormatError(f"{path.name}, line {reader.line_num}: {exc}") from None


def _checked_rows(reader, path: Path, width: int) -> Iterator[tuple[int, list[str]]]:
    for row in reader:
        if not row or row == ["\x1a"]:
            continue
        if reader.line_num == 1 and row[0].startswith("\ufeff"):
            row[0] = row[0][1:]
        if len(row) != width:
            raise ListFormatError(
                f"{path.name}, line {reader.line_num}: {len(row)} columns, expected {width}"
            )
        yield reader.line_num, row


def _grouped(path: Path, width: int, bar=None) -> Iterator[tuple[int, list[list[str]]]]:
    """Rows grouped by entry number, which must not go down."""
    number, rows, last = None, [], -1
    for line, row in _rows(path, width, bar):
        try:
            current = int(row[0])
        except ValueError:
            raise ListFormatError(f"{path.name}, line {line}: entry number {row[0]!r}") from None
        if current < last:
            raise ListFormatError(
                f"{path.name}, line {line}: entry {current} after {last}; the files are read"
                " side by side and must be in entry-number order, as OFAC publishes them"
            )
        if current != number and rows:
            yield number, rows
            rows = []
        number, last = current, current
        rows.append(row)
    if rows:
        yield number, rows


class _NoBar:
    def update(self, n):
        pass


class _Beside:
    """Rows of add.csv or alt.csv, handed out as the names file reaches their entry."""

    def __init__(self, path: Path | None, width: int):
        self.path = path
        self.groups = _grouped(path, width) if path else iter(())
        self.pending = next(self.groups, None)

    def take(self, number: int) -> list[list[str]]:
        if self.pending is not None and self.pending[0] < number:
            self.orphan()
        if self.pending is not None and self.pending[0] == number:
            rows = self.pending[1]
            self.pending = next(self.groups, None)
            return rows
        return []

    def finish(self) -> None:
        if self.pending is not None:
            self.orphan()

    def orphan(self):
        raise ListFormatError(
            f"{self.path.name} has rows for entry {self.pending[0]}, which the names file"
            " does not list: are the files from the same day?"
        )


def _clean(cell: str) -> str:
    cell = cell.strip()
    return "" if cell == EMPTY else cell


def _entry(row: list[str], address_rows: list[list[str]], alias_rows: list[list[str]]) -> Entry:
    number, name, sdn_type, program_cell = (_clean(c) for c in row[:4])
    if not name:
        raise ListFormatError(f"entry {number} has no name")
    flag, remarks = _clean(row[9]), _clean(row[11])
    remark_parts = [p.strip() for p in re.split(r";\s*", remarks.removesuffix(".")) if p.strip()]
    aliases = [(n, _ALIAS_KINDS[k]) for k, n in _REMARK_ALIAS.findall(remarks)]
    aliases += [
        (_clean(r[3]), AliasKind.FKA if _clean(r[2]) == "fka" else AliasKind.AKA)
        for r in alias_rows
        if _clean(r[3])
    ]
    identifiers = [("ofac", number, "", "")]
    countries, target_type = [], ""
    for part in remark_parts:
        identifiers += _identifier(part)
        if match := _NATIONALITY.match(part):
            countries.append(country_code(match.group(1)))
        elif match := _TARGET_TYPE.match(part):
            target_type = match.group(1)
    countries += [country_code(_clean(r[4])) for r in address_rows if _clean(r[4])]
    if flag:
        countries.append(country_code(flag))
    entry_type = sdn_type.lower() or "entity"
    return Entry(
        number=number,
        name=name,
        entry_type=entry_type,
        kind=_ENTRY_TYPES.get(entry_type) or organisation_kind(name, target_type=target_type),
        programs=[p.strip() for p in program_cell.strip("[] ").split("] [") if p.strip()],
        raw={"sdn": row, "add": address_rows, "alt": alias_rows},
        aliases=aliases,
        identifiers=identifiers,
        countries=[c for c in countries if c],
    )


def _identifier(part: str) -> list[tuple[str, str, str, str]]:
    # "alt. Passport B5678 (Pakistan)": a second number of the same kind.
    wording = part.removeprefix("alt. ")
    for pattern, scheme in _IDENTIFIERS:
        if match := pattern.fullmatch(wording):
            value = _IDENTIFIER_TAIL.sub("", match.group(1))
            country = ""
            if with_country := _IDENTIFIER_COUNTRY.match(value):
                value, country = with_country.groups()
            code = country_code(country) or ""
            note = f"OFAC remarks: {part}"
            return [(scheme, value.strip(), code, note)]
    return []
