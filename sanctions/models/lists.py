"""Official list imports: each run, the entries a list held and the changes between runs,
and the draft actions proposed from them.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from .actions import Action
from .common import track_history
from .entities import Entity


class ListName(models.TextChoices):
    """An official list the importers follow; each run is compared with the last of its list."""

    OFAC_SDN = "ofac_sdn", "OFAC SDN List"
    OFAC_CONSOLIDATED = "ofac_consolidated", "OFAC Consolidated (non-SDN) List"
    UN_CONSOLIDATED = "un_consolidated", "UN Security Council Consolidated List"


class ImportStatus(models.TextChoices):
    """Where an import run stands; a failed run changed nothing but its own record."""

    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class ImportRunQuerySet(models.QuerySet):
    def completed(self):
        """Runs whose entries were stored."""
        return self.filter(status=ImportStatus.COMPLETED)

    def last_completed(self, list_name: str):
        """The latest completed run of a list, or None."""
        return self.completed().filter(list_name=list_name).order_by("-pk").first()


@track_history()
class ImportRun(models.Model):
    """One import of an official list file: what was read, what it changed, how it ended."""

    list_name = models.CharField(max_length=30, choices=ListName.choices)
    format = models.CharField(max_length=20, help_text="The importer, e.g. ofac-sdn-csv.")
    files = models.JSONField(default=list, help_text="Each file read: name, size, SHA-256.")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the main file.")
    published_on = models.DateField(
        null=True, blank=True, help_text="The list's date as the file (or its name) gives it."
    )
    declared_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="The record count the file states, where it states one."
    )
    entry_count = models.PositiveIntegerField(null=True, blank=True, help_text="Entries read.")
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    error = models.TextField(blank=True, help_text="Why the run failed or was refused.")
    forced = models.BooleanField(default=False, help_text="Imported despite the sanity checks.")
    previous = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The completed run this one was compared with; none for a baseline.",
    )
    created = models.PositiveIntegerField(default=0, help_text="Entities created.")
    updated = models.PositiveIntegerField(
        default=0, help_text="Entries changed, or linked to an entity that already existed."
    )
    unchanged = models.PositiveIntegerField(default=0, help_text="Entries read as before.")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportRunQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(list_name__in=ListName.values), name="importrun_list_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values), name="importrun_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=ImportStatus.FAILED) | ~Q(error=""),
                name="importrun_failed_has_reason",
            ),
        ]
        indexes = [
            # The last completed run of a list: the baseline of the next one.
            models.Index(
                fields=["list_name", "-id"],
                condition=Q(status="completed"),
                name="importrun_completed_idx",
            ),
        ]

    def __str__(self):
        day = f"{self.published_on:%Y-%m-%d}" if self.published_on else "undated"
        return f"{self.get_list_name_display()} {day} (run {self.pk}, {self.status})"


class ListEntry(models.Model):
    """An entry of an official list as the latest completed run of that list read it.

    One row per entry, updated in place, rather than one per entry per run: a daily SDN
    import would otherwise store 15,000 rows with their raw records each time to say
    "unchanged". What each run changed is kept in ListChange, so any run can still be set
    against the one before it. Written in bulk by the importers, so not history-tracked.
    """

    list_name = models.CharField(max_length=30, choices=ListName.choices)
    number = models.CharField(max_length=50, help_text="OFAC entry number, UN reference number.")
    name = models.TextField(help_text="The primary name as the list prints it.")
    entry_type = models.CharField(max_length=20, help_text="individual, entity, vessel, aircraft")
    programs = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    listed_on = models.DateField(null=True, blank=True, help_text="Where the list gives it.")
    raw = models.JSONField(help_text="The source record as the file gave it.")
    # SHA-256 of `raw`, so a run counts unchanged entries without comparing records.
    digest = models.CharField(max_length=64)
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="list_entries")
    added_by = models.ForeignKey(ImportRun, on_delete=models.PROTECT, related_name="+")
    removed_by = models.ForeignKey(
        ImportRun,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The run in whose file the entry was missing; empty while listed.",
    )

    class Meta:
        ordering = ["list_name", "number"]
        verbose_name_plural = "list entries"
        constraints = [
            # Its index also serves each run's comparison, a join on (list_name, number).
            models.UniqueConstraint(fields=["list_name", "number"], name="listentry_unique"),
        ]

    def __str__(self):
        return f"{self.get_list_name_display()} {self.number}: {self.name}"


class ChangeKind(models.TextChoices):
    """What a run changed in an entry, against the previous completed run."""

    ADDED = "added", "Added"  # new to the list, or listed again after a removal
    REMOVED = "removed", "Removed"
    PROGRAMS = "programs", "Programs changed"


class ListChange(models.Model):
    """One entry's change between a run and the previous completed run of its list."""

    run = models.ForeignKey(ImportRun, on_delete=models.PROTECT, related_name="changes")
    entry = models.ForeignKey(ListEntry, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=10, choices=ChangeKind.choices)
    name = models.TextField(help_text="The entry's name in this run.")
    programs_before = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    programs_after = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    action = models.ForeignKey(
        Action,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="list_changes",
        help_text="The action proposed for it, or the action it was attached to.",
    )

    class Meta:
        ordering = ["run", "kind", "entry__number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "entry"], name="listchange_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=ChangeKind.values), name="listchange_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.name}"


class ProposedAction(Action):
    """A draft action a list import proposed, for an editor to review, attach or publish."""

    class Meta:
        proxy = True

    def attach_to(self, action: Action) -> None:
        """Move the proposal's designations and sources onto an action already entered.

        Entities the action already names keep the editor's designation. The emptied
        proposal is deleted; its list changes then point at the action.
        """
        if self.proposed_by_id is None or self.is_published:
            raise ValueError("only a draft proposed by a list import can be attached")
        if action.pk == self.pk:
            raise ValueError("a proposal cannot be attached to itself")
        with transaction.atomic():
            named = action.designations.values_list("entity_id", flat=True)
            offset = action.designations.aggregate(last=models.Max("position"))["last"]
            self.designations.exclude(entity_id__in=list(named)).update(
                action=action, position=models.F("position") + (offset or 0) + 1
            )
            self.sources.update(action=action)
            self.list_changes.update(action=action)
            self.delete()


# News coverage pipeline: pasted URLs become fetch jobs; a worker fetches each, archives a
# snapshot and stores the article (sanctions/coverage.py, sanctions/tasks.py).
