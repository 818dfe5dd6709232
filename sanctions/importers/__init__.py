"""Importers of official sanctions lists, one module per file format.

`ofac_csv`, `ofac_xml` and `un_xml` read a file into `lists.Entry` records; `lists` stores
them as an ImportRun and compares the run with the list's previous one; `proposals`
drafts actions from the changes.
`ftm` imports FollowTheMoney entities. `python manage.py import_list FORMAT FILE...` runs
any of them.
"""

from sanctions import demo, record

from . import ftm, ofac_csv, ofac_xml, un_xml

# FORMAT -> import function. The official lists' importers take the file (ofac-sdn-csv:
# a list of files) and return an ImportRun; ftm's takes a file and returns counts;
# record-json (a copy of a public record, /exports/record.json) is read as the demo is.
IMPORTERS = {
    ofac_csv.FORMAT: ofac_csv.import_csv,
    ofac_xml.FORMAT: ofac_xml.import_xml,
    un_xml.FORMAT: un_xml.import_xml,
    "ftm": ftm.import_ftm,
    record.FORMAT: demo.load_demo,
}
# The formats of official lists, which `sanctions.tasks.import_list_url` can import.
LIST_FORMATS = (ofac_csv.FORMAT, ofac_xml.FORMAT, un_xml.FORMAT)
