"""Back up the database and the media folder: python manage.py backup [FILE]."""

import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sanctions.backups import BackupError, write_backup


class Command(BaseCommand):
    help = (
        "Write one file holding the whole database (pg_dump custom format), the media folder"
        " (snapshots, export dumps) and a manifest of their SHA-256s and row counts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file",
            nargs="?",
            type=Path,
            help="Where to write it (default: var/backups/tracker-<UTC time>.tar).",
        )

    def handle(self, *args, file, **options):
        if file is None:
            now = datetime.datetime.now(datetime.UTC)
            file = Path(settings.VAR_DIR) / "backups" / f"tracker-{now:%Y%m%dT%H%M%SZ}.tar"
        try:
            manifest = write_backup(file)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        rows = sum(manifest["row_counts"].values())
        self.stdout.write(
            f"{file}: {len(manifest['row_counts'])} tables, {rows} rows,"
            f" {len(manifest['media'])} media files."
        )
