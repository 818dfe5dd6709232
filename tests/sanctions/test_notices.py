"""Reading Federal Register notices into draft actions, and legal bases out of any text.

The BIS rule 2023-03929 is a real document (public domain, in tests/fixtures); its HTML
twin is modelled on a federalregister.gov page. The news pages are copyrighted and are
read from ../shared only.
"""

import re
from datetime import date
from pathlib import Path

import lxml.html
import pytest

from sanctions.notices import (
    LEGAL_BASIS_NAMES,
    NoticeError,
    legal_bases_in,
    legal_basis_name,
    read_notice,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "federal_register"
RULE_XML = FIXTURES / "2023-03929.xml"
RULE_HTML = FIXTURES / "2023-03929.html"
ARTICLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "articles"

# Read by hand from the rule's amendatory table: 13 entries of 10 entities. China HEAD
# Aerospace is listed under China, France and the Netherlands, Spacety under China and
# Luxembourg; each is one party, with the first destination as its country.
PARTIES = [
    ("CPUNTO Inc.", "CA", []),
    ("Electronic Network Inc.", "CA", []),
    ("AOOK Technology Ltd.", "CN", []),  # a Hong Kong address, listed under China
    ("Beijing Ti-Tech Science and Technology Development Co.", "CN", []),
    ("Beijing Yunze Technology Co., Ltd.", "CN", []),
    ("China HEAD Aerospace Technology Co.", "CN", ["FR", "NL"]),
    ("Spacety Co., Ltd.", "CN", ["LU"]),
    ("Dexias Industrial Products and Trade Limited Company", "RU", []),
    ("Innovation and Technologies LLC", "RU", []),
    ("Promtekhkomplekt JSC", "RU", []),
]
ALIASES = {
    "CPUNTO Inc.": ["CPUNTO"],
    "Electronic Network Inc.": [
        "Electronic Network",
        "Electronic Network Holdings",
        "Electronic Network Holdings Inc.",
        "Electronic Network Incorporated",
        "Electronic Network Products Inc.",
        "Electronic's Network & Technology Corp.",
    ],
    "AOOK Technology Ltd.": ["AOOK", "AOOK Electronics"],
    "Beijing Ti-Tech Science and Technology Development Co.": [
        "Beijing Ti-Tech",
        "China Ti-Tech Development Co. Ltd.",
    ],
    "Beijing Yunze Technology Co., Ltd.": [
        "Beijing Yunze",
        "Beijing Yunze Technology Company",
        "Yunze Beijing",
    ],
    "China HEAD Aerospace Technology Co.": [
        "China HEAD",
        "China HEAD Technology Co",
        "HEAD Aerospace",
        "HEAD Aerospace Group",
        "HEAD Aerospace Netherlands",
        "HEAD France",
        "HEAD Technology France",
    ],
    "Spacety Co., Ltd.": [
        "Changsha Tianyi Space Science and Technology Research Institute",
        "Spacety",
        "Spacety Luxembourg S.A.",
    ],
    "Dexias Industrial Products and Trade Limited Company": [
        "Dexias",
        "Dexias Endil strivel",
        "Dexias IPTLC",
        "Mainbox LLC",
        "Orunler ve Ticaret Limited Sirketi",
    ],
    "Innovation and Technologies LLC": ["Intekh", "INTEKH OOO"],
    "Promtekhkomplekt JSC": [
        "AO TipoMTeXKOMirneKT",
        "Promtech Komplekt",
        "Promtekhkomplekt",
        "Promtekhkomplekt Joint Stock Company",
    ],
}


@pytest.fixture(scope="module")
def rule():
    return read_notice(RULE_XML.read_bytes(), filename=RULE_XML.name)


@pytest.fixture(scope="module")
def page():
    return read_notice(RULE_HTML.read_bytes(), filename=RULE_HTML.name)


def by_name(notice):
    return {party.name: party for party in notice.parties}


def rule_xml(*, subject, agency, subagency="", agy, summary="", body="", table=""):
    """A small Federal Register XML document of the same shape as the real one."""
    subagy = f"<SUBAGY>{subagency}</SUBAGY>" if subagency else ""
    return f"""<NOTICE><PREAMB>
  <AGENCY TYPE="S">{agency}</AGENCY>{subagy}<SUBJECT>{subject}</SUBJECT>
  <AGY><HD SOURCE="HED">AGENCY:</HD><P>{agy}</P></AGY>
  <ACT><HD SOURCE="HED">ACTION:</HD><P>Notice.</P></ACT>
  <SUM><HD SOURCE="HED">SUMMARY:</HD><P>{summary}</P></SUM>
  <DATES><HD SOURCE="HED">DATES:</HD><P>The measures are effective on October 20, 2023.</P></DATES>
</PREAMB><SUPLINF>{body}{table}</SUPLINF>
<FRDOC>[FR Doc. 2023-23456 Filed 10-19-23; 8:45 am]</FRDOC></NOTICE>"""


# The BIS rule, from its XML --------------------------------------------------------------


def test_it_reads_who_issued_the_rule_and_what_it_does(rule):
    assert rule.agency == "Bureau of Industry and Security"
    assert rule.authority_hint == "BIS"
    assert rule.title == "Additions of Entities to the Entity List"
    assert rule.action_type == "Final rule."
    assert rule.kind_hint == "listing"
    assert rule.document_number == "2023-03929"
    assert rule.url == "https://www.federalregister.gov/d/2023-03929"
    assert rule.summary.startswith("The Department of Commerce is amending the Export")
    assert rule.summary.endswith("Netherlands (1), and Russia (3).")


def test_it_reads_the_effective_date_from_the_dates_section(rule):
    assert rule.effective_on == date(2023, 2, 24)


def test_the_xml_holds_no_publication_date_or_citation_so_none_is_guessed(rule):
    # The document's XML has the filing date (FR Doc ... Filed 2-24-23) and page breaks
    # (12171-12175), but neither the volume nor the day of publication.
    assert rule.published_on is None
    assert rule.citation == ""


def test_it_finds_the_legal_bases_the_rule_cites(rule):
    assert rule.legal_bases == ["ear-744", "ecra"]


def test_the_authority_citation_of_the_cfr_part_is_not_taken_for_the_basis(rule):
    # Part 744's authority citation lists E.O. 13224 (terrorism) and IEEPA; the rule
    # reprints it, but neither is why these entities are listed.
    everything = legal_bases_in(re.sub(r"<[^>]+>", " ", RULE_XML.read_text()))
    assert {"eo-13224", "ieepa"} <= set(everything)
    assert {"eo-13224", "ieepa"}.isdisjoint(rule.legal_bases)


def test_it_lists_each_entity_the_rule_adds_once_with_its_destinations(rule):
    found = [(p.name, p.country, p.other_countries) for p in rule.parties]
    assert found == PARTIES


def test_it_reads_aliases_without_dashes_and_list_punctuation(rule):
    assert {party.name: party.aliases for party in rule.parties} == ALIASES


def test_it_reads_the_address_as_printed_including_one_on_a_row_of_its_own(rule):
    parties = by_name(rule)
    assert parties["CPUNTO Inc."].address == (
        "5929 Route Transcanadienne Ste 130 St. Laurent, Quebec H4T 1Z6 Canada."
    )
    # Electronic Network's address is printed on the next row, without license columns.
    assert parties["Electronic Network Inc."].address == (
        "145 Montee De Liesse Ste 10 St. Laurent, Quebec H4T 1T9 Canada."
    )
    assert parties["Spacety Co., Ltd."].address.startswith(
        "9 Dengzhuang South Rd Beijing, Beijing China; and Room 445, 9th Floor, Block B,"
    )


def test_an_entity_under_several_destinations_keeps_each_address_and_entry(rule):
    head = by_name(rule)["China HEAD Aerospace Technology Co."]
    addresses = head.address.split("\n")
    assert len(addresses) == 3
    assert addresses[0].startswith("5F, Bldg 5, Science and Technology Park, A-2 North")
    assert "west 3rd ring r. Beijing" in addresses[0]  # 3<SU>rd</SU> reads as printed
    assert addresses[1] == (
        "71 Boulevard national, 92250 La Garenne-Colombes Paris, France."
        " (See alternate address under China and Netherlands)."
    )
    assert addresses[2].startswith("Kapteynstraat 1 2201 BB Noordwijk ZH, Netherlands.")
    assert head.raw.count("China HEAD Aerospace Technology Co., a.k.a.") == 3


def test_raw_keeps_the_entry_as_printed(rule):
    assert by_name(rule)["CPUNTO Inc."].raw == (
        "CPUNTO Inc., a.k.a., the following one alias:\n"
        "—CPUNTO.\n"
        "5929 Route Transcanadienne Ste 130 St. Laurent, Quebec H4T 1Z6 Canada."
    )


# The same rule, from its federalregister.gov page ------------------------------------------


def test_the_html_page_gives_the_same_parties_aliases_and_addresses(rule, page):
    def parties(notice):
        return [
            (p.name, p.aliases, p.country, p.other_countries, p.address) for p in notice.parties
        ]

    assert parties(page) == parties(rule)


def test_the_html_page_gives_the_citation_and_dates(page):
    assert page.citation == "88 FR 12170"
    assert page.published_on == date(2023, 2, 27)
    assert page.effective_on == date(2023, 2, 24)


def test_the_html_page_gives_the_same_metadata_and_its_own_address(rule, page):
    for name in ("agency", "authority_hint", "title", "action_type", "kind_hint", "summary"):
        assert getattr(page, name) == getattr(rule, name), name
    assert page.document_number == "2023-03929"
    assert page.legal_bases == ["ear-744", "ecra"]
    assert page.url == (
        "https://www.federalregister.gov/documents/2023/02/27/2023-03929/"
        "additions-of-entities-to-the-entity-list"
    )


def test_it_tells_xml_from_html_by_the_content_not_the_file_name(rule):
    from_xml = read_notice(RULE_XML.read_bytes(), filename="upload.html")
    from_html = read_notice(RULE_HTML.read_bytes(), filename="upload.xml")
    assert len(from_xml.parties) == len(from_html.parties) == 10
    assert from_html.citation == "88 FR 12170"  # only the page has one


def test_it_reads_pasted_xml_whose_declaration_names_another_encoding():
    pasted = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + rule_xml(
        subject="Imposition of Measures on Société Générale d’Études",
        agency="DEPARTMENT OF STATE",
        agy="Bureau of International Security and Nonproliferation, Department of State.",
    )
    assert read_notice(pasted).title == "Imposition of Measures on Société Générale d’Études"


# Other notices --------------------------------------------------------------------------


def test_a_state_department_nonproliferation_notice_is_a_state_listing():
    notice = read_notice(
        rule_xml(
            subject="Imposition of Nonproliferation Measures Against Foreign Persons",
            agency="DEPARTMENT OF STATE",
            agy="Bureau of International Security and Nonproliferation, Department of State.",
            body="<P>Pursuant to section 3 of the Iran, North Korea, and Syria Nonproliferation"
            " Act and Executive Order 13382, the measures are imposed.</P>",
        )
    )
    assert notice.agency == "Bureau of International Security and Nonproliferation"
    assert (notice.authority_hint, notice.kind_hint) == ("State", "listing")
    assert notice.legal_bases == ["inksna", "eo-13382"]
    assert notice.action_type == "Notice."
    assert notice.effective_on == date(2023, 10, 20)
    assert notice.document_number == "2023-23456"
    assert notice.parties == []


def test_an_ofac_notice_is_ofac_and_a_removal_title_a_removal():
    notice = read_notice(
        rule_xml(
            subject="Removal of Persons From the Specially Designated Nationals List",
            agency="DEPARTMENT OF THE TREASURY",
            subagency="Office of Foreign Assets Control",
            agy="Office of Foreign Assets Control, Treasury.",
        )
    )
    assert (notice.agency, notice.authority_hint) == ("Office of Foreign Assets Control", "OFAC")
    assert notice.kind_hint == "removal"


def test_the_agency_falls_back_to_the_heading_in_title_case():
    notice = read_notice(
        rule_xml(subject="Notice of Meeting", agency="DEPARTMENT OF STATE", agy="").replace(
            '<AGY><HD SOURCE="HED">AGENCY:</HD><P></P></AGY>', ""
        )
    )
    assert (notice.agency, notice.authority_hint, notice.kind_hint) == (
        "Department of State",
        "State",
        "",
    )


def test_only_the_entries_the_instructions_add_are_parties_not_those_they_revise():
    table = """<REGTEXT><AMDPAR>2. Supplement No. 4 to part 744 is amended under PAKISTAN by:
      i. Adding in alphabetical order an entry for “Example Traders (Pvt) Ltd.”; and
      ii. Revising the entry for “Revised Works Ltd.”.</AMDPAR>
      <GPOTABLE COLS="5"><ROW><ENT>Country</ENT><ENT>Entity</ENT><ENT>License</ENT>
        <ENT>Policy</ENT><ENT>Citation</ENT></ROW>
      <ROW><ENT I="01">PAKISTAN</ENT><ENT A="03">*  *  *</ENT></ROW>
      <ROW><ENT I="22"> </ENT><ENT>Example Traders (Pvt) Ltd., Plot 5, Street 9, I-9/2,
        Islamabad, Pakistan.</ENT><ENT>For all items.</ENT><ENT>Denial.</ENT><ENT>88 FR</ENT></ROW>
      <ROW><ENT I="22"> </ENT><ENT>Revised Works Ltd., a.k.a., the following one alias:
        <LI>—RWL.</LI><LI>2 Mall Road, Lahore, Pakistan.</LI></ENT><ENT>For all items.</ENT>
        <ENT>Denial.</ENT><ENT>88 FR</ENT></ROW></GPOTABLE></REGTEXT>"""
    notice = read_notice(
        rule_xml(
            subject="Additions to and Revisions of Entries on the Entity List",
            agency="DEPARTMENT OF COMMERCE",
            subagency="Bureau of Industry and Security",
            agy="Bureau of Industry and Security, Commerce.",
            table=table,
        )
    )
    [party] = notice.parties
    assert (party.name, party.aliases, party.country) == ("Example Traders (Pvt) Ltd.", [], "PK")
    assert party.address == "Plot 5, Street 9, I-9/2, Islamabad, Pakistan."


# What is not a notice --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "the input is empty"),
        ("Treasury today sanctioned ten people under E.O. 13382.", "neither XML nor HTML"),
        ("<html><body><p>Sanctions news</p></body></html>", "no agency or document number"),
        ("<RULE><PREAMB><SUBJECT>Rule</SUBJECT></PREAMB></RULE>", "no agency or document number"),
        ("<FEDREG><VOL>88</VOL></FEDREG>", "the XML root is <FEDREG>"),
        ("<RULE><P>unclosed</RULE>", "not well-formed XML"),
    ],
)
def test_it_refuses_what_is_not_a_notice_with_a_reason(data, reason):
    with pytest.raises(NoticeError, match=reason):
        read_notice(data)


def test_it_refuses_xml_that_declares_entities():
    laughs = '<!DOCTYPE RULE [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><RULE>&b;</RULE>'
    with pytest.raises(NoticeError, match="DTD"):
        read_notice(laughs, filename="notice.xml")


needs_articles = pytest.mark.skipif(
    not ARTICLES.is_dir(),
    reason=f"the real news pages are not in the repository (copyrighted); {ARTICLES} is absent",
)


def articles():
    return sorted(ARTICLES.glob("*.html")) if ARTICLES.is_dir() else []


@needs_articles
@pytest.mark.parametrize("path", articles(), ids=lambda path: path.stem)
def test_a_news_page_is_not_a_notice(path):
    with pytest.raises(NoticeError, match="not a Federal Register notice"):
        read_notice(path.read_bytes(), filename=path.name)


@needs_articles
@pytest.mark.parametrize("path", articles(), ids=lambda path: path.stem)
def test_a_news_page_cites_no_legal_basis_it_does_not_name(path):
    # Checked by hand: none names an order, act or resolution by number. Fox News (2010)
    # has "Security Council sanctions passed in 2006" and "sanctions resolutions"; the NYT
    # "the executive order that President Obama plans to sign"; NZZ the "Caesar Act".
    page = lxml.html.document_fromstring(path.read_bytes())
    assert legal_bases_in(page.text_content()) == []


# Legal bases in free text ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("designated pursuant to Executive Order (E.O.) 13382", ["eo-13382"]),
        (
            "under E.O. 13382, EO 14024 and Executive Order No. 13949",
            ["eo-13382", "eo-14024", "eo-13949"],
        ),
        ("Executive Orders 13224 and 13846 apply", ["eo-13224", "eo-13846"]),
        ("the Iran, North Korea, and Syria Nonproliferation Act (INKSNA)", ["inksna"]),
        ("then the Iran and Syria Nonproliferation Act", ["inksna"]),
        ("the Export Control Reform Act of 2018 (ECRA) (50 U.S.C. 4801-4852)", ["ecra"]),
        ("as 50 U.S.C. 4817 provides", ["ecra"]),
        ("added to the Entity List (supplement no. 4 to part 744 of the EAR)", ["ear-744"]),
        ("under 15 CFR 744.11", ["ear-744"]),
        ("section 73(a)(2)(A) of the Arms Export Control Act", ["aeca-73"]),
        ("section 11B(b)(1) of the Export Administration Act of 1979", ["aeca-73"]),
        ("missile sanctions under AECA section 73", ["aeca-73"]),
        ("resolution 1718 (2006) of the Security Council", ["unscr-1718"]),
        ("UNSCR 2231 and S/RES/1540", ["unscr-2231", "unscr-1540"]),
        (
            "Security Council resolutions 1737 (2006), 1747 (2007) and 1803 (2008)",
            ["unscr-1737", "unscr-1747", "unscr-1803"],
        ),
        ("the International Emergency Economic Powers Act (50 U.S.C. 1701 et seq.)", ["ieepa"]),
        ("INKSNA, then E.O. 13382, then INKSNA again", ["inksna", "eo-13382"]),
    ],
)
def test_it_recognises_legal_bases_in_order_of_first_mention(text, codes):
    assert legal_bases_in(text) == codes


@pytest.mark.parametrize(
    "text",
    [
        "reference number 13382 in the year 2023",
        "The CEO 13382 memo",
        "an ear-splitting year; items designated EAR99",
        "part 7440 of the code; 15 CFR 7441",
        "the board passed resolution 2231 on Monday",
        "Security Council sanctions passed in 2006",
        "the executive order that the President plans to sign",
        "This rule is not significant for purposes of Executive Order 12866 or E.O. 13132.",
    ],
)
def test_it_finds_no_legal_basis_where_none_is_named(text):
    assert legal_bases_in(text) == []


def test_every_code_has_a_name():
    assert set(LEGAL_BASIS_NAMES) >= {"eo-13382", "eo-13224", "eo-13949", "eo-14024"}
    assert {"inksna", "ecra", "ear-744", "aeca-73", "ieepa"} <= set(LEGAL_BASIS_NAMES)
    assert legal_basis_name("eo-13382").startswith("Executive Order 13382 (WMD")
    assert legal_basis_name("eo-13846") == "Executive Order 13846"
    assert legal_basis_name("unscr-1718") == "UN Security Council resolution 1718"
