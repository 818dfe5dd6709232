import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sanctions.demo import load_demo
from sanctions.models import Action, Alias, Entity, EntityName, NameWord
from sanctions.search import (
    CANDIDATES,
    WORD_VARIANTS,
    index_names,
    match_names,
    name_key,
    search_actions,
)

from .factories import data_queries, make_action, make_article, make_entity, make_source


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Akhtar & Sons Pvt. Ltd.", "akhtar sons"),
        ("AKHTAR AND SONS PRIVATE LIMITED", "akhtar sons"),
        ("Granpect Co. Ltd.", "granpect"),
        ("Granpect Company", "granpect"),
        ("Société Générale", "societe generale"),
        ("ООО Парсек", "parsek"),
        ("Минский завод колёсных тягачей", "minskiy zavod kolesnykh tyagachey"),
        ("北京洛洛科技发展有限公司", "bei jing luo luo ke ji fa zhan"),
        ("The Company", "the company"),
    ],
)
def test_name_keys_ignore_case_accents_punctuation_legal_forms_and_script(name, key):
    assert name_key(name) == key


@pytest.fixture
def demo(db):
    load_demo()


def _top(query, n=1):
    matches = match_names(query, limit=n)
    return [Entity.objects.get(pk=m.entity_id).name for m in matches]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Akhtar & Sons", "Akhtar and Sons Private Limited"),
        ("luo luo", "Beijing Luo Luo Technology Development Co Ltd"),
        ("luoluo", "Beijing Luo Luo Technology Development Co Ltd"),
        ("Granpect Company", "Granpect Co. Ltd."),
        ("National Development Centre", "National Development Complex"),
        ("NDC", "National Development Complex"),
        ("Xian Longde", "Xi'an Longde Technology Development Company Limited"),
        # The Cyrillic original name, found by its Latin transliteration and as typed.
        ("Minskiy zavod kolesnykh tyagachey", "Minsk Wheel Tractor Plant"),
        ("Минский завод колёсных тягачей", "Minsk Wheel Tractor Plant"),
    ],
)
def test_demo_entities_are_found_by_their_names_in_any_form(demo, query, expected):
    assert _top(query) == [expected]


@pytest.mark.parametrize(
    ("typo", "expected"),
    [
        ("Rocksyde Enterprize", "Rockside Enterprise"),
        ("Akhtr and Sonz", "Akhtar and Sons Private Limited"),
        ("Afiliates Internationel", "Affiliates International"),
        ("Natonal Developmint Complex", "National Development Complex"),
        ("Tianjin Creativ Sourse", "Tianjin Creative Source International Trade Co Ltd"),
    ],
)
def test_two_wrong_letters_still_find_the_entity_in_the_first_three(demo, typo, expected):
    assert expected in _top(typo, n=3)


def test_nescom_finds_ndc_through_its_listed_address(demo, client):
    response = client.get("/entities/", {"q": "NESCOM"})

    [entity] = response.context["page"]
    assert entity.name == "National Development Complex"
    assert "NESCOM Complex" in entity.matched_name


def test_a_description_is_searched_without_legal_form_words(client, db):
    """When no name matches, descriptions are searched for the query's words; legal-form
    words are left out there too, as in names."""
    described = make_entity(name="Sichuan Fibre Works", description="Carbon fibre, Chengdu.")
    make_action(entities=[described])
    index_names()

    response = client.get("/entities/", {"q": "Chengdu Carbon Co., Ltd."})

    assert [e.pk for e in response.context["page"]] == [described.pk]
    assert response.context["page"][0].matched_name == "…Carbon fibre, Chengdu.…"


def test_a_description_phrase_keeps_its_filler_words(client, db):
    """Words in quotes are a phrase: its "of" stays, as the description has it."""
    described = make_entity(name="Dubai Holding", description="Branch of the Bank of China.")
    make_entity(name="Qatar Holding", description="Bank, China.")
    make_action(entities=[described, Entity.objects.get(name="Qatar Holding")])
    index_names()

    response = client.get("/entities/", {"q": '"Bank of China" Co.'})

    assert [e.pk for e in response.context["page"]] == [described.pk]


def test_a_name_search_with_other_filters_ranks_only_the_entities_they_leave(client, db):
    chinese = make_entity(name="Longde Trading", countries=["CN"])
    iranian = make_entity(name="Longde Trading Company", countries=["IR"])
    other = make_entity(name="Longda Trading", countries=["IR"])
    make_entity(name="Longde Trading", countries=["IR"])  # in no published action
    make_action(entities=[chinese, iranian, other])

    response = client.get("/entities/", {"q": "Longde Trading", "country": "ir"})

    assert [e.pk for e in response.context["page"]] == [iranian.pk, other.pk]
    # The best match of those left, not of all names: the exact Chinese one ranks first.
    iranians = Entity.objects.visible().filter(countries__contains=["IR"])
    assert [m.entity_id for m in match_names("Longde Trading", entities=iranians, limit=1)] == [
        iranian.pk
    ]
    with CaptureQueriesContext(connection) as unrestricted:
        match_names("Longde Trading")
    with CaptureQueriesContext(connection) as restricted:
        match_names("Longde Trading", entities=iranians)
    assert len(restricted) == len(unrestricted)  # restricted inside the scoring query


def test_a_non_latin_alias_is_found_by_its_transliteration_and_the_other_way_round(db):
    only_chinese = make_entity(name="Entity known by a Chinese name")
    Alias.objects.create(entity=only_chinese, name="西安龙德科技发展有限公司")
    latin = make_entity(name="Minsk Wheel Tractor Plant")
    index_names()

    assert [m.entity_id for m in match_names("Xi An Long De Ke Ji")][:1] == [only_chinese.pk]
    assert match_names("Xi An Long De Ke Ji")[0].name == "西安龙德科技发展有限公司"
    assert [m.entity_id for m in match_names("Минск Вил Трактор Плант")][:1] == [latin.pk]


def test_exact_and_prefix_matches_rank_above_fuzzy_ones(db):
    fuzzy = make_entity(name="Parsec Holdings")
    prefix = make_entity(name="Parsek Trading")
    exact = make_entity(name="PARSEK LLC")
    index_names()

    ranked = [m.entity_id for m in match_names("Parsek")]

    assert ranked[:3] == [exact.pk, prefix.pk, fuzzy.pk]


def test_indexing_names_twice_writes_nothing_and_follows_renames(db):
    entity = Entity.objects.create(name="Old Name Trading", kind="company")
    assert index_names() == 1
    assert index_names() == 0

    Entity.objects.filter(pk=entity.pk).update(name="New Name Trading")
    index_names(entity_ids=[entity.pk])

    assert list(EntityName.objects.values_list("name", flat=True)) == ["New Name Trading"]


def test_full_text_search_finds_an_action_by_a_reason_and_ranks_titles_first(db):
    entity = make_entity()
    in_reason = make_action(title="State designates suppliers", entities=[entity])
    in_reason.designations.update(reason="supplied a filament winding machine")
    in_title = make_action(title="Filament winding machine suppliers designated")
    make_source(make_action(title="Unrelated"), title="A fact sheet")

    results = list(search_actions(Action.objects.published(), "filament winding machine"))

    assert results == [in_title, in_reason]
    assert "\x02filament\x03" in results[1].snippet.lower()


def test_the_search_page_shows_each_section_with_escaped_highlights(client, db):
    entity = make_entity(name="Rockside Enterprise")
    action = make_action(title="<b>Rockside</b> designated", entities=[entity])
    index_names()

    response = client.get("/search/", {"q": "rockside"})

    body = response.content.decode()
    assert [e.pk for e in response.context["entities"]] == [entity.pk]
    assert [a.pk for a in response.context["actions"]] == [action.pk]
    assert "&lt;<mark>b&gt;Rockside</mark>" in body or "<mark>Rockside</mark>" in body
    assert "<b>Rockside</b>" not in body


def test_search_runs_a_bounded_number_of_queries(client, db):
    for i in range(3):
        make_action(title=f"Missile action {i}", entities=[make_entity(name=f"Missile Co {i}")])
    index_names()

    with CaptureQueriesContext(connection) as few:
        client.get("/search/", {"q": "missile"})
    for i in range(3, 10):
        entity = make_entity(name=f"Missile Co {i}")
        Alias.objects.create(entity=entity, name=f"Ракета {i}", script="Cyrl", language="ru")
        make_action(title=f"Missile action {i}", entities=[entity])
    index_names()
    with CaptureQueriesContext(connection) as many:
        client.get("/search/", {"q": "missile"})

    # Actions; names: the vocabulary, the names to score, the scores and the visibility
    # check; own words: descriptions, designations and the actions' summaries; the
    # entities with their names in other scripts; articles.
    assert len(data_queries(many)) <= len(data_queries(few)) <= 11


def test_a_word_being_typed_finds_the_names_it_begins(db):
    hydro = make_entity(name="Hydroelectromechanical Works")
    make_entity(name="Electromechanical Works")
    index_names()

    assert [m.entity_id for m in match_names("Works Hydroel")] == [hydro.pk]


def test_a_name_one_letter_off_is_found_beside_the_exact_one(db):
    muhammad = make_entity(name="Muhammad Ali Trading")
    mohammad = make_entity(name="Mohammad Ali Trading")
    index_names()

    ranked = [m.entity_id for m in match_names("Mohammad Ali Trading")]

    assert ranked[:2] == [mohammad.pk, muhammad.pk]


def test_the_vocabulary_stores_each_word_with_the_forms_queries_look_for(db):
    make_entity(name="Parsek Jing Ali Co")
    index_names()

    forms = dict(NameWord.objects.values_list("word", "forms"))
    assert sorted(forms["parsek"]) == [
        "arsek", "parek", "parse", "parsek", "parsk", "pasek", "prsek"
    ]  # fmt: skip
    # Shorter words stand for themselves.
    assert forms["jing"] == ["jing"] and forms["ali"] == ["ali"]
    # A short word is not one letter off another: "ali" does not find "alia".
    make_entity(name="Trading Alia")
    index_names()
    assert {m.name for m in match_names("Ali")} == {"Parsek Jing Ali Co"}


@pytest.mark.parametrize(
    ("record", "query"),
    [
        ("Long De Trading", "Longde Trading"),
        ("Longde Trading", "Long De Trading"),
        ("Rosoboron Export", "Rosoboronexport"),
        ("Rosoboronexport", "Rosoboron Export"),
        ("Kim Il Sung", "Kim Ilsung"),
        ("Kim Ilsung", "Kim Il Sung"),
    ],
)
def test_a_name_is_found_first_whichever_way_its_words_are_joined_or_split(db, record, query):
    wanted = make_entity(name=record)
    # Names sharing some of the words, in another order or with others beside them.
    for other in ["De Long Trading", "Long Bridge Trading", "Rosoboron Holdings",
                  "Export Trading", "Sung Il Kim", "Kim Song Il"]:  # fmt: skip
        make_entity(name=other)
    index_names()

    [first] = match_names(query, limit=1)

    assert first.entity_id == wanted.pk
    assert first.score >= 2  # as an exact match: the spaces cost nothing


def test_the_pages_and_the_api_find_a_name_written_with_its_words_joined(client, db):
    entity = make_entity(name="Rosoboron Export")
    make_action(entities=[entity])

    page = client.get("/entities/", {"q": "Rosoboronexport"})
    api = client.get("/api/v1/entities/", {"q": "Rosoboronexport"})
    search = client.get("/search/", {"q": "Rosoboronexport"})

    assert [e.pk for e in page.context["page"]] == [entity.pk]
    assert [e["name"] for e in api.json()["results"]] == ["Rosoboron Export"]
    assert [e.pk for e in search.context["entities"]] == [entity.pk]


def test_a_word_alone_ranks_its_exact_name_above_the_names_it_begins_or_joins(db):
    long = make_entity(name="Long")
    longde = make_entity(name="Longde")
    long_de = make_entity(name="Long De")
    make_entity(name="Songde")
    index_names()

    ranked = [m.entity_id for m in match_names("Long")]
    assert ranked[0] == long.pk and set(ranked[1:3]) == {longde.pk, long_de.pk}
    # Written as the query is, then joined otherwise; "Long" alone is another name.
    ranked = [m.entity_id for m in match_names("Longde")]
    assert ranked[:2] == [longde.pk, long_de.pk] and long.pk not in ranked
    assert [m.entity_id for m in match_names("Long De")][:2] == [long_de.pk, longde.pk]


def test_joins_and_splits_add_a_bounded_number_of_lookups_in_the_same_queries(db):
    for name in ["Ab Cd", "Abcd", "Ef Gh", "Efgh", "Ij Kl", "Ijkl", "Mn Op", "Mnop"]:
        make_entity(name=name)
    index_names()
    query = "abcd efgh ijkl mnop ab cd ef gh ij kl mn op"

    with CaptureQueriesContext(connection) as captured:
        match_names(query)

    # The vocabulary, the names to score (and, found by no words, those missing one),
    # and the scores: as many statements as for any query.
    assert len(captured) <= 4
    lookups = [q["sql"].count(f"LIMIT {CANDIDATES}") for q in captured]
    assert max(lookups) == 1 + WORD_VARIANTS


def test_articles_are_found_through_the_actions_they_cover_that_name_the_entity(client, db):
    akhtar = make_entity(name="Akhtar and Sons Private Limited")
    action = make_action(title="State designates three suppliers", entities=[akhtar])
    other = make_action(title="Commerce adds two entities", entities=[make_entity()])
    covering = make_article(actions=[action], headline="US sanctions Pakistani firms")
    direct = make_article(actions=[other], headline="Who are Akhtar and Sons?")
    make_article(actions=[other], headline="Commerce adds two entities")

    response = client.get("/search/", {"q": "Akhtar"})

    assert [a.pk for a in response.context["articles"]] == [direct.pk, covering.pk]
    body = response.content.decode()
    link = f'<a href="/actions/{action.pk}/">State designates three suppliers</a>'
    assert f"covers: {link}" in body


def test_entities_whose_own_words_say_it_rank_above_loose_name_matches(client, db):
    described = make_entity(name="Hubei Composites", description="Filament winding machine maker.")
    designated = make_entity(name="Xi'an Longde Technology")
    make_action(title="State designates suppliers", entities=[described, designated])
    designated.designations.update(reason="Supplied a filament winding machine.")
    named = make_entity(name="Granpect Company")
    beside = make_entity(name="Tianjin Creative Source")
    make_action(
        title="More suppliers designated",
        summary="Two suppliers: Granpect Co. (filament winding machine), Tianjin Creative "
        "Source (stir welding equipment, a lathe).",
        entities=[named, beside],
    )
    loose = make_entity(name="Machine Building Institute")
    make_action(entities=[loose])

    response = client.get("/search/", {"q": "filament winding machine"})

    ranked = [e.pk for e in response.context["entities"]]
    assert ranked[:3] == [described.pk, designated.pk, named.pk]
    assert beside.pk not in ranked
    assert (
        response.context["entities"][2].matched_name == "…Granpect Co. (filament winding machine)…"
    )


def test_search_results_show_names_in_other_scripts_beside_the_latin_one(client, db):
    entity = make_entity(name="Xi'an Longde Technology")
    Alias.objects.create(entity=entity, name="西安龙德科技", script="Hani", language="zh")
    Alias.objects.create(entity=entity, name="Сиань Лунде", script="Cyrl")
    Alias.objects.create(entity=entity, name="XIAN LONGDE TECHNOLOGY", script="Latn")
    make_action(entities=[entity])
    index_names()

    body = client.get("/search/", {"q": "Xi'an Longde Technology"}).content.decode()

    assert '<bdi class="other-script" lang="zh">西安龙德科技</bdi>' in body
    assert '<bdi class="other-script">Сиань Лунде</bdi>' in body
    assert "XIAN LONGDE TECHNOLOGY" not in body
