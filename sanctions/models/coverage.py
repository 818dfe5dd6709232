"""The coverage pipeline: outlets, articles and their links to actions, archived
snapshots, fetch jobs, link checks and suggestions.
"""

import datetime
from urllib.parse import urlsplit

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .actions import LINK_STATUS_FIELDS, Action, ActionPartQuerySet, LinkStatus, Source
from .common import _one_of, public_change_triggers, refresh_visible_trigger, track_history
from .entities import Entity
from .reference import ActionStatus


class OutletQuerySet(models.QuerySet):
    def public(self):
        """Outlets of articles covering a published action."""
        return self.filter(pk__in=Article.objects.visible().values("outlet"))


@track_history()
class Outlet(models.Model):
    """A news or analysis publisher."""

    name = models.CharField(
        max_length=200, unique=True, help_text="The outlet's name as it signs, e.g. Reuters."
    )
    domain = models.CharField(
        max_length=200,
        blank=True,
        help_text="Its website's domain, without www., e.g. reuters.com.",
    )
    country = models.CharField(max_length=2, blank=True, help_text="Where it is based, ISO code.")

    objects = OutletQuerySet.as_manager()

    class Meta:
        triggers = public_change_triggers("outlet", "id")
        ordering = ["name"]

    def __str__(self):
        return self.name


def site_of(url: str) -> str:
    """The site a URL is on, without "www."."""
    return (urlsplit(url).hostname or "").removeprefix("www.")


class ArticleQuerySet(models.QuerySet):
    def visible(self):
        """Articles linked to at least one published action."""
        return self.filter(visible=True)

    public = visible

    def matching(self, query: str):
        """Articles whose headline or outlet contains the text, accents ignored."""
        return self.filter(
            models.Q(headline__unaccent__icontains=query)
            | models.Q(outlet__name__unaccent__icontains=query)
        )


@track_history(exclude=["search_document", "text", "visible", *LINK_STATUS_FIELDS])
class Article(LinkStatus):
    """A news or analysis item covering one or more actions."""

    url = models.URLField(max_length=2048, unique=True, help_text="Canonical URL, normalised.")
    headline = models.CharField(max_length=500, help_text="As the outlet published it.")
    outlet = models.ForeignKey(
        Outlet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="articles",
        help_text="Type the outlet's name; found from the URL when fetched.",
    )
    published_on = models.DateField(
        null=True, blank=True, help_text="The date the outlet gives; left empty when it gives none."
    )
    author = models.CharField(
        max_length=300, blank=True, help_text="Several authors separated by commas."
    )
    language = models.CharField(max_length=10, blank=True, help_text="BCP 47 tag, e.g. en.")
    excerpt = models.TextField(blank=True, help_text="The opening lines, shown under the headline.")
    text = models.TextField(
        blank=True, help_text="Main text as extracted, for search and suggestions; not public."
    )
    final_url = models.URLField(
        max_length=2048,
        blank=True,
        editable=False,
        help_text="Where the URL led when it was fetched, after redirects.",
    )
    is_copy = models.BooleanField(
        default=False,
        help_text="The URL is a copy on another site (a repost, a forum thread) of an article "
        "the outlet first published; readers are told so.",
    )
    headline_from_url = models.BooleanField(
        default=False,
        help_text="The headline was reconstructed from the URL, not read from the page.",
    )
    notes = models.TextField(blank=True, help_text="Shown to readers beside the article.")
    entities = models.ManyToManyField(
        Entity, blank=True, related_name="articles", help_text="Entities the article mentions."
    )
    search_document = models.GeneratedField(
        expression=SearchVector("headline", weight="A", config="english")
        + SearchVector("excerpt", weight="B", config="english")
        + SearchVector("text", weight="C", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    visible = models.BooleanField(
        default=False,
        db_default=False,
        editable=False,
        help_text="Covers at least one published action; kept by triggers.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        triggers = public_change_triggers("article", "id")
        # Newest first, undated ones last.
        ordering = [models.F("published_on").desc(nulls_last=True), "-pk"]
        indexes = [
            models.Index(fields=["-published_on", "-id"], name="article_date_idx"),
            # The public article list, in that order.
            models.Index(
                models.F("published_on").desc(nulls_last=True),
                models.F("id").desc(),
                condition=Q(visible=True),
                name="article_visible_date_idx",
            ),
            # Full-text search over articles.
            GinIndex(fields=["search_document"], name="article_document_gin"),
        ]

    def __str__(self):
        return self.headline

    @property
    def host(self) -> str:
        return site_of(self.url)


class ArticleEntity(Article.entities.through):
    """The entities an article names (Django's own table), for its triggers."""

    class Meta:
        proxy = True
        triggers = public_change_triggers("article", "article_id")


class CoverageRelation(models.TextChoices):
    """How an article stands to an action."""

    REPORTS = "reports", "Reports"
    ANALYSES = "analyses", "Analyses"
    REACTS = "reacts", "Reacts to"
    BACKGROUND = "background", "Background"


@track_history()
class Coverage(models.Model):
    """The link between an article and an action it covers."""

    action = models.ForeignKey(
        Action,
        on_delete=models.CASCADE,
        related_name="coverage",
        help_text="Type the action's title, an entity or a date.",
    )
    article = models.ForeignKey(
        Article,
        on_delete=models.PROTECT,
        related_name="coverage",
        help_text="Type the headline or the URL; paste new URLs on the action instead.",
    )
    relation = models.CharField(
        max_length=12,
        choices=CoverageRelation.choices,
        default=CoverageRelation.REPORTS,
        help_text="How the article stands to the action.",
    )

    objects = ActionPartQuerySet.as_manager()

    class Meta:
        ordering = ["action", "relation", "article__published_on"]
        verbose_name_plural = "coverage"
        triggers = [
            refresh_visible_trigger(
                "coverage_article_visible", "sanctions_refresh_visible_articles", "article_id"
            ),
            *public_change_triggers("part", "action_id"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["action", "article"], name="coverage_unique"),
        ]

    def __str__(self):
        return f"{self.article} {self.get_relation_display().lower()} {self.action}"


class SnapshotQuerySet(models.QuerySet):
    def public(self):
        """Snapshots of records the public may see."""
        return self.filter(
            Q(article__visible=True) | Q(source__action__status=ActionStatus.PUBLISHED)
        )


def archived_copies(lookup: str) -> models.Prefetch:
    """A prefetch of the snapshots at ``lookup`` ("snapshots", "sources__snapshots"),
    newest first, into each record's ``archived_copies`` list: a dead link shows the
    first (includes/link_status.html). A list, because a prefetch into the related
    manager clones a queryset for every record: 10 ms for an entity's 87 articles."""
    return models.Prefetch(lookup, queryset=Snapshot.objects.all(), to_attr="archived_copies")


@track_history()
class Snapshot(models.Model):
    """An archived copy of an article's or a source's page, exactly as fetched.

    Files are named by their SHA-256, so the same bytes are stored once.
    """

    article = models.ForeignKey(
        Article, on_delete=models.PROTECT, null=True, blank=True, related_name="snapshots"
    )
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, null=True, blank=True, related_name="snapshots"
    )
    file = models.FileField(upload_to="snapshots/", max_length=200)
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the file.")
    size = models.PositiveBigIntegerField(help_text="Bytes, after content decoding.")
    url = models.URLField(max_length=2048, help_text="The URL requested.")
    final_url = models.URLField(max_length=2048, help_text="The URL that answered.")
    status = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="HTTP status of the final response; empty for a copy an editor uploaded.",
    )
    content_type = models.CharField(max_length=100)
    fetched_at = models.DateTimeField(help_text="When it was fetched or uploaded.")

    objects = SnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["-fetched_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=_one_of("article", "source"), name="snapshot_one_record"
            ),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="snapshot_sha256_hex"
            ),
            # A repeated fetch of unchanged bytes adds no second snapshot.
            models.UniqueConstraint(
                fields=["article", "sha256"],
                condition=Q(article__isnull=False),
                name="snapshot_unique_article_sha256",
            ),
            models.UniqueConstraint(
                fields=["source", "sha256"],
                condition=Q(source__isnull=False),
                name="snapshot_unique_source_sha256",
            ),
        ]

    def __str__(self):
        return f"Snapshot of {self.final_url} at {self.fetched_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return reverse("snapshot_download", args=[self.pk])

    @property
    def download_name(self) -> str:
        extension = "pdf" if self.content_type == "application/pdf" else "html"
        return f"snapshot-{self.pk}-{self.sha256[:12]}.{extension}"


class FetchStatus(models.TextChoices):
    """Where a pasted URL stands."""

    QUEUED = "queued", "Queued"  # waiting for a worker, or for a retry after a transient failure
    FETCHING = "fetching", "Fetching"  # claimed by a worker at claimed_at
    DONE = "done", "Done"  # article stored and linked
    FAILED = "failed", "Failed"  # `reason` says why; pasting the URL again retries it


class FetchJobQuerySet(models.QuerySet):
    def claim(self, pk: int, *, stale_before: datetime.datetime) -> bool:
        """Take a queued job, or one whose claim is older than `stale_before`; False if taken.

        A worker killed mid-fetch leaves its job "fetching"; once the claim is older than
        the task's hard time limit no live worker can still hold it.
        """
        claimable = Q(status=FetchStatus.QUEUED) | Q(
            status=FetchStatus.FETCHING, claimed_at__lt=stale_before
        )
        return bool(
            self.filter(claimable, pk=pk).update(
                status=FetchStatus.FETCHING,
                claimed_at=timezone.now(),
                attempts=models.F("attempts") + 1,
            )
        )


@track_history()
class FetchJob(models.Model):
    """One URL an editor pasted, to be fetched, archived and linked to an action."""

    url = models.URLField(max_length=2048, help_text="The URL as pasted.")
    normalized_url = models.URLField(
        max_length=2048, help_text="Tracking parameters and fragment removed; the job's key."
    )
    action = models.ForeignKey(
        Action,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="fetch_jobs",
        help_text="The action the article is linked to when stored.",
    )
    status = models.CharField(
        max_length=10, choices=FetchStatus.choices, default=FetchStatus.QUEUED
    )
    reason = models.TextField(blank=True, help_text="Why the fetch failed or is retried.")
    attempts = models.PositiveSmallIntegerField(default=0)
    article = models.ForeignKey(
        Article, on_delete=models.PROTECT, null=True, blank=True, related_name="fetch_jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = FetchJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=FetchStatus.values), name="fetchjob_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=FetchStatus.FAILED) | ~Q(reason=""),
                name="fetchjob_failed_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status=FetchStatus.DONE) | Q(article__isnull=False),
                name="fetchjob_done_has_article",
            ),
            # Pasting the same URL again for the same action finds the job already there.
            models.UniqueConstraint(
                fields=["normalized_url", "action"],
                condition=Q(action__isnull=False),
                name="fetchjob_unique_url_action",
            ),
            models.UniqueConstraint(
                fields=["normalized_url"],
                condition=Q(action__isnull=True),
                name="fetchjob_unique_url_unlinked",
            ),
        ]

    def __str__(self):
        return f"{self.url} ({self.status})"

    def _leave_fetching(self, **fields) -> bool:
        """Move a claimed job on; False if another attempt already moved it."""
        updated = FetchJob.objects.filter(pk=self.pk, status=FetchStatus.FETCHING).update(**fields)
        if updated:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(updated)

    def finish(self, article: Article) -> bool:
        """Record the stored article."""
        return self._leave_fetching(
            status=FetchStatus.DONE, article=article, reason="", finished_at=timezone.now()
        )

    def fail(self, reason: str) -> bool:
        """Record why the URL could not be fetched or read."""
        return self._leave_fetching(
            status=FetchStatus.FAILED, reason=reason[:2000], finished_at=timezone.now()
        )

    def release(self, reason: str) -> bool:
        """Put a claimed job back in the queue after a transient failure."""
        return self._leave_fetching(status=FetchStatus.QUEUED, reason=reason[:2000])

    def complete(self, article: Article) -> bool:
        """Done by other means than fetching (an uploaded copy); False if already done."""
        updated = FetchJob.objects.exclude(status=FetchStatus.DONE).filter(pk=self.pk)
        fields = {"status": FetchStatus.DONE, "article": article, "reason": ""}
        if updated.update(**fields, finished_at=timezone.now()):
            for name, value in fields.items():
                setattr(self, name, value)
            return True
        return False

    def requeue(self) -> bool:
        """Queue a failed job again, when its URL is pasted again."""
        updated = FetchJob.objects.filter(pk=self.pk, status=FetchStatus.FAILED).update(
            status=FetchStatus.QUEUED, reason="", finished_at=None
        )
        if updated:
            self.status, self.reason, self.finished_at = FetchStatus.QUEUED, "", None
        return bool(updated)


class LinkCheck(models.Model):
    """One check of a source's or an article's URL. A log written in bulk: no history."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, null=True, blank=True, related_name="link_checks"
    )
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, null=True, blank=True, related_name="link_checks"
    )
    url = models.URLField(max_length=2048)
    checked_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="HTTP status, when the server answered."
    )
    final_url = models.URLField(max_length=2048, blank=True)
    reason = models.CharField(max_length=500, blank=True, help_text="Why the check failed.")

    class Meta:
        ordering = ["-checked_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=_one_of("article", "source"), name="linkcheck_one_record"
            ),
        ]
        indexes = [
            # A record's latest checks: when its run of failures began, the admin's list.
            models.Index(fields=["article", "-checked_at"], name="linkcheck_article_idx"),
            models.Index(fields=["source", "-checked_at"], name="linkcheck_source_idx"),
        ]

    def __str__(self):
        return f"{self.url} {'ok' if self.ok else 'failed'} at {self.checked_at:%Y-%m-%d %H:%M}"


class SuggestionStatus(models.TextChoices):
    """An editor's answer to a suggestion."""

    PENDING = "pending", "Pending"  # not yet seen
    ACCEPTED = "accepted", "Accepted"  # the link was made
    DISMISSED = "dismissed", "Dismissed"  # wrong; never suggested again


@track_history()
class Suggestion(models.Model):
    """An entity an article names, or an action it may cover, for an editor to confirm."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="suggestions")
    entity = models.ForeignKey(
        Entity, on_delete=models.CASCADE, null=True, blank=True, related_name="suggestions"
    )
    action = models.ForeignKey(
        Action, on_delete=models.CASCADE, null=True, blank=True, related_name="suggestions"
    )
    matched_name = models.CharField(
        max_length=300, help_text="The entity name or alias found in the article's text."
    )
    status = models.CharField(
        max_length=10, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=_one_of("entity", "action"), name="suggestion_one_target"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SuggestionStatus.values), name="suggestion_status_valid"
            ),
            models.UniqueConstraint(
                fields=["article", "entity"],
                condition=Q(entity__isnull=False),
                name="suggestion_unique_entity",
            ),
            models.UniqueConstraint(
                fields=["article", "action"],
                condition=Q(action__isnull=False),
                name="suggestion_unique_action",
            ),
        ]
        indexes = [
            # The editors' queue: pending suggestions, newest first.
            models.Index(
                fields=["-created_at"],
                condition=Q(status="pending"),
                name="suggestion_pending_idx",
            ),
        ]

    def __str__(self):
        target = self.entity or self.action
        return f"{self.article} → {target}"

    def _decide(self, status: str) -> bool:
        now = timezone.now()
        updated = Suggestion.objects.filter(pk=self.pk, status=SuggestionStatus.PENDING).update(
            status=status, decided_at=now
        )
        if updated:
            self.status, self.decided_at = status, now
        return bool(updated)

    def accept(self) -> bool:
        """Make the suggested link: the entity is mentioned, or the article reports the action."""
        with transaction.atomic():
            if not self._decide(SuggestionStatus.ACCEPTED):
                return False
            if self.entity_id is not None:
                self.article.entities.add(self.entity_id)
            else:
                Coverage.objects.get_or_create(
                    action_id=self.action_id,
                    article_id=self.article_id,
                    defaults={"relation": CoverageRelation.REPORTS},
                )
        return True

    def dismiss(self) -> bool:
        """Reject the suggestion; it is kept so it is not suggested again."""
        return self._decide(SuggestionStatus.DISMISSED)


# E-mail alerts (sanctions/alerts.py): a visitor, without an account, follows a filter of
# the action list and hears of newly published actions that match it.

# The longest filter a subscription may hold, as a query string: room for every filter.
