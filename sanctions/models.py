"""The tracker's records: actions, the entities they concern, and their sources.

The unit of record is the Action: one announcement by one authority on one
date. An entity's status on any date is derived from its actions
(``Entity.status_on``), never stored.
"""

import dataclasses
import datetime
import secrets
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

import pghistory
import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Case, ExpressionWrapper, Func, Q, Value, When
from django.db.models.functions import Coalesce, Lower, Now, Upper
from django.urls import reverse
from django.utils import timezone

from .links import record_path


def count_of(related: models.QuerySet, field: str):
    """The number of ``related`` rows whose ``field`` points at the outer row, as an
    annotation: a correlated count is computed for the rows shown only, where a join
    and GROUP BY would aggregate every related row before a page's LIMIT."""
    count = (
        related.filter(**{field: models.OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=models.Count("*"))
        .values("n")
    )
    return Coalesce(models.Subquery(count, output_field=models.IntegerField()), 0)


def track_history(*, exclude: list[str] | None = None):
    """Keep every insert, update and delete of a curated table, with who and when."""
    return pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        exclude=exclude,
    )


# An action's derived columns (its full-text document and the countries of its
# entities) are recomputed by the database whenever a designation or source changes;
# the SQL function sanctions_refresh_action is created by migration 0006_action_countries.
_REFRESH_ACTION = """
    IF TG_OP <> 'INSERT' THEN
        PERFORM sanctions_refresh_action(OLD.action_id);
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM sanctions_refresh_action(NEW.action_id);
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.action_id <> OLD.action_id THEN
            PERFORM sanctions_refresh_action(NEW.action_id);
        END IF;
    END IF;
    RETURN NULL;
"""


def refresh_action_trigger(name: str) -> pgtrigger.Trigger:
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        func=_REFRESH_ACTION,
    )


# Whether an entity is named in, and an article covers, a published action: derived
# columns (``Entity.visible``, ``Article.visible``) that the public lists filter and
# index on, as an EXISTS over designations or coverage could not be (the planner cannot
# estimate it, and scans both tables). Recomputed by the SQL functions of migration
# 0018_visible_flags for the rows a designation, a coverage link or an action's
# status touches.
def refresh_visible_trigger(name: str, function: str, column: str) -> pgtrigger.Trigger:
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        func=f"""
            IF TG_OP <> 'INSERT' THEN
                PERFORM {function}(ARRAY[OLD.{column}]);
            END IF;
            IF TG_OP <> 'DELETE' THEN
                PERFORM {function}(ARRAY[NEW.{column}]);
            END IF;
            RETURN NULL;
        """,
    )


class Jurisdiction(models.TextChoices):
    """Who an authority acts for; ISO 3166-1 alpha-2 where there is one."""

    US = "US", "United States"
    EU = "EU", "European Union"
    UN = "UN", "United Nations"
    GB = "GB", "United Kingdom"
    OTHER = "XX", "Other"


class ReferenceQuerySet(models.QuerySet):
    """Reference data (authorities, legal bases, programs) and what the public sees of it."""

    # How the actions citing a row point at it: (model holding the link, its field to the
    # row, the path from that model to the action's status).
    cited_by: tuple[tuple[str, str, str], ...] = ()

    def public(self):
        """Those a published action cites: one entered only for a draft stays private.

        One EXISTS per row and link, which stops at the first published action: the
        rows are few, the actions many.
        """
        cited = Q()
        for model, field, status in self.cited_by:
            links = self.model._meta.apps.get_model("sanctions", model)._default_manager
            cited |= models.Exists(
                links.filter(**{field: models.OuterRef("pk"), status: ActionStatus.PUBLISHED})
            )
        return self.filter(cited)


class AuthorityQuerySet(ReferenceQuerySet):
    cited_by = (
        ("Action", "authority", "status"),
        ("Action", "other_authorities", "status"),
    )


class LegalBasisQuerySet(ReferenceQuerySet):
    cited_by = (
        ("Action", "legal_bases", "status"),
        ("Designation", "legal_basis", "action__status"),
    )


class ProgramQuerySet(ReferenceQuerySet):
    cited_by = (("Action", "programs", "status"),)


@track_history()
class Authority(models.Model):
    """A body that takes sanctions actions (State Department, OFAC, BIS...)."""

    name = models.CharField(
        max_length=200, unique=True, help_text="Full official name, e.g. U.S. Department of State."
    )
    short_name = models.CharField(max_length=60, help_text="Label used in lists, e.g. BIS.")
    slug = models.SlugField(max_length=60, unique=True, help_text="Used in filter URLs.")
    jurisdiction = models.CharField(
        max_length=2,
        choices=Jurisdiction.choices,
        help_text="The state or body whose law the authority applies.",
    )
    url = models.URLField(blank=True, help_text="The authority's official website.")
    description = models.TextField(
        blank=True, help_text="What the authority does, shown on its filter pages."
    )

    objects = AuthorityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "authorities"

    def __str__(self):
        return self.name


@track_history()
class LegalBasis(models.Model):
    """An instrument an authority acts under (E.O. 13382, INKSNA, 15 CFR 744.11...)."""

    name = models.CharField(
        max_length=200,
        unique=True,
        help_text="Full title, e.g. Executive Order 13382 (WMD proliferators).",
    )
    short_name = models.CharField(max_length=60, help_text="Label used in lists, e.g. E.O. 13382.")
    slug = models.SlugField(max_length=60, unique=True, help_text="Used in filter URLs.")
    citation = models.CharField(max_length=200, blank=True, help_text="Formal citation.")
    url = models.URLField(blank=True, help_text="The official text.")
    description = models.TextField(
        blank=True, help_text="What it authorises, in a sentence or two."
    )

    objects = LegalBasisQuerySet.as_manager()

    class Meta:
        ordering = ["short_name"]
        verbose_name_plural = "legal bases"

    def __str__(self):
        return self.short_name


@track_history()
class Program(models.Model):
    """A list tag or regime (OFAC NPWMD, UN DPRK...)."""

    code = models.CharField(max_length=40, unique=True, help_text="The tag as the list prints it.")
    name = models.CharField(
        max_length=200, help_text="The program's name, e.g. Non-Proliferation of WMD."
    )
    authority = models.ForeignKey(
        Authority,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="programs",
        help_text="The authority whose list prints the tag.",
    )
    description = models.TextField(blank=True, help_text="What the program covers.")

    objects = ProgramQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class ActionKind(models.TextChoices):
    """What an action does; the effect on an entity's status follows from it."""

    DESIGNATION = "designation", "Designation"
    DELISTING = "delisting", "Delisting"
    AMENDMENT = "amendment", "Amendment (identifiers, aliases)"
    ENTITY_LIST_ADDITION = "entity_list_addition", "Entity List addition"
    ENTITY_LIST_REMOVAL = "entity_list_removal", "Entity List removal"
    STATUTORY_MEASURES = "statutory_measures", "Imposition of statutory measures"
    WAIVER = "waiver", "Waiver"
    EXPIRY = "expiry", "Expiry"
    RENEWAL = "renewal", "Renewal"
    RULE = "rule", "Rule (controls without new listings)"
    STATEMENT = "statement", "Policy statement (no measure)"


# Kinds that put an entity under the acting authority's measures, and kinds that lift them.
LISTING_KINDS = {
    ActionKind.DESIGNATION,
    ActionKind.ENTITY_LIST_ADDITION,
    ActionKind.STATUTORY_MEASURES,
    ActionKind.RENEWAL,
}
LIFTING_KINDS = {ActionKind.DELISTING, ActionKind.ENTITY_LIST_REMOVAL, ActionKind.EXPIRY}


class Regime(models.TextChoices):
    """The list or measures regime an action acts on. An entity's status is derived per
    regime, whichever authority acted: State designates onto the SDN list and OFAC may
    delist from it, and that is one listing."""

    OFAC_SDN = "ofac_sdn", "OFAC SDN List"
    OFAC_NON_SDN = "ofac_non_sdn", "OFAC non-SDN lists"
    BIS_ENTITY_LIST = "bis_entity_list", "BIS Entity List"
    INKSNA = "inksna", "INKSNA measures"
    MISSILE = "missile", "Missile sanctions (AECA/EAA)"
    UN_1718 = "un_1718", "UN 1718 (DPRK) sanctions list"
    UN = "un", "UN Security Council Consolidated List"
    EU = "eu", "EU sanctions"
    UK = "uk", "UK Sanctions List"
    OTHER = "other", "Other measures"


class Effect(models.TextChoices):
    """What a designation does to the entity's standing under its regime."""

    LISTED = "listed", "listed"
    LIFTED = "lifted", "measures lifted"
    EXPIRED = "expired", "measures expired"
    WAIVED = "waived", "measures waived"


def designation_effect(kind: str, role: str) -> str | None:
    """The effect of a designation row: its role inside its action's kind.

    A ``named`` (not itself listed), ``amended`` or ``identified`` row changes nothing;
    a ``delisted`` row lifts in any action; a ``listed`` row lists only in an action that
    imposes measures, is waived by a waiver, and changes nothing in a removal.
    """
    if role == DesignationRole.DELISTED:
        return Effect.EXPIRED if kind == ActionKind.EXPIRY else Effect.LIFTED
    if role != DesignationRole.LISTED:
        return None
    if kind in LISTING_KINDS:
        return Effect.LISTED
    if kind == ActionKind.WAIVER:
        return Effect.WAIVED
    return None


class ActionStatus(models.TextChoices):
    """Only published actions are visible to the public."""

    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


UNSHOWN_ENTITY_FIELDS = ["description", "search_vector", "created_at", "updated_at"]
UNSHOWN_ARTICLE_FIELDS = ["text", "search_document", "created_at", "updated_at"]


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
        """Published actions with what a list row shows, newest first."""
        return (
            self.published()
            .select_related("authority")
            .prefetch_related("legal_bases", "programs")
            .annotate(entity_count=count_of(Designation.objects.all(), "action"))
            .order_by("-announced_on", "-pk")
        )


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
        """Every authority that made the announcement, the one it is filed under first."""
        others = sorted(self.other_authorities.all(), key=lambda a: a.name)
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


class IncompleteAction(ValidationError):
    """Publishing refused: the action lacks what a public record needs."""

    def __init__(self, action: Action, problems: list[str]):
        self.action = action
        self.problems = problems
        super().__init__(f"“{action.title}” was not published: {'; '.join(problems)}.")


class EntityKind(models.TextChoices):
    """What sort of thing was designated; mirrors FollowTheMoney's schemata."""

    ORGANIZATION = "organization", "Organisation"
    COMPANY = "company", "Company"
    STATE_BODY = "state_body", "State agency or state-owned enterprise"
    PERSON = "person", "Person"
    VESSEL = "vessel", "Vessel"
    AIRCRAFT = "aircraft", "Aircraft"


class EntityQuerySet(models.QuerySet):
    def visible(self):
        """Entities named in at least one published action; merged ones never are."""
        return self.filter(visible=True, merged_into__isnull=True)

    public = visible

    def by_reference(self, reference: str) -> "Entity | None":
        """The entity with a stable external key, or the one it was merged into."""
        entity = self.filter(reference=reference).select_related("merged_into").first()
        return entity.merged_into if entity and entity.merged_into else entity


@dataclass(frozen=True)
class StatusLine:
    """An entity's standing under one regime on a date, and the action that set it."""

    regime: str
    status: str  # an Effect: listed, lifted, expired or waived
    since: datetime.date
    action: "Action"
    until: datetime.date | None = None  # the scheduled end of a listing in force

    @property
    def regime_label(self) -> str:
        return Regime(self.regime).label

    @property
    def status_label(self) -> str:
        return Effect(self.status).label

    @property
    def authorities(self) -> list[Authority]:
        return self.action.authorities


def status_date(value: str) -> datetime.date:
    """The date a status is asked for (``?as_of=YYYY-MM-DD``), today if none is given;
    ValueError for anything but an ISO date."""
    return datetime.date.fromisoformat(value) if value else timezone.localdate()


@dataclass
class StatusHistory:
    """Every published designation of an entity walked in date order, per regime.

    Events are ordered by the date the measure took effect (``effective_on``, else the
    announcement), then by announcement and entry order: of a listing and a removal on
    the same day, the later-announced one stands. A listing is in force from its start
    until a removal or an early termination ends every listing of its regime, or its
    own scheduled end (the designation's ``ends_on``, else its action's) passes; the
    regime's status is listed while one listing is in force. A waiver suspends the
    listings: status is waived, and a waived listing's scheduled end still ends it.
    Measures whose regime nobody recorded are kept apart per acting authority.
    """

    lines: dict[str, StatusLine]
    # For each designation that listed: when it took effect, and when that listing
    # stopped being in force (None while it is); the FtM export's startDate and endDate.
    periods: dict[int, tuple[datetime.date, datetime.date | None]]

    @classmethod
    def walk(cls, designations, *, until: datetime.date | None = None) -> "StatusHistory":
        """Apply the designations' effects up to and including `until` (all by default)."""
        events = []
        for d in designations:
            action = d.action
            effect = designation_effect(action.kind, d.role) if action.is_published else None
            if effect is None:
                continue
            start = action.effective_on or action.announced_on
            regime = d.regime or action.regime or f"{Regime.OTHER}:{action.authority_id}"
            events.append((start, 0, action.announced_on, action.pk, d.pk, effect, regime, d))
            end = d.ends_on or action.ends_on
            if effect == Effect.LISTED and end is not None and end > start:
                events.append((end, 1, end, 0, d.pk, Effect.EXPIRED, regime, d))
        events.sort(key=lambda e: e[:5])
        history = cls(lines={}, periods={})
        in_force: dict[str, dict[int, Designation]] = defaultdict(dict)
        for day, scheduled, _, _, _, effect, regime, d in events:
            if until is not None and day > until:
                break
            listings = in_force[regime]
            line = history.lines.get(regime)
            if scheduled:
                if listings.pop(d.pk, None) is None:
                    continue  # ended before its term
                history._stop(d, day)
                if listings:  # another listing still holds
                    if line.status == Effect.LISTED:
                        history.lines[regime] = dataclasses.replace(line, until=_end(listings))
                    continue
            elif effect == Effect.LISTED:
                history.periods[d.pk] = (day, None)
                listings[d.pk] = d
                if line is not None and line.status == Effect.LISTED:
                    # A renewal or a second listing does not reset "since".
                    history.lines[regime] = dataclasses.replace(line, until=_end(listings))
                else:
                    history.lines[regime] = StatusLine(
                        regime.partition(":")[0], effect, day, d.action, until=_end(listings)
                    )
                continue
            else:  # removed, terminated or waived by an action
                for listing in listings.values():
                    history._stop(listing, day)
                if effect != Effect.WAIVED:
                    listings.clear()
            if line is None or line.status != effect:
                history.lines[regime] = StatusLine(regime.partition(":")[0], effect, day, d.action)
        return history

    def _stop(self, listing: "Designation", day: datetime.date) -> None:
        start, end = self.periods[listing.pk]
        if end is None:
            self.periods[listing.pk] = (start, day)


def _end(listings: dict[int, "Designation"]) -> datetime.date | None:
    """When the last of these listings ends by its terms; None if one has no end."""
    ends = [d.ends_on or d.action.ends_on for d in listings.values()]
    return None if None in ends else max(ends)


@track_history(exclude=["search_vector", "visible"])
class Entity(models.Model):
    """An organisation, company, state body, person, vessel or aircraft."""

    kind = models.CharField(
        max_length=20, choices=EntityKind.choices, help_text="What sort of thing was designated."
    )
    name = models.TextField(help_text="Primary name, in Latin script.")
    countries = ArrayField(
        models.CharField(max_length=2),
        default=list,
        blank=True,
        help_text="ISO 3166-1 alpha-2 codes, comma-separated.",
    )
    description = models.TextField(
        blank=True,
        help_text="Addresses, parent bodies, what it makes: shown on its page and searched.",
    )
    reference = models.SlugField(
        max_length=100, unique=True, null=True, blank=True, help_text="Stable external key."
    )
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="merged_entities",
        help_text="The entity this one was found to be and merged into (sanctions.merge); "
        "a merged entity holds nothing and its page redirects there.",
    )
    visible = models.BooleanField(
        default=False,
        db_default=False,
        editable=False,
        help_text="Named in at least one published action; kept by triggers.",
    )
    search_vector = models.GeneratedField(
        expression=SearchVector("name", weight="A", config="simple")
        + SearchVector("description", weight="B", config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EntityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "entities"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=EntityKind.values), name="entity_kind_valid"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="entity_name_not_empty"),
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("pk")), name="entity_not_merged_into_self"
            ),
        ]
        indexes = [
            # The country filter: countries @> ARRAY['PK'].
            GinIndex(fields=["countries"], name="entity_countries_gin"),
            # The public list, by name: visible entities only.
            models.Index(
                fields=["name", "id"],
                condition=Q(visible=True, merged_into__isnull=True),
                name="entity_visible_name_idx",
            ),
            # icontains wraps the column in UPPER(); this index serves that form.
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="entity_name_upper_trgm"),
            # Words of the description (addresses, parent bodies) when no name matches.
            GinIndex(fields=["search_vector"], name="entity_search_gin"),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="entity_countries_to_actions",
                when=pgtrigger.After,
                operation=pgtrigger.UpdateOf("countries"),
                func="""
                    PERFORM sanctions_refresh_action(d.action_id)
                       FROM sanctions_designation d WHERE d.entity_id = NEW.id;
                    RETURN NULL;
                """,
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return record_path("entity_detail", self.pk)

    def public_relations(self) -> models.QuerySet:
        """Its relations to entities the public may see (one known only from a draft
        stays hidden); each side read by its own index, as an OR across the two scans
        the whole table."""
        ids = [
            *Relation.objects.filter(subject=self, object__in=Entity.objects.visible())
            .order_by()
            .values_list("pk", flat=True),
            *Relation.objects.filter(object=self, subject__in=Entity.objects.visible())
            .order_by()
            .values_list("pk", flat=True),
        ]
        return Relation.objects.filter(pk__in=ids)

    def public_articles(self, action_ids) -> models.QuerySet:
        """Visible articles that mention it or cover one of the given actions (its
        published ones), each set read by its own index."""
        ids = {
            *Article.entities.through.objects.filter(entity=self).values_list(
                "article_id", flat=True
            ),
            *Coverage.objects.filter(action__in=action_ids).values_list("article_id", flat=True),
        }
        return Article.objects.visible().filter(pk__in=ids)

    def status_on(self, date: datetime.date, designations=None) -> list[StatusLine]:
        """The entity's standing under each regime on a date, from published actions."""
        if designations is None:
            designations = (
                self.designations.published()
                .select_related("action__authority")
                .prefetch_related("action__other_authorities")
            )
        lines = StatusHistory.walk(designations, until=date).lines.values()
        return sorted(lines, key=lambda line: Regime(line.regime).label)


class Script(models.TextChoices):
    """ISO 15924 code of the script a name is written in."""

    LATIN = "Latn", "Latin"
    CYRILLIC = "Cyrl", "Cyrillic"
    ARABIC = "Arab", "Arabic (incl. Persian, Urdu)"
    HAN = "Hani", "Chinese (Han)"
    HANGUL = "Hang", "Korean (Hangul)"
    OTHER = "Zyyy", "Other or mixed"


_SCRIPT_PREFIXES = [
    ("LATIN", Script.LATIN),
    ("CYRILLIC", Script.CYRILLIC),
    ("ARABIC", Script.ARABIC),
    ("CJK", Script.HAN),
    ("HANGUL", Script.HANGUL),
]


def detect_script(text: str) -> str:
    """The script of most letters in the text."""
    counts: dict[str, int] = {}
    for char in text:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        script = next(
            (s for prefix, s in _SCRIPT_PREFIXES if name.startswith(prefix)), Script.OTHER
        )
        counts[script] = counts.get(script, 0) + 1
    return max(counts, key=counts.get) if counts else Script.OTHER


class AliasKind(models.TextChoices):
    """How an alias relates to the primary name."""

    AKA = "aka", "Also known as"
    FKA = "fka", "Formerly known as"
    WEAK = "weak", "Weak alias (low quality)"
    ORIGINAL = "original", "Name in original script"
    LISTED = "listed", "Name as an official list prints it"


@track_history()
class Alias(models.Model):
    """Another name of an entity, in any script."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="aliases")
    name = models.TextField(help_text="Another name, in any script, as written.")
    kind = models.CharField(
        max_length=10,
        choices=AliasKind.choices,
        default=AliasKind.AKA,
        help_text="How the name relates to the primary name.",
    )
    script = models.CharField(
        max_length=4, choices=Script.choices, blank=True, help_text="Detected when left empty."
    )
    language = models.CharField(
        max_length=10, blank=True, help_text="BCP 47 language tag, e.g. zh, ru, ur."
    )

    class Meta:
        ordering = ["entity", "name"]
        verbose_name_plural = "aliases"
        constraints = [
            models.UniqueConstraint(fields=["entity", "name"], name="alias_unique_per_entity"),
            models.CheckConstraint(condition=~Q(name=""), name="alias_name_not_empty"),
        ]
        indexes = [
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="alias_name_upper_trgm"),
        ]

    def __str__(self):
        return self.name


class EntityName(models.Model):
    """One searchable name of an entity, its primary name or an alias, with its name key.

    Derived from Entity.name and Alias.name by ``sanctions.search.index_names``: the key
    is a Python transliteration (``sanctions.search.name_key``) that SQL cannot compute.
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="search_names")
    name = models.TextField()
    key = models.TextField()
    # The key's words, for the inverted index that name search intersects.
    words = models.GeneratedField(
        expression=Func("key", models.Value(" "), function="string_to_array"),
        output_field=ArrayField(models.TextField()),
        db_persist=True,
    )
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "name"], name="entityname_unique"),
        ]
        indexes = [
            # Names having all of some words: GIN intersects the words' posting lists.
            GinIndex(fields=["words"], name="entityname_words"),
            # Exact and prefix matches of the whole key.
            models.Index(
                fields=["key"], name="entityname_key_prefix", opclasses=["text_pattern_ops"]
            ),
        ]

    def __str__(self):
        return self.name


class NameWord(models.Model):
    """A word of some name key: the vocabulary a query's words are matched against,
    allowing for one wrong, missing or extra letter, before names are looked up.

    ``forms`` holds the word and, from five letters, the word with each one letter left
    out (sanctions_word_forms, migration 0009): two such words one letter apart share a
    form. Filled by ``sanctions.search.index_names``.
    """

    word = models.TextField(primary_key=True)
    forms = models.GeneratedField(
        expression=Func("word", function="sanctions_word_forms"),
        output_field=ArrayField(models.TextField()),
        db_persist=True,
    )

    class Meta:
        indexes = [
            # One index for exact words and those one letter off alike: an OR of two
            # indexes lets the planner pick the trigram one for equality, slowly.
            GinIndex(fields=["forms"], name="nameword_forms"),
            # Misspellings further off than one letter, when nothing closer is known.
            GinIndex(OpClass("word", name="gin_trgm_ops"), name="nameword_trgm"),
            # Prefixes use the primary key's own text_pattern_ops index.
        ]

    def __str__(self):
        return self.word


class IdentifierScheme(models.TextChoices):
    """The register an identifier comes from."""

    OFAC_ENT_NUM = "ofac", "OFAC SDN entry number"
    UN_REFERENCE = "un", "UN reference number"
    UK_ID = "uk", "UK sanctions list ID"
    EU_REFERENCE = "eu", "EU reference number"
    REGISTRATION = "registration", "Company registration number"
    TAX = "tax", "Tax number"
    IMO = "imo", "IMO number"
    PASSPORT = "passport", "Passport number"
    OTHER = "other", "Other"


# Schemes whose values are list entry numbers, each borne by one entity.
LIST_NUMBER_SCHEMES = [
    IdentifierScheme.OFAC_ENT_NUM,
    IdentifierScheme.UN_REFERENCE,
    IdentifierScheme.UK_ID,
    IdentifierScheme.EU_REFERENCE,
]


@track_history()
class Identifier(models.Model):
    """An identifier of an entity in an official register."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="identifiers")
    scheme = models.CharField(
        max_length=20,
        choices=IdentifierScheme.choices,
        help_text="The list or register the identifier comes from.",
    )
    value = models.TextField(help_text="As the register prints it, e.g. 48620.")
    country = models.CharField(max_length=2, blank=True, help_text="Issuing country, ISO code.")
    note = models.TextField(blank=True, help_text="Where it was found, or what it qualifies.")

    class Meta:
        ordering = ["scheme", "value"]
        constraints = [
            # Two entries of a list can share a number (a vessel and its owner's IMO
            # company number, a person's passport in two records): each keeps it.
            models.UniqueConstraint(
                fields=["entity", "scheme", "value"], name="identifier_unique_per_entity"
            ),
            # A list's entry number names one entry, so one entity: the importers find
            # the entity an entry belongs to by it.
            models.UniqueConstraint(
                fields=["scheme", "value"],
                condition=Q(scheme__in=LIST_NUMBER_SCHEMES),
                name="identifier_list_number_unique",
            ),
        ]
        indexes = [
            # Finding the entities that hold an identifier (importers, duplicate checks).
            models.Index(fields=["scheme", "value"], name="identifier_value_idx"),
        ]

    def __str__(self):
        return f"{self.get_scheme_display()} {self.value}"


class RelationKind(models.TextChoices):
    """How one entity stands to another (subject → object)."""

    SUBSIDIARY_OF = "subsidiary_of", "subsidiary of"
    OWNED_BY = "owned_by", "owned or controlled by"
    FRONT_FOR = "front_for", "front company for"
    SUPPLIER_TO = "supplier_to", "supplier to"
    AGENT_OF = "agent_of", "agent or official of"
    ASSOCIATED_WITH = "associated_with", "associated with"


@track_history()
class Relation(models.Model):
    """A stated link between two entities."""

    subject = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="relations")
    object = models.ForeignKey(
        Entity,
        on_delete=models.PROTECT,
        related_name="inverse_relations",
        help_text="The other entity (the one this one is a subsidiary of, supplies, ...).",
    )
    kind = models.CharField(
        max_length=20,
        choices=RelationKind.choices,
        help_text="How this entity stands to the other.",
    )
    description = models.CharField(
        max_length=300, blank=True, help_text="What the announcement says of the link."
    )

    class Meta:
        ordering = ["subject", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "object", "kind"], name="relation_unique"),
            models.CheckConstraint(
                condition=~Q(subject=models.F("object")), name="relation_not_self"
            ),
        ]

    def __str__(self):
        return f"{self.subject} {self.get_kind_display()} {self.object}"


class ExactJSONEncoder(DjangoJSONEncoder):
    """Times to the microsecond (DjangoJSONEncoder keeps milliseconds, as JavaScript
    does), so that a row kept as JSON is restored exactly as it was."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


@track_history()
class EntityMerge(models.Model):
    """One entity found to be another and merged into it (``sanctions.merge``).

    ``moved`` says exactly what moved from the loser to the survivor and what was folded
    into rows the survivor already had, whole, so that the merge can be undone.
    """

    survivor = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="merges_in")
    loser = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="merges_out")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    merged_at = models.DateTimeField(default=timezone.now)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    moved = models.JSONField(
        default=dict,
        encoder=ExactJSONEncoder,
        help_text="Ids of the rows moved, per kind; the rows folded, serialised whole; the "
        "alias made of the loser's name; the survivor's fields before and after.",
    )

    class Meta:
        ordering = ["-merged_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(survivor=models.F("loser")), name="entitymerge_two_entities"
            ),
        ]

    def __str__(self):
        return f"Merged {self.loser} into {self.survivor}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None


class DesignationRole(models.TextChoices):
    """The entity's part in the action."""

    LISTED = "listed", "Listed (designated or added)"
    DELISTED = "delisted", "Removed"
    AMENDED = "amended", "Entry amended"
    IDENTIFIED = "identified", "Identified (e.g. as blocked property)"
    NAMED = "named", "Named, not itself listed"


class ActionPartQuerySet(models.QuerySet):
    """Rows that belong to an action: designations, coverage."""

    def published(self):
        """Those of published actions."""
        return self.filter(action__status=ActionStatus.PUBLISHED)


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
        triggers = [refresh_action_trigger("source_refresh_action")]
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

    Rows are only inserted, by triggers (``sql.PUBLIC_CHANGE``, migration 0013).
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

    Rows are only inserted, by triggers (migration 0017), one a statement, so writers
    never wait on one another; an id is never reused, even after a rollback, and is seen
    by other processes exactly when the change that made it is.
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
        ]
        constraints = [
            models.UniqueConstraint(fields=["action", "article"], name="coverage_unique"),
        ]

    def __str__(self):
        return f"{self.article} {self.get_relation_display().lower()} {self.action}"


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


def _one_of(*fields: str) -> Q:
    """Exactly one of the nullable foreign keys is set."""
    conditions = [
        Q(**{f"{f}__isnull": False}, **{f"{o}__isnull": True for o in fields if o != f})
        for f in fields
    ]
    result = conditions[0]
    for condition in conditions[1:]:
        result |= condition
    return result


class SnapshotQuerySet(models.QuerySet):
    def public(self):
        """Snapshots of records the public may see."""
        return self.filter(
            Q(article__visible=True) | Q(source__action__status=ActionStatus.PUBLISHED)
        )


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
ALERT_QUERY_MAX_LENGTH = 1000
# Unconfirmed subscriptions are deleted after this many days.
ALERT_CONFIRM_DAYS = 7


class AlertFrequency(models.TextChoices):
    """How often a subscriber hears of new actions."""

    IMMEDIATE = "immediate", "As soon as published"  # looked for every five minutes
    DAILY = "daily", "Once a day"


def new_alert_token() -> str:
    return secrets.token_urlsafe(32)


class SubscriptionQuerySet(models.QuerySet):
    def confirmed(self):
        """Subscriptions whose address said yes; only these are ever sent a digest."""
        return self.filter(confirmed_at__isnull=False)

    def expired(self):
        """Unconfirmed subscriptions older than ALERT_CONFIRM_DAYS."""
        cutoff = timezone.now() - datetime.timedelta(days=ALERT_CONFIRM_DAYS)
        return self.filter(confirmed_at__isnull=True, created_at__lt=cutoff)


class Subscription(models.Model):
    """An e-mail address following the published actions that match one filter.

    Only the address and the filter are kept. The token in every link sent to the
    address is the subscriber's only key: there is no account.
    """

    email = models.EmailField()
    query = models.CharField(
        max_length=ALERT_QUERY_MAX_LENGTH,
        blank=True,
        help_text="The action list's filters as a canonical query string (alerts.clean_filter);"
        " entity=<id> narrows it to the actions naming that entity.",
    )
    frequency = models.CharField(max_length=10, choices=AlertFrequency.choices)
    token = models.CharField(max_length=64, unique=True, default=new_alert_token, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    since = models.DateTimeField(
        default=timezone.now,
        editable=False,
        help_text="Actions published after this moment count: the confirmation's.",
    )

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        constraints = [
            # One subscription per address and filter; the index also serves the lookup
            # of an address's subscriptions (alerts.subscriptions_of: lower(email)).
            models.UniqueConstraint(
                Lower("email"), "query", name="subscription_unique_address_filter"
            ),
            models.CheckConstraint(
                condition=Q(frequency__in=AlertFrequency.values),
                name="subscription_frequency_valid",
            ),
        ]
        indexes = [
            # The digest runs: the confirmed subscriptions of one frequency.
            models.Index(
                fields=["frequency", "since"],
                condition=Q(confirmed_at__isnull=False),
                name="subscription_confirmed_idx",
            ),
            # The periodic purge of unconfirmed subscriptions, oldest first.
            models.Index(
                fields=["created_at"],
                condition=Q(confirmed_at__isnull=True),
                name="subscription_unconfirmed_idx",
            ),
        ]

    def __str__(self):
        return f"{self.email}: {self.query or 'all actions'} ({self.frequency})"

    def get_absolute_url(self):
        return reverse("alert_manage", args=[self.token])

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None

    def confirm(self) -> bool:
        """Start sending: actions published from now on count. False if already confirmed."""
        now = timezone.now()
        updated = Subscription.objects.filter(pk=self.pk, confirmed_at__isnull=True).update(
            confirmed_at=now, since=now
        )
        if updated:
            self.confirmed_at = self.since = now
        return bool(updated)


class DeliveryState(models.TextChoices):
    """Where the e-mail telling a subscriber of an action stands (alerts.send_digest)."""

    CLAIMED = "claimed", "Claimed"  # written just before the digest is handed over
    SENT = "sent", "Sent"  # the mail server (or backend) took the digest
    UNKNOWN = "unknown", "Unknown"  # its sender died while sending; never sent again


class AlertDelivery(models.Model):
    """One action told, once, to one subscription: the row is what makes it once."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.CLAIMED
    )
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Its index also serves the digest's "not yet told" (NOT EXISTS) lookup.
            models.UniqueConstraint(fields=["subscription", "action"], name="alertdelivery_once"),
            models.CheckConstraint(
                condition=Q(state__in=DeliveryState.values), name="alertdelivery_state_valid"
            ),
            models.CheckConstraint(
                condition=(Q(state=DeliveryState.SENT) & Q(sent_at__isnull=False))
                | (~Q(state=DeliveryState.SENT) & Q(sent_at__isnull=True)),
                name="alertdelivery_sent_has_time",
            ),
        ]
        indexes = [
            # Claims left behind by a dead worker, found by age (alerts.mark_lost_deliveries).
            models.Index(
                fields=["claimed_at"],
                condition=Q(state="claimed"),
                name="alertdelivery_claimed_idx",
            ),
        ]

    def __str__(self):
        return f"{self.action_id} → subscription {self.subscription_id}: {self.state}"
