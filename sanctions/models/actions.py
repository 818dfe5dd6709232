"""The public record's unit: the Action (one announcement by one authority on one
date), its designations and official sources, and the change logs of what the public
sees.
"""

import pgtrigger
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, ExpressionWrapper, OuterRef, Q, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from ..links import record_path
from .common import (
    actions_change_triggers,
    count_of,
    public_change_triggers,
    refresh_action_trigger,
    refresh_visible_trigger,
    track_history,
)
from .entities import Entity
from .reference import (
    LIFTING_KINDS,
    UNSHOWN_ACTION_FIELDS,
    UNSHOWN_ARTICLE_FIELDS,
    UNSHOWN_ENTITY_FIELDS,
    ActionKind,
    ActionStatus,
    Authority,
    DesignationRole,
    LegalBasis,
    Program,
    Regime,
    designation_effect,
)


class ActionQuerySet(models.QuerySet):
    def published(self):
        """Actions the public may see."""
        return self.filter(status=ActionStatus.PUBLISHED)

    def with_details(self, *, lists=False):
        """Actions with their legal bases, programs, designations, sources and coverage
        prefetched, each in the order an action's page shows them, and `partial`.

        With ``lists``, all but the designations go into list attributes
        (``legal_bases_list``, ...) instead of the related managers: a prefetch into a
        manager clones a queryset per action, 500 clones (70 ms) for a page of 100.
        """

        def prefetch(lookup, queryset=None):
            return models.Prefetch(
                lookup, queryset=queryset, to_attr=f"{lookup}_list" if lists else None
            )

        return (
            self.with_partial()
            .select_related("authority")
            .prefetch_related(
                prefetch("other_authorities"),
                prefetch("legal_bases"),
                prefetch("programs"),
                # The joined rows without what no action's page or API answer shows: long
                # texts, search vectors, and timestamps (each costs Django ~30 µs to load).
                models.Prefetch(
                    "designations",
                    queryset=Designation.objects.select_related("entity", "legal_basis")
                    .defer(*(f"entity__{field}" for field in UNSHOWN_ENTITY_FIELDS))
                    .order_by("position", "pk"),
                ),
                prefetch("sources", Source.objects.order_by("published_on", "pk")),
                prefetch(
                    "coverage",
                    Coverage.objects.select_related("article__outlet")
                    .defer(*(f"article__{field}" for field in UNSHOWN_ARTICLE_FIELDS))
                    .order_by("article__published_on", "article_id"),
                ),
            )
        )

    def with_partial(self):
        """Each action with `partial` (``is_partial``), counted only for the actions that
        say how many entities their announcement names."""
        return self.annotate(
            partial=Case(
                When(announced_entity_count__isnull=True, then=Value(False)),
                default=ExpressionWrapper(is_partial(), output_field=models.BooleanField()),
            )
        )

    def same_announcement(self, action: "Action", entity_ids):
        """Other actions by the action's authority on its date that share an entity or a
        document number with it: most likely the same announcement entered twice."""
        shared = Q(designations__entity__in=entity_ids)
        if action.document_numbers:
            shared |= Q(document_numbers__overlap=action.document_numbers)
        return (
            self.filter(shared, authority_id=action.authority_id, announced_on=action.announced_on)
            .exclude(pk=action.pk)
            .distinct()
            .order_by("pk")
        )

    def for_list(self):
        """Published actions with what a list row shows, newest first. The short names of
        their legal bases and the codes of their programs come in the same query, as
        arrays in their models' order, as an action's page shows them (two prefetches
        cost a page of twenty rows more than the rows do)."""
        programs = ActionProgram.objects.filter(action=OuterRef("pk")).order_by(
            *(f"program__{field}" for field in Program._meta.ordering)
        )
        return (
            self.published()
            .select_related("authority")
            .annotate(
                entity_count=count_of(Designation.objects.all(), "action"),
                legal_basis_names=legal_basis_names("pk"),
                program_codes=ArraySubquery(programs.values("program__code")),
            )
            .order_by("-announced_on", "-pk")
        )


def legal_basis_names(action: str) -> ArraySubquery:
    """The short names of an action's legal bases, in LegalBasis's order (as its page
    shows them), as an array column; ``action`` names the outer query's action id
    ("pk", "action_id")."""
    bases = ActionLegalBasis.objects.filter(action=OuterRef(action)).order_by(
        *(f"legalbasis__{field}" for field in LegalBasis._meta.ordering)
    )
    return ArraySubquery(bases.values("legalbasis__short_name"))


def shown_publicly(obj: models.Model) -> bool:
    """Whether the public sees the record: a published action, or a record one shows
    (its entities, their names, its reference data, its coverage and outlets). Such a
    record changes only through review."""
    return type(obj).objects.public().filter(pk=obj.pk).exists()


# Action fields for editors and reviewers only: no page, feed, export, API or public
# history shows them.
EDITOR_ONLY_FIELDS = {"editor_notes"}


def recorded_entities():
    """An action's recorded entities as an annotation: those named only, aside."""
    return count_of(Designation.objects.exclude(role=DesignationRole.NAMED), "action")


def is_partial() -> Q:
    """The announcement names more entities than the action records."""
    return Q(announced_entity_count__gt=recorded_entities())


@track_history(exclude=["search_vector", "countries"])
class Action(models.Model):
    """One announcement by one authority on one date."""

    title = models.CharField(
        max_length=300,
        help_text="A short factual title, e.g. State designates four entities under E.O. 13382.",
    )
    kind = models.CharField(
        max_length=30,
        choices=ActionKind.choices,
        help_text="What the announcement does; a removal or waiver lifts measures.",
    )
    status = models.CharField(
        max_length=10, choices=ActionStatus.choices, default=ActionStatus.DRAFT
    )
    authority = models.ForeignKey(
        Authority,
        on_delete=models.PROTECT,
        related_name="actions",
        help_text="The authority the announcement is filed under (the `authority` filter).",
    )
    other_authorities = models.ManyToManyField(
        Authority,
        blank=True,
        related_name="joint_actions",
        help_text="Other authorities that made the announcement jointly (OFAC and State).",
    )
    regime = models.CharField(
        max_length=20,
        choices=Regime.choices,
        blank=True,
        help_text="The list or measures regime acted on; status is derived per regime.",
    )
    legal_bases = models.ManyToManyField(
        LegalBasis,
        blank=True,
        related_name="actions",
        help_text="The laws or orders the announcement cites; type to find one.",
    )
    legal_basis_not_stated = models.BooleanField(
        default=False,
        help_text="The announcement cites no legal basis; the page says so.",
    )
    programs = models.ManyToManyField(
        Program,
        blank=True,
        related_name="actions",
        help_text="The list program tags the entries carry, e.g. NPWMD.",
    )
    announced_on = models.DateField(help_text="Date of the announcement.")
    effective_on = models.DateField(
        null=True, blank=True, help_text="Date the measure took effect."
    )
    gazetted_on = models.DateField(
        null=True, blank=True, help_text="Federal Register / Official Journal publication date."
    )
    ends_on = models.DateField(
        null=True,
        blank=True,
        help_text="Date the measures end by themselves (INKSNA: two years on; EU: the review "
        "date); not in force from that day. Early termination is an action of its own.",
    )
    document_numbers = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text="Federal Register citations, docket or regulation numbers; comma-separated.",
    )
    summary = models.TextField(
        blank=True,
        help_text="What was announced and why, in the announcement's terms; shown first.",
    )
    notes = models.TextField(
        blank=True, help_text="Evidence and caveats, for researchers (public)."
    )
    source_unconfirmed = models.TextField(
        blank=True,
        help_text="Public note when no official source URL is confirmed yet: what is known "
        "of the source and where the facts come from.",
    )
    announced_entity_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How many entities the announcement names, where more than are recorded.",
    )
    editor_notes = models.TextField(
        blank=True, help_text="For editors and reviewers only; never shown to the public."
    )
    reference = models.SlugField(
        max_length=100, unique=True, null=True, blank=True, help_text="Stable external key."
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    proposed_by = models.ForeignKey(
        "ImportRun",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="proposals",
        help_text="The list import that proposed this action.",
    )
    search_vector = SearchVectorField(
        null=True,
        editable=False,
        help_text="Title (A), summary (B), designations and source titles (C); kept by triggers.",
    )
    subject_countries = ArrayField(
        models.CharField(max_length=2),
        default=list,
        blank=True,
        help_text="Countries whose programs the action addresses, e.g. PK for suppliers to "
        "Pakistan's missile program; ISO codes, comma-separated.",
    )
    countries = ArrayField(
        models.CharField(max_length=2),
        default=list,
        editable=False,
        help_text="Subject countries and those of its entities; kept by triggers.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ActionQuerySet.as_manager()

    class Meta:
        ordering = ["-announced_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ActionKind.values), name="action_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ActionStatus.values), name="action_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=ActionStatus.DRAFT) | Q(published_at__isnull=False),
                name="action_published_has_time",
            ),
        ]
        indexes = [
            # The public lists: published actions, newest first, optionally by authority.
            models.Index(
                fields=["-announced_on", "-id"],
                condition=Q(status="published"),
                name="action_published_date_idx",
            ),
            models.Index(fields=["authority", "-announced_on"], name="action_authority_date_idx"),
            # Full-text search over actions.
            GinIndex(fields=["search_vector"], name="action_search_gin"),
            # The country filter and facet: countries @> ARRAY['PK'].
            GinIndex(fields=["countries"], name="action_countries_gin"),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="action_derived_columns",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert
                | pgtrigger.UpdateOf("title", "summary", "subject_countries"),
                func="""
                    NEW.search_vector := sanctions_action_document(NEW.id, NEW.title, NEW.summary);
                    NEW.countries := sanctions_action_countries(NEW.id, NEW.subject_countries);
                    RETURN NEW;
                """,
            ),
            pgtrigger.Trigger(
                name="action_publication_reach",
                when=pgtrigger.After,
                operation=pgtrigger.UpdateOf("status"),
                condition=pgtrigger.Q(old__status__df=pgtrigger.F("new__status")),
                func="""
                    PERFORM sanctions_refresh_visible_entities(ARRAY(
                        SELECT entity_id FROM sanctions_designation WHERE action_id = NEW.id));
                    PERFORM sanctions_refresh_visible_articles(ARRAY(
                        SELECT article_id FROM sanctions_coverage WHERE action_id = NEW.id));
                    RETURN NULL;
                """,
            ),
            *public_change_triggers("action", "id"),
            *actions_change_triggers("id"),
        ]
        permissions = [("publish_action", "Can publish and unpublish actions")]

    def __str__(self):
        return f"{self.announced_on:%Y-%m-%d} {self.authority.short_name}: {self.title}"

    def get_absolute_url(self):
        return record_path("action_detail", self.pk)

    @property
    def is_published(self):
        return self.status == ActionStatus.PUBLISHED

    def publication_problems(self) -> list[str]:
        """What the action lacks to be published, in words for the editor; empty if none."""
        problems = []
        has_legal_basis = self.legal_bases.exists()
        if not has_legal_basis and not self.legal_basis_not_stated:
            problems.append(
                "no legal basis: add one, or tick “legal basis not stated” if the"
                " announcement cites none"
            )
        if has_legal_basis and self.legal_basis_not_stated:
            problems.append("a legal basis is given and “legal basis not stated” is ticked")
        designations = list(self.designations.select_related("entity"))
        unnamed = [
            d.entity.name
            for d in designations
            if d.role == DesignationRole.LISTED and not d.name_as_listed.strip()
        ]
        if unnamed:
            problems.append(f"the name as listed is missing for {', '.join(unnamed)}")
        acting = [d for d in designations if designation_effect(self.kind, d.role)]
        if acting and not self.regime and any(not d.regime for d in acting):
            problems.append("no regime: say which list or measures the action acts on")
        if self.kind in LIFTING_KINDS and designations and not acting:
            problems.append(
                "a removal that removes nothing: mark the entities it ends measures for"
                " as “Removed”"
            )
        start = self.effective_on or self.announced_on
        ends = [self.ends_on, *(d.ends_on for d in designations)]
        if start and any(end is not None and end <= start for end in ends):
            problems.append("a scheduled end on or before the day the measures took effect")
        if not self.sources.exclude(url="").exists() and not self.source_unconfirmed.strip():
            problems.append(
                "no official source with a URL: add one, or explain in “official source"
                " not yet confirmed”"
            )
        return problems

    @property
    def recorded_entity_count(self) -> int:
        """Entities recorded as listed, removed, amended or identified (as
        ``recorded_entities`` counts them), from the prefetched designations."""
        return self.recorded_count(d.role for d in self.designations.all())

    @staticmethod
    def recorded_count(roles) -> int:
        """How many of an action's designations, given by role, record an entity."""
        return sum(1 for role in roles if role != DesignationRole.NAMED)

    @property
    def authorities(self) -> list[Authority]:
        """Every authority that made the announcement, the one it is filed under first;
        the others as a prefetch into ``other_authorities_list`` gave them, if one did."""
        others = getattr(self, "other_authorities_list", None)
        if others is None:
            others = self.other_authorities.all()
        others = sorted(others, key=lambda a: a.name)
        return [self.authority, *(a for a in others if a.pk != self.authority_id)]

    def publish(self):
        """Make the action public; raise IncompleteAction if it lacks what publishing needs."""
        if problems := self.publication_problems():
            raise IncompleteAction(self, problems)
        if not self.is_published:
            self.status = ActionStatus.PUBLISHED
            self.published_at = timezone.now()
            self.save(update_fields=["status", "published_at", "updated_at"])

    def unpublish(self):
        """Return the action to draft."""
        if self.is_published:
            self.status = ActionStatus.DRAFT
            self.published_at = None
            self.save(update_fields=["status", "published_at", "updated_at"])


# The links of actions to their other authorities, legal bases and programs are
# Django's own tables; these proxies give them their triggers.
class ActionOtherAuthority(Action.other_authorities.through):
    class Meta:
        proxy = True
        triggers = public_change_triggers("part", "action_id")


class ActionLegalBasis(Action.legal_bases.through):
    class Meta:
        proxy = True
        triggers = [
            *public_change_triggers("part", "action_id"),
            *actions_change_triggers("action_id"),
        ]


class ActionProgram(Action.programs.through):
    class Meta:
        proxy = True
        triggers = [
            *public_change_triggers("part", "action_id"),
            *actions_change_triggers("action_id"),
        ]


class IncompleteAction(ValidationError):
    """Publishing refused: the action lacks what a public record needs."""

    def __init__(self, action: Action, problems: list[str]):
        self.action = action
        self.problems = problems
        super().__init__(f"“{action.title}” was not published: {'; '.join(problems)}.")


class ActionPartQuerySet(models.QuerySet):
    """Rows that belong to an action: designations, coverage."""

    def published(self):
        """Those of published actions."""
        return self.filter(action__status=ActionStatus.PUBLISHED)

    def with_actions(self):
        """Each with its action as a reference to it shows it: with its authority, and
        without what such a reference never shows (UNSHOWN_ACTION_FIELDS)."""
        return self.select_related("action__authority").defer(
            *(f"action__{field}" for field in UNSHOWN_ACTION_FIELDS)
        )

    def with_authorities(self):
        """with_actions(), each action with its other authorities as a list, which
        Action.authorities reads (``other_authorities_list``). Not a related manager's
        queryset for each action: that cost 1-2 ms for an API page of entities, and each
        held its action in a reference cycle, left for the cyclic collector."""
        return self.with_actions().prefetch_related(
            models.Prefetch("action__other_authorities", to_attr="other_authorities_list")
        )


@track_history()
class Designation(models.Model):
    """One entity's part in one action."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="designations")
    entity = models.ForeignKey(
        Entity,
        on_delete=models.PROTECT,
        related_name="designations",
        help_text="Type a name (any script, typos forgiven); add an entity only when none matches.",
    )
    role = models.CharField(
        max_length=12,
        choices=DesignationRole.choices,
        default=DesignationRole.LISTED,
        help_text="The entity's part: listed, removed, or only named.",
    )
    name_as_listed = models.TextField(
        blank=True, help_text="The name exactly as the announcement gave it."
    )
    reason = models.TextField(blank=True, help_text="The conduct the announcement gives.")
    legal_basis = models.ForeignKey(
        LegalBasis,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="designations",
        help_text="Only where it differs from the action's.",
    )
    measures = models.TextField(blank=True, help_text="e.g. blocking, export ban")
    regime = models.CharField(
        max_length=20,
        choices=Regime.choices,
        blank=True,
        help_text="Only where it differs from the action's.",
    )
    ends_on = models.DateField(
        null=True,
        blank=True,
        help_text="Date this entity's measures end by themselves, where it differs from the "
        "action's; not in force from that day.",
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the announcement.")

    objects = ActionPartQuerySet.as_manager()

    class Meta:
        ordering = ["action", "position", "pk"]
        triggers = [
            refresh_action_trigger("designation_refresh_action"),
            refresh_visible_trigger(
                "designation_entity_visible", "sanctions_refresh_visible_entities", "entity_id"
            ),
            *public_change_triggers("part", "action_id"),
            *actions_change_triggers("action_id"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["action", "entity"], name="designation_unique"),
        ]
        indexes = [
            # An entity's timeline: its designations, joined to their actions.
            models.Index(fields=["entity", "action"], name="designation_entity_idx"),
        ]

    def __str__(self):
        return f"{self.entity} in {self.action}"


class SourceKind(models.TextChoices):
    """The kind of official document."""

    PRESS_RELEASE = "press_release", "Press release"
    PRESS_STATEMENT = "press_statement", "Press statement"
    FACT_SHEET = "fact_sheet", "Fact sheet"
    BRIEFING = "briefing", "Briefing or remarks"
    FEDERAL_REGISTER = "federal_register", "Federal Register notice"
    OFFICIAL_JOURNAL = "official_journal", "Official Journal act"
    LIST_UPDATE = "list_update", "List update"
    OFFICIAL_DATA = "official_data", "Official list data"
    OTHER = "other", "Other"


# Link-check fields change on every check; history would only record their churn.
LINK_STATUS_FIELDS = ["link_checked_at", "link_failures", "link_dead_since"]


class LinkStatus(models.Model):
    """Where a record's URL stood at its last check; kept by sanctions.coverage.check_link."""

    link_checked_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the link was last checked."
    )
    link_failures = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="Failed checks in a row since the last success."
    )
    link_dead_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="First failed check of the run that marked the link dead; empty while alive.",
    )

    class Meta:
        abstract = True

    @property
    def link_is_dead(self):
        return self.link_dead_since is not None


@track_history(exclude=LINK_STATUS_FIELDS)
class Source(LinkStatus):
    """An official document behind an action."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(
        max_length=20, choices=SourceKind.choices, help_text="What sort of official document it is."
    )
    title = models.CharField(max_length=500, help_text="The document's title as published.")
    publisher = models.CharField(
        max_length=200, blank=True, help_text="Who published it, where not the action's authority."
    )
    url = models.URLField(
        max_length=1000, blank=True, help_text="Leave empty when no URL could be confirmed."
    )
    published_on = models.DateField(
        null=True, blank=True, help_text="Date printed on the document."
    )
    document_number = models.CharField(
        max_length=100,
        blank=True,
        help_text="e.g. Federal Register document 2023-03929, or a press release number.",
    )
    notes = models.TextField(blank=True, help_text="How the source was confirmed.")

    class Meta:
        triggers = [
            refresh_action_trigger("source_refresh_action"),
            *public_change_triggers("part", "action_id"),
        ]
        ordering = ["action", "published_on", "pk"]

    def __str__(self):
        return self.title

    @property
    def url_confirmed(self):
        return bool(self.url)


class PublicChange(models.Model):
    """A write to what the public sees: a published action (or one being unpublished),
    its parts, or a record one shows (its entities and their names, its reference data,
    its coverage and outlets). The latest one's time is the public record's
    Last-Modified; drafts' edits leave none.

    Rows are only inserted, by statement triggers (``common.public_change_triggers``).
    """

    at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [
            # The latest public change: a backwards scan of this index.
            models.Index(fields=["-at"], name="publicchange_at_idx"),
        ]

    def __str__(self):
        return f"public change at {self.at:%Y-%m-%d %H:%M:%S}"


class ActionsChange(models.Model):
    """A change to actions or to what their lists show; the latest id is the version
    that each process's index of published actions (``sanctions.facets``) compares,
    and ``actions`` says what the index must read again to catch up.

    Rows are only inserted, by triggers (``common.actions_change_triggers``), one a
    statement, so writers never wait on one another; an id is never reused, even after
    a rollback, and is seen by other processes exactly when the change that made it is.
    """

    actions = ArrayField(
        models.BigIntegerField(),
        null=True,
        help_text="The actions whose list rows the change touched; empty when it touched "
        "only entities' names (what text queries match); null when it touched reference "
        "data (authorities, legal bases, programs) or emptied a table: everything.",
    )

    def __str__(self):
        return f"change {self.pk}"


# Used inside methods only, by modules that import this one: imported last, once
# this module's own classes exist (models/__init__.py imports the modules in order).
from .coverage import Coverage  # noqa: E402
