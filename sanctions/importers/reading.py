"""What the format modules read a list file into, and the helpers they share.

Each format module (ofac_csv, ofac_xml, un_xml) turns a file into `Entry` records and
fills in the file's `Header`; storing.py stores them as an import run. A file that is
not what its format promises raises ListFormatError.
"""

import datetime
import re
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from sanctions.models import EntityKind, ListName

_COMPANY_WORDS = re.compile(
    r"\b(LTD|LIMITED|LLC|L\.L\.C|INC|CO|COMPANY|CORP|CORPORATION|GMBH|JSC|OJSC|PJSC|CJSC|PLC"
    r"|LLP|FZE|FZCO|FZ-LLC|DMCC|PTE|PVT|BHD|S\.?A|S\.?A\.?R\.?L|S\.?R\.?L|S\.?P\.?A|B\.?V"
    r"|OOO|OAO|ZAO|AO|A\.?S|SIRKETI|TRADING|ENTERPRISES?)\b\.?",
    re.IGNORECASE,
)


class ImportFailed(Exception):
    """An import that stopped; the message says why in one line."""


class ImportRefused(ImportFailed):
    """A file the sanity checks refuse; `--force` imports it all the same."""


class ListFormatError(ImportFailed):
    """A file that is not what its format promises (or is unsafe to read)."""


@dataclass
class Entry:
    """One entry of an official list, cleaned, with its raw record beside it."""

    number: str  # OFAC entry number, UN reference number
    name: str
    entry_type: str  # individual, entity, vessel or aircraft
    kind: str  # EntityKind for a new entity
    programs: list[str]
    raw: dict
    aliases: list[tuple[str, str]] = field(default_factory=list)  # (name, AliasKind)
    identifiers: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # scheme, value, country, note
    countries: list[str] = field(default_factory=list)  # ISO 3166-1 alpha-2
    listed_on: datetime.date | None = None


@dataclass
class Header:
    """What a file says about itself; parsers fill it in as they read."""

    published_on: datetime.date | None = None
    declared_count: int | None = None
    # The date to use where the file states none: given by the operator, or the
    # download's Last-Modified. A list is never dated "today" by default.
    fallback_date: datetime.date | None = None


def iso_date(value: str | None) -> datetime.date | None:
    """The full date an ISO 8601 date or date-time begins with ("2024-12-18",
    "2024-12-18T09:30:00Z"); None for a partial date ("2024-12"), nothing, or no date."""
    try:
        return datetime.date.fromisoformat(value[:10]) if value and len(value) >= 10 else None
    except ValueError:
        return None


def ofac_list_name(path: Path) -> str:
    """The OFAC list a file holds, guessed from its name: the consolidated (non-SDN) list
    when the name starts with "cons" (cons_prim.csv, CONSOLIDATED.XML) or contains
    "consolidated", else the SDN list."""
    consolidated = path.name.lower().startswith("cons") or "consolidated" in path.name
    return ListName.OFAC_CONSOLIDATED if consolidated else ListName.OFAC_SDN


def organisation_kind(name: str, *, target_type: str = "") -> str:
    """Company, state body or organisation, from the list's own hints."""
    target = target_type.lower()
    if "state-owned" in target or "government" in target:
        return EntityKind.STATE_BODY
    if "company" in target or _COMPANY_WORDS.search(name):
        return EntityKind.COMPANY
    return EntityKind.ORGANIZATION


def progress_bar(path: Path, *, enabled: bool) -> tqdm:
    """A progress bar over the bytes of a file, on stderr."""
    return tqdm(
        total=path.stat().st_size,
        unit="B",
        unit_scale=True,
        desc=path.name,
        disable=not enabled,
        leave=False,
    )
