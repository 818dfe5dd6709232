"""sanctions/countries.py answers as FollowTheMoney's country type does."""

import pytest

from sanctions import countries

registry = pytest.importorskip("followthemoney.types").registry


def ftm_code(text: str) -> str | None:
    code = registry.country.clean(text.strip()) if text and text.strip() else None
    return code.upper() if code and len(code) == 2 else None


def test_the_copy_is_what_ftm_gives_today():
    """Fails when FtM or rigour is upgraded with other countries: run
    ``python -m sanctions.countries`` to copy them again."""
    assert countries._data() == countries.build()


def test_every_spelling_and_code_ftm_knows_gives_the_same_country():
    from rigour.territories.lookup import _get_identifier_map, _load_territory_names

    spellings = [
        name
        for _, strong, weak, places in _load_territory_names()
        for name in strong + weak + places
    ]
    spellings += list(_get_identifier_map())
    assert len(spellings) > 30_000

    differ = [(s, countries.country_code(s), ftm_code(s)) for s in spellings]
    assert [d for d in differ if d[1] != d[2]] == []


@pytest.mark.parametrize(
    "spelling, code",
    [
        ("Korea, North", "KP"),
        ("Democratic People's Republic of Korea", "KP"),
        ("Iran (Islamic Republic of)", "IR"),
        ("  Pakistan ", "PK"),
        ("CÔTE D'IVOIRE", "CI"),
        ("Burma", "MM"),
        ("Россия", "RU"),
        ("BLR", "BY"),
        ("pk", "PK"),
        ("Tehran", "IR"),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_a_list_s_spellings(spelling, code):
    assert countries.country_code(spelling) == code == ftm_code(spelling)


def test_names_are_ftm_s_and_an_unknown_code_is_shown_as_it_is():
    assert countries.country_name("PK") == "Pakistan" == registry.country.names["pk"]
    assert countries.country_name("kp") == registry.country.names["kp"]
    assert countries.country_name("XX") == "XX"
