"""Write the full export files and their manifest: python manage.py export_dumps."""

from django.core.management.base import BaseCommand

from sanctions.exports import write_dumps


class Command(BaseCommand):
    help = (
        "Write every export (actions.csv, entities.csv, actions.json, and ftm.jsonl where"
        " followthemoney is installed) unfiltered into storage with a manifest, for /exports/"
        " to list and serve. Run it periodically."
    )

    def handle(self, *args, **options):
        manifest = write_dumps()
        for file in manifest["files"]:
            self.stdout.write(f"{file['path']}: {file['records']} records, {file['size']} bytes")
