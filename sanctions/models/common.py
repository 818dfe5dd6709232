"""What the model modules share: counting subqueries, history tracking, and the
triggers that keep derived columns.
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
