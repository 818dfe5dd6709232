"""OFAC's lists in the `sdnList` XML schema: sdn.xml and the consolidated (non-SDN) list.

`publshInformation` gives Publish_Date (MM/DD/YYYY) and Record_Count, which must equal
the number of `sdnEntry` records read. Names are composed "LAST, First" as the legacy
CSV prints them, so a list can move between the two formats without false changes.
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
    ListFormatError,
    ofac_list_name,
    organisation_kind,
    progress_bar,
)
from .safe_xml import iter_records, local_name, text
from .storing import import_entries

FORMAT = "ofac-xml"
MANY_FILES = False
# The list published in this format that refresh_lists downloads.
URLS = {
    ListName.OFAC_CONSOLIDATED: (
        "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/CONSOLIDATED.XML"
    ),
}
_ID_SCHEMES = {
    "Registration Number": "registration",
    "Registration ID": "registration",
    "Business Registration Number": "registration",
    "Company Number": "registration",
    "Unified Social Credit Code (USCC)": "registration",
    "Tax ID No.": "tax",
    "Passport": "passport",
    "Vessel Registration Identification": "imo",
}
_ALIAS_KINDS = {"a.k.a.": AliasKind.AKA, "f.k.a.": AliasKind.FKA, "n.k.a.": AliasKind.AKA}
_ENTRY_TYPES = {
    "individual": EntityKind.PERSON,
    "vessel": EntityKind.VESSEL,
    "aircraft": EntityKind.AIRCRAFT,
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
    """Import sdn.xml or consolidated.xml; `published_on` dates a file that states none."""
    [path] = paths
    header = Header(fallback_date=published_on)
    return import_entries(
        read(path, header, progress=progress),
        header=header,
        list_name=list_name or ofac_list_name(path),
        format=FORMAT,
        paths=[path],
        force=force,
        source_url=source_url,
    )


def read(path: Path, header: Header, *, progress: bool = False) -> Iterator[Entry]:
    """Each sdnEntry of the file; fills in `header` from publshInformation."""
    with progress_bar(path, enabled=progress) as bar:
        records = iter_records(path, {"publshInformation", "sdnEntry"}, bar=bar)
        for event, element in records:
            if event == "start":
                if local_name(element) != "sdnList":
                    raise ListFormatError(f"{path.name} is not an sdnList document")
            elif local_name(element) == "publshInformation":
                _read_header(element, header)
            else:
                yield _entry(element)


def _all(element, path: str):
    return element.iterfind(path)


def _read_header(element, header: Header) -> None:
    published = text(element, "{*}Publish_Date")
    count = text(element, "{*}Record_Count")
    try:
        if published:
            header.published_on = datetime.datetime.strptime(published, "%m/%d/%Y").date()
        if count:
            header.declared_count = int(count)
    except ValueError:
        raise ListFormatError(
            f"unreadable Publish_Date {published!r} or Record_Count {count!r}"
        ) from None


def _entry(element) -> Entry:
    number = text(element, "{*}uid")
    last, first = text(element, "{*}lastName"), text(element, "{*}firstName")
    name = f"{last}, {first}" if last and first else last or first
    if not number or not name:
        raise ListFormatError(f"an sdnEntry without uid or name (uid {number!r})")
    entry_type = text(element, "{*}sdnType").lower() or "entity"
    identifiers = [("ofac", number, "", "")]
    target_type = ""
    for id_element in _all(element, "{*}idList/{*}id"):
        id_type, value = text(id_element, "{*}idType"), text(id_element, "{*}idNumber")
        country = text(id_element, "{*}idCountry")
        if id_type == "Target Type":
            target_type = value
        elif id_type in _ID_SCHEMES and value:
            scheme = _ID_SCHEMES[id_type]
            if scheme == "imo":
                value = value.removeprefix("IMO").strip()
            note = f"OFAC: {id_type} {value}" + (f" ({country})" if country else "")
            identifiers.append((scheme, value, country_code(country) or "", note))
    aliases = []
    for aka in _all(element, "{*}akaList/{*}aka"):
        aka_last, aka_first = text(aka, "{*}lastName"), text(aka, "{*}firstName")
        aka_name = f"{aka_last}, {aka_first}" if aka_last and aka_first else aka_last or aka_first
        kind = _ALIAS_KINDS.get(text(aka, "{*}type"), AliasKind.AKA)
        if text(aka, "{*}category") == "weak":
            kind = AliasKind.WEAK
        if aka_name:
            aliases.append((aka_name, kind))
    countries = [
        text(place, "{*}country")
        for place in (
            *_all(element, "{*}addressList/{*}address"),
            *_all(element, "{*}nationalityList/{*}nationality"),
            *_all(element, "{*}citizenshipList/{*}citizenship"),
        )
    ]
    countries.append(text(element, "{*}vesselInfo/{*}vesselFlag"))
    return Entry(
        number=number,
        name=name,
        entry_type=entry_type,
        kind=_ENTRY_TYPES.get(entry_type) or organisation_kind(name, target_type=target_type),
        programs=[p.text.strip() for p in _all(element, "{*}programList/{*}program") if p.text],
        raw={"xml": etree.tostring(element, encoding="unicode")},
        aliases=aliases,
        identifiers=identifiers,
        countries=[code for code in map(country_code, countries) if code],
    )
