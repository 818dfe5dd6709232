"""The UN Security Council Consolidated List (consolidated.xml).

`CONSOLIDATED_LIST/@dateGenerated` dates the list. Each INDIVIDUAL or ENTITY is keyed by
its REFERENCE_NUMBER (e.g. KPe.001), tagged with its regime (UN_LIST_TYPE) and dated by
LISTED_ON, which proposals use as the designation date. Aliases carry a quality (Good,
Low, a.k.a., f.k.a.); NAME_ORIGINAL_SCRIPT is the name in its own script.
"""

import datetime
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from sanctions.countries import country_code
from sanctions.models import AliasKind, EntityKind, ImportRun, ListName

from .reading import (
    Entry,
    Header,
    ImportRefused,
    ListFormatError,
    iso_date,
    organisation_kind,
    progress_bar,
)
from .safe_xml import iter_records, text
from .storing import import_entries

FORMAT = "un-xml"
MANY_FILES = False
# The list published in this format that refresh_lists downloads.
URLS = {ListName.UN_CONSOLIDATED: "https://scsanctions.un.org/resources/xml/en/consolidated.xml"}
_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
_ALIAS_KINDS = {
    "good": AliasKind.AKA,
    "a.k.a.": AliasKind.AKA,
    "low": AliasKind.WEAK,
    "f.k.a.": AliasKind.FKA,
}


def import_run(
    paths: list[Path],
    *,
    list_name: str | None = None,
    published_on: datetime.date | None = None,
    force: bool = False,
    progress: bool = True,
    source_url: str = "",
) -> ImportRun:
    """Import the UN consolidated list; `published_on` dates a file that states no date."""
    if list_name not in (None, ListName.UN_CONSOLIDATED):
        raise ImportRefused(f"{FORMAT} holds the UN consolidated list only, not {list_name}")
    [path] = paths
    header = Header(fallback_date=published_on)
    return import_entries(
        read(path, header, progress=progress),
        header=header,
        list_name=ListName.UN_CONSOLIDATED,
        format=FORMAT,
        paths=[path],
        force=force,
        source_url=source_url,
    )


def read(path: Path, header: Header, *, progress: bool = False) -> Iterator[Entry]:
    """Each individual and entity of the list; fills in `header` from the root."""
    with progress_bar(path, enabled=progress) as bar:
        for event, element in iter_records(path, {"INDIVIDUAL", "ENTITY"}, bar=bar):
            if event == "start":
                if element.tag != "CONSOLIDATED_LIST":
                    raise ListFormatError(f"{path.name} is not a UN CONSOLIDATED_LIST")
                header.published_on = iso_date(element.get("dateGenerated", ""))
            else:
                yield _entry(element)


def _texts(element, path: str) -> list[str]:
    return [" ".join(e.text.split()) for e in element.iterfind(path) if e.text and e.text.strip()]


def _entry(element) -> Entry:
    individual = element.tag == "INDIVIDUAL"
    number = text(element, "REFERENCE_NUMBER")
    name = " ".join(part for part in (text(element, p) for p in _NAME_PARTS) if part)
    if not number or not name:
        raise ListFormatError(f"a {element.tag} without REFERENCE_NUMBER or name ({number!r})")
    prefix = "INDIVIDUAL" if individual else "ENTITY"
    aliases = []
    for alias in element.iterfind(f"{prefix}_ALIAS"):
        alias_name = text(alias, "ALIAS_NAME")
        if alias_name:
            quality = text(alias, "QUALITY").lower()
            aliases.append((alias_name, _ALIAS_KINDS.get(quality, AliasKind.AKA)))
    original = text(element, "NAME_ORIGINAL_SCRIPT")
    if original:
        aliases.append((original, AliasKind.ORIGINAL))
    identifiers = [("un", number, "", "")]
    for document in element.iterfind("INDIVIDUAL_DOCUMENT"):
        if text(document, "TYPE_OF_DOCUMENT").lower() == "passport":
            value, country = text(document, "NUMBER"), text(document, "ISSUING_COUNTRY")
            note = f"UN list: passport {value}" + (f" ({country})" if country else "")
            identifiers.append(("passport", value, country_code(country) or "", note))
    countries = _texts(element, "NATIONALITY/VALUE") + _texts(element, f"{prefix}_ADDRESS/COUNTRY")
    return Entry(
        number=number,
        name=name,
        entry_type="individual" if individual else "entity",
        kind=EntityKind.PERSON if individual else organisation_kind(name),
        programs=[text(element, "UN_LIST_TYPE")] if text(element, "UN_LIST_TYPE") else [],
        raw={"xml": etree.tostring(element, encoding="unicode")},
        aliases=aliases,
        identifiers=identifiers,
        countries=[code for code in map(country_code, countries) if code],
        listed_on=iso_date(text(element, "LISTED_ON")),
    )
