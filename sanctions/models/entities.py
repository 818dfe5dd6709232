"""The entities actions concern: their names, identifiers, relations and merges, and
their status on any date, derived from the published actions (``Entity.status_on``).
"""

import dataclasses
import datetime
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from ..links import record_path
from .common import public_change_triggers, track_history
from .reference import Authority, Effect, Regime, designation_effect


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
            *public_change_triggers("entity", "id"),
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
            designations = self.designations.published().with_authorities()
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
        triggers = public_change_triggers("entity", "entity_id")
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
        triggers = public_change_triggers("entity", "entity_id")
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
        triggers = public_change_triggers("entity", "subject_id", "object_id")
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


# Used inside methods only, by modules that import this one: imported last, once
# this module's own classes exist (models/__init__.py imports the modules in order).
from .actions import Action, Designation  # noqa: E402
from .coverage import Article, Coverage  # noqa: E402
