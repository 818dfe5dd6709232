"""Load the bundled real dataset; safe to run again."""

from pathlib import Path

from django.core.management.base import BaseCommand

from sanctions.demo import DEFAULT_PATH, load_demo
from sanctions.models import Action


class Command(BaseCommand):
    help = "Load the demo dataset of real sanctions actions; loading twice changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="Dataset file.")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load only into a database without actions (make run: editors' changes stay).",
        )

    def handle(self, *args, path, if_empty, **options):
        if if_empty and Action.objects.exists():
            self.stdout.write("Demo data: the database already has actions; left as it is.")
            return
        counts = load_demo(path=path)
        self.stdout.write(
            f"Demo data from {path.name}: {counts['actions']} actions, {counts['entities']} "
            f"entities, {counts['articles']} articles; {counts['created']} rows created, "
            f"{counts['updated']} updated, {counts['unchanged']} unchanged."
        )
        if counts["conflicts"]:
            self.stdout.write(
                f"{len(counts['conflicts'])} record(s) changed by editors were left as they are:"
            )
            for conflict in counts["conflicts"]:
                self.stdout.write(f"  {conflict}")
