import datetime
import json

import bibtexparser
import lxml.html
import pytest
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware, MonthIntMiddleware
from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc.source.json import CiteProcJSON
from django.template import Context, Template
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from sanctions import citations
from sanctions.models import Outlet

from .factories import make_action, make_authority, make_entity

# Every BibTeX special, quotes and Cyrillic: what an editor may paste into a title.
AWKWARD = 'Минский "Завод" & Co. 100% {parts} a_b ~x ^y $5 #3 back\\slash'
URL = "https://tracker.example/actions/11/"
ACCESSED = datetime.date(2025, 1, 2)


def latex_decoder():
    """pylatexenc, taught the LaTeX kernel's meaning of the text macros it lacks."""
    context = get_default_latex_context_db()
    context.add_context_category(
        "latex-kernel-text-symbols",
        prepend=True,
        macros=[
            MacroTextSpec("textbraceleft", "{"),
            MacroTextSpec("textbraceright", "}"),
            MacroTextSpec("textasciicircum", "^"),
            MacroTextSpec("url", simplify_repl="%s"),
        ],
    )
    return LatexNodes2Text(latex_context=context, math_mode="verbatim")


def parse_bibtex(text):
    library = bibtexparser.parse_string(
        text,
        append_middleware=[
            LatexDecodingMiddleware(decoder=latex_decoder()),
            MonthIntMiddleware(),
        ],
    )
    assert library.failed_blocks == []
    return library


@pytest.fixture
def action():
    state = make_authority(name="U.S. Department of State", slug="state")
    return make_action(
        title=AWKWARD,
        authority=state,
        announced_on=datetime.date(2024, 12, 18),
        entities=[make_entity()],
    )


def expected_title(action):
    return f"{AWKWARD} (U.S. Department of State, 18 December 2024)"


@pytest.mark.django_db
def test_an_action_citation_names_the_action_its_authority_and_date(action):
    record = citations.record(action)
    assert record.title == expected_title(action)
    assert record.date == datetime.date(2024, 12, 18)
    assert record.key == f"sanctionstracker_action_{action.pk}"


@pytest.mark.django_db
def test_bibtex_round_trips_through_a_bibtex_parser(action, settings):
    text = citations.bibtex(action, url=URL, accessed=ACCESSED)

    [entry] = parse_bibtex(text).entries
    fields = {field.key: field.value for field in entry.fields}
    assert entry.entry_type == "misc"
    assert entry.key == f"sanctionstracker_action_{action.pk}"
    assert fields["title"] == expected_title(action)
    assert fields["author"] == settings.SITE_NAME
    assert fields["howpublished"] == URL
    assert fields["url"] == URL
    assert fields["year"] == "2024"
    assert fields["month"] == 12
    assert fields["date"] == "2024-12-18"
    assert fields["urldate"] == "2025-01-02"
    assert fields["note"] == "Sanctions Tracker record; accessed 2025-01-02"


@pytest.mark.django_db
def test_bibtex_escapes_every_special_character(action):
    text = citations.bibtex(action, url=URL, accessed=ACCESSED)
    title_line = next(line for line in text.splitlines() if line.strip().startswith("title"))
    for escaped in [
        r"\& Co.",
        r"100\%",
        r"\textbraceleft{}parts\textbraceright{}",
        r"a\_b",
        r"\textasciitilde{}x",
        r"\textasciicircum{}y",
        r"\$5",
        r"\#3",
        r"back\textbackslash{}slash",
    ]:
        assert escaped in title_line
    # BibTeX counts braces whatever precedes them: the value's must balance.
    assert title_line.count("{") == title_line.count("}")


@pytest.mark.django_db
def test_a_lone_brace_does_not_swallow_the_next_bibtex_entry():
    first = make_action(title="Opening { never closed")
    second = make_action(title="Closing } never opened")
    text = "\n".join(citations.bibtex(obj, url=URL, accessed=ACCESSED) for obj in (first, second))
    entries = parse_bibtex(text).entries
    assert [entry.key for entry in entries] == [
        f"sanctionstracker_action_{first.pk}",
        f"sanctionstracker_action_{second.pk}",
    ]
    assert entries[0].fields_dict["title"].value.startswith("Opening { never closed (")
    assert entries[1].fields_dict["title"].value.startswith("Closing } never opened (")


@pytest.mark.django_db
def test_the_bibtex_author_and_key_follow_the_site_name(action, settings):
    settings.SITE_NAME = "Arms & Sanctions_Lab"
    text = citations.bibtex(action, url=URL, accessed=ACCESSED)
    assert r"author = {{Arms \& Sanctions\_Lab}}," in text
    [entry] = parse_bibtex(text).entries
    assert entry.key == f"armssanctionslab_action_{action.pk}"
    assert entry.fields_dict["author"].value == "Arms & Sanctions_Lab"


@pytest.mark.django_db
def test_ris_round_trips_through_an_ris_parser(action, settings):
    text = citations.ris(action, url=URL, accessed=ACCESSED)

    [entry] = rispy.loads(text)
    assert entry == {
        "type_of_reference": "DATA",
        "id": f"sanctionstracker_action_{action.pk}",
        "title": expected_title(action),
        "authors": [settings.SITE_NAME],
        "year": "2024",
        "date": "2024/12/18/",
        "urls": [URL],
        "access_date": "2025/01/02/",
        "publisher": settings.SITE_NAME,
        "name_of_database": settings.SITE_NAME,
        "notes": ["Sanctions Tracker record; accessed 2025-01-02"],
    }


@pytest.mark.django_db
def test_a_line_break_in_a_title_cannot_start_a_new_ris_tag():
    action = make_action(title="First line\nER  - \nTY  - JOUR")
    [entry] = rispy.loads(citations.ris(action, url=URL, accessed=ACCESSED))
    assert entry["title"].startswith("First line ER - TY - JOUR (")


@pytest.mark.django_db
def test_csl_json_is_a_dataset_item(action, settings):
    item = citations.csl_json(action, url=URL, accessed=ACCESSED)

    assert json.loads(json.dumps(item, ensure_ascii=False)) == item
    assert item == {
        "id": f"sanctionstracker_action_{action.pk}",
        "type": "dataset",
        "title": expected_title(action),
        "author": [{"literal": settings.SITE_NAME}],
        "issued": {"date-parts": [[2024, 12, 18]]},
        "accessed": {"date-parts": [[2025, 1, 2]]},
        "URL": URL,
        "publisher": settings.SITE_NAME,
        "note": "Sanctions Tracker record; accessed 2025-01-02",
    }


@pytest.mark.django_db
def test_csl_json_renders_with_citeproc(action):
    item = citations.csl_json(action, url=URL, accessed=ACCESSED)
    source = CiteProcJSON([json.loads(json.dumps(item))])
    # The style citeproc-py ships; validate=True checks it against the CSL schema.
    style = CitationStylesStyle("harvard-cite-them-right", validate=True)
    bibliography = CitationStylesBibliography(style, source, formatter.plain)
    citation = Citation([CitationItem(item["id"])])
    bibliography.register(citation)

    def unknown(item):
        raise AssertionError(f"citeproc does not know {item.key}")

    assert bibliography.cite(citation, unknown) == "(Sanctions Tracker, 2024)"
    [entry] = [str(entry) for entry in bibliography.bibliography()]
    assert entry.startswith("Sanctions Tracker (2024)")
    assert expected_title(action) in entry
    assert URL in entry
    assert "(Accessed: January 2, 2025)" in entry


@pytest.mark.django_db
def test_meta_tags_survive_html_rendering(action, settings):
    tags = citations.meta_tags(action, url=URL)
    assert dict(tags) == {
        "citation_title": expected_title(action),
        "citation_author": settings.SITE_NAME,
        "citation_publication_date": "2024/12/18",
        "citation_date": "2024/12/18",
        "citation_public_url": URL,
        "citation_publisher": settings.SITE_NAME,
        "DC.title": expected_title(action),
        "DC.date": "2024-12-18",
        "DC.publisher": settings.SITE_NAME,
        "DC.type": "Dataset",
        "DC.identifier": URL,
    }
    # Rendered the way the lead's template does, then read back by an HTML parser.
    template = Template(
        '{% for name, content in tags %}<meta name="{{ name }}" content="{{ content }}">'
        "{% endfor %}"
    )
    html = template.render(Context({"tags": tags}))
    parsed = lxml.html.fromstring(f"<html><head>{html}</head></html>")
    assert [(m.get("name"), m.get("content")) for m in parsed.iter("meta")] == tags


@pytest.mark.django_db
def test_an_entity_is_cited_at_its_latest_published_action():
    entity = make_entity(name="Минский завод колёсных тягачей")
    make_action(entities=[entity], announced_on=datetime.date(2020, 3, 4))
    make_action(entities=[entity], announced_on=datetime.date(2023, 5, 6))
    make_action(entities=[entity], announced_on=datetime.date(2025, 1, 1), published=False)

    record = citations.record(entity)

    assert record.title == "Минский завод колёсных тягачей — sanctions record"
    assert record.date == datetime.date(2023, 5, 6)
    assert record.key == f"sanctionstracker_entity_{entity.pk}"
    [entry] = rispy.loads(citations.ris(entity, url=URL, accessed=ACCESSED))
    assert entry["title"] == "Минский завод колёсных тягачей — sanctions record"
    assert entry["date"] == "2023/05/06/"
    [bib] = parse_bibtex(citations.bibtex(entity, url=URL, accessed=ACCESSED)).entries
    assert bib.fields_dict["title"].value == record.title
    assert bib.fields_dict["date"].value == "2023-05-06"


@pytest.mark.django_db
def test_an_entity_without_a_published_action_is_cited_at_its_last_change():
    entity = make_entity()
    make_action(entities=[entity], published=False)
    assert citations.record(entity).date == entity.updated_at.date()


@pytest.mark.django_db
def test_only_actions_and_entities_can_be_cited():
    with pytest.raises(TypeError):
        citations.record(Outlet.objects.create(name="Reuters"))


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1:8811", "tracker.example.org"])
def test_citations_and_feeds_link_to_the_host_the_site_is_served_from(client, settings, host):
    settings.ALLOWED_HOSTS = [host.split(":")[0]]
    action = make_action()

    bib = client.get(f"/actions/{action.pk}/cite.bib", HTTP_HOST=host).content.decode()
    page = client.get(f"/actions/{action.pk}/", HTTP_HOST=host).content.decode()
    feed = client.get("/feeds/actions.atom", HTTP_HOST=host).content.decode()

    permalink = f"http://{host}/actions/{action.pk}/"
    assert permalink in bib
    assert f'<link rel="canonical" href="{permalink}">' in page
    assert f'href="{permalink}"' in feed
    assert f'href="http://{host}/feeds/actions.atom" rel="self"' in feed


@pytest.mark.django_db
def test_site_root_when_set_is_used_whatever_the_host(client, settings):
    settings.SITE_ROOT = "https://sanctions.example"
    action = make_action()

    bib = client.get(f"/actions/{action.pk}/cite.bib").content.decode()

    assert f"https://sanctions.example/actions/{action.pk}/" in bib
