"""XML attacks against the list importers: refused quickly, in bounded memory, storing nothing."""

import http.server
import io
import resource
import threading
import time

import pytest
from django.core.management import CommandError, call_command

from sanctions.importers.reading import ListFormatError
from sanctions.importers.safe_xml import PROLOG_BYTES, iter_records
from sanctions.models import Entity, ImportRun, ImportStatus, ListEntry

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE sdnList [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<sdnList>{padding}
 <publshInformation><Publish_Date>01/01/2024</Publish_Date><Record_Count>1</Record_Count></publshInformation>
 <sdnEntry><uid>1</uid><lastName>&lol9;</lastName><sdnType>Entity</sdnType></sdnEntry>
</sdnList>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE sdnList [<!ENTITY secret SYSTEM "file://{secret}">]>
<sdnList>
 <publshInformation><Publish_Date>01/01/2024</Publish_Date><Record_Count>1</Record_Count></publshInformation>
 <sdnEntry><uid>1</uid><lastName>&secret;</lastName><sdnType>Entity</sdnType></sdnEntry>
</sdnList>
"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE CONSOLIDATED_LIST SYSTEM "{url}">
<CONSOLIDATED_LIST dateGenerated="2024-09-26T00:00:00Z"><ENTITIES><ENTITY>
 <FIRST_NAME>&evil;</FIRST_NAME><REFERENCE_NUMBER>KPe.999</REFERENCE_NUMBER>
 <UN_LIST_TYPE>DPRK</UN_LIST_TYPE></ENTITY></ENTITIES></CONSOLIDATED_LIST>
"""


@pytest.fixture
def dtd_server():
    """A local server that records every request, standing in for an attacker's host."""
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = b'<!ENTITY evil "pwned">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/evil.dtd", requests
    server.shutdown()


def refused(format, path) -> tuple[str, float, int]:
    """Import a file that must be refused: (error, seconds taken, growth of peak RSS in KB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(CommandError) as error:
        call_command("import_list", format, str(path), "--no-progress", stdout=io.StringIO())
    seconds = time.perf_counter() - started
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    return str(error.value), seconds, growth


def assert_nothing_stored():
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.FAILED and "DTD" in run.error
    assert not ListEntry.objects.exists() and not Entity.objects.exists()


@pytest.mark.django_db
def test_a_billion_laughs_is_refused_quickly_in_bounded_memory(tmp_path):
    path = tmp_path / "sdn.xml"
    path.write_text(LAUGHS.format(padding=""))

    message, seconds, growth = refused("ofac-xml", path)

    assert "declares a DTD" in message
    assert seconds < 2 and growth < 50_000  # expanded, it would take some 3 GB
    assert_nothing_stored()


@pytest.mark.django_db
def test_an_external_entity_is_refused_and_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the server's private key")
    path = tmp_path / "sdn.xml"
    path.write_text(EXTERNAL_ENTITY.format(secret=secret))

    message, seconds, _ = refused("ofac-xml", path)

    assert "declares a DTD" in message and seconds < 2
    assert_nothing_stored()
    assert "private key" not in ImportRun.objects.get().error


@pytest.mark.django_db
def test_an_external_dtd_is_refused_without_being_fetched(tmp_path, dtd_server):
    url, requests = dtd_server
    path = tmp_path / "consolidated.xml"
    path.write_text(EXTERNAL_DTD.format(url=url))

    message, seconds, _ = refused("un-xml", path)

    assert "declares a DTD" in message and seconds < 2
    assert requests == []
    assert_nothing_stored()


def test_a_doctype_hidden_past_the_first_bytes_is_still_refused_unexpanded(tmp_path, dtd_server):
    # A long comment pushes the DOCTYPE past the quick check; the parser's check stops it,
    # and the parser itself neither expands entities nor fetches the DTD meanwhile.
    url, requests = dtd_server
    comment = f"<!-- {'x' * (PROLOG_BYTES + 10)} -->"
    path = tmp_path / "sdn.xml"
    path.write_text(
        LAUGHS.format(padding="").replace(
            '<?xml version="1.0"?>\n', f'<?xml version="1.0"?>\n{comment}\n'
        )
    )

    started = time.perf_counter()
    with pytest.raises(ListFormatError, match="declares a DTD"):
        list(iter_records(path, {"sdnEntry"}))
    assert time.perf_counter() - started < 2

    external = tmp_path / "external.xml"
    external.write_text(f"{comment}\n" + EXTERNAL_DTD.format(url=url).split("\n", 1)[1])
    with pytest.raises(ListFormatError, match="declares a DTD"):
        list(iter_records(external, {"ENTITY"}))
    assert requests == []


def test_records_are_cleared_as_they_are_read(tmp_path):
    path = tmp_path / "big.xml"
    with open(path, "w") as f:
        f.write("<sdnList>")
        for uid in range(20_000):
            f.write(f"<sdnEntry><uid>{uid}</uid><lastName>NAME {uid}</lastName></sdnEntry>")
        f.write("</sdnList>")

    root, largest, count = None, 0, 0
    for event, element in iter_records(path, {"sdnEntry"}):
        if event == "start":
            root = element
        else:
            count += 1
            largest = max(largest, len(root))
    # The tree holds what the parser has read ahead of us, never the records behind.
    assert count == 20_000
    assert largest < 2_000


def test_malformed_xml_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text("<sdnList><sdnEntry><uid>1</uid></sdnList>")

    with pytest.raises(ListFormatError, match="not well-formed XML"):
        list(iter_records(path, {"sdnEntry"}))
