"""Check the links of public sources and articles once, as the periodic task does."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from sanctions import coverage


class Command(BaseCommand):
    help = (
        "Check the URLs of published sources and articles not checked recently; "
        "mark a link dead after LINK_DEAD_AFTER failures in a row."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all", action="store_true", help="Check every link now, however recently checked."
        )

    def handle(self, *args, all, **options):
        due_before = timezone.now() if all else coverage.link_check_due_before()
        counts = {"ok": 0, "failed": 0, "dead": 0}
        for kind, pk in coverage.due_links(due_before=due_before):
            check = coverage.check_due_link(kind=kind, pk=pk, due_before=due_before)
            if check is None:
                continue  # checked meanwhile by a worker
            record = check.article or check.source
            if check.ok:
                counts["ok"] += 1
                continue
            counts["failed"] += 1
            dead = record.link_is_dead
            counts["dead"] += dead
            state = "dead" if dead else f"failed {record.link_failures}x"
            self.stdout.write(f"{kind} {pk} {state}: {check.url} ({check.reason})")
        total = counts["ok"] + counts["failed"]
        self.stdout.write(
            f"Checked {total} link(s): {counts['ok']} ok, {counts['failed']} failed, "
            f"{counts['dead']} of them dead."
        )
