"""Load the bundled real dataset; safe to run again (`make run` does, on every start)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from sanctions.demo import DEFAULT_PATH, load_demo


class Command(BaseCommand):
    help = "Load the demo dataset of real sanctions actions; loading twice changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="Dataset file.")

    def handle(self, *args, path, **options):
        counts = load_demo(path=path)
        self.stdout.write(
            f"Demo data from {path.name}: {counts['actions']} actions, {counts['entities']} "
            f"entities, {counts['articles']} articles; {counts['created']} rows created, "
            f"{counts['updated']} updated, {counts['unchanged']} unchanged."
        )
