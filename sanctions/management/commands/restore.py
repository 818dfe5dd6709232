"""Restore a backup into an empty database: python manage.py restore FILE."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sanctions.backups import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a file written by `backup` into the configured database, which must be"
        " empty, and the media folder; check every member's SHA-256 and every table's"
        " row count."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            manifest = restore_backup(file)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Restored the backup of {manifest['created_at']}:"
            f" {len(manifest['row_counts'])} tables, {len(manifest['media'])} media files."
        )
