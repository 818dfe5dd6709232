"""Citations of an action or an entity as a record of this tracker, like a database entry.

The tracker (SITE_NAME) is the author and publisher: the record is its work. The acting
authority is named in an action's title, not as an author, since it did not write the record.
"""

import dataclasses
import datetime
import re

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from .models import Action, Entity

MONTHS = (
    "January February March April May June July August September October November December"
).split()
BIBTEX_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()

# Braces and backslash become text macros rather than \{ \}: BibTeX balances braces
# without regard to backslashes, so a lone "\{" would swallow the rest of the file.
BIBTEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


@dataclasses.dataclass(frozen=True)
class Record:
    """What every citation format says about one action or entity."""

    key: str
    title: str
    date: datetime.date

    @property
    def publisher(self) -> str:
        return settings.SITE_NAME


def record(obj: Action | Entity) -> Record:
    """The title, date and stable key of an action or an entity."""
    if isinstance(obj, Action):
        date = obj.announced_on
        names = " and ".join(authority.name for authority in obj.authorities)
        title = f"{obj.title} ({names}, {long_date(date)})"
    elif isinstance(obj, Entity):
        latest = Action.objects.published().filter(designations__entity=obj)
        date = latest.aggregate(date=Max("announced_on"))["date"]
        date = date or timezone.localdate(obj.updated_at)
        title = f"{obj.name} — sanctions record"
    else:
        raise TypeError(f"Cannot cite a {type(obj).__name__}; cite an Action or an Entity.")
    return Record(key=citation_key(obj), title=title, date=date)


def citation_key(obj: Action | Entity) -> str:
    """The stable key of an action's or an entity's citations, e.g. sanctionstracker_action_7."""
    prefix = re.sub(r"[^a-z0-9]", "", settings.SITE_NAME.lower()) or "record"
    return f"{prefix}_{type(obj).__name__.lower()}_{obj.pk}"


def long_date(date: datetime.date) -> str:
    """18 December 2024, in English whatever the locale."""
    return f"{date.day} {MONTHS[date.month - 1]} {date.year}"


def _note(accessed: datetime.date) -> str:
    return f"{settings.SITE_NAME} record; accessed {accessed.isoformat()}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def bibtex_escape(text: str) -> str:
    """Text as a BibTeX field value, LaTeX specials escaped."""
    return "".join(BIBTEX_ESCAPES.get(char, char) for char in _one_line(text))


def _bibtex_url(url: str) -> str:
    # Read verbatim by the url package; only braces and backslashes could break the entry.
    return url.replace("\\", "%5C").replace("{", "%7B").replace("}", "%7D")


def bibtex(obj: Action | Entity, *, url: str, accessed: datetime.date) -> str:
    """A BibTeX @misc entry."""
    rec = record(obj)
    url = _bibtex_url(url)
    fields = [
        # Double braces keep the title's capitals and the author as one corporate name.
        ("title", f"{{{{{bibtex_escape(rec.title)}}}}}"),
        ("author", f"{{{{{bibtex_escape(rec.publisher)}}}}}"),
        ("howpublished", f"{{\\url{{{url}}}}}"),
        ("url", f"{{{url}}}"),
        ("year", f"{{{rec.date.year}}}"),
        ("month", BIBTEX_MONTHS[rec.date.month - 1]),
        ("date", f"{{{rec.date.isoformat()}}}"),
        ("urldate", f"{{{accessed.isoformat()}}}"),
        ("note", f"{{{bibtex_escape(_note(accessed))}}}"),
    ]
    body = "".join(f"  {name} = {value},\n" for name, value in fields)
    return f"@misc{{{rec.key},\n{body}}}\n"


def ris(obj: Action | Entity, *, url: str, accessed: datetime.date) -> str:
    """An RIS record of type DATA."""
    rec = record(obj)
    lines = [
        ("TY", "DATA"),
        ("ID", rec.key),
        ("TI", rec.title),
        # No comma: RIS readers take a comma-less author as one corporate name.
        ("AU", rec.publisher),
        ("PY", str(rec.date.year)),
        ("DA", rec.date.strftime("%Y/%m/%d/")),
        ("UR", url),
        ("Y2", accessed.strftime("%Y/%m/%d/")),
        ("PB", rec.publisher),
        ("DB", rec.publisher),
        ("N1", _note(accessed)),
    ]
    return "".join(f"{tag}  - {_one_line(value)}\n" for tag, value in lines) + "ER  - \n"


def _date_parts(date: datetime.date) -> dict:
    return {"date-parts": [[date.year, date.month, date.day]]}


def csl_json(obj: Action | Entity, *, url: str, accessed: datetime.date) -> dict:
    """A CSL-JSON item (serialise a list of these for citeproc and Zotero)."""
    rec = record(obj)
    return {
        "id": rec.key,
        "type": "dataset",
        "title": rec.title,
        "author": [{"literal": rec.publisher}],
        "issued": _date_parts(rec.date),
        "accessed": _date_parts(accessed),
        "URL": url,
        "publisher": rec.publisher,
        "note": _note(accessed),
    }


def meta_tags(obj: Action | Entity, *, url: str) -> list[tuple[str, str]]:
    """(name, content) pairs for Highwire and Dublin Core <meta> tags, read by Zotero."""
    rec = record(obj)
    slashed = rec.date.strftime("%Y/%m/%d")
    return [
        ("citation_title", rec.title),
        ("citation_author", rec.publisher),
        ("citation_publication_date", slashed),
        ("citation_date", slashed),
        ("citation_public_url", url),
        ("citation_publisher", rec.publisher),
        ("DC.title", rec.title),
        ("DC.date", rec.date.isoformat()),
        ("DC.publisher", rec.publisher),
        ("DC.type", "Dataset"),
        ("DC.identifier", url),
    ]
