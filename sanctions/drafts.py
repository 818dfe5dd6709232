"""A draft action proposed from an official document, for an editor to review and save.

A Federal Register notice (sanctions.notices) gives its authority, dates, document
number, legal bases and every party it lists; each party is matched to an existing
entity where name search finds one, else a new entity is proposed from the notice. Any
other text (a press statement, a news page) gives only the legal bases it cites and the
existing entities it names (sanctions.coverage.entities_named_in): nothing is invented.
"""

import datetime
import re
from dataclasses import dataclass, field

import lxml.html
from django.db import transaction
from django.db.models import Q

from .coverage import entities_named_in
from .extraction import extract_article, extract_pdf
from .models import (
    Action,
    ActionKind,
    Alias,
    AliasKind,
    Authority,
    Designation,
    DesignationRole,
    Entity,
    EntityKind,
    LegalBasis,
    Regime,
    Source,
    SourceKind,
    detect_script,
)
from .notices import (
    LEGAL_BASIS_NAMES,
    ListedParty,
    Notice,
    NoticeError,
    legal_bases_in,
    legal_basis_name,
    read_notice,
)
from .search import index_names, match_names

# A notice's party is taken for an existing entity when name search scores it this high:
# the same name key, or one close to it in full (as the admin's duplicate warning).
MATCH_SCORE = 0.75
# Names with one of these words are companies; the others are proposed as organisations.
COMPANY_WORDS = re.compile(
    r"\b(co|company|corp|corporation|inc|incorporated|ltd|limited|llc|plc|gmbh|ag|jsc|"
    r"ojsc|pjsc|ooo|zao|oao|ao|sa|srl|bv|nv|pte|pvt|kft|group|holdings?|trading)\b",
    re.IGNORECASE,
)
AUTHORITY_KINDS = {"BIS": ActionKind.ENTITY_LIST_ADDITION, "State": ActionKind.DESIGNATION}
AUTHORITY_REGIMES = {"BIS": Regime.BIS_ENTITY_LIST}


@dataclass
class ProposedParty:
    """One entity the draft will designate: an existing one, or one to create."""

    name: str  # as listed, or as found in the text
    aliases: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    address: str = ""
    entity: Entity | None = None  # the existing entity it is matched to
    matched_name: str = ""  # the name of `entity` that matched


@dataclass
class Proposal:
    """What a document says, in the terms of the record."""

    notice: Notice | None  # None for free text
    title: str
    published_on: datetime.date | None
    effective_on: datetime.date | None
    authority: Authority | None
    kind: str
    regime: str
    legal_bases: list[LegalBasis]
    unrecorded_bases: list[str]  # recognised, but no legal basis on record says so
    parties: list[ProposedParty]
    recorded_as: list[Action] = field(default_factory=list)  # actions citing the notice

    @property
    def new_parties(self) -> list[ProposedParty]:
        return [party for party in self.parties if party.entity is None]


def propose(data: bytes) -> Proposal:
    """The draft a document (notice XML or HTML, a saved page, a PDF, plain text) makes."""
    try:
        notice = read_notice(data)
    except NoticeError:
        return _from_text(data)
    codes = notice.legal_bases
    bases, unrecorded = recorded_legal_bases(codes)
    authority = Authority.objects.filter(short_name__iexact=notice.authority_hint).first()
    hint = notice.authority_hint
    kind = AUTHORITY_KINDS.get(hint, "") if notice.kind_hint == "listing" else ""
    if hint == "BIS" and notice.kind_hint == "removal":
        kind = ActionKind.ENTITY_LIST_REMOVAL
    return Proposal(
        notice=notice,
        title=notice.title,
        published_on=notice.published_on,
        effective_on=notice.effective_on,
        authority=authority if hint else None,
        kind=kind,
        regime=AUTHORITY_REGIMES.get(hint, ""),
        legal_bases=bases,
        unrecorded_bases=unrecorded,
        parties=[_match(party) for party in notice.parties],
        recorded_as=recorded_as(notice.document_number),
    )


def recorded_as(document_number: str) -> list[Action]:
    """The actions that already cite a Federal Register document, as a number of their
    own ("2023-03929", "FR Doc. 2023-03929") or their source's."""
    if not document_number:
        return []
    cited = Q(sources__document_number__contains=document_number) | Q(
        document_numbers__overlap=[document_number, f"FR Doc. {document_number}"]
    )
    return list(Action.objects.filter(cited).distinct().order_by("pk")[:5])


def _from_text(data: bytes) -> Proposal:
    title, published_on, text = _read_text(data)
    bases, unrecorded = recorded_legal_bases(legal_bases_in(text))
    found = entities_named_in(text)
    entities = Entity.objects.filter(merged_into__isnull=True).in_bulk(found)
    parties = [
        ProposedParty(name=entities[pk].name, entity=entities[pk], matched_name=name)
        for pk, name in found.items()
        if pk in entities
    ]
    return Proposal(
        notice=None,
        title=title,
        published_on=published_on,
        effective_on=None,
        authority=None,
        kind="",
        regime="",
        legal_bases=bases,
        unrecorded_bases=unrecorded,
        parties=parties,
    )


def _read_text(data: bytes) -> tuple[str, datetime.date | None, str]:
    """Title, date and text of a page, a PDF or plain text; a date only where it says."""
    if data.startswith(b"%PDF-"):
        try:
            pdf = extract_pdf(data)
        except ValueError:
            return "", None, ""
        return pdf.headline, None, pdf.text
    head = data[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in data[:65536]:
        try:
            page = extract_article(data, url="")
        except ValueError:
            return "", None, lxml.html.fromstring(data).text_content()
        return page.headline, page.published_on, f"{page.headline}\n{page.text}"
    text = data.decode("utf-8", errors="replace")
    return text.strip().partition("\n")[0][:300], None, text


def recorded_legal_bases(codes: list[str]) -> tuple[list[LegalBasis], list[str]]:
    """The legal bases on record for recognised codes, and the codes none stands for.

    A record stands for a code when its own name and citation read as that code; of
    several (the Entity List and military end users both cite part 744), the one whose
    words best match the code's name."""
    candidates: dict[str, list[tuple[int, LegalBasis]]] = {}
    for basis in LegalBasis.objects.order_by("pk"):
        text = f"{basis.name} {basis.short_name} {basis.citation}"
        words = _words(text)
        for code in legal_bases_in(text):
            overlap = len(words & _words(LEGAL_BASIS_NAMES.get(code, legal_basis_name(code))))
            candidates.setdefault(code, []).append((overlap, basis))
    found, unrecorded = [], []
    for code in codes:
        if code in candidates:
            found.append(max(candidates[code], key=lambda pair: pair[0])[1])
        else:
            unrecorded.append(code)
    return list(dict.fromkeys(found)), unrecorded


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{3,}", text.lower()))


def _match(party: ListedParty) -> ProposedParty:
    proposed = ProposedParty(
        name=party.name,
        aliases=party.aliases,
        countries=[c for c in [party.country, *party.other_countries] if c],
        address=party.address,
    )
    live = Entity.objects.filter(merged_into__isnull=True)
    for name in [party.name, *party.aliases]:
        best = next(iter(match_names(name, entities=live, limit=1)), None)
        if best and best.score >= MATCH_SCORE:
            proposed.entity = Entity.objects.get(pk=best.entity_id)
            proposed.matched_name = best.name
            break
    return proposed


@transaction.atomic
def create_draft(
    proposal: Proposal,
    *,
    title: str,
    authority: Authority,
    kind: str,
    regime: str,
    announced_on: datetime.date,
    effective_on: datetime.date | None,
    gazetted_on: datetime.date | None,
) -> Action:
    """Save the proposal as a draft action: its designations, its notice as the official
    source, and new entities for the parties no existing entity matched."""
    notice = proposal.notice
    action = Action.objects.create(
        title=title,
        authority=authority,
        kind=kind,
        regime=regime,
        announced_on=announced_on,
        effective_on=effective_on,
        gazetted_on=gazetted_on,
        summary=notice.summary if notice else "",
        document_numbers=[notice.document_number] if notice and notice.document_number else [],
        announced_entity_count=len(proposal.parties) if notice else None,
        editor_notes=_notes(proposal),
    )
    action.legal_bases.set(proposal.legal_bases)
    if notice:
        Source.objects.create(
            action=action,
            kind=SourceKind.FEDERAL_REGISTER,
            title=notice.title,
            publisher="Federal Register",
            url=notice.url,
            published_on=notice.published_on,
            document_number=notice.citation or notice.document_number,
        )
    role = DesignationRole.LISTED if notice else DesignationRole.NAMED
    created = []
    for position, party in enumerate(proposal.parties):
        entity = party.entity or _create_entity(party)
        if party.entity is None:
            created.append(entity.pk)
        Designation.objects.get_or_create(
            action=action,
            entity=entity,
            defaults={"role": role, "name_as_listed": party.name, "position": position},
        )
    index_names(entity_ids=created)
    return action


def _create_entity(party: ProposedParty) -> Entity:
    kind = EntityKind.COMPANY if COMPANY_WORDS.search(party.name) else EntityKind.ORGANIZATION
    entity = Entity.objects.create(
        name=party.name, kind=kind, countries=party.countries, description=party.address
    )
    Alias.objects.bulk_create(
        [
            Alias(entity=entity, name=alias, kind=AliasKind.AKA, script=detect_script(alias))
            for alias in dict.fromkeys(party.aliases)
            if alias and alias != party.name
        ]
    )
    return entity


def _notes(proposal: Proposal) -> str:
    """What the editor should check, kept out of public view."""
    notice = proposal.notice
    lines = [
        f"Drafted from Federal Register document {notice.document_number}."
        if notice
        else "Drafted from a statement: only entities already on record were looked for."
    ]
    matched = [p for p in proposal.parties if p.entity is not None]
    if matched:
        lines.append(
            "Matched to entities on record (check each): "
            + "; ".join(f"{p.name} → {p.entity.name} (#{p.entity.pk})" for p in matched)
        )
    if proposal.new_parties:
        lines.append(
            "New entities from the notice (kind guessed from the name; check it): "
            + "; ".join(p.name for p in proposal.new_parties)
        )
    if proposal.unrecorded_bases:
        lines.append(
            "Legal bases cited but not on record (add them, then link them): "
            + "; ".join(legal_basis_name(code) for code in proposal.unrecorded_bases)
        )
    return "\n".join(lines)
