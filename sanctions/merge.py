"""Merging two entities found to be one: everything the loser holds moves to the survivor.

The loser keeps its row, pointing at the survivor (``Entity.merged_into``), so that its
URL and the citations of it still lead somewhere; it holds nothing any more, and its
name becomes an alias of the survivor. A row the survivor already has the like of (a
designation in the same action, the same alias, identifier or link) is folded: the
survivor's own is kept and the loser's is deleted. The EntityMerge records the ids of
the rows moved and the folded rows whole, so that ``undo_merge`` puts every row back.
"""

from dataclasses import dataclass, field

import pghistory
from django.core import serializers
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from .models import (
    Alias,
    AliasKind,
    Article,
    Designation,
    Entity,
    EntityMerge,
    Identifier,
    ListEntry,
    Relation,
    Suggestion,
    detect_script,
)
from .search import index_names


class MergeRefused(ValueError):
    """The entities cannot be merged, or the merge cannot be undone; the message says why."""


@dataclass(frozen=True)
class Part:
    """The rows that belong to an entity through one foreign key."""

    key: str  # the rows' key in EntityMerge.moved
    label: str
    model: type[models.Model]
    field: str  # the foreign key to the entity
    # With the entity, these fields identify a row: a loser's row whose like the survivor
    # has already is folded into the survivor's. None: every row moves.
    same: tuple[str, ...] | None
    folded_because: str
    # A relation's other end: a link between the two entities would link one to itself.
    other_end: str | None = None


PARTS = [
    Part(
        "designations",
        "designations",
        Designation,
        "entity",
        ("action_id",),
        "the survivor is named in the same action; its own designation is kept",
    ),
    Part("aliases", "aliases", Alias, "entity", ("name",), "the survivor has the name already"),
    Part(
        "identifiers",
        "identifiers",
        Identifier,
        "entity",
        ("scheme", "value"),
        "the survivor has the identifier already",
    ),
    Part(
        "relations",
        "relations to others",
        Relation,
        "subject",
        ("object_id", "kind"),
        "the survivor has the same link, or it linked the two",
        other_end="object_id",
    ),
    Part(
        "inverse_relations",
        "relations from others",
        Relation,
        "object",
        ("subject_id", "kind"),
        "the survivor has the same link, or it linked the two",
        other_end="subject_id",
    ),
    Part(
        "mentions",
        "article mentions",
        Article.entities.through,
        "entity",
        ("article_id",),
        "the article mentions the survivor already",
    ),
    Part("list_entries", "list entries", ListEntry, "entity", None, ""),
    Part(
        "suggestions",
        "suggestions",
        Suggestion,
        "entity",
        ("article_id",),
        "the survivor is suggested for the article already",
    ),
]


@dataclass
class MergePlan:
    """What merging the loser into the survivor would do, read before anything is written."""

    survivor: Entity
    loser: Entity
    moves: dict[str, list[int]] = field(default_factory=dict)
    folds: dict[str, list[models.Model]] = field(default_factory=dict)
    merged_entities: list[int] = field(default_factory=list)
    name_alias: bool = False  # the loser's name becomes an alias of the survivor
    survivor_fields: dict[str, tuple] = field(default_factory=dict)  # name: (before, after)

    @property
    def kinds_differ(self) -> bool:
        return self.survivor.kind != self.loser.kind

    def summary(self) -> list[str]:
        return summary(
            {key: len(ids) for key, ids in self.moves.items()},
            {key: len(rows) for key, rows in self.folds.items()},
        )


def summary(moved: dict[str, int], folded: dict[str, int]) -> list[str]:
    """What moved and what was folded, a line per kind of row that had any."""
    lines = []
    for part in PARTS:
        moves, folds = moved.get(part.key, 0), folded.get(part.key, 0)
        if moves or folds:
            line = f"{part.label}: {moves} moved"
            if folds:
                line += f", {folds} folded ({part.folded_because})"
            lines.append(line)
    return lines


def merge_summary(merge: EntityMerge) -> list[str]:
    """``summary`` of a merge done."""
    moved = merge.moved
    return summary(
        {part.key: len(moved.get(part.key, [])) for part in PARTS},
        {key: len(rows) for key, rows in moved.get("folded", {}).items()},
    )


def plan_merge(*, survivor: Entity, loser: Entity) -> MergePlan:
    """What the merge would move and fold; MergeRefused if the two cannot be merged."""
    if survivor.pk == loser.pk:
        raise MergeRefused("An entity cannot be merged into itself.")
    if loser.merged_into_id is not None:
        raise MergeRefused(f"“{loser}” was merged into “{loser.merged_into}” already.")
    if survivor.merged_into_id is not None:
        raise MergeRefused(
            f"“{survivor}” was merged into “{survivor.merged_into}”: merge into that entity."
        )
    plan = MergePlan(survivor=survivor, loser=loser)
    names = {survivor.name}  # the survivor's names once merged
    for part in PARTS:
        rows = part.model.objects.filter(**{part.field: loser}).order_by("pk")
        taken = set()
        if part.same is not None:
            taken = set(part.model.objects.filter(**{part.field: survivor}).values_list(*part.same))
        if part.model is Alias:
            names.update(name for (name,) in taken)
            taken.add((survivor.name,))  # an alias that is the survivor's name adds nothing
        plan.moves[part.key], plan.folds[part.key] = [], []
        for row in rows:
            same = tuple(getattr(row, name) for name in part.same or ())
            linked = part.other_end is not None and getattr(row, part.other_end) == survivor.pk
            if linked or (part.same is not None and same in taken):
                plan.folds[part.key].append(row)
            else:
                plan.moves[part.key].append(row.pk)
                if part.model is Alias:
                    names.add(row.name)
    plan.name_alias = loser.name not in names
    plan.merged_entities = list(loser.merged_entities.order_by("pk").values_list("pk", flat=True))
    countries = survivor.countries + [c for c in loser.countries if c not in survivor.countries]
    if countries != survivor.countries:
        plan.survivor_fields["countries"] = (survivor.countries, countries)
    if not survivor.description and loser.description:
        plan.survivor_fields["description"] = (survivor.description, loser.description)
    return plan


def _locked(*pks: int) -> list[Entity]:
    """The entities, locked against another merge or edit until the transaction ends."""
    entities = Entity.objects.select_for_update().order_by("pk").in_bulk(pks)
    return [entities[pk] for pk in pks]


def merge_entities(*, survivor: Entity, loser: Entity, user=None) -> EntityMerge:
    """Move everything the loser holds to the survivor, in one transaction."""
    with transaction.atomic(), pghistory.context(merged=loser.pk, merged_into=survivor.pk):
        survivor, loser = _locked(survivor.pk, loser.pk)
        plan = plan_merge(survivor=survivor, loser=loser)
        moved = {"folded": {}}
        for part in PARTS:
            folds = plan.folds[part.key]
            if folds:
                moved["folded"][part.key] = serializers.serialize("python", folds)
                part.model.objects.filter(pk__in=[row.pk for row in folds]).delete()
            part.model.objects.filter(pk__in=plan.moves[part.key]).update(**{part.field: survivor})
            moved[part.key] = plan.moves[part.key]
        Entity.objects.filter(pk__in=plan.merged_entities).update(merged_into=survivor)
        moved["merged_entities"] = plan.merged_entities
        moved["name_alias"] = None
        if plan.name_alias:
            alias = Alias.objects.create(
                entity=survivor,
                name=loser.name,
                kind=AliasKind.AKA,
                script=detect_script(loser.name),
            )
            moved["name_alias"] = alias.pk
        if plan.survivor_fields:
            for name, (_, after) in plan.survivor_fields.items():
                setattr(survivor, name, after)
            survivor.save(update_fields=[*plan.survivor_fields, "updated_at"])
        moved["survivor_fields"] = plan.survivor_fields
        loser.merged_into = survivor
        loser.save(update_fields=["merged_into", "updated_at"])
        merge = EntityMerge.objects.create(
            survivor=survivor, loser=loser, merged_by=user, moved=moved
        )
        index_names(entity_ids=[survivor.pk, loser.pk])
    return merge


def undo_merge(*, merge: EntityMerge, user=None) -> list[str]:
    """Put every row the merge moved or folded back on the loser, and the survivor's
    fields as they were where nobody changed them since. Returns the folded rows that
    could not be restored (their action or article was deleted since)."""
    with transaction.atomic(), pghistory.context(undone_merge=merge.pk):
        merge = EntityMerge.objects.select_for_update().get(pk=merge.pk)
        survivor, loser = _locked(merge.survivor_id, merge.loser_id)
        if merge.is_undone:
            raise MergeRefused("This merge was undone already.")
        if survivor.merged_into_id is not None:
            raise MergeRefused(
                f"“{survivor}” was merged into “{survivor.merged_into}” since: undo that first."
            )
        moved = merge.moved
        if moved["name_alias"] is not None:
            Alias.objects.filter(pk=moved["name_alias"], entity=survivor).delete()
        for part in PARTS:
            part.model.objects.filter(pk__in=moved[part.key], **{part.field: survivor}).update(
                **{part.field: loser}
            )
        Entity.objects.filter(pk__in=moved["merged_entities"], merged_into=survivor).update(
            merged_into=loser
        )
        lost = []
        for part in PARTS:
            for restored in serializers.deserialize("python", moved["folded"].get(part.key, [])):
                if not _restore(restored):
                    lost.append(f"{part.label}: {restored.object}")
        changed = []
        for name, (before, after) in moved["survivor_fields"].items():
            if getattr(survivor, name) == after:
                setattr(survivor, name, before)
                changed.append(name)
        if changed:
            survivor.save(update_fields=[*changed, "updated_at"])
        loser.merged_into = None
        loser.save(update_fields=["merged_into", "updated_at"])
        merge.undone_at, merge.undone_by = timezone.now(), user
        merge.save(update_fields=["undone_at", "undone_by"])
        index_names(entity_ids=[survivor.pk, loser.pk])
    return lost


def _restore(restored) -> bool:
    """Insert a folded row again, with its id, unless what it pointed at is gone."""
    row = restored.object
    for column in row._meta.concrete_fields:
        value = getattr(row, column.attname)
        target = column.related_model._base_manager if column.is_relation else None
        if target is not None and value is not None and not target.filter(pk=value).exists():
            return False
    try:
        with transaction.atomic():
            restored.save()
    except IntegrityError:
        return False
    return True
