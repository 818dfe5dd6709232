"""Read a US Federal Register document (its XML, or its federalregister.gov page) into the
makings of a sanctions action; and recognise legal bases in any text.

No database access: the caller matches the parties against entities and saves. Both
formats are first reduced to the same parts (headed paragraphs in document order, tables
of cells, the page's metadata), so one builder makes the `Notice` whatever the format.
"""

import contextlib
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import lxml.html
from lxml import etree


class NoticeError(ValueError):
    """The input is not a Federal Register document, or cannot be read."""


@dataclass(frozen=True)
class ListedParty:
    name: str  # as listed, e.g. "Shenzhen Zhongxin Technology Co., Ltd."
    aliases: list[str]  # the a.k.a. names in order, without dashes and list punctuation
    country: str  # ISO alpha-2 of the first destination it is listed under; "" if unknown
    address: str  # as printed; one line per destination when listed under several
    raw: str  # each entry as printed (XML: one line per printed line), a blank line apart
    other_countries: list[str] = field(default_factory=list)  # further destinations, in order


@dataclass(frozen=True)
class Notice:
    agency: str  # the sub-agency if there is one, e.g. "Bureau of Industry and Security"
    authority_hint: str  # "BIS", "State", "OFAC" or ""
    title: str  # the SUBJECT, e.g. "Additions of Entities to the Entity List"
    action_type: str  # as printed, with its full stop: "Final rule."
    kind_hint: str  # "listing", "removal" or ""
    document_number: str  # "2023-03929"
    citation: str  # "88 FR 12170"; "" when the input does not say (the XML does not)
    published_on: date | None  # None when the input does not say (the XML does not)
    effective_on: date | None
    summary: str
    legal_bases: list[str]  # legal_bases_in() the document, less its authority citation
    parties: list[ListedParty]  # those the document adds
    url: str


LEGAL_BASIS_NAMES = {
    "eo-13382": "Executive Order 13382 (WMD proliferators and their supporters)",
    "eo-13224": "Executive Order 13224 (terrorists and those who support terrorism)",
    "eo-13949": "Executive Order 13949 (conventional arms activities of Iran)",
    "eo-14024": "Executive Order 14024 (harmful foreign activities of the Russian Government)",
    "inksna": "Iran, North Korea, and Syria Nonproliferation Act (INKSNA)",
    "ecra": "Export Control Reform Act of 2018 (ECRA), 50 U.S.C. 4801-4852",
    "ear-744": "Export Administration Regulations part 744 and its Entity List (15 CFR 744)",
    "aeca-73": "Missile sanctions (Arms Export Control Act 73, Export Administration Act 11B)",
    "ieepa": "International Emergency Economic Powers Act (IEEPA), 50 U.S.C. 1701 et seq.",
}
_AND = r"(?:\s*,\s*|\s*,?\s+(?:and|or)\s+)"  # between the numbers of "13382, 13224 and 14024"
_YEAR = r"\s*\((?:19|20)\d\d\)"  # resolution 1718 (2006)
_USC = r"\b{}\s+U\.\s?S\.\s?C\.?\s+(?:App\.\s+)?(?:§+\s*)?"
# A code with "{}" stands for each number the match names: "eo-13846", "unscr-1718".
_BASIS_PATTERNS = {
    "eo-{}": r"(?:\b[Ee]xecutive\s+[Oo]rders?(?:\s+\(E\.\s?O\.\))?|\bE\.\s?O\.|\bEOs?)\s*"
    r"(?:[Nn]o\.\s*)?\d{5}(?:" + _AND + r"\d{5})*\b",
    "inksna": r"\bINKSNA\b|\bIran(?:,?\s+North\s+Korea,?\s+and\s+Syria|\s+and\s+Syria)?"
    r"\s+Nonproliferation\s+Act",
    "ecra": r"\bExport\s+Control\s+Reform\s+Act|\bECRA\b|" + _USC.format(50) + r"48[0-5]\d",
    "ear-744": r"\bEntity\s+List\b|\b[Pp]arts?\s+744\b|\b15\s+C\.?F\.?R\.?\s+(?:§+\s*)?744\b"
    r"|§+\s*744\.\d",
    "aeca-73": r"\b[Ss]ection\s+(?:73(?:\(\w+\))*\s+of\s+the\s+(?:Arms\s+Export\s+Control\s+Act"
    r"|AECA)|11B(?:\(\w+\))*\s+of\s+the\s+Export\s+Administration\s+Act)"
    r"|\bAECA\s+(?:[Ss]ection\s+|§\s*)73\b|"
    + (_USC.format(22) + r"2797b|" + _USC.format(50) + r"(?:2410b|4612)\b"),
    # A bare "resolution 2231" counts only with the year in brackets that UN resolutions carry.
    "unscr-{}": r"(?:\bUNSCRs?|\bS/RES/|\bSecurity\s+Council\s+[Rr]esolutions?"
    r"|\bU\.?N\.?\s+[Rr]esolutions?)\s*(?:[Nn]o\.\s*)?\d{3,4}(?:" + _YEAR + r")?"
    r"(?:" + _AND + r"\d{3,4}(?:" + _YEAR + r")?)*"
    r"|\b[Rr]esolutions?\s+\d{3,4}" + _YEAR + r"(?:" + _AND + r"\d{3,4}" + _YEAR + r")*",
    "ieepa": r"\bInternational\s+Emergency\s+Economic\s+Powers\s+Act|\bIEEPA\b|"
    + (_USC.format(50) + r"170[1-6]\b"),
}
_BASES = {code: re.compile(pattern) for code, pattern in _BASIS_PATTERNS.items()}
# Orders that rules cite for how rules are made (regulatory review, federalism, ...),
# never the basis of a sanction.
_PROCEDURAL_ORDERS = {"12630", "12866", "12988", "13045", "13132", "13175", "13211", "13272"}
_PROCEDURAL_ORDERS |= {"13563", "13771", "14094"}


def legal_bases_in(text: str) -> list[str]:
    """Codes of the legal bases the text cites, in order of first mention, each once."""
    found = []
    for code, pattern in _BASES.items():
        for match in pattern.finditer(text):
            numbers = (
                re.findall(r"\d+", re.sub(r"\(\d{4}\)", "", match[0])) if "{" in code else [""]
            )
            found += [(match.start(), code.format(number)) for number in numbers]
    codes = dict.fromkeys(code for _, code in sorted(found))
    return [code for code in codes if code.removeprefix("eo-") not in _PROCEDURAL_ORDERS]


def legal_basis_name(code: str) -> str:
    """The human name of a code that legal_bases_in() returns."""
    kind, _, number = code.partition("-")
    generic = "UN Security Council resolution" if kind == "unscr" else "Executive Order"
    return LEGAL_BASIS_NAMES.get(code, f"{generic} {number}")


def read_notice(data: bytes | str, *, filename: str = "") -> Notice:
    """Read a Federal Register document, as its XML or its federalregister.gov HTML page.

    The first element tells which (RULE, NOTICE, ... or html); the file name only decides
    for other XML. Free text is refused: legal_bases_in() is what reads a press statement.
    """
    # The importers package loads FollowTheMoney's model (over a second): imported when a
    # notice is read, not with the admin that offers the tool.
    from sanctions.importers.safe_xml import PROLOG_BYTES

    raw = data.encode() if isinstance(data, str) else data
    if not raw.strip():
        raise NoticeError("not a Federal Register notice: the input is empty")
    first = re.search(r"<([A-Za-z][\w.-]*)", raw[:PROLOG_BYTES].decode("utf-8", "ignore"))
    if first is None:
        raise NoticeError("not a Federal Register notice: the input is neither XML nor HTML")
    tag = first[1]
    if tag in _XML_ROOTS or (filename.lower().endswith(".xml") and tag.lower() != "html"):
        if isinstance(data, str):  # pasted text: its declaration may name another encoding
            raw = re.sub(r"^\s*<\?xml[^>]*\?>", "", data).encode()
        return _notice(_xml_parts(_parse_xml(raw, filename=filename)))
    return _notice(_html_parts(data))


@dataclass
class _Parts:
    """What each format is reduced to before a Notice is made of it."""

    title: str
    agencies: list[str]  # as the metadata names them, sub-agency first
    blocks: list[tuple[str, str]]  # (heading, paragraph) in order, less the authority citation
    tables: list[list[list[str]]]  # rows of cells; a cell's printed lines apart by "\n"
    document_number: str = ""
    citation: str = ""
    published_on: date | None = None
    effective_on: date | None = None
    url: str = ""


_XML_ROOTS = {"RULE", "PRORULE", "NOTICE", "PRESDOCU", "FEDREG", "RULES", "NOTICES", "PRORULES"}
_DOCUMENT_ROOTS = ("RULE", "PRORULE", "NOTICE", "PRESDOCU")


def _parse_xml(data: bytes, *, filename: str):
    from sanctions.importers.reading import ListFormatError
    from sanctions.importers.safe_xml import iter_records, local_name

    # safe_xml reads files; it refuses DTDs and parses with no entities and no network.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(filename).name or "notice.xml")
        path.write_bytes(data)
        try:
            records = iter_records(path, set())
            _, root = next(records)
            for _ in records:  # no tag is asked for, so nothing is cleared: the whole tree
                pass
        except ListFormatError as exc:
            raise NoticeError(f"unreadable XML: {exc}") from None
    if local_name(root) not in _DOCUMENT_ROOTS:
        raise NoticeError(
            f"not a Federal Register notice: the XML root is <{local_name(root)}>,"
            f" not one document ({', '.join(_DOCUMENT_ROOTS)})"
        )
    return root


def _xml_parts(root) -> _Parts:
    blocks, heading = [], ""
    for element in root.iter("HD", "P", "FP", "AMDPAR", "FRDOC"):
        # The authority citation lists every authority of the CFR part (E.O. 13224 for a
        # Russia listing, say), not the basis of this action.
        if any(ancestor.tag == "AUTH" for ancestor in element.iterancestors()):
            continue
        if element.tag == "HD":
            heading = _text(element)
        elif _text(element):
            blocks.append((heading, _text(element)))
    subject = root.find("PREAMB/SUBJECT")
    return _Parts(
        title=_text(subject) if subject is not None else "",
        agencies=[_text(e) for tag in ("SUBAGY", "AGENCY") for e in root.iter(tag)],
        blocks=blocks,
        tables=[
            [["\n".join(_lines(cell)) for cell in row.iter("ENT")] for row in table.iter("ROW")]
            for table in root.iter("GPOTABLE")
        ],
    )


def _html_parts(data: bytes | str) -> _Parts:
    try:
        page = lxml.html.document_fromstring(data, parser=lxml.html.HTMLParser(no_network=True))
    except (ValueError, etree.ParserError) as exc:
        raise NoticeError(f"unreadable HTML: {exc}") from None
    content = (page.xpath('//*[@id="fulltext_content_area"]') or [page])[0]
    blocks, heading = [], ""
    for element in content.iter("h1", "h2", "h3", "h4", "h5", "h6", "p", "li"):
        if element.xpath("ancestor::table or ancestor::*[contains(@class, 'authority')]"):
            continue
        if element.tag.startswith("h"):
            heading = _text(element).replace("Back to Top", "").strip()
        elif _text(element):
            blocks.append((heading, _text(element)))
    terms: dict[str, str] = {}  # "Document Details": "document citation" -> "88 FR 12170"
    term = ""
    for element in page.iter("dt", "dd"):
        if element.tag == "dt":
            term = _text(element).rstrip(":").casefold()
        elif term and term not in terms:  # the first value (of several agencies, the first)
            terms[term] = _text(element)
    title = page.xpath('//*[@id="metadata_content_area"]//h1') or page.xpath("//h1")
    canonical = page.xpath('//link[@rel="canonical"]/@href')
    return _Parts(
        title=_text(title[0]) if title else "",
        agencies=[terms.get("agencies") or terms.get("agency") or ""],
        blocks=blocks,
        tables=[
            [["\n".join(_lines(c)) for c in row.xpath("td|th")] for row in table.iter("tr")]
            for table in content.iter("table")
        ],
        document_number=terms.get("document number", ""),
        citation=terms.get("document citation", ""),
        published_on=_written_date(terms.get("publication date", "")),
        effective_on=_written_date(terms.get("effective date", "")),
        url=next((url for url in canonical if "federalregister.gov" in url), ""),
    )


def _lines(element) -> list[str]:
    """The element's text, one string per printed line (LI, <br> and blocks break lines)."""
    lines, line = [], element.text or ""
    for child in element:
        tag = child.tag.lower() if isinstance(child.tag, str) else ""  # comments have none
        if tag in ("br", "li", "p", "div"):
            lines += [line, *_lines(child)]
            line = ""
        elif tag in ("su", "sup"):  # a superscript is glued on: "3<SU>rd</SU>" prints "3rd"
            line = line.rstrip() + _text(child)
        elif tag:
            line += _text(child)
        line += child.tail or ""
    return [text for text in (" ".join(s.split()) for s in [*lines, line]) if text]


def _text(element) -> str:
    return " ".join(_lines(element))


def _notice(parts: _Parts) -> Notice:
    agency_paragraph = next(iter(_section(parts.blocks, "AGENCY")), "")
    agency = agency_paragraph.split(",")[0].rstrip(". ") or next(filter(None, parts.agencies), "")
    if agency.isupper():  # "DEPARTMENT OF STATE", when only the heading names it
        agency = re.sub(r"(?<=\s)(Of|The|And|For)\b", lambda m: m[0].lower(), agency.title())
    number = parts.document_number or next(
        (match[1] for _, text in parts.blocks if (match := _FR_DOC.search(text))), ""
    )
    missing = " or ".join(w for w, v in (("agency", agency), ("document number", number)) if not v)
    if missing:
        raise NoticeError(f"not a Federal Register notice: no {missing} found")
    summary = " ".join(_section(parts.blocks, "SUMMARY"))
    dates = " ".join(_section(parts.blocks, "DATES", "EFFECTIVE DATE", "EFFECTIVE DATES"))
    effective = re.search(r"\beffective\s+(?:on\s+|as\s+of\s+)?([A-Z][a-z]+ \d{1,2}, \d{4})", dates)
    return Notice(
        agency=agency,
        authority_hint=_authority(" ".join([agency_paragraph, *parts.agencies])),
        title=parts.title,
        action_type=next(iter(_section(parts.blocks, "ACTION")), ""),
        kind_hint=_kind(parts.title) or _kind(summary),
        document_number=number,
        citation=parts.citation,
        published_on=parts.published_on,
        effective_on=(_written_date(effective[1]) if effective else None) or parts.effective_on,
        summary=summary,
        legal_bases=legal_bases_in(" ".join([parts.title, *(text for _, text in parts.blocks)])),
        parties=_parties(parts.tables, added=_added_names(parts.blocks)),
        url=parts.url or f"https://www.federalregister.gov/d/{number}",
    )


_FR_DOC = re.compile(r"\bFR\s+Doc\.?\s+(?:No:?\s*)?([A-Z]?\d{1,4}-\d{3,6})\b")
_AUTHORITIES = {
    "BIS": ("industry and security",),
    "OFAC": ("foreign assets control",),
    "State": ("department of state", "state department", "nonproliferation"),
}
_KINDS = re.compile(
    r"\b(?:(?P<listing>Additions?|Adding|Impositions?|Imposing|Designations?|Blocking)"
    r"|(?P<removal>Removals?|Removing|Rescission|Lifting|Revocation|Termination))\b",
    re.IGNORECASE,
)
_AMENDING = re.compile(r"\b(adding|revising|removing|amending|modifying)\b", re.IGNORECASE)


def _section(blocks: list[tuple[str, str]], *names: str) -> list[str]:
    """The paragraphs under a preamble heading such as "SUMMARY:"."""
    return [text for heading, text in blocks if heading.rstrip(": ").upper() in names]


def _authority(agencies: str) -> str:
    words = agencies.casefold()
    return next(
        (hint for hint, names in _AUTHORITIES.items() if any(n in words for n in names)), ""
    )


def _kind(text: str) -> str:
    """The first word saying what the document does decides ("Additions ... Removal")."""
    match = _KINDS.search(text)
    return "" if match is None else "listing" if match["listing"] else "removal"


def _written_date(text: str) -> date | None:
    """The first date written "02/24/2023" or "February 24, 2023"."""
    for pattern, form in (
        (r"\d{1,2}/\d{1,2}/\d{4}", "%m/%d/%Y"),
        (r"[A-Z][a-z]+ \d{1,2}, \d{4}", "%B %d, %Y"),
    ):
        if match := re.search(rf"\b{pattern}\b", text):
            with contextlib.suppress(ValueError):
                return datetime.strptime(match[0], form).date()
    return None


def _added_names(blocks: list[tuple[str, str]]) -> list[str]:
    """The names quoted after "adding" in amendatory instructions ("i. Adding an entry for
    “Name”; and ii. Revising the entry for “Other”" adds only Name)."""
    names = []
    for _, text in blocks:
        parts = _AMENDING.split(text)
        for verb, words in zip(parts[1::2], parts[2::2], strict=True):
            if verb.casefold() == "adding":
                names += re.findall(r"[“\"]\s*([^”\"]+?)\s*[”\"]", words)
    return names


def _parties(tables: list[list[list[str]]], *, added: list[str]) -> list[ListedParty]:
    """One party per entity that the Entity List table adds.

    An entity listed under several destinations (China HEAD Aerospace under China, France
    and the Netherlands: one entity, three entries) is one party: its country is the first
    destination, the others are `other_countries`, and it keeps each entry's address. When
    the amendatory instructions quote the entries they add, entries they revise are left out.
    """
    wanted = {_key(name) for name in added}
    groups: dict[str, list] = {}
    for destination, entry in (e for table in tables for e in _entries(table)):
        name, aliases, address = _read_entry(entry, added=added)
        if not wanted or _key(name) in wanted:
            groups.setdefault(_key(name), []).append(
                (_country(destination), name, aliases, address, entry)
            )
    return [
        ListedParty(
            name=entries[0][1],
            aliases=list(dict.fromkeys(alias for entry in entries for alias in entry[2])),
            country=entries[0][0],
            address="\n".join(entry[3] for entry in entries if entry[3]),
            raw="\n\n".join(entry[4] for entry in entries),
            other_countries=list(
                dict.fromkeys(e[0] for e in entries if e[0] not in ("", entries[0][0]))
            ),
        )
        for entries in groups.values()
    ]


def _country(destination: str) -> str:
    """ISO code of a destination heading, also when written "CHINA, PEOPLE'S REPUBLIC OF"."""
    from sanctions.countries import country_code

    inverted = " ".join(reversed(destination.split(", ")))
    return country_code(destination) or country_code(inverted) or ""


def _entries(rows: list[list[str]]) -> list[tuple[str, str]]:
    """(destination, entry) for each entry of an Entity List table; none for other tables.

    The destination is printed on its first row only, so it is carried down; an address
    printed on a row of its own (no license columns) belongs to the entry above it.
    """
    flat = [[" ".join(cell.split()) for cell in row] for row in rows]
    start = next((i + 1 for i, row in enumerate(flat) if row[:2] == ["Country", "Entity"]), None)
    entries: list[list[str]] = []
    destination = ""
    for row in rows[start:] if start is not None else []:
        filled = [bool(cell.replace("*", "").strip()) for cell in row]
        if filled and filled[0]:
            destination = " ".join(row[0].split())
        if len(row) < 2 or not filled[1]:
            continue
        if any(filled[2:]) or not entries:
            entries.append([destination, row[1]])
        else:
            entries[-1][1] += "\n" + row[1]
    return [(destination, entry) for destination, entry in entries]


_DASH = re.compile(r"(?:^|(?<=\s)|(?<=:))[—–-](?=\S)", re.MULTILINE)
_AKA = re.compile(r",?\s*a\.k\.a\.?,?\s*(?:the\s+following\s+[\w-]+\s+alias(?:es)?\s*:?)?", re.I)
_ABBREVIATIONS = {"co", "corp", "inc", "ltd", "bhd", "pvt", "pte", "mfg", "no", "st", "dr"}
_NAME_END = re.compile(r",\s+(?!(?:Ltd|Limited|Inc|LLC|Co|Corp|JSC|S\.A|GmbH|B\.V|Pvt|PLC)\b)")


def _read_entry(entry: str, *, added: list[str]) -> tuple[str, list[str], str]:
    """Name, aliases and address of an entry: "Name, a.k.a., the following two aliases:
    —Alias1; and —Alias2. Address." (in the XML each alias is a line of its own)."""
    head, *aliases = (part.strip() for part in _DASH.split(entry))
    address = ""
    if aka := _AKA.search(head):
        name, inline = head[: aka.start()], head[aka.end() :].strip()
        aliases = [inline, *aliases] if inline else aliases
    else:
        name, address = _split_name(head, added=added)
    if aliases:
        aliases[-1], rest = _split_last_alias(aliases[-1])
        address = f"{address} {rest}"
    return name.strip(" ,"), [_clean_alias(a) for a in aliases if a], " ".join(address.split())


def _split_name(head: str, *, added: list[str]) -> tuple[str, str]:
    """Name and address of an entry without aliases: the name as the instructions quote it,
    else up to the first comma that does not start a company suffix ("Foo Co., Ltd.")."""
    first, newline, rest = head.partition("\n")
    if newline:
        return first, rest
    for name in sorted(added, key=len, reverse=True):
        if head.casefold().startswith(name.casefold()):
            return head[: len(name)], head[len(name) :].strip(" ,")
    end = _NAME_END.search(head)
    return (head[: end.start()], head[end.end() :]) if end else (head, "")


def _split_last_alias(text: str) -> tuple[str, str]:
    """The last alias and the address after it: on the next line, else after the first full
    stop that is not an abbreviation's or that comes before a number ("Co. Ltd. 5F, ...")."""
    first, newline, rest = text.partition("\n")
    if newline:
        return first, rest
    for stop in re.finditer(r"\.\s+(?=\S)", text):
        if not _abbreviated(text[: stop.start() + 1].split()[-1]) or text[stop.end()].isdigit():
            return text[: stop.start() + 1], text[stop.end() :]
    return text, ""


def _clean_alias(alias: str) -> str:
    alias = re.sub(r"[;,](?:\s*and)?$", "", " ".join(alias.split()))
    return alias[:-1] if alias.endswith(".") and not _abbreviated(alias.split()[-1]) else alias


def _abbreviated(word: str) -> bool:
    """Whether a word's full stop is its own ("Ltd.", "S.A.") rather than a sentence's."""
    bare = word.rstrip(".")
    return bare.casefold() in _ABBREVIATIONS or bool(re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", bare))


def _key(name: str) -> str:
    return re.sub(r"\W+", "", name).casefold()
