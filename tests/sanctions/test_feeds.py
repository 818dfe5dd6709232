import datetime
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import feedparser
import pytest
from django.urls import reverse

from sanctions.models import ActionKind, Program

from .factories import make_action, make_authority, make_entity, make_legal_basis, make_source

ATOM = "{http://www.w3.org/2005/Atom}"

# Unset SITE_ROOT: links use the host the feed is served from, the test client's.
SITE = "http://testserver"


def assert_rfc4287(content):
    """What RFC 4287 requires of a feed and its entries, beyond well-formed XML."""
    root = ET.fromstring(content)
    assert root.tag == f"{ATOM}feed"
    for element in [root, *root.findall(f"{ATOM}entry")]:
        for name in ("id", "title", "updated"):
            assert len(element.findall(f"{ATOM}{name}")) == 1, (element, name)
        assert urlsplit(element.find(f"{ATOM}id").text).scheme in ("http", "https")
        for name in ("updated", "published"):
            for stamp in element.findall(f"{ATOM}{name}"):
                assert datetime.datetime.fromisoformat(stamp.text).tzinfo is not None
    entries = root.findall(f"{ATOM}entry")
    assert root.find(f"{ATOM}author") is not None or all(
        entry.find(f"{ATOM}author") is not None for entry in entries
    )
    for entry in entries:
        alternates = [
            link for link in entry.findall(f"{ATOM}link") if link.get("rel") == "alternate"
        ]
        assert len(alternates) == 1


def get_feed(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert_rfc4287(response.content)
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def action_feed(client, **params):
    return get_feed(client, reverse("action_feed"), **params)


def entry_links(feed):
    return [entry.link for entry in feed.entries]


def link_of(action, settings):
    return SITE + action.get_absolute_url()


@pytest.fixture
def state():
    return make_authority(name="U.S. Department of State", short_name="State", slug="state")


@pytest.mark.django_db
def test_the_feed_is_atom_with_every_required_element(client, settings, state):
    eo = make_legal_basis(short_name="E.O. 13382", slug="eo-13382")
    program = Program.objects.create(code="NPWMD", name="Nonproliferation")
    ndc = make_entity(name="National Development Complex", countries=["PK"])
    action = make_action(
        title="State designates Pakistan's missile program entities",
        authority=state,
        announced_on=datetime.date(2024, 12, 18),
        summary="Four entities contributed to long-range missile development.",
        entities=[ndc, make_entity(name="Akhtar & Sons")],
        legal_bases=[eo],
    )
    action.programs.add(program)
    make_source(action)

    feed = action_feed(client)

    assert feed.feed.id and feed.feed.title and feed.feed.updated
    assert feed.feed.author == settings.SITE_NAME
    [entry] = feed.entries
    assert entry.title == "State designates Pakistan's missile program entities"
    assert entry.link == link_of(action, settings)
    assert entry.id == link_of(action, settings)
    assert entry.author == "U.S. Department of State"
    assert entry.published.startswith("2024-12-18T00:00:00")
    action.refresh_from_db()
    assert entry.updated_parsed == action.updated_at.utctimetuple()
    assert [tag.term for tag in entry.tags] == ["E.O. 13382", "NPWMD", "Designation"]
    assert "long-range missile development" in entry.summary
    assert "National Development Complex (PK)" in entry.summary
    assert "Akhtar &amp; Sons (CN)" in entry.summary


@pytest.mark.django_db
def test_an_entry_id_does_not_change_when_the_action_does(client, settings):
    action = make_action()
    first = action_feed(client).entries[0]
    action.title = "Corrected title"
    action.save()
    second = action_feed(client).entries[0]
    assert first.id == second.id == link_of(action, settings)
    assert second.updated_parsed >= first.updated_parsed


@pytest.mark.django_db
def test_a_draft_never_appears(client, settings):
    published = make_action(title="Centrifuge suppliers designated")
    make_action(title="Centrifuge suppliers designated (draft)", published=False)
    assert entry_links(action_feed(client)) == [link_of(published, settings)]
    assert entry_links(action_feed(client, q="Centrifuge")) == [link_of(published, settings)]


@pytest.fixture
def actions(state):
    """Actions that differ in one attribute each, keyed by what sets them apart."""
    ofac = make_authority(name="Treasury OFAC", short_name="OFAC", slug="ofac")
    inksna = make_legal_basis(short_name="INKSNA", slug="inksna")
    program = Program.objects.create(code="IFSR", name="Iran Freedom")
    pakistani = make_entity(name="Pakistani Firm", countries=["PK"])
    built = {
        "state": make_action(authority=state, announced_on=datetime.date(2023, 3, 1)),
        "ofac": make_action(authority=ofac, announced_on=datetime.date(2023, 6, 1)),
        "inksna": make_action(legal_bases=[inksna], announced_on=datetime.date(2023, 9, 1)),
        "ifsr": make_action(announced_on=datetime.date(2024, 2, 1)),
        "pk": make_action(entities=[pakistani], announced_on=datetime.date(2024, 5, 1)),
        "delisting": make_action(kind=ActionKind.DELISTING, announced_on=datetime.date(2024, 8, 1)),
        "centrifuge": make_action(
            title="Centrifuge rotor network", announced_on=datetime.date(2024, 11, 1)
        ),
    }
    built["ifsr"].programs.add(program)
    make_action(authority=state, published=False, legal_bases=[inksna], entities=[pakistani])
    return built


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["centrifuge", "delisting", "pk", "ifsr", "inksna", "ofac", "state"]),
        ({"authority": "state"}, ["state"]),
        ({"authority": "ofac"}, ["ofac"]),
        ({"legal_basis": "inksna"}, ["inksna"]),
        ({"program": "IFSR"}, ["ifsr"]),
        ({"country": "pk"}, ["pk"]),
        ({"kind": "delisting"}, ["delisting"]),
        ({"date_from": "2024-05-01"}, ["centrifuge", "delisting", "pk"]),
        ({"date_to": "2023-06-01"}, ["ofac", "state"]),
        ({"date_from": "2023-06-01", "date_to": "2024-02-01"}, ["ifsr", "inksna", "ofac"]),
        ({"q": "centrifuge"}, ["centrifuge"]),
        ({"authority": "state", "kind": "delisting"}, []),
        (
            {"authority": "", "q": ""},
            ["centrifuge", "delisting", "pk", "ifsr", "inksna", "ofac", "state"],
        ),
    ],
)
def test_a_filtered_feed_lists_exactly_the_filtered_actions(
    client, settings, actions, params, expected
):
    feed = action_feed(client, **params)
    assert entry_links(feed) == [link_of(actions[name], settings) for name in expected]


@pytest.mark.django_db
def test_it_lists_the_newest_fifty(client, settings):
    authority = make_authority()
    start = datetime.date(2020, 1, 1)
    made = [
        make_action(authority=authority, announced_on=start + datetime.timedelta(days=n))
        for n in range(51)
    ]
    links = entry_links(action_feed(client))
    assert len(links) == 50
    assert links[0] == link_of(made[-1], settings)
    assert link_of(made[0], settings) not in links


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("authority=no-such-authority", "authority"),
        ("legal_basis=nope", "legal_basis"),
        ("program=NOPE", "program"),
        ("country=PAK", "country"),
        ("kind=invasion", "kind"),
        ("date_from=18-12-2024", "date_from"),
        ("date_to=yesterday", "date_to"),
        ("authorty=state", "authorty"),
        ("page=2", "page"),
        ("kind=designation&kind=delisting", "kind"),
    ],
)
def test_an_invalid_filter_answers_400_with_the_reason(client, query, field):
    make_action()
    response = client.get(f"{reverse('action_feed')}?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().startswith(f"{field}: ")


@pytest.mark.django_db
def test_the_title_and_links_describe_the_active_filters(client, settings, state):
    make_action(authority=state, entities=[make_entity(countries=["PK"])])
    feed = action_feed(client, country="pk", authority="state", kind="designation")
    assert feed.feed.title == (
        f"{settings.SITE_NAME}: actions — authority: U.S. Department of State; "
        "country: PK; kind: Designation"
    )
    assert "authority: U.S. Department of State" in feed.feed.subtitle
    query = "authority=state&country=pk&kind=designation"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["alternate"] == f"{SITE}/actions/?{query}"
    assert links["self"] == f"{SITE}/feeds/actions.atom?{query}"
    assert feed.feed.id == links["self"]


@pytest.mark.django_db
def test_an_unfiltered_feed_links_to_the_whole_list(client, settings):
    feed = action_feed(client)
    assert feed.feed.title == f"{settings.SITE_NAME}: actions"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["alternate"] == f"{SITE}/actions/"
    assert links["self"] == f"{SITE}/feeds/actions.atom"
    assert feed.entries == []
    assert feed.feed.updated


@pytest.mark.django_db
def test_markup_in_records_is_escaped_not_interpreted(client):
    make_action(
        title='Fish & "Chips" <b>Ltd</b> — Минский завод',
        summary="<script>alert(1)</script> & more",
        entities=[make_entity(name="<img src=x> Co.")],
    )
    response = client.get(reverse("action_feed"))
    entry = ET.fromstring(response.content).find(f"{ATOM}entry")
    # The title is text; the summary is HTML whose own text was escaped first.
    assert entry.find(f"{ATOM}title").text == 'Fish & "Chips" <b>Ltd</b> — Минский завод'
    summary = entry.find(f"{ATOM}summary")
    assert summary.get("type") == "html"
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in summary.text
    assert "&lt;img src=x&gt; Co." in summary.text
    assert "<script" not in summary.text and "<img" not in summary.text

    feed = feedparser.parse(response.content)
    assert feed.bozo == 0
    assert feed.entries[0].title == 'Fish & "Chips" <b>Ltd</b> — Минский завод'


@pytest.mark.django_db
def test_a_control_character_in_a_title_does_not_break_the_feed(client):
    make_action(title="Vertical\x0btab")
    feed = action_feed(client)
    assert feed.entries[0].title == "Verticaltab"


@pytest.mark.django_db
def test_the_feed_refuses_post(client):
    assert client.post(reverse("action_feed")).status_code == 405


@pytest.mark.django_db
def test_the_feed_query_count_does_not_grow_with_entries(client, django_assert_num_queries):
    authority = make_authority()
    for _ in range(3):
        make_action(
            authority=authority,
            entities=[make_entity(), make_entity()],
            legal_bases=[make_legal_basis()],
        )
    # The actions with their legal bases and programs, then the designations with entities.
    with django_assert_num_queries(2):
        assert len(action_feed(client).entries) == 3
    # ...after the authority filter has looked its slug up.
    with django_assert_num_queries(3):
        assert len(action_feed(client, authority=authority.slug).entries) == 3


@pytest.mark.django_db
def test_an_entity_feed_lists_the_published_actions_naming_it(client, settings):
    entity = make_entity(name="Granpeak Industries")
    older = make_action(entities=[entity], announced_on=datetime.date(2023, 1, 1))
    newer = make_action(entities=[entity, make_entity()], announced_on=datetime.date(2024, 1, 1))
    make_action(entities=[make_entity()])
    make_action(entities=[entity], published=False)

    feed = get_feed(client, reverse("entity_feed", args=[entity.pk]))

    assert entry_links(feed) == [link_of(newer, settings), link_of(older, settings)]
    assert feed.feed.title == f"{settings.SITE_NAME}: actions concerning Granpeak Industries"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["alternate"] == SITE + entity.get_absolute_url()
    assert links["self"] == f"{SITE}/feeds/entities/{entity.pk}.atom"


@pytest.mark.django_db
def test_an_entity_feed_takes_the_list_filters(client, settings):
    entity = make_entity()
    make_action(entities=[entity], announced_on=datetime.date(2023, 1, 1))
    newer = make_action(entities=[entity], announced_on=datetime.date(2024, 1, 1))
    url = reverse("entity_feed", args=[entity.pk])
    feed = get_feed(client, url, date_from="2023-06-01")
    assert entry_links(feed) == [link_of(newer, settings)]
    assert client.get(url, {"date_from": "June"}).status_code == 400


@pytest.mark.django_db
def test_an_entity_without_a_published_action_has_no_feed(client):
    hidden = make_entity()
    make_action(entities=[hidden], published=False)
    assert client.get(reverse("entity_feed", args=[hidden.pk])).status_code == 404
    assert client.get(reverse("entity_feed", args=[hidden.pk + 1000])).status_code == 404


@pytest.mark.django_db
def test_a_feed_is_sent_in_one_piece(client):
    """The generator writes the XML in small pieces; a server sends each piece it is
    given as its own write, so the response holds one."""
    make_action(entities=[make_entity(), make_entity()])

    response = client.get("/feeds/actions.atom")

    assert response.status_code == 200
    assert len(list(response)) == 1
