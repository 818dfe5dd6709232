"""What the model modules share: counting subqueries, history tracking, the triggers
that keep derived columns, and those that write the two change logs.
"""

import pghistory
import pgtrigger
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce


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


# The SQL functions these triggers call are defined in sanctions/sql.py.

# An action's derived columns (its full-text document and the countries of its
# entities) are recomputed by the database whenever a designation or source changes.
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
# estimate it, and scans both tables). Recomputed for the rows a designation, a
# coverage link or an action's status touches.
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


# The record's two change logs are written by statement triggers, one row a statement:
# a bulk write (an import of 15,000 entries) is looked at once, not once a row. Each
# trigger reads the rows its statement wrote from the statement's transition tables; of
# an update, the rows before and after, and only those that really changed (link checks
# rewrite rows to the same values).
_EVENTS = {
    # operation: (its transition tables, the rows written, as the relation "r")
    pgtrigger.Insert: (pgtrigger.Referencing(new="new_rows"), "new_rows r WHERE true"),
    pgtrigger.Delete: (pgtrigger.Referencing(old="old_rows"), "old_rows r WHERE true"),
    pgtrigger.Update: (
        pgtrigger.Referencing(old="old_rows", new="new_rows"),
        "old_rows o JOIN new_rows n ON o.id = n.id"
        " CROSS JOIN LATERAL (SELECT o.* UNION ALL SELECT n.*) r"
        " WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n)",
    ),
}


def _written_triggers(prefix: str, columns: tuple[str, ...], body: str, where: str = ""):
    """One statement trigger an operation, running ``body`` with ``ids`` holding the
    ``columns`` of the rows the statement wrote (those matching ``where``)."""
    keys = ", ".join(f"r.{column}" for column in columns)
    return [
        pgtrigger.Trigger(
            name=f"{prefix}_{operation.name.lower()}",
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=operation,
            referencing=referencing,
            declare=[("ids", "bigint[]")],
            # Trigger SQL from this module's own constants, not from any input.
            func=f"ids := ARRAY(SELECT DISTINCT unnest(ARRAY[{keys}]) FROM {rows}{where});\n"  # noqa: S608
            + body,
        )
        for operation, (referencing, rows) in _EVENTS.items()
    ]


def public_change_triggers(kind: str, *columns: str) -> list[pgtrigger.Trigger]:
    """Log a write to what the public sees (PublicChange, the record's version), when
    it touches a published action. ``kind`` says what the ``columns`` name: the row's
    "action", or an action's "part", or an entity, article, outlet, authority, legal
    basis or program that a published action may show (sql.py,
    sanctions_note_public_change)."""
    # An action's own rows matter while published or being unpublished.
    where = " AND r.status = 'published'" if kind == "action" else ""
    return _written_triggers(
        "public",
        columns,
        f"PERFORM sanctions_note_public_change('{kind}', ids); RETURN NULL;",
        where,
    )


def actions_change_triggers(column: str) -> list[pgtrigger.Trigger]:
    """Log the actions whose list rows a write touched (ActionsChange, what each
    process's index of published actions reads again): those in ``column``."""
    return [
        *_written_triggers(
            "list",
            (column,),
            "IF ids <> '{}' THEN PERFORM sanctions_note_actions_change(ids); END IF; RETURN NULL;",
        ),
        pgtrigger.Trigger(
            name="list_truncate",
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=pgtrigger.Truncate,
            func="PERFORM sanctions_note_actions_change(NULL); RETURN NULL;",
        ),
    ]


def actions_change_all_trigger(actions: str) -> pgtrigger.Trigger:
    """Log a write whose actions are not named by its rows: ``actions`` is NULL
    (reference data, which every list row may show: everything) or '{}' (entities'
    names, which only text queries match)."""
    return pgtrigger.Trigger(
        name="list_any",
        level=pgtrigger.Statement,
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete | pgtrigger.Truncate,
        func=f"PERFORM sanctions_note_actions_change({actions}); RETURN NULL;",
    )


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
