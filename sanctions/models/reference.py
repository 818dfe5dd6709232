"""Reference data (authorities, legal bases, programs) and the kinds of action, regime
and effect the record is written in.
"""

from django.db import models
from django.db.models import Q

from .common import actions_change_all_trigger, public_change_triggers, track_history


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
        triggers = [*public_change_triggers("authority", "id"), actions_change_all_trigger("NULL")]
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
        triggers = [*public_change_triggers("legalbasis", "id"), actions_change_all_trigger("NULL")]
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
        triggers = [*public_change_triggers("program", "id"), actions_change_all_trigger("NULL")]
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
# What a reference to an action (an entity's timeline and status, the entity API, the
# article list: ActionPartQuerySet.with_actions) does not show: its long texts, its
# search vector and its times.
UNSHOWN_ACTION_FIELDS = [
    "summary",
    "notes",
    "source_unconfirmed",
    "editor_notes",
    "search_vector",
    "created_at",
    "updated_at",
    "published_at",
]


class DesignationRole(models.TextChoices):
    """The entity's part in the action."""

    LISTED = "listed", "Listed (designated or added)"
    DELISTED = "delisted", "Removed"
    AMENDED = "amended", "Entry amended"
    IDENTIFIED = "identified", "Identified (e.g. as blocked property)"
    NAMED = "named", "Named, not itself listed"
