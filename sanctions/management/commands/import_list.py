"""Import an official list: python manage.py import_list FORMAT FILE... [--force]."""

import datetime
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sanctions import record
from sanctions.importers import LIST_FORMATS, RECORD_FORMATS, import_list
from sanctions.importers.reading import ImportFailed, ListFormatError
from sanctions.models import Action, ChangeKind, ListName

OFAC_LISTS = {"sdn": ListName.OFAC_SDN, "consolidated": ListName.OFAC_CONSOLIDATED}


class Command(BaseCommand):
    help = (
        "Import an official list file, compare it with the list's previous import and"
        " propose draft actions for what changed. ofac-sdn-csv takes sdn.csv with optional"
        " add.csv and alt.csv; the other formats take one file."
    )

    def add_arguments(self, parser):
        parser.add_argument("format", choices=sorted([*LIST_FORMATS, *RECORD_FORMATS]))
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Import a file older than the last import, or whose size jumped.",
        )
        parser.add_argument(
            "--published-on",
            type=datetime.date.fromisoformat,
            metavar="YYYY-MM-DD",
            help="The date the list was published: required for a CSV file without a date"
            " in its name; for an XML file, used only if the file states none.",
        )
        parser.add_argument(
            "--list",
            dest="ofac_list",
            choices=sorted(OFAC_LISTS),
            help="Which OFAC list the file is (default: consolidated if its name starts"
            " with 'cons' or contains 'consolidated', else sdn).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, format, files, force, published_on, ofac_list, no_progress, **options):
        for path in files:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        progress = not no_progress and options["verbosity"] > 0 and sys.stderr.isatty()
        if format == record.FORMAT:
            importer = RECORD_FORMATS[format]
            if Action.objects.exists():
                raise CommandError(
                    "record-json is read into an empty database: its keys are another"
                    " site's ids, which would overwrite this one's records"
                )
            for path in files:
                try:
                    counts = importer(path=path)
                except (ValueError, KeyError) as exc:
                    raise CommandError(f"{path.name}: not a record file: {exc}") from None
                conflicts = counts.pop("conflicts")
                summary = ", ".join(f"{count} {key}" for key, count in counts.items())
                self.stdout.write(f"{path.name}: {summary}")
                for conflict in conflicts:
                    self.stdout.write(f"  left as an editor made it: {conflict}")
            return
        if format == "ftm":
            importer = RECORD_FORMATS[format]
            for path in files:
                try:
                    counts = importer(path, stdout=self.stdout, progress=progress)
                except ListFormatError as exc:
                    raise CommandError(str(exc)) from None
                summary = ", ".join(f"{count} {key}" for key, count in counts.items())
                self.stdout.write(f"{path.name}: {summary}")
            return

        import_options = {"force": force, "progress": progress, "published_on": published_on}
        if ofac_list:
            import_options["list_name"] = OFAC_LISTS[ofac_list]
        try:
            run = import_list(format, files, **import_options)
        except ImportFailed as exc:
            run = getattr(exc, "run", None)
            recorded = f" (run {run.pk} recorded as failed)" if run is not None else ""
            raise CommandError(f"import refused{recorded}: {exc}") from None
        self.stdout.write(describe(run))


def describe(run) -> str:
    """One line on what a completed run read and changed."""
    changes = {kind: run.changes.filter(kind=kind).count() for kind in ChangeKind}
    day = f"{run.published_on:%Y-%m-%d}" if run.published_on else "undated"
    text = (
        f"Run {run.pk} ({run.get_list_name_display()}, {day}): {run.entry_count} entries;"
        f" {run.created} entities created, {run.updated} updated, {run.unchanged} unchanged."
    )
    if run.previous_id is None:
        return text + " First import of this list: recorded as its baseline."
    return text + (
        f" Against run {run.previous_id}: {changes[ChangeKind.ADDED]} added,"
        f" {changes[ChangeKind.REMOVED]} removed,"
        f" {changes[ChangeKind.PROGRAMS]} with changed programs;"
        f" {run.proposals.count()} actions proposed."
    )
