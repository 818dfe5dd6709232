"""Stream the records of a large XML file, refusing anything a list has no business holding.

Official lists declare no DTD. A DTD is how XML attacks come in: entity expansion
(billion laughs), external entities that read local files or URLs (XXE), external DTDs
fetched over the network. So a document with a DOCTYPE is refused outright, before the
parser reads past its prolog; and the parser is set to expand no entity, load no DTD
and touch no network in case one slipped past the check. Records are cleared once
read, so memory stays flat whatever the file size.
"""

import re
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from .reading import ListFormatError

# The prolog (declaration, comments, DOCTYPE) of any real list fits in this many bytes.
PROLOG_BYTES = 64 * 1024
_DOCTYPE = re.compile(rb"<!\s*DOCTYPE", re.IGNORECASE)
DOCTYPE_REFUSED = (
    "the file declares a DTD (<!DOCTYPE>), which official lists never do and which can"
    " carry entity expansion or external entities"
)


def local_name(element) -> str:
    """The tag without its namespace."""
    return etree.QName(element).localname


def text(element, path: str) -> str:
    """The text of the first element at `path`, its whitespace collapsed; "" if none."""
    found = element.find(path)
    return " ".join(found.text.split()) if found is not None and found.text else ""


def iter_records(path: Path, tags: set[str], *, bar=None) -> Iterator[tuple[str, object]]:
    """("start", root) first, then ("end", element) for each element whose local name is
    in `tags`. Each element is cleared once the caller moves on."""
    _refuse_doctype(path)
    with open(path, "rb") as f:
        context = etree.iterparse(
            _Counted(f, bar),
            events=("start", "end"),
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        root = None
        try:
            for event, element in context:
                if root is None:
                    root = element
                    docinfo = root.getroottree().docinfo
                    if docinfo.doctype or docinfo.internalDTD is not None:
                        raise ListFormatError(DOCTYPE_REFUSED)
                    yield "start", root
                    continue
                if event != "end" or local_name(element) not in tags:
                    continue
                yield "end", element
                element.clear(keep_tail=False)
                parent = element.getparent()
                while element.getprevious() is not None:
                    del parent[0]
        except etree.XMLSyntaxError as exc:
            raise ListFormatError(f"{path.name} is not well-formed XML: {exc}") from None
        if root is None:
            raise ListFormatError(f"{path.name} holds no XML element")


def _refuse_doctype(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(PROLOG_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16: look at the text
        head = head.decode("utf-16", errors="ignore").encode()
    if _DOCTYPE.search(head.replace(b"\x00", b"")):
        raise ListFormatError(DOCTYPE_REFUSED)


class _Counted:
    """A binary file whose reads move a progress bar."""

    def __init__(self, f, bar):
        self.f, self.bar = f, bar

    def read(self, size=-1) -> bytes:
        data = self.f.read(size)
        if self.bar is not None:
            self.bar.update(len(data))
        return data
