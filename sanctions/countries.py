"""Countries: the English name the tracker shows for an ISO 3166-1 alpha-2 code, and
the code a list's spelling of a country means.

Both are FollowTheMoney's (its country type, which reads rigour's territories), copied
into data/countries.json.gz by ``python -m sanctions.countries``. FtM and rigour need
PyICU, which PyPI has no wheel of and which takes a C++ compiler and the ICU headers to
build; with the copy, everything but the FtM export and import runs without them.
tests/sanctions/test_countries.py fails when the copy and FtM disagree, on any of the
30,000 spellings FtM knows.
"""

import functools
import gzip
import json
import unicodedata
from pathlib import Path

from anyascii import anyascii

DATA = Path(__file__).with_name("data") / "countries.json.gz"


def spelling_key(text: str) -> str:
    """A spelling as looked up: case, accents and punctuation dropped, Latin letters
    in ASCII (ß → ss), other scripts' letters kept as they are."""
    out = []
    for char in unicodedata.normalize("NFKD", text.casefold()):
        if unicodedata.category(char) == "Mn":
            continue
        if char.isascii():
            out.append(char if char.isalnum() else " ")
        elif unicodedata.name(char, "").startswith("LATIN"):
            out.append(anyascii(char).lower())
        else:
            out.append(char if char.isalnum() else " ")
    return " ".join("".join(out).split())


@functools.cache
def _data() -> dict:
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        return json.load(f)


def country_name(code: str) -> str:
    """The English name of an ISO 3166-1 alpha-2 code, or the code itself."""
    return _data()["names"].get(code.upper(), code)


@functools.cache
def country_code(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country as a list spells it (a name in any
    language, a code, a capital), or None. As FtM's country type cleans it, less
    territories without a two-letter code of their own."""
    text = (text or "").strip()
    if not text:
        return None
    data = _data()
    code = text.lower().replace("_", "-")
    if code in data["codes"]:  # a code answers first, even with no country (None)
        return data["codes"][code]
    return data["spellings"].get(spelling_key(text))


def build() -> dict:
    """The copy, made from FtM's country type and rigour's territories (which need
    PyICU). Lookups in the order rigour makes them: codes, then names, then weaker
    names and places where no stronger one has taken the spelling."""
    from followthemoney.types import registry

    # The lists rigour's own lookup reads; it has no public way to list them.
    from rigour.territories.lookup import _get_identifier_map, _load_territory_names

    def code(territory) -> str | None:
        country = territory.ftm_country
        return country.upper() if country and len(country) == 2 else None

    territories = list(_load_territory_names())
    spellings = {}
    for tier in range(3):  # names, weaker names, places; later ones win within a tier
        found = {
            spelling_key(name): code(territory)
            for territory, *names in territories
            for name in names[tier]
        }
        spellings |= {key: found[key] for key in found if key and key not in spellings}
    return {
        "names": {
            key.upper(): name for key, name in registry.country.names.items() if len(key) == 2
        },
        "codes": {identifier: code(t) for identifier, t in _get_identifier_map().items()},
        "spellings": dict(sorted(spellings.items())),
    }


def write() -> None:
    text = json.dumps(build(), ensure_ascii=False, sort_keys=True, indent=0)
    # mtime=0: the same data gives the same file.
    with open(DATA, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(text.encode())


if __name__ == "__main__":
    write()
