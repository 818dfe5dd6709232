"""Importers of official sanctions lists, one module per file format, and of other files.

The list formats (`ofac_csv`, `ofac_xml`, `un_xml`) read a file into `reading.Entry`
records; `storing` stores them as an ImportRun and compares the run with the list's
previous one; `proposals` drafts actions from the changes. Each list format module has
the same small interface, and `import_list()` is the one way in:

- ``FORMAT``: its name (the command's FORMAT, ImportRun.format);
- ``MANY_FILES``: whether one import takes several files (OFAC's sdn.csv, add.csv, alt.csv);
- ``URLS``: {list name: URL} of the lists published in it, which `refresh_lists` downloads;
- ``import_run(paths, *, list_name=None, published_on=None, force=False, progress=True,
  source_url="")``: the ImportRun, or ImportFailed saying why not.

`ftm` imports FollowTheMoney entities, and a record.json (a copy of a public record) is
read as the demo is: `python manage.py import_list FORMAT FILE...` runs any of them.
"""

from pathlib import Path

from django.conf import settings

from sanctions import demo, ftm_mapping, record
from sanctions.models import ImportRun

from . import ofac_csv, ofac_xml, un_xml
from .reading import ImportRefused, ListFormatError

try:
    from .ftm import import_ftm
except ModuleNotFoundError as missing:  # followthemoney needs PyICU (requirements-ftm.txt)
    if missing.name.partition(".")[0] not in ftm_mapping.FTM_PACKAGES:
        raise
    reason = str(missing)

    def import_ftm(path, **options):
        raise ListFormatError(
            f"reading FollowTheMoney files needs followthemoney, which is not installed"
            f" ({reason}): pip install -r requirements-ftm.lock, which builds PyICU"
            " with a C++ compiler and the ICU headers"
        )


LIST_FORMATS = {module.FORMAT: module for module in (ofac_csv, ofac_xml, un_xml)}
# Other imports, of whole records rather than of a list: FORMAT -> import function.
RECORD_FORMATS = {"ftm": import_ftm, record.FORMAT: demo.load_demo}


def import_list(format: str, paths: list[Path], **options) -> ImportRun:
    """Import an official list's file(s) in `format`: stored as a run, compared with the
    list's previous run, actions proposed. `options` are import_run()'s."""
    module = LIST_FORMATS[format]
    if len(paths) != 1 and not module.MANY_FILES:
        raise ImportRefused(f"{format} takes one file")
    return module.import_run(list(paths), **options)


def list_urls() -> dict[str, tuple[str, str]]:
    """List name -> (format, URL) of every list `refresh_lists` downloads: the formats'
    own URLs, or settings.SANCTIONS_LIST_URLS (a mirror, a test server) in their place."""
    if settings.SANCTIONS_LIST_URLS:
        return settings.SANCTIONS_LIST_URLS
    return {
        name: (module.FORMAT, url)
        for module in LIST_FORMATS.values()
        for name, url in module.URLS.items()
    }
